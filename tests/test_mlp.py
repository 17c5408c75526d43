"Tests of `cnn_course.mlp`: data helpers, the MLP and its dropout, loss, training loop, the common tutorial loop, shift and permutation helpers."
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch.utils.data import DataLoader, TensorDataset

from cnn_course.core import load_mnist, seed_everything
from cnn_course.mlp import *

FAST = settings(max_examples=40, deadline=None)


def _images(seed, shape, dtype=torch.float64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- normalisation and MNIST tensors -----------------------------------------------------------
@FAST
@given(st.lists(st.integers(0, 255), min_size=1, max_size=50))
def test_normalise_pixels_matches_formulas(values):
    x = torch.tensor(values, dtype=torch.uint8)
    xd = torch.tensor(values, dtype=torch.float64)/255
    torch.testing.assert_close(normalise_pixels(x, 'scale').double(), xd, rtol=0, atol=1e-6)
    torch.testing.assert_close(normalise_pixels(x, 'standardise').double(), (xd - MNIST_MEAN)/MNIST_STD, rtol=0, atol=1e-5)
    torch.testing.assert_close(normalise_pixels(x, 'half').double(), (xd - 0.5)/0.5, rtol=0, atol=1e-6)
    assert normalise_pixels(x).dtype == torch.float32


def test_normalise_pixels_bad_method():
    with pytest.raises(ValueError, match='how must be one of'): normalise_pixels(torch.zeros(3, dtype=torch.uint8), 'zscore')


def test_mnist_mean_std_are_the_training_set_statistics():
    x, _ = load_mnist('train')
    px = x.double()/255
    assert abs(px.mean().item() - MNIST_MEAN) < 5e-5 and abs(px.std().item() - MNIST_STD) < 5e-5


def test_mnist_tensors_shapes_standardised_and_subsets():
    x, y = mnist_tensors('test')
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    xs, ys = mnist_tensors('train', n=500, seed=3)
    assert xs.shape == (500, 1, 28, 28)
    assert torch.equal(ys, mnist_tensors('train', n=500, seed=3)[1])
    assert not torch.equal(ys, mnist_tensors('train', n=500, seed=4)[1])
    xt, _ = mnist_tensors('train')
    assert abs(xt.mean().item()) < 1e-3 and abs(xt.std().item() - 1) < 1e-3


@pytest.mark.parametrize('n,err,msg', [(0, ValueError, 'n must be in 1..10000'), (10_001, ValueError, 'n must be in'),
                                       (True, TypeError, 'n must be an int'), (2.5, TypeError, 'n must be an int')])
def test_mnist_tensors_bad_n(n, err, msg):
    with pytest.raises(err, match=msg): mnist_tensors('test', n=n)


def test_mnist_loaders_split_sizes_and_fixed_validation():
    tr, va, te = mnist_loaders(bs=100, n_train=1_000, n_valid=500, seed=1)
    assert (tr.n, va.n, te.n) == (1_000, 500, 10_000)
    assert (len(tr), tr.shuffle, va.shuffle) == (10, True, False)
    tr2, va2, _ = mnist_loaders(bs=100, n_train=3_000, n_valid=500, seed=1)
    assert torch.equal(va.x, va2.x) and torch.equal(tr.y, tr2.y[:1_000])   # validation does not depend on n_train
    d_tr, d_va, _ = mnist_loaders()
    assert (d_tr.n, d_va.n) == (50_000, 10_000)


@pytest.mark.parametrize('kw,msg', [(dict(n_valid=0), 'n_valid must be in'), (dict(n_valid=60_000), 'n_valid must be in'),
                                    (dict(n_train=50_001), 'n_train must be in 1..50000'), (dict(n_train=0), 'n_train must be in')])
def test_mnist_loaders_bad_sizes(kw, msg):
    with pytest.raises(ValueError, match=msg): mnist_loaders(**kw)


# --- TensorLoader -----------------------------------------------------------------------------
@FAST
@given(n=st.integers(0, 60), bs=st.integers(1, 20), drop_last=st.booleans())
def test_tensor_loader_matches_pytorch_dataloader(n, bs, drop_last):
    x, y = _images(n, (n, 3)), torch.arange(n)
    ours = TensorLoader(x, y, bs=bs, drop_last=drop_last)
    theirs = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop_last)
    assert len(ours) == len(theirs)
    batches = list(ours)
    assert len(batches) == len(theirs)
    for (xb, yb), (xt, yt) in zip(batches, theirs):
        assert torch.equal(xb, xt) and torch.equal(yb, yt)


