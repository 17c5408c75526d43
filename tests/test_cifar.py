"Tests of chapter 04's CIFAR side: `load_cifar`, batched augmentation, loaders, from-scratch BatchNorm, CIFAR networks, autocast, recipes."
import copy, inspect, math, shutil, warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnn_course.core import CIFAR_CLASSES, DataMissingError, dataset_folder, load_cifar, autocast_dtype, seed_everything
from cnn_course.resnet import *
from data_helpers import decode_from, link_folders, load_in, own

FAST = settings(max_examples=40, deadline=None)


pytestmark = pytest.mark.usefixtures('one_thread')   # see conftest.py


def _u8(*shape, seed=0): return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


# --- batched augmentation -----------------------------------------------------------------------------------------
@FAST
@given(n=st.integers(1, 6), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7), pad=st.integers(0, 3),
       mode=st.sampled_from(['constant', 'reflect']), seed=st.integers(0, 1000))
def test_crop_flip_is_a_crop_of_the_padded_image(n, c, h, w, pad, mode, seed):
    if mode == 'reflect' and pad >= min(h, w): pad = min(h, w) - 1   # reflect padding needs pad < size
    x = _u8(n, c, h, w, seed=seed)
    out = random_crop_flip(x, pad, pad_mode=mode, generator=torch.Generator().manual_seed(seed))
    assert out.shape == x.shape and out.dtype == x.dtype
    xp = F.pad(x, (pad,)*4) if mode == 'constant' else F.pad(x.float(), (pad,)*4, mode='reflect').to(x.dtype)
    for i in range(n):
        crops = [xp[i, :, dy:dy + h, dx:dx + w] for dy in range(2*pad + 1) for dx in range(2*pad + 1)]
        assert any(torch.equal(out[i], cr) or torch.equal(out[i], cr.flip(2)) for cr in crops)


def test_crop_flip_draws_every_offset_and_both_flips():
    x = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).expand(2000, 1, 4, 4).contiguous()
    out = random_crop_flip(x, pad=1, generator=torch.Generator().manual_seed(0))
    assert len({tuple(o.flatten().tolist()) for o in out}) == 18   # 9 offsets × 2 flips


@pytest.mark.parametrize('kwargs,match', [(dict(pad=-1), 'pad must be'), (dict(pad=1.5), 'pad must be'), (dict(pad_mode='edge'), 'pad_mode must be')])
def test_crop_flip_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match): random_crop_flip(_u8(2, 3, 8, 8), **kwargs)
    

def test_crop_flip_bad_images():
    with pytest.raises(ValueError, match='x must be an N×C×H×W tensor'): random_crop_flip(_u8(3, 8, 8))
    with pytest.raises(ValueError, match='x must be an N×C×H×W tensor'): random_crop_flip(np.zeros((2, 3, 8, 8)))


