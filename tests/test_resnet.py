"Tests of `cnn_course.resnet`: residual and bottleneck blocks, their options, and the ImageNet family against torchvision."
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from hypothesis import assume, given, settings, strategies as st

from torch_helpers import randomise_bn, seeded_randn
from cnn_course.resnet import *

FAST = settings(max_examples=40, deadline=None)
DEPTHS = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152']
BUILDERS = dict(resnet18=resnet18, resnet34=resnet34, resnet50=resnet50, resnet101=resnet101, resnet152=resnet152)
PARAMS = dict(resnet18=11_689_512, resnet34=21_797_672, resnet50=25_557_032, resnet101=44_549_160, resnet152=60_192_808)
GMACS = dict(resnet18=1.814, resnet34=3.664, resnet50=4.089, resnet101=7.801, resnet152=11.514)  # at 224×224


pytestmark = pytest.mark.usefixtures('one_thread')   # see conftest.py


def n_params(m): return sum(p.numel() for p in m.parameters())
def shapes(m): return {k: tuple(v.shape) for k, v in m.state_dict().items()}


# --- the ImageNet family against torchvision ---------------------------------------------------
@pytest.mark.parametrize('name', DEPTHS)
def test_params_and_state_dict_match_torchvision(name):
    with torch.device('meta'): ours, tv = BUILDERS[name](), getattr(torchvision.models, name)(weights=None)
    assert n_params(ours) == n_params(tv) == PARAMS[name]
    assert list(shapes(ours).items()) == list(shapes(tv).items())  # same keys, same order, same shapes