@FAST
@given(n=st.integers(1, 60), bs=st.integers(1, 20), seed=st.integers(0, 100))
def test_tensor_loader_shuffle_is_a_reproducible_permutation(n, bs, seed):
    y = torch.arange(n)
    a = torch.cat([yb for _, yb in TensorLoader(y.double(), y, bs=bs, shuffle=True, seed=seed)])
    b = torch.cat([yb for _, yb in TensorLoader(y.double(), y, bs=bs, shuffle=True, seed=seed)])
    assert torch.equal(a.sort().values, y) and torch.equal(a, b)
    dl = TensorLoader(y.double(), y, bs=bs, shuffle=True, seed=seed)
    assert not n > 10 or not torch.equal(torch.cat([yb for _, yb in dl]), torch.cat([yb for _, yb in dl]))  # a new order each pass


def test_same_seed_gives_same_batches_and_losses_whatever_the_model():
    "Two runs after the same `seed_everything` share the batch order, even through one loader and with different models."
    x = torch.randn(300, 1, 4, 4, generator=torch.Generator().manual_seed(0)); y = (x.flatten(1).sum(1) > 0).long()
    dl = TensorLoader(x, y, bs=32, shuffle=True)
    def run(sizes, p):
        seed_everything(5)
        m = mlp(sizes, p=p)                                # models of different sizes draw different amounts of global randomness
        order = [yb.clone() for _, yb in dl]               # the first pass, as the run will see it...
        seed_everything(5); m = mlp(sizes, p=p)
        hist = fit(m, dl, None, 3, lr=1e-2, keep_best=False, progress=False)
        return order, hist.train_loss.tolist()
    (o1, l1), (o2, l2), (o3, _) = run((16, 8, 2), 0.0), run((16, 8, 2), 0.0), run((16, 64, 64, 2), 0.5)
    assert all(torch.equal(a, b) for a, b in zip(o1, o2)) and all(torch.equal(a, b) for a, b in zip(o1, o3))
    assert l1 == l2                                        # identical model and seed: identical results
    seed_everything(6); assert not all(torch.equal(a, yb) for a, (_, yb) in zip(o1, dl))   # another seed, another order


def test_tensor_loader_bad_inputs():
    with pytest.raises(ValueError, match='x and y must have the same length'): TensorLoader(torch.zeros(3), torch.zeros(4))
    for bs in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match='bs must be a positive int'): TensorLoader(torch.zeros(3), torch.zeros(3), bs=bs)


def test_tensor_loader_new_and_to():
    dl = TensorLoader(torch.zeros(10, 2), torch.zeros(10), bs=3, shuffle=True, seed=0)
    d2 = dl.new(shuffle=False, drop_last=True, unknown=1)
    assert (d2.shuffle, d2.drop_last, d2.bs, len(d2)) == (False, True, 3, 3) and dl.shuffle
    assert dl.to('cpu') is dl and dl.device == torch.device('cpu')


def test_fastai_learner_trains_on_tensor_loaders():
    from fastai.learner import Learner
    seed_everything(0)
    x = torch.randn(256, 1, 4, 4); y = (x.flatten(1).sum(1) > 0).long()
    tr, va = TensorLoader(x[:192], y[:192], 32, shuffle=True, seed=0), TensorLoader(x[192:], y[192:], 64)
    dls = fastai_loaders(tr, va, device='cpu')
    learn = Learner(dls, mlp((16, 8, 2), p=0.0), loss_func=F.cross_entropy)
    learn.fit(5, lr=3e-2)
    valid_losses = [v[1] for v in learn.recorder.values]
    assert len(valid_losses) == 5 and valid_losses[-1] < min(valid_losses[0], 0.7*math.log(2))   # it learned (chance: log 2)
    with pytest.raises(ValueError, match='train_dl is empty'): fastai_loaders(TensorLoader(torch.zeros(0), torch.zeros(0)), va)