# --- statistics and loaders -------------------------------------------------------------------------------------------
def test_channel_stats_match_numpy():
    x = _u8(10, 3, 5, 5)
    mean, std = channel_stats(x)
    a = x.numpy().astype(np.float64)/255
    np.testing.assert_allclose(mean.numpy(), a.mean((0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(std.numpy(), a.std((0, 2, 3), ddof=1), rtol=1e-5)
    with pytest.raises(ValueError, match='at least one image'): channel_stats(_u8(0, 3, 5, 5))
    fm, fs = channel_stats(x.float())   # the float path (the uint8 path counts values) gives the same numbers
    torch.testing.assert_close((fm, fs), (mean, std))


def test_cifar_loader_standardises_in_channels_last():
    x, y = _u8(50, 3, 8, 8), torch.arange(50) % 10
    mean, std = channel_stats(x)
    dl = CifarLoader(x, y, bs=16, mean=mean, std=std)
    xb, yb = next(iter(dl))
    assert xb.dtype == torch.float32 and xb.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(xb, ((x[:16].float()/255 - mean.view(1, -1, 1, 1))/std.view(1, -1, 1, 1)))
    assert torch.equal(yb, y[:16]) and len(dl) == 4
    copy = dl.new(shuffle=True, augment=True)
    assert (copy.shuffle, copy.augment, copy.bs) == (True, True, 16) and torch.equal(copy.mean, dl.mean)


def test_cifar_loader_bad_inputs():
    with pytest.raises(TypeError, match='x must be uint8'): CifarLoader(torch.zeros(4, 3, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match='same length'): CifarLoader(_u8(4, 3, 8, 8), torch.zeros(3, dtype=torch.long))


# --- BatchNorm from scratch ---------------------------------------------------------------------------------------------
@FAST
@given(n=st.integers(2, 5), c=st.integers(1, 6), h=st.integers(1, 5), w=st.integers(1, 5), momentum=st.floats(0.0, 1.0),
       eps=st.sampled_from([1e-5, 1e-3, 0.1]), steps=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_batchnorm_equals_torch(n, c, h, w, momentum, eps, steps, seed):
    g = torch.Generator().manual_seed(seed)
    ours, theirs = BatchNorm2d(c, eps=eps, momentum=momentum), nn.BatchNorm2d(c, eps=eps, momentum=momentum)
    with torch.no_grad():
        w0, b0 = torch.randn(c, generator=g), torch.randn(c, generator=g)
        for m in (ours, theirs): m.weight.copy_(w0); m.bias.copy_(b0)
    for _ in range(steps):
        x = torch.randn(n, c, h, w, generator=g)*3 + 1
        r = torch.randn(n, c, h, w, generator=g)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ours(xa), theirs(xb)
        torch.testing.assert_close(ya, yb, atol=1e-4, rtol=1e-4)
        (ya*r).sum().backward(); (yb*r).sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.running_var, theirs.running_var, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, atol=1e-3, rtol=1e-3)
    ours.eval(); theirs.eval()
    x = torch.randn(n, c, h, w, generator=g)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-4, rtol=1e-4)


def test_batchnorm_loads_torch_state_dict_and_keeps_dtype():
    theirs = nn.BatchNorm2d(4)
    theirs(torch.randn(8, 4, 3, 3)*2 + 5)
    ours = BatchNorm2d(4)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))
    assert ours(x.bfloat16()).dtype == torch.bfloat16


@pytest.mark.parametrize('args,exc,match', [((0,), ValueError, 'num_features must be'), ((2.5,), ValueError, 'num_features must be'),
                                            ((4, 1e-5, 1.5), ValueError, 'momentum must be in')])
def test_batchnorm_bad_arguments(args, exc, match):
    with pytest.raises(exc, match=match): BatchNorm2d(*args)


def test_batchnorm_wrong_channels():
    with pytest.raises(ValueError, match='x must be N×4×H×W'): BatchNorm2d(4)(torch.randn(2, 3, 5, 5))


# --- CIFAR networks ---------------------------------------------------------------------------------------------------
# Parameter counts of the CIFAR ResNets with option A (He et al. 2016, section 4.2): 0.27M, 0.46M, 0.66M, 0.85M, 1.7M.
CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


@pytest.mark.parametrize('depth', sorted(CIFAR_PARAMS))
def test_cifar_resnet_parameter_counts(depth):
    model = cifar_resnet(depth)
    assert sum(p.numel() for p in model.parameters()) == CIFAR_PARAMS[depth]
    plain = cifar_resnet(depth, residual=False)
    assert sum(p.numel() for p in plain.parameters()) == CIFAR_PARAMS[depth]   # option A adds no parameters


@pytest.mark.parametrize('kw', [dict(), dict(shortcut='B'), dict(shortcut='C'), dict(shortcut='B', avg_down=True),
                                dict(deep_stem=True), dict(residual=False), dict(n_classes=3)])
def test_cifar_resnet_variants_run(kw):
    out = cifar_resnet(20, **kw)(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, kw.get('n_classes', 10))


def test_cifar_resnet_zero_init_starts_as_identity_blocks():
    model = cifar_resnet(20, zero_init=True).eval()
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    x = torch.relu(torch.randn(2, 16, 8, 8))
    torch.testing.assert_close(blocks[0](x), x)   # zero-initialised last BN: the block is relu(x + 0) = x for x >= 0


@pytest.mark.parametrize('depth', [8, 20, 56])
def test_plain_and_residual_twins_start_from_the_same_weights(depth):
    "The degradation experiment compares the shortcut alone: after the same seed, a ResNet and its plain twin hold the same initial tensors."
    seed_everything(0); res = cifar_resnet(depth)
    seed_everything(0); plain = cifar_resnet(depth, residual=False)
    a, b = res.state_dict(), plain.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in res.modules() if isinstance(m, nn.BatchNorm2d))   # no zero-initialised scale