@pytest.mark.parametrize('name', DEPTHS)
def test_torchvision_weights_give_same_outputs(name):
    torch.manual_seed(0)
    tv = randomise_bn(getattr(torchvision.models, name)(weights=None)).eval()
    with torch.device('meta'): ours = BUILDERS[name]()
    ours.load_state_dict(tv.state_dict(), assign=True)
    ours.eval()
    x = seeded_randn(2, 3, 64, 64)
    with torch.no_grad(): want, got = tv(x), ours(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize('name', DEPTHS)
def test_macs_match_torchvision(name):
    with torch.device('meta'): ours, tv = BUILDERS[name](), getattr(torchvision.models, name)(weights=None)
    count = macs(ours)
    assert count == macs(tv)
    assert round(count/1e9, 3) == GMACS[name]


@pytest.mark.parametrize('name', DEPTHS)
def test_first_block_of_stage_1_projects_only_in_bottleneck_networks(name):
    "ResNet-50/101/152's layer1[0] turns 64 channels into 256 at stride 1, so its shortcut is a projection; ResNet-18/34's is the identity."
    with torch.device('meta'): ours, tv = BUILDERS[name](), getattr(torchvision.models, name)(weights=None)
    for m in (ours, tv):
        first = m.layer1[0]
        if name in ('resnet18', 'resnet34'): assert first.downsample is None
        else: assert first.downsample[0].in_channels == 64 and first.downsample[0].out_channels == 256 and first.downsample[0].stride == (1, 1)
        assert all(b.downsample is None for i in range(1, 5) for b in getattr(m, f'layer{i}')[1:])   # later blocks: identity


def test_macs_counts_a_conv_exactly():
    conv = nn.Conv2d(256, 64, 3, padding=1, bias=False)
    assert macs(conv, (256, 56, 56)) == 256*64*9*56*56
    assert macs(nn.Linear(512, 10), (512,)) == 5120
    assert macs(nn.ReLU(), (3, 8, 8)) == 0


def test_macs_leaves_the_model_alone():
    m = resnet18(n_classes=10)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    macs(m, (3, 32, 32))
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics not updated, counter not moved
    assert next(m.parameters()).device.type == 'cpu'


@pytest.mark.parametrize('name', ['resnet50', 'resnet101', 'resnet152'])
def test_v1_strides_the_first_1x1_and_costs_less(name):
    with torch.device('meta'): v1, v15 = BUILDERS[name](stride_in_3x3=False), BUILDERS[name]()
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    assert n_params(v1) == n_params(v15)
    # only the first 1×1 conv of each stage's first block changes: it runs on a map 4× smaller
    saved = sum(b.conv1.in_channels*b.conv1.out_channels*(56//2**i)**2*3//4
                for i, b in enumerate([v15.layer2[0], v15.layer3[0], v15.layer4[0]]))
    assert macs(v15) - macs(v1) == saved


def test_resnet50_v1_is_the_paper_3_8_gmacs():
    with torch.device('meta'): m = resnet50(stride_in_3x3=False)
    count = macs(m)
    assert round(count/1e9, 1) == 3.9 and 3.8e9 < count < 3.9e9


def test_tweaks_change_the_architecture():
    with torch.device('meta'):
        base, c, d = resnet50(), resnet50(deep_stem=True), resnet50(avg_down=True)
    stem = [m for m in c.conv1 if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in stem] == \
        [(3, 32, (3, 3), (2, 2)), (32, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (1, 1))]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in c.conv1) == 2 and isinstance(c.bn1, nn.BatchNorm2d)
    assert n_params(c) - n_params(base) == (3*32*9 + 32*32*9 + 32*64*9) + 2*2*32 - 3*64*49
    assert set(shapes(c)) - set(shapes(base)) and set(shapes(d)) != set(shapes(base))
    ds = d.layer2[0].downsample
    assert isinstance(ds[0], nn.AvgPool2d) and ds[0].ceil_mode and not ds[0].count_include_pad and ds[1].stride == (1, 1)
    assert isinstance(d.layer1[0].downsample[0], nn.Conv2d)  # stride 1: nothing to pool
    base_macs = macs(base)
    assert n_params(d) == n_params(base) and macs(d) == base_macs  # pooling adds no multiply-accumulates
    assert macs(c) > base_macs


def test_deep_stem_and_avg_down_run():
    m = resnet18(n_classes=7, deep_stem=True, avg_down=True).eval()
    with torch.no_grad(): assert m(seeded_randn(1, 3, 64, 64)).shape == (1, 7)


def test_zero_init_zeroes_the_last_bn_of_each_branch():
    m = resnet50(zero_init=True)
    blocks = [b for layer in (m.layer1, m.layer2, m.layer3, m.layer4) for b in layer]
    assert all((b.bn3.weight == 0).all() and (b.bn2.weight == 1).all() for b in blocks)
    assert all((b[1].weight == 1).all() for b in (m.layer2[0].downsample,))
    m = resnet18(zero_init=True)
    assert all((b.bn2.weight == 0).all() and (b.bn1.weight == 1).all() for layer in (m.layer1, m.layer4) for b in layer)


def test_stage_table_shows_the_design_rules():
    with torch.device('meta'): m34, m50 = resnet34(), resnet50()
    tables = {}
    for m, per_block in ((m34, 2*64*64*9*56*56), (m50, (256*64 + 64*64*9 + 64*256)*56*56)):
        t = tables[m] = stage_table(m)
        layers = t.loc[['layer1', 'layer2', 'layer3', 'layer4']]
        assert list(layers.map_size) == ['56×56', '28×28', '14×14', '7×7']
        assert list(layers.channels) == [64*m.layer1[0].expansion*2**i for i in range(4)]
        assert list(layers.MACs_per_block) == [per_block]*4  # same cost per block in every stage
        assert t.loc['total', 'parameters'] == n_params(m) and t.loc['total', 'MACs'] == macs(m)
    with torch.device('meta'): tv = torchvision.models.resnet34()
    assert stage_table(tv).equals(tables[m34])


# --- the blocks ----------------------------------------------------------------------------
def test_blocks_state_dict_match_torchvision_blocks():
    from torchvision.models.resnet import BasicBlock as TVBasic, Bottleneck as TVBottleneck, conv1x1
    torch.manual_seed(0)
    tv = TVBasic(16, 32, 2, nn.Sequential(conv1x1(16, 32, 2), nn.BatchNorm2d(32)))
    ours = BasicBlock(16, 32, 2)
    assert shapes(ours) == shapes(tv)
    tvb = TVBottleneck(64, 16, 2, nn.Sequential(conv1x1(64, 64, 2), nn.BatchNorm2d(64)))
    oursb = Bottleneck(64, 16, 2)
    assert shapes(oursb) == shapes(tvb)
    x, xb = seeded_randn(2, 16, 9, 9), seeded_randn(2, 64, 9, 9)
    for o, t, inp in ((ours, tv, x), (oursb, tvb, xb)):
        o.load_state_dict(randomise_bn(t).state_dict()); o.eval(); t.eval()
        with torch.no_grad(): torch.testing.assert_close(o(inp), t(inp))


def test_shortcut_options_parameter_counts():
    convs = 64*128*9 + 128*128*9 + 2*2*128  # conv1, conv2, bn1, bn2
    proj = 64*128 + 2*128                  # 1×1 conv and its BN
    assert n_params(BasicBlock(64, 128, 2, 'A')) == convs
    assert n_params(BasicBlock(64, 128, 2, 'B')) == convs + proj
    assert n_params(BasicBlock(64, 128, 2, 'C')) == convs + proj
    same = 2*64*64*9 + 2*2*64
    assert n_params(BasicBlock(64, 64, 1, 'A')) == n_params(BasicBlock(64, 64, 1, 'B')) == same
    assert n_params(BasicBlock(64, 64, 1, 'C')) == same + 64*64 + 2*64
    assert n_params(BasicBlock(64, 128, 2, residual=False)) == convs
    assert isinstance(BasicBlock(64, 128, 2, 'A').downsample, PadShortcut)
    assert BasicBlock(64, 64, 1, 'A').downsample is None and BasicBlock(64, 64, 1, 'B').downsample is None
    assert isinstance(BasicBlock(64, 64, 1, 'C').downsample, nn.Sequential)
    assert BasicBlock(64, 128, 2, 'B', residual=False).downsample is None


def test_cifar_resnet20_option_a_parameters():
    "ResNet-20 with option A has the paper's 0.27M parameters; its plain twin has the same layers."
    assert n_params(cifar_resnet(20)) == 269_722
    assert n_params(cifar_resnet(20, residual=False)) == 269_722  # the plain net has the same layers
    assert n_params(cifar_resnet(20, shortcut='B')) > 269_722
    m = cifar_resnet(20).eval()
    with torch.no_grad(): assert m(seeded_randn(2, 3, 32, 32)).shape == (2, 10)


def test_pad_shortcut():
    x = torch.arange(2*4*4.).view(1, 2, 4, 4)
    y = PadShortcut(2, 5, 2)(x)
    assert y.shape == (1, 5, 2, 2)
    torch.testing.assert_close(y[:, :2], x[:, :, ::2, ::2])
    assert (y[:, 2:] == 0).all() and n_params(PadShortcut(2, 5, 2)) == 0
    assert PadShortcut(3, 3, 1)(x[:, :1].expand(1, 3, 4, 4)).equal(x[:, :1].expand(1, 3, 4, 4))


@pytest.mark.parametrize('shortcut', ['A', 'B', 'C'])
@pytest.mark.parametrize('train', [True, False])
def test_zero_init_block_is_relu_of_shortcut(shortcut, train):
    x = seeded_randn(2, 8, 6, 6)
    same = BasicBlock(8, 8, 1, shortcut, zero_init=True).train(train)
    down = BasicBlock(8, 16, 2, shortcut, zero_init=True).train(train)
    bott = Bottleneck(32, 8, 1, shortcut, zero_init=True).train(train)
    with torch.no_grad():
        if shortcut != 'C': torch.testing.assert_close(same(x), F.relu(x), rtol=0, atol=0)
        torch.testing.assert_close(down(x), F.relu(down.downsample(x)), rtol=0, atol=0)
        xb = seeded_randn(2, 32, 5, 5)
        if shortcut != 'C': torch.testing.assert_close(bott(xb), F.relu(xb), rtol=0, atol=0)
    assert (same.bn2.weight == 0).all() and (bott.bn3.weight == 0).all()


def test_zero_init_leaves_plain_blocks_alone():
    "A plain block whose last BN starts at 0 would output 0 and never learn: zero_init applies to residual blocks only."
    assert (BasicBlock(8, 8, residual=False, zero_init=True).bn2.weight == 1).all()


def test_avg_down_shortcut():
    b = BasicBlock(8, 16, 2, 'B', avg_down=True)
    pool, conv, bn = b.downsample
    assert isinstance(pool, nn.AvgPool2d) and (pool.kernel_size, pool.stride) == (2, 2) and pool.ceil_mode
    assert not pool.count_include_pad and conv.stride == (1, 1) and conv.kernel_size == (1, 1)
    assert n_params(b) == n_params(BasicBlock(8, 16, 2, 'B'))
    x = seeded_randn(2, 8, 7, 7)
    assert b(x).shape == (2, 16, 4, 4)
    # an odd border: the last window has one row/column, averaged on its own, not with a zero
    torch.testing.assert_close(pool(x)[..., -1, -1], x[..., -1, -1])
    assert isinstance(BasicBlock(8, 8, 1, 'C', avg_down=True).downsample[0], nn.Conv2d)  # stride 1: no pooling
    assert BasicBlock(8, 8, 1, 'B', avg_down=True).downsample is None


def test_bottleneck_strides_and_shape():
    v15, v1 = Bottleneck(64, 32, 2), Bottleneck(64, 32, 2, stride_in_3x3=False)
    assert (v15.conv1.stride, v15.conv2.stride) == ((1, 1), (2, 2))
    assert (v1.conv1.stride, v1.conv2.stride) == ((2, 2), (1, 1))
    assert n_params(v1) == n_params(v15)
    x = seeded_randn(2, 64, 9, 9)
    assert v15(x).shape == v1(x).shape == (2, 128, 5, 5)
    assert macs(v1, (64, 9, 9)) < macs(v15, (64, 9, 9))


def test_bottleneck_is_cheaper_than_a_basic_block_at_256():
    basic, bott = macs(BasicBlock(256, 256), (256, 56, 56)), macs(Bottleneck(256, 64), (256, 56, 56))
    assert basic == 2*256*256*9*56*56 and bott == (256*64 + 64*64*9 + 64*256)*56*56
    assert bott < macs(BasicBlock(64, 64), (64, 56, 56)) < basic  # the paper's comparison: ~ a 64-channel basic block


# --- properties --------------------------------------------------------------------------------
@st.composite
def block_cases(draw):
    ni, nf, stride = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 3))
    shortcut, residual, avg_down = draw(st.sampled_from('ABC')), draw(st.booleans()), draw(st.booleans())
    if residual and shortcut == 'A': assume(nf >= ni and not avg_down)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    return ni, nf, stride, shortcut, residual, avg_down, (h, w), draw(st.integers(0, 2**31))