def test_fastai_learner_sees_our_initial_weights_and_batches_after_the_same_seed():
    "Chapter 01 compares fit with fastai's Learner: after the same seed both start from the same weights and see the same batches."
    from fastai.learner import Learner
    from fastai.callback.core import Callback
    import fastai.callback.schedule
    class Grab(Callback):
        def before_fit(self): self.ys = []
        def before_batch(self):
            if self.training: self.ys.append(self.learn.yb[0].clone())
    x = torch.randn(200, 1, 4, 4, generator=torch.Generator().manual_seed(0)); y = (x.flatten(1).sum(1) > 0).long()
    tr, va = TensorLoader(x[:160], y[:160], 32, shuffle=True), TensorLoader(x[160:], y[160:], 40)
    seed_everything(7); w0 = mlp((16, 8, 2))[1].weight.clone()
    ours = [yb for _ in range(2) for _, yb in tr]
    seed_everything(7)
    learn = Learner(fastai_loaders(tr, va, device='cpu'), mlp((16, 8, 2)), loss_func=F.cross_entropy, cbs=Grab())
    assert torch.equal(learn.model[1].weight, w0)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2, 1e-3)
    assert len(learn.grab.ys) == len(ours) and all(torch.equal(a, b) for a, b in zip(ours, learn.grab.ys))


# --- the model ----------------------------------------------------------------------------------
@FAST
@given(st.lists(st.integers(1, 40), min_size=2, max_size=5), st.sampled_from([0.0, 0.1, 0.5]))
def test_mlp_structure_and_parameter_count(sizes, p):
    m = mlp(tuple(sizes), p=p)
    assert isinstance(m, nn.Sequential) and isinstance(m[0], nn.Flatten)
    linears = [l for l in m if isinstance(l, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == list(zip(sizes[:-1], sizes[1:]))
    assert sum(isinstance(l, nn.ReLU) for l in m) == len(sizes) - 2
    assert sum(isinstance(l, nn.Dropout) for l in m) == (len(sizes) - 2 if p > 0 else 0)
    expected = sum(a*b + b for a, b in zip(sizes[:-1], sizes[1:]))
    table = param_table(m)
    assert table.loc['total', 'parameters'] == expected == sum(q.numel() for q in m.parameters())
    assert table.loc['total', 'weights'] == sum(a*b for a, b in zip(sizes[:-1], sizes[1:]))


def test_mlp_default_is_the_chapter_model():
    m = mlp()
    assert param_table(m).loc['total', 'parameters'] == 478_410
    assert [l.p for l in m if isinstance(l, nn.Dropout)] == [0.5, 0.5]


@FAST
@given(seed=st.integers(0, 1000))
def test_mlp_eval_forward_matches_functional_float64(seed):
    torch.manual_seed(seed)
    m = mlp((12, 7, 5, 3), p=0.5).double().eval()
    x = _images(seed, (4, 3, 2, 2))
    l1, l2, l3 = [l for l in m if isinstance(l, nn.Linear)]
    ref = F.linear(F.relu(F.linear(F.relu(F.linear(x.flatten(1), l1.weight, l1.bias)), l2.weight, l2.bias)), l3.weight, l3.bias)
    torch.testing.assert_close(m(x), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('p,err,msg', [(1.0, ValueError, r'p must be in \[0, 1\)'), (-0.1, ValueError, r'p must be in \[0, 1\)'),
                                       ('0.5', TypeError, 'p must be a number'), (True, TypeError, 'p must be a number')])
def test_mlp_bad_p(p, err, msg):
    with pytest.raises(err, match=msg): mlp(p=p)


@pytest.mark.parametrize('sizes', [(784,), (), (784, 0, 10), (784, 10.0)])
def test_mlp_bad_sizes(sizes):
    with pytest.raises(ValueError, match='sizes must be at least two positive ints'): mlp(sizes)


def test_param_table_other_layers():
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 3, bias=False))
    t = param_table(m)
    assert t.loc['0', 'parameters'] == 4*9 + 4 and t.loc['2', 'biases'] == 0
    assert t.loc['total', 'parameters'] == sum(q.numel() for q in m.parameters())
    assert param_table(nn.Linear(784, 128)).loc['total', 'weights'] == 100_352


# --- dropout --------------------------------------------------------------------------------------
@FAST
@given(p=st.floats(0.05, 0.95), seed=st.integers(0, 1000))
def test_fast_dropout_behaves_like_nn_dropout(p, seed):
    torch.manual_seed(seed)
    x = (_images(seed, (64, 32)).abs() + 0.1).requires_grad_()
    d = FastDropout(p)
    out = d(x)
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept]/(1 - p), rtol=1e-12, atol=0)   # survivors scaled by 1/(1-p)
    out.sum().backward()
    torch.testing.assert_close(x.grad, kept.double()/(1 - p), rtol=1e-12, atol=0)  # gradient flows only through survivors
    assert torch.equal(d.eval()(x), x)                                                # identity in eval mode
    assert isinstance(d, nn.Dropout)