@pytest.mark.parametrize('kw,match', [(dict(depth=21), 'depth must be 6n\\+2'), (dict(depth=2), 'depth must be 6n\\+2'), (dict(depth=20.0), 'depth must be 6n\\+2'),
                                      (dict(shortcut='D'), "shortcut must be 'A', 'B' or 'C'"), (dict(avg_down=True), 'avg_down needs a projection shortcut'),
                                      (dict(n_classes=0), 'n_classes must be')])
def test_cifar_resnet_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match): cifar_resnet(**kw)


@pytest.mark.parametrize('depth', [8, 20, 56])
def test_plain_cnn_layers(depth):
    model = plain_cnn(depth, norm=nn.BatchNorm2d)
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()) == depth
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize('kw,match', [(dict(depth=19), 'depth must be 6n\\+2'), (dict(init='xavier'), "init must be 'kaiming' or 'default'"), (dict(n_classes=0), 'n_classes must be')])
def test_plain_cnn_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match): plain_cnn(**kw)


def test_kaiming_keeps_variance_default_shrinks_it():
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    k, d = activation_stds(conv_stack(20, 32, 'kaiming'), x), activation_stds(conv_stack(20, 32, 'default'), x)
    assert 0.2 < k[-1]/k[1] < 5
    assert d[-1]/d[1] < 1e-6
    with pytest.raises(ValueError, match='no nn.ReLU'): activation_stds(nn.Conv2d(3, 3, 1), x)


def test_conv_grad_norms():
    xb, yb = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    model = cifar_resnet(8)
    g = conv_grad_norms(model, xb, yb)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(g) == len(convs) == 7 and list(g.columns) == ['grad_norm', 'weight_norm', 'relative'] and (g.grad_norm > 0).all()
    torch.testing.assert_close(torch.tensor(g.grad_norm.values, dtype=torch.float32), torch.stack([m.weight.grad.norm() for m in convs]))
    torch.testing.assert_close(torch.tensor(g.relative.values), torch.tensor((g.grad_norm/g.weight_norm).values))
    with pytest.raises(ValueError, match='no 3×3'): conv_grad_norms(nn.Sequential(nn.Flatten(), nn.Linear(3072, 10)), xb, yb)


def test_relative_gradient_ignores_the_weights_scale():
    "With BatchNorm after every convolution, scaling a convolution's weights leaves the loss alone: ‖∇W‖/‖W‖ is scale-free."
    xb, yb = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.arange(8) % 10
    seed_everything(0); a = cifar_resnet(8)
    seed_everything(0); b = cifar_resnet(8)
    with torch.no_grad(): b[0].weight.mul_(10)
    ga, gb = conv_grad_norms(a, xb, yb), conv_grad_norms(b, xb, yb)
    assert gb.grad_norm.iloc[0] == pytest.approx(ga.grad_norm.iloc[0]/10, rel=1e-3)
    assert gb.relative.iloc[0] == pytest.approx(ga.relative.iloc[0]/100, rel=1e-3)   # ‖∇W‖ ∝ 1/s and ‖W‖ ∝ s


def test_calibrate_bn_makes_eval_mode_match_a_training_step():
    torch.manual_seed(0)
    model, x = cifar_resnet(8), torch.randn(6, 3, 16, 16)*2 + 1
    with torch.no_grad(): want = model.train()(x)
    fresh = copy.deepcopy(model).eval()
    assert calibrate_bn(model, x) is model and not model.training
    with torch.no_grad(): got, before = model(x), fresh(x)
    torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-3)                    # eval mode now standardises like the training step ...
    assert not torch.allclose(before, want, atol=1e-2)                             # ... which fresh running statistics did not
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))   # the layers' momentum is restored
    with pytest.raises(ValueError, match='no BatchNorm'): calibrate_bn(nn.Conv2d(3, 3, 1), x)