@FAST
@given(block_cases())
def test_basic_block_shape_and_plain_equation(case):
    ni, nf, stride, shortcut, residual, avg_down, (h, w), seed = case
    torch.manual_seed(seed)
    b = randomise_bn(BasicBlock(ni, nf, stride, shortcut, residual, avg_down=avg_down), seed)
    x = seeded_randn(2, ni, h, w, seed=seed)
    with torch.no_grad():
        for train in (True, False):  # a batch of 2 gives train-mode BN two values per channel even on a 1×1 map
            b.train(train)
            y = b(x)
            assert y.shape == (2, nf, math.ceil(h/stride), math.ceil(w/stride))
            assert (y >= 0).all()
            branch = b.bn2(b.conv2(F.relu(b.bn1(b.conv1(x)))))
            if not residual:
                assert b.downsample is None
                torch.testing.assert_close(y, F.relu(branch))
            else: torch.testing.assert_close(y, F.relu(branch + (x if b.downsample is None else b.downsample(x))))


@settings(max_examples=25, deadline=None)
@given(block_cases(), st.booleans())
def test_bottleneck_shape(case, stride_in_3x3):
    ni, width, stride, shortcut, residual, avg_down, (h, w), seed = case
    assume(not (residual and shortcut == 'A' and 4*width < ni))
    b = Bottleneck(ni, width, stride, shortcut, residual, avg_down=avg_down, stride_in_3x3=stride_in_3x3).eval()
    with torch.no_grad(): y = b(seeded_randn(1, ni, h, w, seed=seed))
    assert y.shape == (1, 4*width, math.ceil(h/stride), math.ceil(w/stride))