@pytest.mark.parametrize('p', [0.2, 0.5, 0.8])
def test_fast_dropout_statistics_match_nn_dropout(p):
    torch.manual_seed(0)
    ones = torch.ones(400_000)
    ours, theirs = FastDropout(p)(ones), nn.Dropout(p)(ones)
    assert abs((ours == 0).float().mean().item() - p) < 0.005
    assert abs(ours.mean().item() - theirs.mean().item()) < 0.02 and abs(ours.mean().item() - 1) < 0.02


def test_fast_dropout_edge_probabilities():
    x = torch.randn(5, 5)
    assert torch.equal(FastDropout(0.0)(x), x)
    assert torch.equal(FastDropout(1.0)(x), torch.zeros_like(x))
    with pytest.raises(ValueError): FastDropout(1.5)


# --- loss -------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 8), c=st.integers(2, 12), scale=st.sampled_from([1.0, 30.0, 1e4]), seed=st.integers(0, 10_000))
def test_manual_cross_entropy_matches_pytorch(n, c, scale, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64)*scale
    y = torch.randint(0, c, (n,), generator=g)
    ours = manual_cross_entropy(logits, y)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, F.cross_entropy(logits, y), rtol=1e-12, atol=1e-12)


def test_manual_cross_entropy_bad_shapes():
    with pytest.raises(ValueError, match='logits must be N×C'): manual_cross_entropy(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r'targets must have shape \(3,\)'): manual_cross_entropy(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))


# --- evaluate and fit --------------------------------------------------------------------------------
@FAST
@given(n=st.integers(1, 50), bs=st.integers(1, 20), seed=st.integers(0, 1000))
def test_evaluate_matches_whole_set_computation(n, bs, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 4, generator=g, dtype=torch.float64); y = torch.randint(0, 4, (n,), generator=g)
    model = nn.Identity().train()           # the "model" passes the logits through; no parameters
    loss, acc = evaluate(model, TensorLoader(logits, y, bs))
    assert math.isclose(loss, F.cross_entropy(logits, y).item(), rel_tol=1e-12, abs_tol=1e-12)
    assert acc == (logits.argmax(1) == y).double().mean().item()
    assert model.training                   # the mode is restored


def test_evaluate_empty_loader():
    with pytest.raises(ValueError, match='dl is empty'): evaluate(mlp(), TensorLoader(torch.zeros(0, 784), torch.zeros(0)))


def _toy_loaders(n=600, seed=0):
    "A small, learnable 3-class problem on 2×4×4 'images'."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, 4, 4, generator=g)
    y = x.flatten(1)[:, :3].argmax(1)
    return TensorLoader(x[:400], y[:400], 32, shuffle=True, seed=seed), TensorLoader(x[400:], y[400:], 100)


def test_fit_learns_and_returns_history():
    seed_everything(0)
    tr, va = _toy_loaders()
    m = mlp((32, 32, 3), p=0.1)
    h = fit(m, tr, va, 6, lr=1e-2, device='cpu', progress=False)
    assert list(h.columns) == ['epoch', 'train_loss', 'valid_loss', 'valid_acc', 'seconds']
    assert h.epoch.tolist() == list(range(1, 7)) and (h.seconds > 0).all()
    assert h.valid_acc.max() > 0.8 and h.train_loss.iloc[-1] < h.train_loss.iloc[0]