def test_seed_table_columns_mean_and_range():
    t = seed_table({('b', 0): 40.0, ('a', 0): 30.0, ('b', 1): 44.0, ('a', 1): 29.0}, 'valid accuracy %')
    assert list(t.index) == ['b', 'a'] and list(t.columns) == ['seed 0', 'seed 1', 'mean', 'range'] and t.index.name == 'valid accuracy %'
    assert t.loc['b'].tolist() == [40.0, 44.0, 42.0, 4.0] and t.loc['a', 'range'] == 1.0
    with pytest.raises(ValueError, match='values must map'): seed_table({'a': 1.0})


# --- the fast network ---------------------------------------------------------------------------------------------------
def test_init_whitening_whitens_patches():
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.8, 0.3], [0.0, 0.6, 0.5], [0.0, 0.0, 0.4]])
    x = torch.einsum('dc,nchw->ndhw', mix, torch.randn(200, 3, 12, 12, generator=g))   # correlated channels
    conv = nn.Conv2d(3, 24, 2)
    init_whitening(conv, x, eps=1e-6)
    out = F.conv2d(x, conv.weight[:12])
    cov = torch.cov(out.permute(1, 0, 2, 3).reshape(12, -1))
    torch.testing.assert_close(cov, torch.eye(12), atol=0.05, rtol=0)
    torch.testing.assert_close(conv.weight[12:], -conv.weight[:12])
    with pytest.raises(ValueError, match='conv must have 2·C·k·k = 24 output channels'): init_whitening(nn.Conv2d(3, 12, 2), x)


def test_fast_net_shapes_and_frozen_layers():
    net = fast_net()
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert not net[0].weight.requires_grad and net[0].bias.requires_grad
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not m.weight.requires_grad for m in bns)
    with pytest.raises(ValueError, match='widths must be three positive ints'): fast_net((64, 0, 256))


def test_lookahead_pull_is_an_exponential_average():
    model = nn.Linear(2, 1, bias=False)
    la = Lookahead()
    la.slow = {'weight': torch.zeros(1, 2)}
    la.learn = type('L', (), {'model': model})()
    with torch.no_grad(): model.weight.fill_(1.0)
    la.pull(0.75)
    torch.testing.assert_close(model.weight.data, torch.full((1, 2), 0.25))
    torch.testing.assert_close(la.slow['weight'], torch.full((1, 2), 0.25))


# --- autocast, recipes, test-time augmentation ----------------------------------------------------------------------------
def test_autocast_dtype_choices():
    assert autocast_dtype('cpu') in (torch.bfloat16, None)
    assert autocast_dtype('mps') is None
    with pytest.raises(ValueError, match='dtype must be None, torch.bfloat16 or torch.float16'): DeviceAutocast(torch.float64)


def _tiny_dls(n=64):
    x, y = _u8(n, 3, 32, 32), torch.arange(n) % 10
    from cnn_course.mlp import fastai_loaders
    return fastai_loaders(CifarLoader(x, y, bs=32, shuffle=True, seed=0), CifarLoader(x, y, bs=64))


def test_same_seed_gives_same_augmented_batches_and_results():
    "Re-seeding reproduces the data stream (order, crops and flips), whatever the model drew, and so the result."
    x, y = _u8(96, 3, 32, 32, seed=1), torch.arange(96) % 10
    dl = CifarLoader(x, y, bs=32, shuffle=True, augment=True)
    seed_everything(2); a = [xb.clone() for xb, _ in dl]
    seed_everything(2); torch.randn(10_000); b = [xb.clone() for xb, _ in dl]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    seed_everything(3); assert not torch.equal(next(iter(dl))[0], a[0])
    def run():
        seed_everything(0)
        learn = cifar_learner(cifar_resnet(8), _tiny_dls(), amp=False)
        learn.fit(2, 0.01)
        return [float(l) for l in learn.recorder.losses]
    assert run() == run()