# --- bad arguments -----------------------------------------------------------------------------
@pytest.mark.parametrize('make, err, msg', [
    (lambda: BasicBlock(64, 64, shortcut='D'), ValueError, "shortcut must be one of ('A', 'B', 'C')"),
    (lambda: BasicBlock(64, 64, shortcut='D', residual=False), ValueError, "shortcut must be one of"),
    (lambda: BasicBlock(0, 64), ValueError, 'ni must be >= 1'),
    (lambda: BasicBlock(64, -1), ValueError, 'nf must be >= 1'),
    (lambda: BasicBlock(64, 64, stride=0), ValueError, 'stride must be >= 1'),
    (lambda: BasicBlock(64.0, 64), TypeError, 'ni must be an int'),
    (lambda: BasicBlock(64, 64, residual='yes'), TypeError, 'residual must be True or False'),
    (lambda: BasicBlock(64, 64, zero_init=1), TypeError, 'zero_init must be True or False'),
    (lambda: BasicBlock(64, 128, 2, 'A', avg_down=True), ValueError, "avg_down=True needs a projection shortcut"),
    (lambda: BasicBlock(128, 64, 1, 'A'), ValueError, 'nf must be >= ni'),
    (lambda: PadShortcut(4, 2, 1), ValueError, 'nf must be >= ni'),
    (lambda: Bottleneck(64, 0), ValueError, 'width must be >= 1'),
    (lambda: Bottleneck(64, 16, stride=-2), ValueError, 'stride must be >= 1'),
    (lambda: Bottleneck(64, 16, shortcut='b'), ValueError, "shortcut must be one of"),
    (lambda: Bottleneck(64, 16, stride_in_3x3=None), TypeError, 'stride_in_3x3 must be True or False'),
    (lambda: ResNet(nn.Conv2d, [2, 2, 2, 2]), TypeError, 'block must be BasicBlock or Bottleneck'),
    (lambda: ResNet(BasicBlock, [2, 2, 2]), ValueError, 'layers must be a list of 4'),
    (lambda: ResNet(BasicBlock, [2, 0, 2, 2]), ValueError, 'layers must be >= 1'),
    (lambda: resnet18(n_classes=0), ValueError, 'n_classes must be >= 1'),
    (lambda: resnet50(deep_stem='yes'), TypeError, 'deep_stem must be True or False'),
    (lambda: resnet50(avg_down=None), TypeError, 'avg_down must be True or False'),
    (lambda: macs('resnet18'), TypeError, 'model must be an nn.Module'),
    (lambda: macs(nn.ReLU(), 224), ValueError, 'input_size must be a tuple'),
    (lambda: macs(nn.ReLU(), (3, 0, 4)), ValueError, 'input_size must be >= 1'),
    (lambda: stage_table(nn.Linear(2, 2)), TypeError, 'model must be a ResNet'),
])
def test_bad_arguments(make, err, msg):
    with pytest.raises(err) as e: make()
    assert msg in str(e.value)