@pytest.mark.parametrize('keep_best', [True, False])
def test_fit_keep_best_restores_lowest_validation_loss(keep_best):
    seed_everything(1)
    tr, va = _toy_loaders(seed=1)
    m = mlp((32, 256, 3), p=0.0)
    h = fit(m, tr, va, 12, lr=3e-2, one_cycle=False, keep_best=keep_best, device='cpu', progress=False)  # a high rate: it over-fits
    assert h.valid_loss.idxmin() < len(h) - 1   # the best epoch is not the last, so restoring matters
    final = evaluate(m, va)[0]
    expected = h.valid_loss.min() if keep_best else h.valid_loss.iloc[-1]
    assert math.isclose(final, expected, rel_tol=1e-6)


def test_fit_without_validation_and_with_sgd():
    seed_everything(0)
    tr, _ = _toy_loaders()
    h = fit(mlp((32, 8, 3)), tr, None, 2, lr=0.1, opt_func=torch.optim.SGD, keep_best=False, device='cpu', progress=False)
    assert h.valid_loss.isna().all() and h.train_loss.notna().all()


@pytest.mark.parametrize('kw,msg', [(dict(epochs=0), 'epochs must be a positive int'), (dict(epochs=1.5), 'epochs must be a positive int'),
                                    (dict(lr=0), 'lr must be > 0'), (dict(valid_dl=None), 'keep_best=True needs a valid_dl'),
                                    (dict(train_dl=TensorLoader(torch.zeros(0), torch.zeros(0))), 'train_dl is empty'),
                                    (dict(valid_dl=TensorLoader(torch.zeros(0), torch.zeros(0))), 'valid_dl is empty')])
def test_fit_bad_inputs(kw, msg):
    tr, va = _toy_loaders()
    args = dict(model=mlp((32, 8, 3)), train_dl=tr, valid_dl=va, epochs=1, progress=False) | kw
    with pytest.raises(ValueError, match=msg): fit(**args)


def test_fit_epoch_end_adds_columns_and_a_forked_measurement_leaves_the_run_alone():
    "`epoch_end`'s values become history columns; one that draws random numbers in a forked state does not change the run."
    tr, va = _toy_loaders()
    def run(epoch_end):
        seed_everything(3)
        return fit(mlp((32, 16, 3), p=0.5), tr, va, 3, lr=1e-2, device='cpu', progress=False, epoch_end=epoch_end)
    def measure(m):
        with torch.random.fork_rng():
            m.train(); return dict(dropout_loss=F.cross_entropy(m(tr.x), tr.y).item(), n=len(tr.x))
    plain, measured = run(None), run(measure)
    assert list(measured.columns) == ['epoch', 'train_loss', 'valid_loss', 'valid_acc', 'seconds', 'dropout_loss', 'n']
    assert measured.train_loss.tolist() == plain.train_loss.tolist() and measured.valid_loss.tolist() == plain.valid_loss.tolist()
    assert (measured.n == 400).all() and measured.dropout_loss.notna().all()


@pytest.mark.parametrize('epoch_end,err,msg', [(3, TypeError, 'epoch_end must be a function'), (lambda m: 0.5, TypeError, 'epoch_end must return a dict'),
                                               (lambda m: dict(valid_loss=0.), TypeError, 'epoch_end must return a dict whose keys are new')])
def test_fit_bad_epoch_end(epoch_end, err, msg):
    tr, va = _toy_loaders()
    with pytest.raises(err, match=msg): fit(mlp((32, 8, 3)), tr, va, 1, progress=False, epoch_end=epoch_end)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), p=st.sampled_from([0.0, 0.5]))