@pytest.mark.parametrize('pad_mode', ['constant', 'reflect'])
def test_order_and_crops_do_not_depend_on_batch_size_or_augmentation(pad_mode):
    "The recipe study changes the batch size or switches augmentation off: after the same seed the images still come in the same order, each with the same crop and flip."
    x = _u8(100, 3, 8, 8, seed=4)
    dl = CifarLoader(x, torch.arange(100), bs=10, shuffle=True, augment=True, pad=2, pad_mode=pad_mode)   # each image's target is its index
    def stream(dl, passes=3):
        seed_everything(5)
        batches = [(xb, yb) for _ in range(passes) for xb, yb in dl]
        return torch.cat([yb for _, yb in batches]), torch.cat([xb for xb, _ in batches])
    order, images = stream(dl)
    assert sorted(order[:100].tolist()) == list(range(100)) and not torch.equal(order[:100], order[100:200])   # a new order in every pass
    for other in (dl.new(bs=20), dl.new(bs=30), dl.new(bs=100)):
        o, im = stream(other)
        assert torch.equal(o, order) and torch.equal(im, images)
    o, im = stream(dl.new(augment=False))
    assert torch.equal(o, order) and not torch.equal(im, images)
    plain = (x[order].float()/255 - 0.5)/0.25   # CifarLoader's default mean and std
    assert torch.allclose(im, plain)            # without augmentation: the images themselves


@pytest.mark.parametrize('amp', [False, True])
def test_cifar_learner_trains_a_batch(amp):
    learn = cifar_learner(cifar_resnet(8), _tiny_dls(), amp=amp)
    learn.fit(1, 0.01)
    assert math.isfinite(learn.recorder.losses[-1])


def _texts_by_axes(fig):
    "The drawn texts of a figure with their boxes in pixels, keyed by their axes (None: the sub-figures' titles); tick labels outside the view are not drawn."
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    found = [(None, t.get_window_extent(r)) for sf in fig.subfigs for t in sf.texts if t.get_text().strip()]
    inside = lambda t, lim, i: min(lim) <= t.get_position()[i] <= max(lim)
    for ax in fig.axes:
        texts = [ax.title] + (ax.get_legend().get_texts() if ax.get_legend() else [])
        if ax.axison:   # an axes drawn without its axis shows no axis labels and no tick labels
            texts += [ax.xaxis.label, ax.yaxis.label]
            texts += [t for t in ax.get_xticklabels(which='both') if inside(t, ax.get_xlim(), 0)]
            texts += [t for t in ax.get_yticklabels(which='both') if inside(t, ax.get_ylim(), 1)]
        found += [(ax, t.get_window_extent(r)) for t in texts if t.get_visible() and t.get_text().strip()]
    return found


def _recorded_run(seed, n_batches=115, n_layers=19, bins=40):
    """What `show_activation_stats` reads of a Learner trained with `relu_stats`: fastai's `ActivationStats` holding, for each
    of `n_batches` batches, each ReLU's mean, std and histogram. Synthetic, at the size of chapter 04's runs (115 batches,
    stds from 0.015 to 0.4, as its default-init run: a log scale that labels its minor ticks)."""
    import types
    from fastai.callback.hook import ActivationStats
    from fastcore.foundation import L
    g = torch.Generator().manual_seed(seed)
    stats = ActivationStats(with_hist=True)
    stds = 10**(-1.8 + 1.4*torch.rand(n_layers, 1, generator=g))*(1 + 0.1*torch.rand(n_layers, n_batches, generator=g))
    stats.stats = L(L(dict(mean=0.5, std=stds[i, b].item(), near_zero=0.5, hist=torch.randint(0, 500, (bins,), generator=g))
                      for i in range(n_layers)) for b in range(n_batches))
    return types.SimpleNamespace(activation_stats=stats)


def test_show_activation_stats_keeps_each_panels_text_apart():
    "No title, tick label or legend of one panel runs into another's (the std panel's log-scale labels once covered a histogram's title)."
    import matplotlib.pyplot as plt
    fig = show_activation_stats({'first': _recorded_run(0), 'second': _recorded_run(1)})
    texts = _texts_by_axes(fig)
    clash = [(a, b) for i, (ax_a, a) in enumerate(texts) for ax_b, b in texts[i + 1:] if ax_a is not ax_b and a.overlaps(b)]
    assert not clash, clash
    plt.close(fig)


