"Tests of `cnn_course.conv`: both from-scratch convolutions and `pad2d` against PyTorch, output sizes, bad arguments, helpers."
import itertools

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnn_course.conv import *

CONVS = [conv2d_loops, conv2d_unfold]
TORCH_PAD = dict(zeros='constant', reflect='reflect', replicate='replicate', circular='circular')


@st.composite
def conv_cases(draw, modes=PADDING_MODES):
    "A random valid convolution: (x, weight, bias, kwargs), float64, kwargs as ints or (h, w) pairs."
    n, ci, co = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    mode = draw(st.sampled_from(modes))
    p = tuple(draw(st.integers(0, 3)) for _ in range(2))
    # the smallest size that is valid for this kernel span and padding mode, plus some
    hw = tuple(max(di*(ki-1) + 1 - 2*pi, pi + 1, 1) + draw(st.integers(0, 7)) for ki, di, pi in zip(k, d, p))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    x = torch.randn(n, ci, *hw, generator=g, dtype=torch.float64)
    w = torch.randn(co, ci, *k, generator=g, dtype=torch.float64)
    b = torch.randn(co, generator=g, dtype=torch.float64) if draw(st.booleans()) else None
    as_int = lambda v: v[0] if v[0] == v[1] and draw(st.booleans()) else v  # sometimes pass an int
    return x, w, b, dict(stride=as_int(s), padding=as_int(p), dilation=as_int(d), padding_mode=mode)


def reference(x, w, b, stride, padding, dilation, padding_mode):
    "What `nn.Conv2d` computes with these weights."
    m = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=stride, padding=padding, dilation=dilation,
                  bias=b is not None, padding_mode=padding_mode, dtype=torch.float64)
    with torch.no_grad():
        m.weight.copy_(w)
        if b is not None: m.bias.copy_(b)
        return m(x)


