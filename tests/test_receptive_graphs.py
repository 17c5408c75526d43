"`receptive_field` against the gradient measurement on random graphs, and the graphs it used to get silently wrong (issue 10)."
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from hypothesis import given, settings, strategies as st, assume, HealthCheck

from cnn_course.receptive import (Axis, window_step, receptive_field, receptive_box, measured_receptive_box,
                                  effective_receptive_field, erf_extent, erf_spread)

C = 2  # channels of every intermediate tensor


class Graph(nn.Module):
    "A network built from a list of operations, some of them functional, with branches and concatenation."
    def __init__(self, ops):
        super().__init__()
        self.ops, self.layers = ops, nn.ModuleList()
        for op, *a in ops:
            if op == 'conv':
                kh, kw, s, p, d = a
                self.layers.append(nn.Conv2d(C, C, (kh, kw), s, p, d))
            elif op == 'maxpool': self.layers.append(nn.MaxPool2d(a[0], a[1], a[0]//2))
            elif op in ('add', 'cat'):
                k1, k2 = a
                branches = [nn.Conv2d(C, C, k, padding=k//2) for k in (k1, k2)]
                self.layers.append(nn.ModuleList(branches + ([nn.Conv2d(2*C, C, 1)] if op == 'cat' else [])))
            else: self.layers.append(nn.Identity())

    def forward(self, x):
        for (op, *a), m in zip(self.ops, self.layers):
            if op in ('conv', 'maxpool'): x = m(x)
            elif op == 'avgpool': x = F.avg_pool2d(x, a[0], a[1])
            elif op == 'add': x = F.relu(m[0](x) + m[1](x))
            elif op == 'cat': x = m[2](torch.cat([m[0](x), m[1](x)], 1))
            elif op == 'transpose': x = x.transpose(2, 3)
            elif op == 'select': x = x[:, 0].unsqueeze(1).expand(-1, C, -1, -1)
            elif op == 'pad': x = F.pad(x, (a[1], 0, a[0], 0))
            elif op == 'crop': x = x[:, :, a[0]:, a[1]:]
        return x


odd = st.sampled_from([1, 3, 5])
op = st.one_of(
    st.tuples(st.just('conv'), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2)),
    st.tuples(st.just('maxpool'), st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.just('avgpool'), st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.just('add'), odd, odd), st.tuples(st.just('cat'), odd, odd),
    st.tuples(st.just('transpose')), st.tuples(st.just('select')),
    st.tuples(st.just('pad'), st.integers(0, 2), st.integers(0, 2)), st.tuples(st.just('crop'), st.integers(0, 2), st.integers(0, 2)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(ops=st.lists(op, min_size=1, max_size=6), h=st.integers(10, 24), w=st.integers(10, 24), data=st.data())
def test_receptive_field_matches_gradient(ops, h, w, data):
    if sum(o[0] == 'transpose' for o in ops) % 2: ops = ops + [('transpose',)]  # the output grid in the input's orientation
    model = Graph(ops)
    try:
        with torch.no_grad(): out = model(torch.zeros(1, C, h, w))
    except RuntimeError: assume(False)                       # too small for this stack of layers
    assume(out.shape[2] > 0 and out.shape[3] > 0)
    rf = receptive_field(model, (C, h, w), per_axis=True)
    i, j = data.draw(st.integers(0, out.shape[2] - 1)), data.draw(st.integers(0, out.shape[3] - 1))
    measured = measured_receptive_box(model, (C, h, w), (i, j))
    assume(measured is not None)                             # a unit that only sees padding
    box = receptive_box(rf, (i, j))
    inside = box[0] >= 0 and box[1] >= 0 and box[2] < h and box[3] < w
    if inside and not any(o[0] == 'crop' for o in ops): assert box == measured, rf     # exact inside the image
    else:                                                    # at a border (the image's or a crop's) padding and dilation gaps hide edge taps
        t, l, b, r = receptive_box(rf, (i, j), input_size=(h, w))
        assert t <= measured[0] and l <= measured[1] and measured[2] <= b and measured[3] <= r, rf


class Lambda(nn.Module):
    def __init__(self, f, **layers):
        super().__init__()
        self.f = f
        for k, v in layers.items(): setattr(self, k, v)
    def forward(self, x): return self.f(self, x)


def test_channel_selection_before_conv():
    rf = receptive_field(Lambda(lambda s, x: s.conv(x[:, 0].unsqueeze(1)), conv=nn.Conv2d(1, 4, 3)), (3, 32, 32))
    assert rf.iloc[-1][['size', 'jump', 'start']].tolist() == [3, 1, 0]


def test_googlenet_transform_input():
    tv = pytest.importorskip('torchvision')
    m = tv.models.googlenet(weights=None, transform_input=True, aux_logits=False, init_weights=False)
    rf = receptive_field(m, (3, 224, 224))
    assert rf.loc['inception5b.branch4.1.conv', 'size'] == 379


def test_crop_moves_the_box():
    m = Lambda(lambda s, x: s.conv(x[:, :, 2:, 1::2]), conv=nn.Conv2d(1, 1, 3))
    rf = receptive_field(m, (1, 16, 16), per_axis=True)
    assert receptive_box(rf, (1, 1)) == measured_receptive_box(m, (1, 16, 16), (1, 1)) == (3, 3, 5, 7)


def test_transposed_conv_is_refused():
    w = torch.randn(3, 1, 5, 5)
    with pytest.raises(ValueError, match='conv_transpose2d'):
        receptive_field(Lambda(lambda s, x: F.conv_transpose2d(x, w, padding=2)), (3, 16, 16))


def test_transpose_swaps_axes():
    m = Lambda(lambda s, x: s.c2(s.c1(x).transpose(2, 3)), c1=nn.Conv2d(1, 1, (1, 5)), c2=nn.Conv2d(1, 1, (1, 5)))
    last = receptive_field(m, (1, 16, 16), per_axis=True).iloc[-1]
    assert (last.size_h, last.size_w) == (5, 5)


@pytest.mark.parametrize('roll', [lambda x: torch.roll(x, shifts=3), lambda x: torch.roll(x, 3, dims=3), lambda x: x.flip(2)])
def test_wrapping_and_flipping_are_refused(roll):
    m = Lambda(lambda s, x: s.c2(roll(s.c1(x))), c1=nn.Conv2d(1, 1, 3), c2=nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match='roll|flip'): receptive_field(m, (1, 16, 16))


def test_channel_roll_is_fine():
    m = Lambda(lambda s, x: s.c2(torch.roll(s.c1(x), 1, dims=1)), c1=nn.Conv2d(1, 2, 3), c2=nn.Conv2d(2, 1, 3))
    assert receptive_field(m, (1, 16, 16)).iloc[-1]['size'] == 5


class TwoInputs(nn.Module):
    def forward(self, x, y): return x + y


@pytest.mark.parametrize('model,size,match', [
    (nn.Conv1d(1, 1, 3), (1, 8, 8), 'Conv1d'),
    (nn.Conv2d(1, 1, 5), (1, 3, 3), 'input_size'),
    (nn.Conv2d(3, 1, 3), (1, 8, 8), 'input_size'),
    (TwoInputs(), (1, 8, 8), 'one input')])
def test_clear_errors_instead_of_shapeprop(model, size, match):
    with pytest.raises(ValueError, match=match) as info: receptive_field(model, size)
    assert 'ShapeProp error' not in str(info.value)


def test_receptive_box_bad_arguments():
    rf = receptive_field(nn.Conv2d(1, 1, 3), (1, 8, 8))
    with pytest.raises(ValueError, match='layer must be one of'): receptive_box(rf, layer='nope')
    for index in [(6, 0), (0, 6), (-1, 0)]:
        with pytest.raises(ValueError, match='index must be inside'): receptive_box(rf, index)
    with pytest.raises(TypeError, match='index'): receptive_box(rf, 3)


@pytest.mark.parametrize('args', [(-3,), (3, 0), (3, 1, 0, 0), (3, 1, -1), (2.5,)])
def test_window_step_bad_arguments(args):
    with pytest.raises((ValueError, TypeError)): window_step(Axis(1, 1, 0), *args)


def test_effective_receptive_field_bad_inputs():
    erf = effective_receptive_field(nn.MaxPool2d(2), (1, 8, 8))          # no parameters: no StopIteration
    assert erf.shape == (8, 8) and erf.max() == 1
    with pytest.raises(ValueError, match='n must be'): effective_receptive_field(nn.Conv2d(1, 1, 3), (1, 8, 8), n=0)
    with pytest.raises(ValueError, match='finite'):
        effective_receptive_field(nn.Conv2d(1, 1, 3), inputs=torch.full((2, 1, 8, 8), float('nan')))
    with pytest.raises(ValueError, match='index must be inside'): effective_receptive_field(nn.Conv2d(1, 1, 3), (1, 8, 8), index=(9, 0))


@pytest.mark.parametrize('erf', [torch.zeros(5, 5), torch.full((5, 5), float('nan')), -torch.ones(5, 5)])
def test_erf_summaries_refuse_empty_maps(erf):
    with pytest.raises(ValueError, match='erf must'): erf_extent(erf)
    with pytest.raises(ValueError, match='erf must'): erf_spread(erf)