def test_autocast_runs_convolutions_in_16_bit_on_this_device():
    dtype = autocast_dtype('cpu')
    if dtype is None: pytest.skip('this CPU has no bfloat16 support')
    seen = []
    model = cifar_resnet(8)
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    learn = cifar_learner(model, _tiny_dls(), amp=True)
    learn.fit(1, 0.01)
    assert torch.bfloat16 in seen


def test_cifar_learner_gives_no_weight_decay_to_any_batchnorm():
    model = plain_cnn(8, norm=BatchNorm2d)   # our BatchNorm2d, which fastai's norm_types does not list
    learn = cifar_learner(model, _tiny_dls(), wd=0.5, amp=False)
    ours = [p for m in model.modules() if isinstance(m, BatchNorm2d) for p in m.parameters()]
    convs = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert ours and all(learn.opt.state[p]['do_wd'] is False for p in ours)
    assert all(learn.opt.state[p].get('do_wd', True) for p in convs)
    torch_bn = cifar_learner(plain_cnn(8, norm=nn.BatchNorm2d), _tiny_dls(), amp=False)   # PyTorch's, exempt by fastai itself
    assert all(torch_bn.opt.state[p]['do_wd'] is False for m in torch_bn.model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())


def test_freeze_bias_after_stops_the_bias():
    from fastai.callback.core import Callback
    model = fast_net((8, 16, 16))
    before = {}
    class Snap(Callback):
        def before_epoch(self): before[self.epoch] = model[0].bias.detach().clone()
    learn = cifar_learner(model, _tiny_dls(), amp=False, cbs=[FreezeBiasAfter(1), Snap()])
    learn.fit(3, 0.1)
    assert not torch.equal(before[0], before[1])                              # trained in epoch 0 ...
    assert torch.equal(before[1], before[2]) and torch.equal(before[2], model[0].bias)   # ... frozen from epoch 1, momentum included
    assert model[0].bias.grad is None


def test_jpeg_settings_reads_quality_and_subsampling(tmp_path):
    from PIL import Image
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    for q, sub, chroma in ((75, 2, '4:2:0'), (95, 0, '4:4:4'), (30, 1, '4:2:2')):
        img.save(tmp_path/'a.jpg', quality=q, subsampling=sub)
        assert jpeg_settings(tmp_path/'a.jpg') == dict(format='JPEG', quality=q, chroma=chroma)
    img.save(tmp_path/'a.png')
    assert jpeg_settings(str(tmp_path/'a.png')) == dict(format='PNG', quality=None, chroma=None)
    with pytest.raises(FileNotFoundError, match='path must be an image file'): jpeg_settings(tmp_path/'missing.jpg')
    with pytest.raises(FileNotFoundError, match='path must be an image file'): jpeg_settings(tmp_path)


def test_cifar_learner_bad_arguments():
    with pytest.raises(ValueError, match='label_smoothing must be in'): cifar_learner(cifar_resnet(8), _tiny_dls(), label_smoothing=1.0)
    with pytest.raises(ValueError, match='wd must be >= 0'): cifar_learner(cifar_resnet(8), _tiny_dls(), wd=-1)


def test_train_recipe_refuses_unknown_settings():
    with pytest.raises(ValueError, match="unknown recipe settings \\['momentum'\\]"): train_recipe(cifar_resnet(8), 1, momentum=0.9)


