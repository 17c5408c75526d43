"Receptive fields: the traced recurrence against a gradient measurement on random networks, known models, bad inputs."
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from hypothesis import given, settings, strategies as st, assume, HealthCheck

from cnn_course.pool import max_pool2d, avg_pool2d
from cnn_course.receptive import (receptive_field, receptive_box, measured_receptive_box, linearised,
                                  effective_receptive_field, erf_extent, erf_spread, window_step, Axis)

CH = 2  # channels in the random networks

class Residual(nn.Module):
    "A ResNet basic block: two 3×3 convs (the first strided) plus an identity or strided 1×1 shortcut."
    def __init__(self, stride:int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(CH, CH, 3, stride, 1), nn.BatchNorm2d(CH), nn.ReLU(), nn.Conv2d(CH, CH, 3, 1, 1), nn.BatchNorm2d(CH))
        self.short = nn.Identity() if stride == 1 else nn.Conv2d(CH, CH, 1, stride)
        self.relu = nn.ReLU()
    def forward(self, x): return self.relu(self.body(x) + self.short(x))

class Branches(nn.Module):
    "Two parallel convs of different kernels, concatenated along channels (an Inception-style block)."
    def __init__(self, k1:int, k2:int):
        super().__init__()
        self.a, self.b = nn.Conv2d(CH, 1, k1, padding=k1//2), nn.Conv2d(CH, 1, k2, padding=k2//2)
    def forward(self, x): return torch.cat([self.a(x), self.b(x)], 1)

pairs = lambda lo, hi: st.tuples(st.integers(lo, hi), st.integers(lo, hi))

@st.composite
def layer(draw):
    kind = draw(st.sampled_from(['conv', 'conv', 'max', 'avg', 'relu', 'bn', 'res', 'branch']))
    if kind == 'conv':
        k, s, d = draw(pairs(1, 5)), draw(pairs(1, 3)), draw(pairs(1, 3))
        if s == (1, 1) and draw(st.booleans()): return nn.Conv2d(CH, CH, k, 1, 'same', d)
        p = tuple(draw(st.integers(0, di*(ki-1)//2)) for ki, di in zip(k, d))
        return nn.Conv2d(CH, CH, k, s, p, d)
    if kind == 'max':
        k = draw(pairs(1, 3))
        return nn.MaxPool2d(k, draw(st.none() | pairs(1, 3)), tuple(draw(st.integers(0, ki//2)) for ki in k), draw(pairs(1, 2)))
    if kind == 'avg':
        k = draw(pairs(1, 3))
        return nn.AvgPool2d(k, draw(st.none() | pairs(1, 3)), tuple(draw(st.integers(0, ki//2)) for ki in k))
    if kind == 'res': return Residual(draw(st.sampled_from([1, 2])))
    if kind == 'branch': return Branches(draw(st.sampled_from([1, 3, 5])), draw(st.sampled_from([1, 3, 5])))
    return nn.ReLU() if kind == 'relu' else nn.BatchNorm2d(CH)

def boxes_agree(predicted, measured, size):
    "Unclipped sides must match exactly; where the predicted box leaves the image, the measurement must lie inside it."
    (top, left, bottom, right), (h, w) = predicted, size
    if measured is None: return top < 0 or left < 0 or bottom > h - 1 or right > w - 1  # a unit that only sees padding
    mt, ml, mb, mr = measured
    for pred, meas, clipped, inside in [(top, mt, top < 0, mt >= max(top, 0)), (left, ml, left < 0, ml >= max(left, 0)),
                                        (bottom, mb, bottom > h - 1, mb <= min(bottom, h - 1)), (right, mr, right > w - 1, mr <= min(right, w - 1))]:
        if not (inside if clipped else pred == meas): return False
    return True

@pytest.mark.filterwarnings('ignore:Using padding=.same.')
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(layer(), min_size=1, max_size=6), h=st.integers(8, 40), w=st.integers(8, 40), data=st.data())
def test_matches_gradient_measurement(layers, h, w, data):
    model = nn.Sequential(nn.Conv2d(1, CH, 1), *layers)
    try:
        with torch.no_grad(): out = model.eval()(torch.zeros(1, 1, h, w))
    except RuntimeError: assume(False)  # the stack shrank the image below one pixel
    oh, ow = out.shape[-2:]
    corners = [(0, 0), (oh - 1, ow - 1), (oh//2, ow//2), (0, ow - 1)]
    extra = data.draw(st.lists(st.tuples(st.integers(0, oh - 1), st.integers(0, ow - 1)), max_size=4))
    positions = corners + extra
    rf = receptive_field(model, (1, h, w), per_axis=True)
    measured = measured_receptive_box(model, (1, h, w), positions)
    for pos, meas in zip(positions, measured):
        pred = receptive_box(rf, pos)
        assert boxes_agree(pred, meas, (h, w)), (pos, pred, meas, rf.iloc[-1].to_dict())

def test_a_unit_that_only_sees_padding():
    "Width 8 -> 3 -> 1, then a dilated pool whose window reads positions -1 and 1: both padding."
    model = nn.Sequential(nn.Conv2d(1, 1, 1, (1, 3)), nn.Conv2d(1, 1, 1, (1, 3)), nn.MaxPool2d((1, 2), (1, 2), (0, 1), (1, 2)))
    assert measured_receptive_box(model, (1, 8, 8), [(0, 0)]) == [None]
    assert receptive_box(receptive_field(model, (1, 8, 8), per_axis=True))[1] < 0   # the box reaches into the padding

def test_interior_boxes_are_exact_for_a_deep_dilated_stack():
    "A hand-made case with holes (dilation 3 after stride 2): interior boxes are still exact."
    model = nn.Sequential(nn.Conv2d(1, CH, 3, 2), nn.ReLU(), nn.Conv2d(CH, CH, 3, 1, 0, 3), nn.MaxPool2d(2), nn.Conv2d(CH, CH, 3, padding=1))
    rf = receptive_field(model, (1, 64, 64))
    size, jump, start = rf.iloc[-1][['size', 'jump', 'start']]
    assert (size, jump, start) == (3 + 2*3*2 + 1*2 + 2*4, 4, -4)
    for pos in [(3, 3), (2, 4)]:
        pred = receptive_box(rf, pos)
        assert pred == measured_receptive_box(model, (1, 64, 64), pos)

def test_window_step():
    assert window_step(Axis(1, 1, 0), 3) == Axis(3, 1, 0)
    assert window_step(Axis(3, 1, -1), 3, s=2, p=1, d=2) == Axis(7, 2, -2)

def test_the_chapter_cnn():
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    rf = receptive_field(cnn, (28, 28))
    assert rf.loc['5'].tolist() == ['MaxPool2d', (64, 5, 5), 10, 4, 0]
    assert rf.loc['6', 'size'] == 26  # Flatten sees the 5×5 grid: input rows/cols 0..25
    assert rf.loc['input', 'size'] == 1

def with_meta(build):
    with torch.device('meta'): return build(weights=None)

def test_torchvision_models():
    tv = pytest.importorskip('torchvision')
    r18 = receptive_field(with_meta(tv.models.resnet18), (3, 224, 224))
    assert r18.loc['layer4.1.conv2', 'size'] == 435 and r18.loc['layer4.1.conv2', 'start'] == -217
    assert r18.loc['layer4.1.conv2', 'jump'] == 32
    vgg = receptive_field(with_meta(tv.models.vgg16), (3, 224, 224))
    assert vgg.loc['features.28', 'size'] == 196 and vgg.loc['features.30', 'size'] == 212

class Functional(nn.Module):
    "The same network as `as_modules` written with functional calls, a reused ReLU and a tuple-returning pool."
    def __init__(self):
        super().__init__()
        self.w1, self.w2 = nn.Parameter(torch.randn(CH, 1, 3, 3)), nn.Parameter(torch.randn(CH, CH, 5, 5))
    def forward(self, x):
        x = F.relu(F.conv2d(x, self.w1, stride=2, padding=1))
        x, _ = F.max_pool2d(x, 3, 2, 1, return_indices=True)
        y = F.conv2d(x, self.w2, padding='same', dilation=2)
        x = torch.cat([x, F.avg_pool2d(y, 3, 1, 1)], dim=1)
        return F.adaptive_avg_pool2d(x, 2).flatten(1)

def as_modules():
    return nn.Sequential(nn.Conv2d(1, CH, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(3, 2, 1), nn.Conv2d(CH, CH, 5, padding='same', dilation=2),
                         nn.AvgPool2d(3, 1, 1), nn.AdaptiveAvgPool2d(2), nn.Flatten())

def test_functional_calls_match_modules():
    f = receptive_field(Functional(), (1, 32, 32))
    m = receptive_field(as_modules(), (1, 32, 32))
    assert f.iloc[-1][['size', 'jump', 'start']].tolist() == m.iloc[-1][['size', 'jump', 'start']].tolist()
    assert f.loc['cat', 'size'] == m.loc['4', 'size']  # the union of the branches is the larger one

class CoursePools(nn.Module):
    def forward(self, x): return avg_pool2d(max_pool2d(x, 3, 2, 1), 2)

def test_course_pooling_functions_are_traced_as_layers():
    assert receptive_field(CoursePools(), (1, 16, 16)).iloc[-1][['size', 'jump', 'start']].tolist() == [5, 4, -1]

def test_per_axis_columns():
    rf = receptive_field(nn.Conv2d(1, 1, (3, 5), (1, 2)), (20, 20))
    assert rf.iloc[-1][['size_h', 'jump_h', 'size_w', 'jump_w']].tolist() == [3, 1, 5, 2]
    assert 'size' in receptive_field(nn.Conv2d(1, 1, 3), (9, 9)).columns

def test_mlp_sees_everything():
    rf = receptive_field(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), (1, 28, 28))
    assert rf.iloc[-1]['size'] == 28

def test_bad_inputs():
    with pytest.raises(TypeError, match='model must be an nn.Module'): receptive_field(lambda x: x, (1, 8, 8))
    with pytest.raises(ValueError, match='input_size must be'): receptive_field(nn.Conv2d(1, 1, 3), (1, 1, 8, 8))
    with pytest.raises(ValueError, match='input_size must be'): receptive_field(nn.Conv2d(1, 1, 3), (8, 0))
    with pytest.raises(ValueError, match='ConvTranspose2d'): receptive_field(nn.ConvTranspose2d(1, 1, 3), (8, 8))
    with pytest.raises(ValueError, match='adaptive pooling'): receptive_field(nn.AdaptiveAvgPool2d(3), (1, 8, 8))
    class Up(nn.Module):
        def forward(self, x): return F.interpolate(x, scale_factor=2)
    with pytest.raises(ValueError, match='interpolate'): receptive_field(Up(), (1, 8, 8))
    with pytest.raises(ValueError, match='index must be inside'): measured_receptive_box(nn.Conv2d(1, 1, 3), (8, 8), (6, 0))
    with pytest.raises(ValueError, match='feature map'): measured_receptive_box(nn.Flatten(), (8, 8))

def test_linearised_leaves_the_model_alone():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2))
    before = [p.clone() for p in model.parameters()]
    lin = linearised(model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert isinstance(model[3], nn.MaxPool2d) and not isinstance(lin[3], nn.MaxPool2d)
    assert all((p > 0).all() for p in lin.parameters())

def test_effective_receptive_field_lies_inside_the_theoretical_one():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, 2), nn.ReLU(), nn.Conv2d(4, 4, 3))
    erf = effective_receptive_field(model, (1, 21, 21), n=4)
    assert erf.shape == (21, 21) and erf.max() == 1 and erf.min() >= 0
    top, left, bottom, right = receptive_box(receptive_field(model, (1, 21, 21)), (3, 3))  # the centre of the 7×7 output
    outside = erf.clone(); outside[top:bottom + 1, left:right + 1] = 0
    assert outside.max() == 0 and erf[top:bottom + 1, left:right + 1].min() > 0

def test_effective_receptive_field_inputs_and_errors():
    model = nn.Conv2d(1, 1, 3, padding=1)
    with torch.no_grad(): model.weight.fill_(1)
    erf = effective_receptive_field(model, inputs=torch.randn(2, 1, 9, 9), index=(0, 0))
    assert erf[:2, :2].min() == 1 and erf.sum() == 4
    with pytest.raises(ValueError, match='input_size or inputs'): effective_receptive_field(model)
    with pytest.raises(ValueError, match='feature map'): effective_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()), (1, 8, 8))

def jacobian_erf(model, images, index, reduce='abs', channels=None):
    "The effective receptive field the long way: each image's full Jacobian of the output units at `index`, in eval mode."
    model.eval()
    i, j = index
    jac = torch.stack([torch.autograd.functional.jacobian(lambda im: model(im[None])[0, :, i, j], im) for im in images])   # N × C_out × C_in × H × W
    if channels is not None: jac = jac[:, channels]
    m = (jac.abs() if reduce == 'abs' else jac**2).sum(2).mean((0, 1))
    return m/m.max() if m.max() > 0 else m   # every ReLU on the path off: no gradient at all

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cin=st.integers(1, 3), c1=st.integers(1, 4), c2=st.integers(1, 4), k1=st.integers(1, 3), k2=st.integers(1, 3), s2=st.integers(1, 2),
       pool=st.booleans(), relu=st.booleans(), bn=st.booleans(), dead=st.sampled_from([None, 'some', 'all']), reduce=st.sampled_from(['abs', 'square']),
       seed=st.integers(0, 2**16), data=st.data())
def test_effective_receptive_field_matches_the_jacobian(cin, c1, c2, k1, k2, s2, pool, relu, bn, dead, reduce, seed, data):
    "One backward pass per channel gives what the full Jacobian gives, for every reduction, unit and channel subset, dead ReLUs included."
    torch.manual_seed(seed)
    layers = [nn.Conv2d(cin, c1, k1, padding=k1//2)] + ([nn.BatchNorm2d(c1)] if bn else []) + ([nn.ReLU()] if relu else [])
    layers += ([nn.MaxPool2d(2)] if pool else []) + [nn.Conv2d(c1, c2, k2, s2)]
    model = nn.Sequential(*layers).double()
    if bn:
        with torch.no_grad(): model[1].running_mean.uniform_(-1, 1); model[1].running_var.uniform_(0.5, 2)
    if relu and dead:   # ReLUs that never fire: on some channels, or on all (then no gradient reaches the input)
        with torch.no_grad(): model[0].bias[:1 if dead == 'some' else c1] = -1e3
    images = torch.randn(3, cin, 12, 12, dtype=torch.float64)
    with torch.no_grad(): out = model.eval()(images)
    index = (data.draw(st.integers(0, out.shape[2] - 1)), data.draw(st.integers(0, out.shape[3] - 1)))
    channels = data.draw(st.none() | st.lists(st.integers(0, c2 - 1), min_size=1, max_size=c2, unique=True))
    want = jacobian_erf(model, images, index, reduce, channels)
    got = effective_receptive_field(model, inputs=images, index=index, reduce=reduce, channels=channels)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)

def test_effective_receptive_field_of_a_dead_network_is_zero_not_nan():
    "Every ReLU off: no gradient reaches the input, and the map is all zero (no 0/0), as the Jacobian says; erf_extent then refuses it."
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3)).double()
    with torch.no_grad(): model[0].bias.fill_(-1e3)
    images = torch.randn(2, 1, 9, 9, dtype=torch.float64)
    for reduce in ('abs', 'square'):
        erf = effective_receptive_field(model, inputs=images, reduce=reduce)
        assert erf.isfinite().all() and erf.abs().max() == 0
        assert torch.equal(erf, jacobian_erf(model, images, (2, 2), reduce))
    with pytest.raises(ValueError, match='not all zero'): erf_extent(erf)

def test_effective_receptive_field_keeps_the_mode_and_defaults_to_the_centre():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 3)).double().train()
    images = torch.randn(2, 1, 11, 11, dtype=torch.float64)
    erf = effective_receptive_field(model, inputs=images)
    assert model.training                                                     # restored to training mode
    torch.testing.assert_close(erf, jacobian_erf(model, images, (3, 3)))    # the centre of the 7×7 output
    assert erf.dtype == torch.float64 and erf.max() == 1

def test_one_channel_at_a_time_does_not_cancel():
    "Two channels of opposite sign: back-propagating from both units at once sends no gradient at all; one at a time, each sees its window."
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with torch.no_grad(): conv.weight[0].fill_(1.0); conv.weight[1].fill_(-1.0)
    x = torch.randn(2, 1, 7, 7, requires_grad=True)
    conv(x)[:, :, 3, 3].sum().backward()
    assert x.grad.abs().max() == 0
    erf = effective_receptive_field(conv, inputs=x.detach())
    assert torch.equal(erf[2:5, 2:5], torch.ones(3, 3)) and erf.sum() == 9
    assert torch.equal(effective_receptive_field(conv, inputs=x.detach(), channels=[1]), erf)

def test_erf_spread_grows_as_sqrt_depth_for_uniform_linear_stacks():
    "Luo et al. 2016, Section 2.1: with all weights equal and no nonlinearity, the gradient is a binomial-like map whose variance is n·2/3 per axis."
    for n in (1, 2, 4, 8):
        layers = [nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(n)]
        for conv in layers: nn.init.ones_(conv.weight)
        erf = effective_receptive_field(nn.Sequential(*layers).double(), (1, 41, 41), n=1)
        torch.testing.assert_close(torch.tensor(erf_spread(erf), dtype=torch.float64), torch.full((2,), (n*2/3)**0.5, dtype=torch.float64))

def test_effective_receptive_field_bad_channels_and_reduce():
    model = nn.Conv2d(1, 2, 3)
    with pytest.raises(ValueError, match='channels must be'): effective_receptive_field(model, (1, 8, 8), channels=[2])
    with pytest.raises(ValueError, match='channels must be'): effective_receptive_field(model, (1, 8, 8), channels=[])
    with pytest.raises(ValueError, match='channels must be'): effective_receptive_field(model, (1, 8, 8), channels=[True])
    with pytest.raises(ValueError, match='reduce must be one of'): effective_receptive_field(model, (1, 8, 8), reduce='max')
    class Ignore(nn.Module):
        def forward(self, x): return torch.zeros(x.shape[0], 1, 4, 4)
    with pytest.raises(ValueError, match='does not depend on the input'): effective_receptive_field(Ignore(), inputs=torch.randn(1, 1, 4, 4))

def test_erf_extent():
    square = torch.zeros(15, 15); square[4:11, 6:9] = 1
    assert erf_extent(square, 0.99) == (7, 3)
    dot = torch.zeros(9, 9); dot[4, 4] = 1
    assert erf_extent(dot) == (1, 1)
    with pytest.raises(ValueError, match='mass must be between'): erf_extent(dot, 1.5)

def test_exercise_checks():
    from cnn_course.receptive import check_rf_size, check_covers_digit
    assert check_rf_size(8) and not check_rf_size(7) and not check_rf_size(None)
    dilated = nn.Sequential(*[m for d in (1, 2, 4, 8) for m in (nn.Conv2d(1 if d == 1 else 4, 4, 3, padding=d, dilation=d), nn.ReLU())])
    assert check_covers_digit(dilated)
    assert not check_covers_digit(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)))
    assert not check_covers_digit(nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2)))
    assert not check_covers_digit(nn.Sequential(nn.Conv2d(1, 4, 29)))