def test_permuted_inputs_train_like_permuted_first_layer_columns(seed, p):
    "Chapter 01's symmetry: training on permuted pixels is training on the original pixels from a first layer with permuted columns."
    tr, va = _toy_loaders(seed=seed)
    perm = random_permutation(32, seed=seed)
    ptr, pva = [TensorLoader(permute_pixels(dl.x, perm), dl.y, dl.bs, shuffle=dl.shuffle, seed=dl.seed) for dl in (tr, va)]
    seed_everything(seed); h_perm = fit(mlp((32, 16, 3), p=p), ptr, pva, 3, lr=1e-2, device='cpu', progress=False)
    seed_everything(seed); m = mlp((32, 16, 3), p=p)
    with torch.no_grad(): m[1].weight.copy_(m[1].weight[:, torch.argsort(perm)])
    h_back = fit(m, tr, va, 3, lr=1e-2, device='cpu', progress=False)
    torch.testing.assert_close(torch.tensor(h_back.valid_loss.values), torch.tensor(h_perm.valid_loss.values), rtol=0, atol=1e-5)


def test_plot_learning_curves():
    import matplotlib; matplotlib.use('Agg')
    import pandas as pd
    h = pd.DataFrame(dict(epoch=[1, 2, 3], train_loss=[1.0, 0.5, 0.3], valid_loss=[0.9, 0.6, 0.7]))
    ax = plot_learning_curves(h, title='t')
    assert ax.get_title() == 't' and ax.get_xlabel() == 'epoch' and len(ax.lines) == 3
    with pytest.raises(ValueError, match='missing'): plot_learning_curves(h.drop(columns='valid_loss'))
    ax = plot_learning_curves(h.iloc[:2])   # a 2-epoch run: ticks at whole epochs only, no 1.2, 1.4, ...
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks)


# --- shifts ------------------------------------------------------------------------------------------
def _shift_reference(x, dx, dy):
    "torch.roll, then zero the pixels that wrapped around."
    out = torch.roll(x, shifts=(dy, dx), dims=(-2, -1)).clone()
    if dx > 0: out[..., :, :dx] = 0
    if dx < 0: out[..., :, dx:] = 0
    if dy > 0: out[..., :dy, :] = 0
    if dy < 0: out[..., dy:, :] = 0
    return out


@settings(max_examples=80, deadline=None)
@given(data=st.data(), four_d=st.booleans(), h=st.integers(1, 9), w=st.integers(1, 9))
def test_shift_images_matches_roll_and_zero(data, four_d, h, w):
    dx = data.draw(st.integers(-(w - 1), w - 1)); dy = data.draw(st.integers(-(h - 1), h - 1))
    shape = (2, 3, h, w) if four_d else (2, h, w)
    x = _images(h*10 + w, shape)
    torch.testing.assert_close(shift_images(x, dx, dy), _shift_reference(x, dx, dy), rtol=0, atol=0)


def test_shift_images_fill_and_errors():
    x = torch.ones(1, 4, 4)
    assert shift_images(x, 2, fill=-1.0)[0, 0].tolist() == [-1.0, -1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r'\|dx\| must be smaller than the image width 4'): shift_images(x, -4)
    with pytest.raises(ValueError, match=r'\|dy\| must be smaller than the image height 4'): shift_images(x, 0, dy=7)
    with pytest.raises(ValueError, match='x must be N×H×W or N×C×H×W'): shift_images(torch.ones(4, 4), 1)
    with pytest.raises(TypeError, match='dx must be an int'): shift_images(x, 1.0)
    with pytest.raises(TypeError, match='dy must be an int'): shift_images(x, 1, dy=True)


def test_accuracy_vs_shift_columns_and_background_fill():
    # a "model" that predicts class 1 when the left column is background (the smallest value), else class 0
    class LeftColumn(nn.Module):
        def forward(self, x): return torch.stack([x[..., 0].amax((-1, -2)) > -1, x[..., 0].amax((-1, -2)) <= -1], 1).flatten(1).float()
    x = torch.zeros(20, 1, 6, 6); x[:, :, :, 0] = 5.0; x[0, 0, 0, 1] = -1.0   # the smallest value is -1 (the "background")
    y = torch.ones(20, dtype=torch.long)
    df = accuracy_vs_shift(LeftColumn(), x, y, shifts=range(3))
    assert list(df.columns) == ['shift', 'accuracy'] and df['shift'].tolist() == [0, 1, 2]
    assert df.accuracy.tolist() == [0.0, 1.0, 1.0]     # shifted right, the left column is filled with x.min()
    assert accuracy_vs_shift(LeftColumn(), x, y, shifts=[1], fill=0.0).accuracy.tolist() == [0.0]


