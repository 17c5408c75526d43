"Pooling from scratch against PyTorch, bad arguments, and the chapter's CNN."
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st, assume

from cnn_course.pool import max_pool2d, avg_pool2d

pairs = lambda lo, hi: st.integers(lo, hi) | st.tuples(st.integers(lo, hi), st.integers(lo, hi))
as_pair = lambda v: v if isinstance(v, tuple) else (v, v)

@st.composite
def pool_case(draw, dilation=True):
    k = draw(pairs(1, 4))
    kp = as_pair(k)
    p = draw(st.sampled_from([0, (kp[0]//2, kp[1]//2), (draw(st.integers(0, kp[0]//2)), draw(st.integers(0, kp[1]//2)))]))
    s = draw(st.none() | pairs(1, 3))
    d = draw(pairs(1, 3)) if dilation else 1
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    dp = as_pair(d)
    assume(all(shape[2+i] + 2*as_pair(p)[i] >= dp[i]*(kp[i]-1) + 1 for i in (0, 1)))
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(draw(st.integers(0, 2**31))))
    return x, k, s, p, d

@settings(max_examples=150, deadline=None)
@given(pool_case())
def test_max_pool_matches_pytorch(case):
    x, k, s, p, d = case
    assert torch.equal(max_pool2d(x, k, s, p, d), F.max_pool2d(x, k, s, p, d))

@settings(max_examples=150, deadline=None)
@given(pool_case(dilation=False), st.booleans())
def test_avg_pool_matches_pytorch(case, count_include_pad):
    x, k, s, p, _ = case
    torch.testing.assert_close(avg_pool2d(x, k, s, p, count_include_pad), F.avg_pool2d(x, k, s, p, count_include_pad=count_include_pad),
                               rtol=1e-12, atol=1e-12)

@settings(max_examples=50, deadline=None)
@given(pool_case())
def test_ranks_and_gradients(case):
    x, k, s, p, d = case
    full = max_pool2d(x, k, s, p, d)
    assert torch.equal(max_pool2d(x[0], k, s, p, d), full[0]) and torch.equal(max_pool2d(x[0, 0], k, s, p, d), full[0, 0])
    xg = x.clone().requires_grad_()
    avg_pool2d(xg, as_pair(k), s, (as_pair(p)[0], as_pair(p)[1])).sum().backward()
    xr = x.clone().requires_grad_()
    F.avg_pool2d(xr, k, s, p).sum().backward()
    torch.testing.assert_close(xg.grad, xr.grad, rtol=1e-12, atol=1e-12)

def test_worked_example():
    x = torch.tensor([[12, 20, 30, 0], [8, 12, 2, 0], [34, 70, 37, 4], [112, 100, 25, 12]])
    assert max_pool2d(x, 2).tolist() == [[20, 30], [112, 37]]
    assert max_pool2d(x, 2).dtype == torch.int64
    assert avg_pool2d(x.float(), 2).tolist() == [[13, 8], [79, 19.5]]

@pytest.mark.parametrize('f', [max_pool2d, avg_pool2d])
def test_bad_arguments(f):
    x = torch.randn(1, 1, 6, 6)
    with pytest.raises(TypeError, match='x must be a torch.Tensor'): f(x.numpy(), 2)
    with pytest.raises(ValueError, match='x must be H×W'): f(x[None], 2)
    with pytest.raises(TypeError, match='kernel_size must be an int'): f(x, 2.0)
    with pytest.raises(ValueError, match='kernel_size must be an int or a pair'): f(x, (2, 2, 2))
    with pytest.raises(TypeError, match='stride must be an int'): f(x, 2, True)
    with pytest.raises(ValueError, match='kernel_size must be >= 1'): f(x, 0)
    with pytest.raises(ValueError, match='stride must be >= 1'): f(x, 2, (1, 0))
    with pytest.raises(ValueError, match='padding must be >= 0'): f(x, 2, 1, -1)
    with pytest.raises(ValueError, match='padding must be at most half the kernel'): f(x, 3, 1, 2)
    with pytest.raises(ValueError, match='larger than'): f(x, 7)

def test_bad_arguments_specific():
    with pytest.raises(ValueError, match='dilation must be >= 1'): max_pool2d(torch.randn(4, 4), 2, dilation=0)
    with pytest.raises(TypeError, match='floating-point'): avg_pool2d(torch.ones(4, 4, dtype=torch.int64), 2)

def test_mnist_cnn():
    from cnn_course.pool import mnist_cnn
    model = mnist_cnn()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == 225_034
    assert mnist_cnn(c1=4, c2=8, hidden=16, n_classes=3)(torch.zeros(1, 1, 28, 28)).shape == (1, 3)
    with pytest.raises(ValueError, match='c2 must be a positive int'): mnist_cnn(c2=0)
    with pytest.raises(ValueError, match='hidden must be a positive int'): mnist_cnn(hidden=True)

def test_feature_change():
    from cnn_course.pool import feature_change
    x = torch.zeros(5, 1, 16, 16); x[:, :, 5:9, 4:8] = torch.rand(5, 1, 4, 4) + 1
    global_max = torch.nn.AdaptiveMaxPool2d(1)
    assert feature_change(global_max, x, shifts=(1, 2, 3)).tolist() == [0.0, 0.0, 0.0]   # a global max does not move
    identity = feature_change(torch.nn.Identity(), x, shifts=(0, 1, 4))
    assert identity[0] == 0 and 0 < identity[1] < identity[4] <= 2**0.5 + 1e-6
    with pytest.raises(ValueError, match='x must be an N×C×H×W tensor'): feature_change(global_max, x[0])

def test_exercise_checks(capsys):
    from cnn_course.pool import check_pool_output, check_min_pool
    assert check_pool_output(14) and not check_pool_output(13) and not check_pool_output(None)
    assert check_min_pool(lambda x, k, s=None: -max_pool2d(-x, k, s))
    assert not check_min_pool(lambda x, k, s=None: max_pool2d(x, k, s))
    assert not check_min_pool(lambda x, k, s=None: 1/0)
    assert '✓ Right' in capsys.readouterr().out

def test_shift_equivariance_by_hand():
    from cnn_course.pool import shift_equivariance, feature_change
    x = torch.zeros(5, 1, 20, 20); x[:, :, 6:12, 5:11] = torch.rand(5, 1, 6, 6, generator=torch.Generator().manual_seed(0)) + 1
    ident = shift_equivariance(torch.nn.Identity(), x, shifts=(0, 1, 3))
    assert ident.cells.tolist() == [0, 1, 3] and ident.realigned_change.tolist() == [0.0, 0.0, 0.0]
    pool = torch.nn.MaxPool2d(2)
    t = shift_equivariance(pool, x, shifts=(1, 2, 3, 4))
    assert t.change.tolist() == feature_change(pool, x, shifts=(1, 2, 3, 4)).tolist()            # m = 0: position by position
    assert t.loc[[2, 4], 'cells'].tolist() == [1, 2] and t.loc[[2, 4], 'realigned_change'].tolist() == [0.0, 0.0]
    assert (t.loc[[1, 3], 'realigned_change'] > 0).all()                                          # between cells: aliasing
    assert (t.realigned_change <= t.change).all()
    global_max = shift_equivariance(torch.nn.AdaptiveMaxPool2d(1), x, shifts=(1, 2))
    assert global_max.cells.tolist() == [0, 0] and global_max.change.tolist() == [0.0, 0.0]       # a 1×1 map: nothing to realign

@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(['conv1', 'conv3', 'conv3p', 'conv3s2', 'max', 'avg', 'relu']), min_size=1, max_size=4), st.integers(0, 2**16))
def test_strided_stacks_are_equivariant_to_shifts_by_their_total_stride(kinds, seed):
    "Away from the borders (a zero border, zero fill and no biases, so that padding looks like background), a stack with total stride J realigns exactly for shifts by J and 2J."
    from cnn_course.pool import shift_equivariance
    torch.manual_seed(seed)
    conv = lambda *a, **k: torch.nn.Conv2d(*a, **k, bias=False)   # no bias: the background stays 0, like the zero padding
    make = dict(conv1=lambda: conv(2, 2, 1), conv3=lambda: conv(2, 2, 3), conv3p=lambda: conv(2, 2, 3, padding=1),
                conv3s2=lambda: conv(2, 2, 3, 2), max=lambda: torch.nn.MaxPool2d(2), avg=lambda: torch.nn.AvgPool2d(2), relu=torch.nn.ReLU)
    model = torch.nn.Sequential(conv(1, 2, 1), *[make[k]() for k in kinds]).double()
    stride = 2**sum(k in ('conv3s2', 'max', 'avg') for k in kinds)
    assume(stride <= 4)                                                     # shifts by 2·stride keep the digit well inside the 48×48 image
    x = torch.zeros(3, 1, 48, 48, dtype=torch.float64); x[:, :, 16:28, 14:26] = torch.rand(3, 1, 12, 12, dtype=torch.float64) + 0.5
    with torch.no_grad(): base = model(x)
    assume(base[..., 1:].std() > 1e-6)                                      # a map with something to align
    t = shift_equivariance(model, x, shifts=(stride, 2*stride), fill=0.0)
    assert t.cells.tolist() == [1, 2]
    assert t.realigned_change.max() < 1e-9

def test_shift_equivariance_bad_inputs():
    from cnn_course.pool import shift_equivariance
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(TypeError, match='f must be an nn.Module'): shift_equivariance(lambda t: t, x)
    with pytest.raises(ValueError, match='x must be an N×C×H×W tensor'): shift_equivariance(torch.nn.Identity(), x[0])
    with pytest.raises(ValueError, match='x is empty'): shift_equivariance(torch.nn.Identity(), x[:0])
    for bad in ([-1], [8], [1.5], [True]):
        with pytest.raises(ValueError, match='shifts must be ints from 0 to 7'): shift_equivariance(torch.nn.Identity(), x, shifts=bad)
    with pytest.raises(ValueError, match='f must return N×C×H×W'): shift_equivariance(torch.nn.Flatten(), x, shifts=[1])


def test_shift_measures_leave_the_model_in_its_mode():
    "Both measures run the model in eval mode (batch norm with its running statistics) and give it back as it was."
    from cnn_course.pool import shift_equivariance, feature_change
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).train()
    x = torch.rand(3, 1, 10, 10)
    feature_change(model, x); shift_equivariance(model, x, shifts=(1,))
    assert model.training
    assert shift_equivariance(model.eval(), x, shifts=(2,)).change.tolist() == feature_change(model, x, shifts=(2,)).tolist() and not model.training


def test_api_entries_show_no_nonetype():
    "Issue 20: every documented signature of cnn_course.pool renders (its annotations evaluate in the module) with no `NoneType`."
    import cnn_course.pool as module
    from cnn_course.core import show_doc
    for name in module.__all__:
        md = show_doc(getattr(module, name))._repr_markdown_()
        assert 'NoneType' not in md, (name, md)