def test_top_activating_patches_crop_the_receptive_field():
    from cnn_course.receptive import top_activating_patches
    conv = nn.Conv2d(1, 2, 3, bias=False)
    with torch.no_grad(): conv.weight.zero_(); conv.weight[0, 0].fill_(1); conv.weight[1, 0, 1, 1] = -1   # channel 0: 3×3 sum, channel 1: minus the centre
    model = nn.Sequential(conv, nn.MaxPool2d(2))
    images = torch.rand(5, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    rf = receptive_field(model, (1, 12, 12))
    patches, acts = top_activating_patches(model, images, rf, layer='1', channels=[0, 1], k=3)
    assert patches.shape == (2, 3, 4, 4) and acts.shape == (2, 3)
    out = model(images).detach()
    assert torch.allclose(acts[0], out[:, 0].flatten(1).amax(1).topk(3).values)
    n = out[:, 0].flatten(1).amax(1).argmax().item()
    i, j = divmod(out[n, 0].flatten().argmax().item(), out.shape[3])
    top, left, bottom, right = receptive_box(rf, (i, j), layer='1')
    assert torch.equal(patches[0, 0], images[n, 0, top:bottom + 1, left:right + 1])   # the strongest unit's own input window
    assert (acts[:, :-1] >= acts[:, 1:]).all()

def test_top_activating_patches_bad_inputs():
    from cnn_course.receptive import top_activating_patches
    model, images = nn.Conv2d(1, 2, 3), torch.rand(4, 1, 8, 8)
    rf = receptive_field(model, (1, 8, 8))
    with pytest.raises(ValueError, match='k must be at most'): top_activating_patches(model, images, rf, '0', [0], k=5)
    with pytest.raises(ValueError, match='channels must be ints in 0..1'): top_activating_patches(model, images, rf, '0', [2], k=1)
    with pytest.raises(ValueError, match='layer must be a row'): top_activating_patches(model, images, rf, 'conv9', [0], k=1)
    with pytest.raises(ValueError, match='images must be'): top_activating_patches(model, images[0], rf, '0', [0], k=1)
    with pytest.raises(TypeError, match='k must be an int'): top_activating_patches(model, images, rf, '0', [0], k=1.5)

def test_plot_grid():
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from cnn_course.receptive import plot_grid
    fig = plot_grid(torch.randn(10, 1, 3, 3), ncols=4, titles=list('abcdefghij'), title='t', symmetric=True)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 10 and axes[0].get_title() == 'a' and len(fig.axes) == 3*4 + 1   # 12 panels (2 blank) and a colour bar
    lo, hi = axes[0].images[0].get_clim()
    assert lo == -hi                                                                       # one scale, centred on zero
    plt.close(fig)
    fig = plot_grid(torch.rand(3, 5, 5))
    assert len(fig.axes) == 3; plt.close(fig)
    with pytest.raises(ValueError, match='images must be'): plot_grid(torch.rand(5, 5))
    with pytest.raises(ValueError, match='titles must have one entry per image'): plot_grid(torch.rand(2, 5, 5), titles=['a'])
    with pytest.raises(ValueError, match='ncols must be >= 1'): plot_grid(torch.rand(2, 5, 5), ncols=0)

def test_plot_receptive_field_keeps_every_box_visible():
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from cnn_course.receptive import plot_receptive_field
    boxes = {'small': (2, 2, 4, 4), 'large': (2, 2, 5, 5)}                 # they share the top-left corner
    ax = plot_receptive_field(torch.rand(8, 8), boxes)
    small, large = ax.patches
    assert small.get_linestyle() != large.get_linestyle()
    assert large.get_x() < small.get_x() and large.get_y() < small.get_y()   # the larger one drawn a little further out
    assert small.get_x() == 2 - 0.5                                           # the smallest one on its pixels' edges
    legend = ax.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1   # outside the axes, on the right
    plt.close(ax.figure)


def test_plot_grid_text_is_legible_at_page_width():
    "Issue 20: the smallest text of a grid figure is at least 8 px once the site scales it to its ~670 px column."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt, matplotlib.text
    from cnn_course.receptive import plot_grid
    for fig in (plot_grid(torch.randn(32, 3, 3), titles=list(range(32)), title='kernels', symmetric=True),
                plot_grid(torch.rand(12, 8, 8), ncols=12, titles=[f'#{i}' for i in range(12)])):
        fig.canvas.draw()
        smallest = min(t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip())
        assert smallest*670/(fig.get_figwidth()*72) >= 8, (fig.get_figwidth(), smallest)
        plt.close(fig)


def test_plot_effective_receptive_field_labels_its_colour_bar():
    "The colour bar says what the map holds: |gradient| by default, anything else when asked (e.g. for reduce='square')."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from cnn_course.receptive import plot_effective_receptive_field
    erf = torch.rand(5, 5)
    for label in ('|gradient| / max', 'squared gradient / max'):
        ax = plot_effective_receptive_field(erf, box=(1, 1, 3, 3), label=label) if label != '|gradient| / max' else plot_effective_receptive_field(erf)
        assert ax.figure.axes[-1].get_ylabel() == label
        plt.close(ax.figure)
    with pytest.raises(TypeError, match='label must be a str'): plot_effective_receptive_field(erf, label=3)
    with pytest.raises(ValueError, match='box must be'): plot_effective_receptive_field(erf, box=(1, 2))


def test_api_entries_show_no_nonetype():
    "Issue 20: every documented signature of cnn_course.receptive renders (its annotations evaluate in the module) with no `NoneType`."
    import cnn_course.receptive as module
    from cnn_course.core import show_doc
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            md = show_doc(obj)._repr_markdown_()
            assert 'NoneType' not in md, (name, md)