# --- permutations ------------------------------------------------------------------------------------
@FAST
@given(n=st.integers(1, 200), seed=st.integers(0, 1000))
def test_random_permutation(n, seed):
    p = random_permutation(n, seed)
    assert torch.equal(p.sort().values, torch.arange(n)) and torch.equal(p, random_permutation(n, seed))


@pytest.mark.parametrize('n', [0, -3, 2.0, True])
def test_random_permutation_bad_n(n):
    with pytest.raises(ValueError, match='n_pixels must be a positive int'): random_permutation(n)


@FAST
@given(shape=st.sampled_from([(3, 784), (2, 1, 28, 28), (4, 3, 5, 5), (1, 2, 3)]), seed=st.integers(0, 1000))
def test_permute_pixels_matches_flat_indexing_and_inverts(shape, seed):
    x = _images(seed, shape)
    perm = random_permutation(math.prod(shape[1:]), seed)
    out = permute_pixels(x, perm)
    assert out.shape == x.shape
    assert torch.equal(out.reshape(len(x), -1), x.reshape(len(x), -1)[:, perm])   # pixel i of every image comes from perm[i]
    assert torch.equal(permute_pixels(out, torch.argsort(perm)), x)


def test_permute_pixels_bad_perm():
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r'perm must have one entry per pixel, shape \(16,\)'): permute_pixels(x, torch.arange(15))
    with pytest.raises(ValueError, match='perm must be a permutation'): permute_pixels(x, torch.zeros(16, dtype=torch.long))


# --- the common tutorial loop ------------------------------------------------------------------
def test_tutorial_mnist_reads_the_course_digits_from_idx_files(tmp_path):
    ds = tutorial_mnist(train=False, root=tmp_path)
    raw = tmp_path/'MNIST'/'raw'
    assert sorted(p.name for p in raw.iterdir()) == ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte']
    assert (raw/'t10k-images-idx3-ubyte').read_bytes()[:16] == bytes([0, 0, 8, 3, 0, 0, 0x27, 0x10, 0, 0, 0, 28, 0, 0, 0, 28])   # idx header: 10,000 × 28 × 28
    x, y = load_mnist('test')
    assert torch.equal(ds.data, x) and torch.equal(ds.targets, y)
    img, label = ds[3]
    torch.testing.assert_close(img, normalise_pixels(x[3:4]), rtol=0, atol=1e-5)
    assert label == y[3].item() and len(tutorial_mnist(train=True, root=tmp_path)) == 60_000


def test_tutorial_mnist_rewrites_a_truncated_file(tmp_path):
    tutorial_mnist(train=False, root=tmp_path)
    labels = tmp_path/'MNIST'/'raw'/'t10k-labels-idx1-ubyte'
    labels.write_bytes(labels.read_bytes()[:100])
    assert torch.equal(tutorial_mnist(train=False, root=tmp_path).targets, load_mnist('test')[1])


@pytest.mark.parametrize('kw,err,msg', [(dict(train='yes'), TypeError, 'train must be True or False'),
                                        (dict(train=1), TypeError, 'train must be True or False'),
                                        (dict(root=3), TypeError, 'root must be a str, a Path or None')])
def test_tutorial_mnist_bad_arguments(kw, err, msg):
    with pytest.raises(err, match=msg): tutorial_mnist(**kw)


def test_tutorial_fit_trains_a_small_subset_and_reports():
    seed_everything(0)
    r = tutorial_fit(mlp(), epochs=2, n_train=640, bs=64)
    assert list(r) == ['epochs', 'n_train', 'seconds_per_epoch', 'seconds_per_60k', 'test_accuracy']
    assert (r['epochs'], r['n_train']) == (2, 640) and r['seconds_per_epoch'] > 0
    assert math.isclose(r['seconds_per_60k'], r['seconds_per_epoch']*60_000/640)
    assert 0.6 < r['test_accuracy'] <= 1   # 20 steps of Adam already learn a lot
    # reproducible: the next test trains twice from one seed through the same loop (the same batches, the same result)