class _LeftHalf(nn.Module):
    "A linear classifier of the channel means of the left half of the image: a flip shows it the other half."
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 10)
        with torch.no_grad(): self.lin.weight.copy_(torch.randn(10, 3, generator=torch.Generator().manual_seed(0))*10)
    def forward(self, x): return self.lin(x[..., :x.shape[-1]//2].float().mean((2, 3)))


def test_flip_tta_accuracy_averages_mirror_images():
    x = _u8(64, 3, 8, 8, seed=3)
    model = _LeftHalf()
    xs = x.float()/255
    left, right = xs[..., :4].mean((2, 3)), xs[..., 4:].mean((2, 3))
    with torch.no_grad(): y_plain, y_flip = model.lin(left).argmax(1), (model.lin(left) + model.lin(right)).argmax(1)
    dl = CifarLoader(x, y_flip, bs=16, mean=(0, 0, 0), std=(1, 1, 1))
    assert flip_tta_accuracy(model, dl) == 1.0
    assert flip_tta_accuracy(model, dl, flip=False) == pytest.approx((y_plain == y_flip).float().mean().item())
    assert 0 <= flip_tta_accuracy(model, dl, translate=True) <= 1


def test_validate_last_epoch_keeps_the_table_columns():
    "Skipped validations leave a placeholder in each validation column, so the time stays in the time column."
    learn = cifar_learner(cifar_resnet(8), _tiny_dls(), amp=False, progress=False, cbs=[ValidateLastEpoch()])
    logged = []
    learn.logger = lambda log: logged.append(list(log))
    learn.fit(3, 0.01)
    assert learn.recorder.metric_names == ['epoch', 'train_loss', 'valid_loss', 'accuracy', 'time']
    assert [len(row) for row in logged] == [5, 5, 5]
    assert logged[0][2:4] == ['–', '–'] and logged[1][2:4] == ['–', '–'] and ':' in logged[0][4]
    assert all(isinstance(v, float) for v in logged[2][1:4])
    assert isinstance(learn.recorder.values[-1][2], float)


def test_callbacks_document_only_their_own_arguments():
    "fastai's Callback accepts one keyword per training event; the API pages must show only what a reader passes."
    from nbdev.showdoc import show_doc
    for cls, params in [(ReleaseMemory, []), (ValidateLastEpoch, []), (DeviceAutocast, ['dtype']), (Lookahead, ['every']), (FreezeBiasAfter, ['epochs'])]:
        assert list(inspect.signature(cls).parameters) == params, cls
        assert 'NoneType' not in show_doc(cls)._repr_markdown_() and 'after_create' not in show_doc(cls)._repr_markdown_()


def test_compare_training_gives_every_model_the_same_data_per_seed(capsys):
    models = {'a': lambda: cifar_resnet(8), 'b': lambda: cifar_resnet(8)}
    out = compare_training(models, _tiny_dls(), 1, lr=0.05, seeds=[0, 1], every_epoch=False, amp=False)
    assert list(out) == [('a', 0), ('b', 0), ('a', 1), ('b', 1)]
    assert out['a', 0]['losses'] == out['b', 0]['losses']      # same seed, same model: the same run
    assert out['a', 0]['losses'] != out['a', 1]['losses']      # another seed: other initial weights
    assert all(0 <= r['errors'][-1] <= 1 for r in out.values())
    assert capsys.readouterr().out == ''                        # short runs train silently
    mine = [[cb for cb in r['learner'].cbs if isinstance(cb, ValidateLastEpoch)] for r in out.values()]
    assert all(len(m) == 1 for m in mine) and len({id(m[0]) for m in mine}) == len(mine)   # one callback per run, never shared
    assert all(m[0].learn is r['learner'] for m, r in zip(mine, out.values()))
    with pytest.raises(ValueError, match='seeds must be'): compare_training(models, _tiny_dls(), 1, seeds=[])


def test_epochs_for_budget_from_a_measured_speed():
    assert epochs_for_budget(1000, 50_000, 900, margin=0.65) == int(0.65*900*1000/50_000) == 11
    assert epochs_for_budget(1, 50_000, 900) == 1 and epochs_for_budget(1e6, 50_000, 900) == 40
    with pytest.raises(ValueError, match='speed must be'): epochs_for_budget(0, 50_000, 900)
    with pytest.raises(ValueError, match='margin must be'): epochs_for_budget(100, 50_000, 900, margin=0)


# --- exercise checks ------------------------------------------------------------------------------------------------------
def test_exercise_checks_leave_the_random_state_alone(capsys):
    torch.manual_seed(3); want = torch.rand(3)
    torch.manual_seed(3); check_fold_bn(lambda conv, bn: conv); got = torch.rand(3)
    assert torch.equal(want, got)


def test_exercise_checks_accept_right_and_refuse_wrong_answers(capsys):
    assert check_kaiming_std(math.sqrt(2/576)) and not check_kaiming_std(0.1) and not check_kaiming_std(None)
    assert check_resnet_params(464_154) and not check_resnet_params(464_000)
    assert not check_fold_bn(lambda conv, bn: conv)
    out = capsys.readouterr().out
    assert out.count('✓ Right!') == 2 and out.count('✗ Not yet.') == 4


# --- load_cifar: counts, damaged caches, broken files (skipped with a reason when the data set is absent) ---------------------
def _private_home(home):
    """Make `home` a FASTAI_HOME whose CIFAR-10 test split links to the real class folders (copying 10,000 files took seconds per
    test); return its cifar10 folder. Skips, saying how to get the data, where CIFAR-10 is absent."""
    src = dataset_folder('cifar10')
    if not (src/'test').is_dir():
        pytest.skip(f"CIFAR-10 is not at {src}: run `untar_data(URLs.CIFAR)` online, or lay out the offline copy (../shared/data/install.py)")
    test = link_folders(src/'test', home/'data'/'cifar10'/'test')
    (test.parent/'train'/'airplane').mkdir(parents=True)   # get_data checks both splits exist; these tests read only 'test'
    shutil.copy(next((src/'test'/'airplane').iterdir()), test.parent/'train'/'airplane')
    return test.parent


@pytest.fixture
def cifar_home(tmp_path, monkeypatch):
    """A private FASTAI_HOME (`_private_home`) for one test.

    A test that damages a file first gives its class folder links of its own (`own`, tests/data_helpers.py), then deletes or replaces a link,
    never writing through one: that would damage the real data."""
    folder = _private_home(tmp_path/'home')
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'home'))
    return folder