# --- both convolutions equal PyTorch -----------------------------------------------------------
@pytest.mark.parametrize('conv', CONVS)
@settings(max_examples=200, deadline=None)
@given(case=conv_cases())
def test_conv_equals_nn_conv2d(conv, case):
    x, w, b, kw = case
    ref = reference(x, w, b, **kw)
    got = conv(x, w, b, **kw)
    assert got.shape == ref.shape and got.dtype == torch.float64
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('conv', CONVS)
@settings(max_examples=150, deadline=None)
@given(case=conv_cases(modes=('zeros',)))
def test_conv_equals_functional_conv2d(conv, case):
    x, w, b, kw = case
    kw.pop('padding_mode')
    torch.testing.assert_close(conv(x, w, b, **kw), F.conv2d(x, w, b, **kw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('conv', CONVS)
def test_conv_known_values(conv):
    img = torch.arange(1., 10.).view(1, 1, 3, 3)
    k = torch.tensor([[0., 0.], [1., 1.]]).view(1, 1, 2, 2)
    assert conv(img, k).view(2, 2).tolist() == [[9., 11.], [15., 17.]]
    patch = torch.tensor([[140., 120, 120], [225, 220, 205], [255, 250, 230]]).view(1, 1, 3, 3)
    lap = torch.tensor([[0., -1, 0], [-1, 4, -1], [0, -1, 0]]).view(1, 1, 3, 3)
    assert conv(patch, lap).item() == 80.
    assert conv(img, k, bias=torch.tensor([-9.])).view(-1)[0].item() == 0.


@pytest.mark.parametrize('conv', CONVS)
def test_conv_is_cross_correlation_not_convolution(conv):
    "A comparison that would miss a flipped kernel is worthless: check an asymmetric kernel is not flipped."
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    w = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    assert not torch.allclose(conv(x, w), F.conv2d(x, w.flip(-1, -2)))
    torch.testing.assert_close(conv(x, w.flip(-1, -2)), F.conv2d(x, w.flip(-1, -2)))


@pytest.mark.parametrize('conv', CONVS)
def test_conv_gradients_flow(conv):
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    conv(x, w, stride=2, padding=1, padding_mode='reflect').sum().backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    F.conv2d(F.pad(x, (1, 1, 1, 1), mode='reflect'), w, stride=2).sum().backward()
    torch.testing.assert_close(gx, x.grad); torch.testing.assert_close(gw, w.grad)


# --- pad2d ----------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(mode=st.sampled_from(PADDING_MODES), h=st.integers(1, 7), w=st.integers(1, 7),
       ph=st.integers(0, 7), pw=st.integers(0, 7), lead=st.lists(st.integers(1, 3), max_size=2), seed=st.integers(0, 1000))
def test_pad2d_equals_F_pad(mode, h, w, ph, pw, lead, seed):
    x = torch.randn(*lead, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    ok = mode in ('zeros', 'replicate') or (mode == 'reflect' and ph < h and pw < w) or (mode == 'circular' and ph <= h and pw <= w)
    if not ok:
        with pytest.raises(ValueError, match=f"for mode '{mode}'"): pad2d(x, (ph, pw), mode)
        return
    ref_in = x.reshape(-1, 1, h, w) if mode != 'zeros' else x  # PyTorch's non-constant modes want a batch
    ref = F.pad(ref_in, (pw, pw, ph, ph), mode=TORCH_PAD[mode]).reshape(*lead, h + 2*ph, w + 2*pw)
    assert torch.equal(pad2d(x, (ph, pw), mode), ref)


def test_pad2d_int_and_values():
    x = torch.arange(1., 10.).view(3, 3)
    assert torch.equal(pad2d(x, 1), pad2d(x, (1, 1)))
    assert pad2d(x, 1, 'reflect')[0].tolist() == [5., 4., 5., 6., 5.]
    assert pad2d(x, 1, 'replicate')[0].tolist() == [1., 1., 2., 3., 3.]
    assert pad2d(x, 1, 'circular')[0].tolist() == [9., 7., 8., 9., 7.]
    assert torch.equal(pad2d(x, 0, 'reflect'), x)


@pytest.mark.parametrize('args,err,msg', [
    ((torch.zeros(3, 3), -1), ValueError, 'p must be >= 0'),
    ((torch.zeros(3, 3), 1, 'mirror'), ValueError, 'padding mode must be one of'),
    ((torch.zeros(3, 3), 3, 'reflect'), ValueError, "smaller than the input size 3 for mode 'reflect'"),
    ((torch.zeros(3, 3), 4, 'circular'), ValueError, "at most the input size 3 for mode 'circular'"),
    ((torch.zeros(3, 3), (1, 2, 3)), ValueError, 'p must be an int or a pair'),
    ((torch.zeros(3, 3), 1.5), TypeError, 'p must be an int'),
    ((torch.zeros(3), 1), ValueError, 'at least 2 dimensions'),
    (([[1., 2.]], 1), TypeError, 'x must be a torch.Tensor'),
])
def test_pad2d_bad_args(args, err, msg):
    with pytest.raises(err, match=msg.replace('(', r'\(').replace(')', r'\)')): pad2d(*args)


# --- output size ------------------------------------------------------------------------------------
def test_conv_output_size_matches_nn_conv2d_grid():
    checked = 0
    for n, k, s, p, d in itertools.product(range(1, 13), range(1, 6), range(1, 4), range(0, 3), range(1, 4)):
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
        if n + 2*p < d*(k-1) + 1:
            with pytest.raises(ValueError, match='larger than padded input'): conv_output_size(n, k, s, p, d)
            with pytest.raises(RuntimeError): conv(torch.zeros(1, 1, n, n))
            continue
        assert conv_output_size(n, k, s, p, d) == conv(torch.zeros(1, 1, n, n)).shape[-1], (n, k, s, p, d)
        checked += 1
    assert checked > 1000


def test_conv_output_size_examples():
    assert conv_output_size(28, 3) == 26
    assert conv_output_size(5, 3, p=2) == 7
    assert conv_output_size(6, 3, s=2) == 2      # not whole: floored
    assert conv_output_size(224, 7, s=2, p=3) == 112
    assert conv_output_size(28, 3, d=2) == 24


@pytest.mark.parametrize('kwargs,err,msg', [
    (dict(n=28, k=3, s=0), ValueError, 'stride s must be >= 1'),
    (dict(n=28, k=3, s=-2), ValueError, 'stride s must be >= 1'),
    (dict(n=28, k=0), ValueError, 'kernel size k must be >= 1'),
    (dict(n=28, k=3, d=0), ValueError, 'dilation d must be >= 1'),
    (dict(n=28, k=3, p=-1), ValueError, 'padding p must be >= 0'),
    (dict(n=0, k=1), ValueError, 'input size n must be >= 1'),
    (dict(n=2, k=5), ValueError, 'larger than padded input'),
    (dict(n=5, k=3, d=3), ValueError, 'kernel span 7'),
    (dict(n=28, k=3.0), TypeError, 'kernel size k must be an int'),
    (dict(n=28, k=3, s=True), TypeError, 'stride s must be an int'),
])
def test_conv_output_size_bad_args(kwargs, err, msg):
    with pytest.raises(err, match=msg): conv_output_size(**kwargs)


# --- bad convolution arguments -------------------------------------------------------------------
X, W = torch.randn(2, 3, 6, 6), torch.randn(4, 3, 3, 3)

@pytest.mark.parametrize('conv', CONVS)
@pytest.mark.parametrize('args,kwargs,err,msg', [
    ((X, W), dict(stride=0), ValueError, 'stride must be >= 1'),
    ((X, W), dict(stride=(1, -1)), ValueError, 'stride must be >= 1'),
    ((X, W), dict(dilation=0), ValueError, 'dilation must be >= 1'),
    ((X, W), dict(padding=-1), ValueError, 'padding must be >= 0'),
    ((X, W), dict(padding=(1, 2, 3)), ValueError, 'padding must be an int or a pair'),
    ((X, W), dict(stride=1.5), TypeError, 'stride must be an int'),
    ((X, torch.randn(4, 2, 3, 3)), {}, ValueError, r'weight.shape\[1\] must equal x.shape\[1\]'),
    ((X, torch.randn(4, 3, 7, 3)), {}, ValueError, 'larger than padded input .* along the height'),
    ((X, torch.randn(4, 3, 3, 4)), dict(dilation=(1, 3)), ValueError, 'larger than padded input .* along the width'),
    ((X, W), dict(padding_mode='same'), ValueError, 'padding mode must be one of'),
    ((X, W), dict(padding=6, padding_mode='reflect'), ValueError, "padding=6 must be smaller than the input size 6"),
    ((X, W), dict(bias=torch.zeros(3)), ValueError, r'bias must have shape \(4,\)'),
    ((X, W), dict(bias=[0., 0, 0, 0]), TypeError, 'bias must be a torch.Tensor'),
    ((X[0], W), {}, ValueError, 'x must have 4 dimensions'),
    ((X, W[0]), {}, ValueError, 'weight must have 4 dimensions'),
    ((X.tolist(), W), {}, TypeError, 'x must be a torch.Tensor'),
    ((X.long(), W.long()), {}, TypeError, 'x must be a floating point tensor'),
    ((X.double(), W), {}, TypeError, 'weight dtype torch.float32 must match x dtype torch.float64'),
])
def test_conv_bad_args(conv, args, kwargs, err, msg):
    with pytest.raises(err, match=msg): conv(*args, **kwargs)


# --- helpers ---------------------------------------------------------------------------------------
def test_edge_kernels():
    assert set(EDGE_KERNELS) == {'top_edge', 'left_edge', 'diag1_edge', 'diag2_edge', 'sobel_x', 'sobel_y'}
    assert top_edge.tolist() == [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]
    assert left_edge.tolist() == [[-1, 1, 0]]*3
    assert diag1_edge.tolist() == [[0, -1, 1], [-1, 1, 0], [1, 0, 0]]
    assert diag2_edge.tolist() == [[1, -1, 0], [0, 1, -1], [0, 0, 1]]
    assert torch.equal(sobel_y, sobel_x.T)
    # a horizontal edge (dark above bright) lights top_edge and sobel_y, not left_edge or sobel_x
    img = torch.zeros(8, 8); img[4:] = 1
    assert filter2d(img, top_edge).max() == 3 and filter2d(img, sobel_y).max() == 4
    assert filter2d(img, left_edge).abs().max() == 0 and filter2d(img, sobel_x).abs().max() == 0


def test_filter2d():
    img, k = torch.randn(9, 8, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    torch.testing.assert_close(filter2d(img, k, stride=2, padding=1), F.conv2d(img[None, None], k[None, None], stride=2, padding=1)[0, 0])
    assert filter2d(torch.ones(5, 5, dtype=torch.uint8), torch.ones(3, 3)).dtype == torch.float32
    with pytest.raises(ValueError, match='img must be 2-D'): filter2d(torch.zeros(1, 5, 5), top_edge)
    with pytest.raises(TypeError, match='kernel must be a torch.Tensor'): filter2d(torch.zeros(5, 5), [[1.]])


def test_small_cnn_and_param_comparison():
    model = small_cnn()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 2)
    df = conv_vs_dense(model)
    assert len(df) == 5 and df.conv_params.iloc[0] == 8*9 + 8
    assert df.dense_params.iloc[0] == 784*8*14*14 + 8*14*14
    assert df.conv_params.sum() == sum(p.numel() for m in model.modules() if isinstance(m, nn.Conv2d) for p in m.parameters())
    assert model.training  # conv_vs_dense leaves the mode as it was


def test_plot_helpers_and_explorer():
    img = torch.rand(28, 28)
    fig = show_kernels(EDGE_KERNELS, ncols=3); assert len(fig.axes) == 6; plt.close(fig)
    fig = show_kernels(torch.randn(8, 1, 3, 3)); assert len(fig.axes) == 8; plt.close(fig)
    fig = show_feature_maps(img, EDGE_KERNELS, stride=2); assert sum(bool(ax.images) for ax in fig.axes) == 7; plt.close(fig)  # 7 panels
    import json, re
    html = conv_explorer(img)._repr_html_()   # an HTML explorer (tests/test_explorers.py drives it in a browser)
    body = json.loads(re.search(r'class="cnnx-data">(.*?)</script>', html, re.S)[1])['body']   # the controls its script writes
    assert 'data-cnnx="conv"' in html and all(f'data-k="{k}"' in body for k in ('kernel', 'stride', 'padding', 'dilation', 'mode'))
    plt.close('all')


def test_animate_conv(tmp_path):
    from PIL import Image
    path = animate_conv(tmp_path/'sub'/'a.gif', n=4, k=3, s=2, p=1)   # 2×2 outputs: four frames (each frame is a drawn figure)
    im = Image.open(path)
    assert im.n_frames == conv_output_size(4, 3, 2, 1)**2 and path.stat().st_size < 1_000_000
    with pytest.raises(ValueError, match='larger than padded input'): animate_conv(tmp_path/'b.gif', n=2, k=5)


def test_exercise_checks(capsys):
    assert check_horizontal_edges(['sobel_y', 'top_edge']) and not check_horizontal_edges('top_edge')
    assert not check_horizontal_edges(None) and not check_horizontal_edges(['nope'])
    assert check_output_size(15) and not check_output_size(16) and not check_output_size(None)
    assert check_conv_params(12_832) and not check_conv_params(12_800)
    assert check_bottom_edge(-top_edge) and not check_bottom_edge(top_edge) and not check_bottom_edge(torch.zeros(3, 3))
    assert not check_bottom_edge(-top_edge + 1)  # not zero on flat areas
    bottom_edge = torch.tensor([[0., 0, 0], [1, 1, 1], [-1, -1, -1]])   # a bottom-edge kernel that answers on one of the edge's two rows only
    assert check_bottom_edge(bottom_edge) and check_bottom_edge(torch.tensor([[1., 1, 1], [-1, -1, -1], [0, 0, 0]]))
    assert not check_bottom_edge(-bottom_edge) and not check_bottom_edge(-left_edge) and not check_bottom_edge(sobel_y)
    assert check_conv2d(lambda x, w, **kw: F.conv2d(x, w, **kw))
    assert not check_conv2d(lambda x, w, **kw: F.conv2d(x, w.flip(-1, -2), **kw))
    assert not check_conv2d(lambda x, w, **kw: 1/0)
    out = capsys.readouterr().out
    assert 'Right!' in out and 'Not yet. It raised ZeroDivisionError' in out
    assert check_conv2d(lambda x, w, **kw: F.conv2d(x, w, **kw), n_cases=7)
    assert 'equal to F.conv2d on 7 random cases.' in capsys.readouterr().out   # the cases it really tried: ones that do not fit are redrawn


def test_conv_animation_html():
    "The pages show the animation as HTML with its frames embedded and play/step controls (Quarto renders no GIF output)."
    anim = conv_animation(n=4, k=3, s=2, p=1)
    html = anim.to_jshtml()
    assert html.count('data:image/png;base64') == conv_output_size(4, 3, 2, 1)**2 and 'anim-buttons' in html
    with pytest.raises(ValueError, match='larger than padded input'): conv_animation(n=2, k=5)


# --- issue 9: one colour scale, the explorer's kernel panel, dense -> conv, channels ---------------
def test_feature_maps_share_one_symmetric_scale():
    img = torch.rand(12, 12)
    fig = show_feature_maps(img, {'a': top_edge, 'b': 0.1*left_edge})
    lims = [ax.images[0].get_clim() for ax in fig.axes[1:3]]
    maps = [filter2d(img, k) for k in (top_edge, 0.1*left_edge)]
    m = max(float(fm.abs().max()) for fm in maps)
    assert lims[0] == lims[1] and lims[0][0] == pytest.approx(-m) and lims[0][1] == pytest.approx(m)
    assert fig.axes[-1].get_label() == '<colorbar>'
    for ax in fig.axes[:3]: assert all(float(t).is_integer() for t in ax.get_xticks())
    plt.close(fig)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_conv_matrix_equals_conv2d(h, w, kh, kw, seed):
    g = torch.Generator().manual_seed(seed)
    x, k = torch.randn(h, w, generator=g, dtype=torch.float64), torch.randn(kh, kw, generator=g, dtype=torch.float64)
    if kh > h or kw > w:
        with pytest.raises(ValueError, match='larger than'): conv_matrix(k, h, w)
        return
    m = conv_matrix(k, h, w)
    assert m.shape == ((h - kh + 1)*(w - kw + 1), h*w) and m.dtype == torch.float64
    torch.testing.assert_close(m @ x.flatten(), F.conv2d(x[None, None], k[None, None]).flatten())
    assert ((m != 0).sum(1) <= kh*kw).all()   # locality: each output sees one window


def test_conv_matrix_sharing_and_bad_args():
    m = conv_matrix(torch.arange(1., 10.).view(3, 3), 5, 5)
    assert m.shape == (9, 25) and all(sorted(r[r != 0].tolist()) == list(range(1, 10)) for r in m)  # the same 9 weights in every row
    for args, err, msg in [((torch.ones(3, 3), 2, 5), ValueError, 'larger than the 2×5 input'),
                           ((torch.ones(1, 3, 3), 5, 5), TypeError, 'kernel must be a 2-D'),
                           (([[1., 2.]], 5, 5), TypeError, 'kernel must be a 2-D'),
                           ((torch.ones(3, 3), 0, 5), ValueError, 'h must be >= 1'),
                           ((torch.ones(3, 3), 5, 2.0), TypeError, 'w must be an int')]:
        with pytest.raises(err, match=msg): conv_matrix(*args)
    fig = show_conv_matrix(torch.arange(1., 10.).view(3, 3), 5, 5)
    assert fig.axes[0].images[0].get_array().shape == (9, 25) and len(fig.axes[0].texts) == 81
    plt.close(fig)


def test_show_channels():
    img = torch.randint(0, 256, (3, 8, 10), dtype=torch.uint8)
    fig = show_channels(img, title='t')
    assert len(fig.axes) == 4 and fig.axes[0].images[0].get_array().shape == (8, 10, 3)
    for c, ax in enumerate(fig.axes[1:]):
        assert ax.images[0].get_clim() == (0, 1)
        torch.testing.assert_close(torch.as_tensor(ax.images[0].get_array().data), img[c].float()/255)
    plt.close(fig)
    fig = show_channels(torch.rand(3, 4, 4)); plt.close(fig)   # floats 0..1 too
    for bad in (img[0], img[:2], img.numpy(), img[None]):
        with pytest.raises(ValueError, match='img must be a 3×H×W'): show_channels(bad)


# --- issue 20: what a learner reads (check messages, legible figures) ------------------------------
@pytest.mark.parametrize('answer,said', [('top_edge', 'top_edge is right, and one more kernel responds to horizontal edges.'),
                                         (['left_edge'], 'left_edge does not respond to horizontal edges, and two of the six kernels do.'),
                                         (['top_edge', 'left_edge'], 'top_edge is right, but left_edge does not respond to horizontal edges, and one more kernel does.'),
                                         (['top_edge', 'sobel_y', 'sobel_x'], 'sobel_y and top_edge are right, but sobel_x does not respond to horizontal edges.'),
                                         ('top', "'top' is not a kernel name")])
def test_quiz_check_says_it_as_a_person_would(answer, said, capsys):
    assert not check_horizontal_edges(answer)
    out = capsys.readouterr().out
    assert said in out and ' of your ' not in out


@pytest.mark.parametrize('kernel,hint', [(torch.zeros(3, 3), 'gives 0 everywhere'), (-top_edge + 1, 'what must the weights add up to'),
                                         (top_edge, 'check the signs'), (torch.tensor([[0., 0, 0], [-1, -1, -1], [1, 1, 1]]), 'check the signs'),
                                         (-left_edge, 'must be positive along the bottom edge')])
def test_bottom_edge_hints_are_hints(kernel, hint, capsys):
    assert not check_bottom_edge(kernel)
    out = capsys.readouterr().out
    assert hint in out
    assert 'top row positive' not in out and 'bottom row negative' not in out   # a hint, not the answer


@pytest.mark.parametrize('n_kernels', [1, 4, 6, 8])
def test_feature_maps_legible_at_page_width(n_kernels):
    fig = show_feature_maps(torch.rand(28, 28), torch.randn(n_kernels, 3, 3))
    assert _smallest_px(fig) >= 8
    assert sum(bool(ax.images) for ax in fig.axes) == n_kernels + 1 and sum(ax.axison for ax in fig.axes if not ax.images and ax.get_label() != '<colorbar>') == 0
    plt.close(fig)
    with pytest.raises(ValueError, match='ncols must be >= 1'): show_feature_maps(torch.rand(8, 8), {'a': top_edge}, ncols=0)


def test_conv_matrix_and_channels_legible_at_page_width():
    for fig in (show_conv_matrix(torch.arange(1., 10.).view(3, 3), 5, 5), show_channels(torch.rand(3, 32, 32))):
        assert _smallest_px(fig) >= 8
        plt.close(fig)


# --- issue 20: text legible at page width (the site's column is ~670 px; a figure W inches wide is scaled by 670/(72 W)) ----
def _smallest_px(fig, column=670):
    "The smallest text on `fig` in pixels, once the page scales the picture Jupyter saves (`bbox_inches='tight'`, as the inline backend) to its text column."
    import io, matplotlib.text
    from PIL import Image
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    buf = io.BytesIO(); fig.savefig(buf, format='png', dpi=100, bbox_inches='tight')
    width = Image.open(buf).size[0]
    return min(sizes)*100/72*min(1, column/width)


def test_kernel_figures_are_legible_at_page_width():
    for fig in (show_kernels(EDGE_KERNELS, suptitle='six'), show_kernels(torch.randn(8, 3, 3), annotate=False, suptitle='eight'),
                show_kernels(torch.randn(8, 3, 3), ncols=4), show_kernels({'a': top_edge, 'b': -top_edge}, size=2.2)):
        assert _smallest_px(fig) >= 8, (fig.get_figwidth(), _smallest_px(fig))
        plt.close(fig)
    anim = conv_animation(n=5, k=3, s=2, p=1)
    anim._draw_frame(4)
    assert _smallest_px(anim._fig) >= 8 and anim._fig.get_figwidth()*anim._fig.dpi <= 670   # the player's frames fit the column unscaled
    plt.close('all')