class _Recorder(nn.Module):
    "A linear classifier that keeps every training batch it sees, to check which digits a loop trains on."
    def __init__(self): super().__init__(); self.lin, self.seen = nn.Linear(784, 10), []
    def forward(self, x):
        if self.training: self.seen.append(x.flatten(1).detach().clone())
        return self.lin(x.flatten(1))


def test_tutorial_fit_with_n_valid_uses_mnist_loaders_split_and_follows_the_seed():
    tr, va, _ = mnist_loaders(n_train=300, n_valid=200, seed=2)
    runs = []
    for _ in range(2):
        seed_everything(4); m = _Recorder()
        r = tutorial_fit(m, epochs=1, n_train=300, n_valid=200, seed=2, bs=50)
        runs.append((r, torch.cat(m.seen)))
    (r, seen), (r2, seen2) = runs
    assert list(r) == ['epochs', 'n_train', 'seconds_per_epoch', 'seconds_per_60k', 'valid_accuracy'] and r['n_train'] == 300
    key = lambda x: x.sum(1).sort().values                                  # the same digits, in any order
    torch.testing.assert_close(key(seen), key(tr.x.flatten(1)), rtol=0, atol=1e-3)
    assert torch.equal(seen, seen2) and r['valid_accuracy'] == r2['valid_accuracy']   # same seed: same batches, same result
    m.eval()
    with torch.no_grad(): expected = (m(va.x).argmax(1) == va.y).float().mean().item()   # accuracy on mnist_loaders' validation digits
    assert math.isclose(r2['valid_accuracy'], expected, abs_tol=1e-6)
    seed_everything(5); m3 = _Recorder(); tutorial_fit(m3, epochs=1, n_train=300, n_valid=200, seed=2, bs=50)
    assert not torch.equal(torch.cat(m3.seen), seen)                         # another seed: another order


@pytest.mark.parametrize('kw,msg', [(dict(n_valid=0), 'n_valid must be in'), (dict(n_valid=60_000), 'n_valid must be in'),
                                    (dict(n_train=55_000, n_valid=10_000), r'n_train must be in 1\.\.50000'), (dict(n_train=0, n_valid=100), 'n_train must be in')])
def test_tutorial_fit_bad_split(kw, msg):
    with pytest.raises(ValueError, match=msg): tutorial_fit(mlp(), **kw)


@pytest.mark.parametrize('kw,err,msg', [(dict(model='mlp'), TypeError, 'model must be an nn.Module'),
                                        (dict(epochs=0), ValueError, 'epochs must be a positive int'),
                                        (dict(epochs=1.5), TypeError, 'epochs must be a positive int'),
                                        (dict(n_train=0), ValueError, 'n_train must be a positive int'),
                                        (dict(n_train=60_001), ValueError, r'n_train must be in 1\.\.60000'),
                                        (dict(n_train=True), TypeError, 'n_train must be a positive int'),
                                        (dict(bs=0), ValueError, 'bs must be a positive int'),
                                        (dict(lr=0), ValueError, 'lr must be > 0'), (dict(lr='1e-3'), ValueError, 'lr must be > 0'),
                                        (dict(seed=1.0), TypeError, 'seed must be an int')])
def test_tutorial_fit_bad_arguments(kw, err, msg):
    with pytest.raises(err, match=msg): tutorial_fit(**(dict(model=mlp()) | kw))


# --- exercise checks ---------------------------------------------------------------------------------
def test_exercise_checks_say_right_and_wrong(capsys):
    assert check_param_count(218_058) and not check_param_count(784*256 + 256*64 + 64*10) and not check_param_count(None)
    assert check_cross_entropy(math.log(math.exp(2) + math.exp(1) + math.exp(0.1)) - 2) and not check_cross_entropy(0.659)
    assert check_dropout_value(3.75) and not check_dropout_value(2.4) and not check_dropout_value(None)
    assert check_unpermute(lambda x, perm: permute_pixels(x, torch.argsort(perm)))
    assert not check_unpermute(lambda x, perm: x) and not check_unpermute(lambda x, perm: 1/0) and not check_unpermute(None)
    out = capsys.readouterr().out
    assert 'Right' in out and 'Not yet' in out and 'weights only' in out