@pytest.fixture(scope='module')
def first_load(tmp_path_factory):
    "The first `load_cifar('test')` in a private home of the module's: (its cifar10 folder, x, y), the 10,000 real files decoded once."
    home = tmp_path_factory.mktemp('cifar_home')
    folder = _private_home(home)
    return (folder, *load_in(home, load_cifar, 'test'))


def test_load_cifar_counts_and_cache(first_load, fastai_home):
    folder, x, y = first_load
    assert x.shape == (10_000, 3, 32, 32) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [1000]*10
    assert (folder/'test-v1.npz').exists()
    fastai_home(folder.parent.parent)
    x2, y2 = load_cifar('test')                                     # read back from the cache: exactly what decoding gave
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_load_cifar_refuses_a_missing_image_and_writes_no_cache(cifar_home):
    own(cifar_home/'test'/'cat').unlink()
    with pytest.raises(DataMissingError, match='999') as e: load_cifar('test')
    assert 'was not written' in str(e.value)
    assert not (cifar_home/'test-v1.npz').exists()


def test_load_cifar_rebuilds_a_damaged_cache(cifar_home, first_load, monkeypatch):
    # decoding the 10,000 files is tested above: each decode here returns a copy of what the module's first load decoded
    rebuilds = decode_from(monkeypatch, '_decode_cifar', tuple(t.numpy() for t in first_load[1:]))
    x, y = load_cifar('test')                      # a good cache first
    cache = cifar_home/'test-v1.npz'
    cache.write_bytes(cache.read_bytes()[:1000])   # truncated
    with pytest.warns(UserWarning, match='test-v1.npz'): x2, _ = load_cifar('test')
    assert torch.equal(x, x2)
    np.savez(cache, x=np.zeros((100, 3, 32, 32), np.uint8), y=np.zeros(100, np.int64))   # readable but wrong
    with pytest.warns(UserWarning, match='expected 10,000'): x3, _ = load_cifar('test')
    assert torch.equal(x, x3)
    assert rebuilds == [cifar_home/'test']*3   # the first cache, then one rebuild for each damage, from the test split's folder


def test_load_cifar_names_a_broken_file(cifar_home):
    f = own(cifar_home/'test'/'airplane')   # the first file decoded: the error comes at once
    data = f.read_bytes()
    f.unlink(); f.write_bytes(data[:20])   # a broken file in place of the link (writing through it would damage the real file)
    with pytest.raises(ValueError, match=f.name): load_cifar('test', refresh=True)


def test_load_cifar_bad_split():
    with pytest.raises(ValueError, match="split must be one of \\['train', 'test'\\]"): load_cifar('valid')
