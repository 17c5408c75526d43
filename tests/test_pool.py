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

@settings(max_examples=300, deadline=None)
@given(pool_case())
def test_max_pool_matches_pytorch(case):
    x, k, s, p, d = case
    assert torch.equal(max_pool2d(x, k, s, p, d), F.max_pool2d(x, k, s, p, d))

@settings(max_examples=300, deadline=None)
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
