"""The explorers that run in the reader's browser (issue 22), and the kernel animation's offline player (issue 20).

Pure-Python checks come first (size, no network address, fresh ids, bad arguments). The browser tests use the `browser`
fixture (tests/conftest.py: a real headless Chromium in which every host name is unresolvable). Each explorer has a test
hook on its root element: `cnnxTest(settings)` sets the real controls to each setting, runs the same update the controls
trigger, and returns what the page computed; one JavaScript call runs a whole batch of random settings, and Python compares
every number with PyTorch (`F.conv2d`, `F.max_pool2d`, `F.avg_pool2d`) and with `receptive_field` / `receptive_box`:
integers exactly, floats to 1e-5 relative. A few settings go through the real controls instead (selects, sliders, typed
numbers, the pointer and the arrow keys), read back with `cnnxLast()`. Every page must log no console error and request
nothing over http(s).

The no-kernel guarantee: a small notebook that calls both explorers is executed and saved, then converted by nbconvert's
HTML exporter (what `jupyter nbconvert --to html` runs); the explorers in the result pass the same checks. Where chapters 02
and 03 hold a saved explorer output (written by a Jupyter kernel in the full run), it is checked the same way;
tests/test_pages.py checks that `nbdev-proc-nbs` (the site's build) keeps those outputs as they are.
"""
import functools, json, re, time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnn_course.conv import conv_explorer, conv_animation, EXPLORER_KERNELS, PADDING_MODES
from cnn_course.receptive import receptive_field_explorer, receptive_field, receptive_box

ROOT = Path(__file__).resolve().parents[1]
N_CONV, N_CONV_TINY, N_RF = 300, 60, 300       # random settings compared with PyTorch in the browser
TORCH_PAD = dict(zeros='constant', reflect='reflect', replicate='replicate', circular='circular')
CH = ('red', 'green', 'blue')


def _images():
    "The test images: a digit-sized grey image, a rectangular colour photo, and a tiny pair for the impossible settings."
    g = torch.Generator().manual_seed(22)
    u8 = lambda *shape: torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
    return dict(digit=u8(28, 28), photo=u8(3, 24, 32), tiny=u8(5, 6), tiny_photo=u8(3, 4, 5))

IMAGES = _images()


def _sky():
    "A 3×32×32 photo like chapter 02's CIFAR-10 aeroplane, seen coarsely: bright blue sky above green grass, a little noise."
    g = torch.Generator().manual_seed(2)
    top, bottom = torch.tensor([120., 170., 230.]), torch.tensor([60., 140., 60.])
    x = torch.where(torch.arange(32).view(1, 32, 1) < 18, top.view(3, 1, 1), bottom.view(3, 1, 1)).expand(3, 32, 32)
    return (x + torch.randint(-4, 5, (3, 32, 32), generator=g)).clamp(0, 255).to(torch.uint8)

SKY = _sky()


# --- pure Python: what the cell output is -----------------------------------------------------------------------------
def _ids(html): return re.findall(r'\bid="([^"]+)"', html)

@pytest.mark.parametrize('make', [lambda: conv_explorer(IMAGES['digit'], IMAGES['photo']),
                                  lambda: conv_explorer(IMAGES['digit'].float()/255, torch.zeros(3, 32, 32, dtype=torch.uint8)),
                                  lambda: receptive_field_explorer(IMAGES['digit']),
                                  lambda: receptive_field_explorer(IMAGES['digit'], [nn.Conv2d(1, 8, 3, padding=1), nn.MaxPool2d(2), ('avg', 3, 2, 1)])],
                         ids=['conv', 'conv-float-cifar-size', 'receptive', 'receptive-modules'])
def test_explorer_html_is_small_self_contained_and_fresh(make):
    e = make()
    html = e._repr_html_()
    assert len(html.encode()) < 200_000, f"{len(html.encode())} bytes"
    assert not re.search(r'https?:|//[\w.-]+\.\w+/|@import|url\(|<link|<iframe|<img|\bsrc=', html), "the output loads something"
    assert len(_ids(html)) == 1 and _ids(html)[0].startswith('cnnx-')          # one id, on the root element: labels wrap their controls
    assert _ids(e._repr_html_()) != _ids(html)                                  # each display gets a fresh id: two outputs never clash
    assert html.count('<script') == 2 and 'data-cnnx=' in html and 'cnnx-nojs' in html   # the data, the code, and a note where scripts are off
    assert 'interactive HTML explorer' in repr(e)


def test_explorer_data_are_the_pixels():
    digit, photo = IMAGES['digit'], IMAGES['photo']
    data = json.loads(re.search(r'<script type="application/json" class="cnnx-data">(.*?)</script>', conv_explorer(digit, photo).html, re.S)[1])
    assert data['images'][0]['px'] == digit.flatten().tolist() and (data['images'][0]['h'], data['images'][0]['w']) == (28, 28)
    assert data['images'][1]['px'] == photo.flatten().tolist() and (data['images'][1]['c'], data['images'][1]['h'], data['images'][1]['w']) == (3, 24, 32)
    assert data['kernels']['sobel_x'] == EXPLORER_KERNELS['sobel_x'].flatten().tolist()
    floats = json.loads(re.search(r'class="cnnx-data">(.*?)</script>', conv_explorer(digit.float()/255).html, re.S)[1])
    assert floats['images'][0]['px'] == digit.flatten().tolist()               # floats 0..1 become the same whole pixel values


@pytest.mark.parametrize('call,err,words', [
    (lambda: conv_explorer(torch.zeros(2, 28, 28)), ValueError, 'img must be a H×W'),
    (lambda: conv_explorer('digit'), TypeError, 'img must be an image tensor'),
    (lambda: conv_explorer(torch.zeros(28, 28), torch.zeros(28, 28)), ValueError, 'photo must be a 3×H×W'),
    (lambda: conv_explorer(torch.full((28, 28), 2.)), ValueError, 'img as floats must lie in 0..1'),
    (lambda: conv_explorer(torch.zeros(100, 100)), ValueError, 'img must be at most 64×64'),
    (lambda: conv_explorer(torch.zeros(5, 5), kernels={'big': torch.ones(5, 5)}), ValueError, "kernels['big'] must be a finite 3×3"),
    (lambda: conv_explorer(torch.zeros(5, 5), kernels=[]), TypeError, 'kernels must be a non-empty dict'),
    (lambda: conv_explorer(torch.zeros(5, 5), stride=5), ValueError, 'stride must be at most 4'),
    (lambda: conv_explorer(torch.zeros(5, 5), padding=-1), ValueError, 'padding must be >= 0'),
    (lambda: conv_explorer(torch.zeros(5, 5), dilation=1.5), TypeError, 'dilation must be an int'),
    (lambda: conv_explorer(torch.zeros(5, 5), padding_mode='edge'), ValueError, 'padding_mode must be one of'),
    (lambda: receptive_field_explorer(torch.zeros(28, 28), []), TypeError, 'layers must be a non-empty list'),
    (lambda: receptive_field_explorer(torch.zeros(28, 28), [('pool', 2)]), ValueError, 'layers[0]: must be nn.Conv2d'),
    (lambda: receptive_field_explorer(torch.zeros(28, 28), [nn.Conv2d(1, 1, (3, 5))]), ValueError, 'kernel_size (3, 5) is not square'),
    (lambda: receptive_field_explorer(torch.zeros(28, 28), [('conv', 3), ('max', 2, 2, 0, 9)]), ValueError, 'layers[1]: dilation must be an int from 1 to 4'),
    (lambda: receptive_field_explorer(torch.zeros(28, 28), [('avg', 3, 1, 1, 2)]), ValueError, 'an avg pool has no dilation'),
    (lambda: receptive_field_explorer(torch.zeros(28, 28), [('max', 3, 1, 2)]), ValueError, 'at most half the kernel size'),
    (lambda: receptive_field_explorer(torch.zeros(8, 8), [('conv', 9, 1, 0, 1)]), ValueError, 'larger than padded input'),
    (lambda: receptive_field_explorer(torch.zeros(28, 28), [('conv', 3)]*3, max_layers=2), ValueError, 'more than max_layers'),
], ids=lambda v: v if isinstance(v, str) else '')
def test_explorers_refuse_bad_arguments(call, err, words):
    with pytest.raises(err) as e: call()
    assert words in str(e.value), str(e.value)


@pytest.fixture(scope='module')
def anim_html():
    "The chapter's animation player as its page shows it (`to_jshtml`), for a 2×2 output (four frames), fast so that the browser test can watch it play."
    return conv_animation(n=4, k=3, s=2, p=1, interval=40).to_jshtml(default_mode='once')


def test_animation_player_needs_no_network_and_fits_the_column(anim_html):
    html = anim_html
    assert not re.search(r'https?:|<link', html) and 'class="fa' not in html
    labels = re.findall(r'<button title="([^"]+)"[^>]*>\s*([^<]*?)\s*</button>', html)
    assert len(labels) == 9 and all(text for _, text in labels), labels   # nine buttons, each with a visible text label
    assert 'max-width:100%' in html and html.count('data:image/png;base64') == 4


# --- the browser --------------------------------------------------------------------------------------------------------
def _page(path, fragments, width=670):
    "An HTML page with each fragment in a column `width` px wide, like the site's text column."
    cols = ''.join(f'<div class="col" style="width:{width}px;margin:0 0 24px">{f}</div>' for f in fragments)
    path.write_text(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>explorers</title></head>'
                    f'<body style="margin:8px;font-family:sans-serif">{cols}</body></html>')
    return path.as_uri()


def _clean(driver, allowed=()):
    "No console error and no http(s) request, except the `allowed` addresses (a page template's own)."
    logs = [l for l in driver.get_log('browser') if l['level'] == 'SEVERE' and not any(a in l['message'] for a in allowed)]
    assert not logs, f"console errors: {logs}"
    names = driver.execute_script("return performance.getEntriesByType('resource').map(function(e) { return e.name; })")
    fetched = [n for n in names if re.match(r'https?:', n) and not any(n.startswith(a) for a in allowed)]
    assert not fetched, f"network requests: {fetched}"


def _hook(driver, kind, index, settings, fn='cnnxTest'):
    "Run a test hook of the `index`-th explorer of `kind` on the page."
    js = f"var e = document.querySelectorAll('[data-cnnx=\"{kind}\"]')[arguments[0]]; return e.{fn}(arguments[1]);"
    return json.loads(driver.execute_script(js, index, settings) if fn == 'cnnxTest' else
                      driver.execute_script(f"return document.querySelectorAll('[data-cnnx=\"{kind}\"]')[arguments[0]].cnnxLast();", index))


def _fmt(v, dec=3):
    "A number as the explorers write it."
    s = '0' if abs(v) < 0.5*10**-dec else f'{v:.{dec}f}'.rstrip('0').rstrip('.')
    return s.replace('-', '−')


# Expected values, from PyTorch -------------------------------------------------------------------------------------------
def _conv_torch(x, weights, s, p, d, mode):
    "The feature map of one explorer setting, by F.pad and F.conv2d in float64 (None where PyTorch refuses the setting)."
    c = x.shape[0]
    xp = x.double()[None]/255
    try:
        if p: xp = F.pad(xp, (p,)*4, mode=TORCH_PAD[mode])
        out = F.conv2d(xp, torch.tensor(weights, dtype=torch.float64).view(1, c, 3, 3), stride=s, dilation=d)[0, 0]
    except RuntimeError: return None, None
    return out, xp[0]


def _check_conv(r, images, setting=None):
    "One explorer report against PyTorch: validity, shape, every output value, the kernel, the size text and the chosen pixel's sum."
    x = images[r['image']]
    if x.ndim == 2: x = x[None]
    s, p, d = r['stride'], r['padding'], r['dilation']
    out, xp = _conv_torch(x, r['weights'], s, p, d, r['mode'])
    if setting is not None and setting.get('kernel'):
        f = 1 if x.shape[0] == 1 else [1/3 if setting['mix'] == 'all' else float(setting['mix'] == c) for c in CH]
        want = (EXPLORER_KERNELS[setting['kernel']].flatten()[None].double()*torch.tensor(f, dtype=torch.float64).view(-1, 1)).flatten()
        torch.testing.assert_close(torch.tensor(r['weights'], dtype=torch.float64), want, rtol=5e-4, atol=1e-12)   # shown with 4 digits
    if out is None:
        assert r['error'] and 'Not possible' in r['size'], r
        return 'refused'
    assert not r['error'], r['error']
    assert tuple(r['shape']) == tuple(out.shape)
    torch.testing.assert_close(torch.tensor(r['out'], dtype=torch.float64).view(out.shape), out, rtol=1e-5, atol=1e-9)
    assert f"Output {out.shape[0]}×{out.shape[1]}" in r['size'] and r['size'].endswith(f"= {out.shape[1]}")
    i, j = r['sel']
    assert 0 <= i < out.shape[0] and 0 <= j < out.shape[1]
    terms = r['terms']
    assert len(terms) == 9*x.shape[0]
    for n, t in enumerate(terms):
        c, a, b = n//9, (n % 9)//3, n % 3
        assert (t['c'], t['row'], t['col']) == (c, i*s + a*d - p, j*s + b*d - p)                 # the window's taps
        assert t['v'] == pytest.approx(xp[c, t['row'] + p, t['col'] + p].item(), rel=1e-12, abs=1e-15)   # the padded input there
        assert t['w'] == r['weights'][n]
    assert sum(t['v']*t['w'] for t in terms) == pytest.approx(out[i, j].item(), rel=1e-9, abs=1e-12)
    assert f"out[{i}, {j}] = " in r['explain'] and r['explain'].endswith(_fmt(out[i, j].item()))
    return 'compared'


def _conv_settings(rng, n, n_channels):
    "Random explorer settings: image, stride, padding, dilation, mode, a preset (spread over channels) or typed weights, a pixel."
    out = []
    for _ in range(n):
        im = int(rng.integers(len(n_channels)))
        s = dict(image=im, stride=int(rng.integers(1, 5)), padding=int(rng.integers(0, 5)), dilation=int(rng.integers(1, 5)),
                 mode=str(rng.choice(PADDING_MODES)), sel=rng.random(2).tolist())
        if rng.random() < 0.5: s.update(kernel=str(rng.choice(list(EXPLORER_KERNELS))), mix=str(rng.choice(['all', *CH])))
        else: s['weights'] = (rng.integers(-300, 301, size=9*n_channels[im])/100).tolist()
        out.append(s)
    return out


def _rf_model(layers):
    "The explorer's stack as PyTorch layers: convolutions that average their window, max and average pools."
    mods = []
    for kind, k, s, p, d in layers:
        if kind == 'conv':
            m = nn.Conv2d(1, 1, k, s, p, d, bias=False)
            nn.init.constant_(m.weight, 1/k**2)
        else: m = nn.MaxPool2d(k, s, p, d) if kind == 'max' else nn.AvgPool2d(k, s, p)
        mods.append(m)
    return nn.Sequential(*mods).double()


@functools.lru_cache(maxsize=None)
def _rf_reference(layers, H, W):
    """The PyTorch stack for `layers` (a tuple of layer tuples), its `receptive_field` table and the table's rows as the explorer shows them;
    table and rows None where `receptive_field` refuses the stack. Built once per stack."""
    model = _rf_model(layers)
    try: rf = receptive_field(model, (1, H, W))
    except ValueError: return model, None, None
    return model, rf, [(str(name), row['op'], tuple(row['shape'][1:]), int(row['size']), int(row['jump']), int(row['start'])) for name, row in rf.iterrows()]


def _check_rf(r, img):
    "One receptive-field report against receptive_field, receptive_box and the PyTorch layers."
    layers, (H, W) = r['layers'], img.shape
    model, rf, want = _rf_reference(tuple(map(tuple, layers)), H, W)
    if rf is None:
        x, bad = torch.zeros(1, 1, H, W, dtype=torch.float64), None
        for n, m in enumerate(model):
            try: x = m(x)
            except RuntimeError: bad = n; break
        assert r['error'] and r['error']['layer'] == bad and r['message'].startswith(f'Not possible: layer {bad}:'), (r['error'], bad)
        return 'refused'
    assert r['error'] is None, r['error']
    got = [(R['name'], R['op'], tuple(R['shape']), R['size'], R['jump'], R['start']) for R in r['rows']]
    assert got == want
    L, (i, j) = r['layer'], r['unit']
    with torch.no_grad(): fmap = model[:L + 1](img.double()[None, None]/255)[0, 0]
    assert tuple(r['shape']) == tuple(fmap.shape)
    js = torch.tensor([float(v) for v in r['map']], dtype=torch.float64).view(fmap.shape)
    torch.testing.assert_close(js, fmap, rtol=1e-5, atol=1e-9)
    assert tuple(r['box']) == receptive_box(rf, (i, j), layer=str(L), input_size=(H, W))
    assert tuple(r['raw']) == receptive_box(rf, (i, j), layer=str(L))
    assert r['explain'].startswith(f"Unit ({i}, {j}) of layer {L} ({want[L + 1][1]}): size {want[L + 1][3]}, jump {want[L + 1][4]}")
    return 'compared'


def _rf_settings(rng, n, picks=2):
    """`n` random settings: stacks of 1 to 5 layers (mostly ones PyTorch accepts, some it refuses), each stack `picks` times
    with its own layer to look at and unit of it (fractions of its grid)."""
    out = []
    while len(out) < n:
        layers = []
        for _ in range(int(rng.integers(1, 6))):
            kind = str(rng.choice(['conv', 'max', 'avg']))
            k = int(rng.integers(1, 6)) if rng.random() < 0.9 else int(rng.integers(6, 10))
            p = int(rng.integers(0, 4)) if kind == 'conv' or rng.random() < 0.1 else int(rng.integers(0, k//2 + 1))
            s, d = (int(rng.integers(1, 3)) if rng.random() < 0.8 else 3 for _ in range(2))
            layers.append([kind, k, s, p, 1 if kind == 'avg' else d])
        out += [dict(layers=layers, layer=int(rng.integers(-1, len(layers))), unit=rng.random(2).tolist()) for _ in range(picks)]
    return out[:n]


@pytest.fixture(scope='module')
def explorer_page(browser, tmp_path_factory):
    "One page holding two convolution explorers, a tiny one, and two receptive-field explorers (several on a page must not clash)."
    I = IMAGES
    frags = [conv_explorer(I['digit'], I['photo']).html, conv_explorer(I['digit'], kernel='sobel_x', stride=2, padding=1).html,
             conv_explorer(I['tiny'], I['tiny_photo']).html,
             receptive_field_explorer(I['digit']).html, receptive_field_explorer(I['digit'], [('conv', 3, 2, 1)]).html,
             conv_explorer(I['digit'], SKY).html]   # the fourth conv explorer: chapter 02's walk-through (test_conv_explorer_does_what_chapter_02_says)
    browser.get(_page(tmp_path_factory.mktemp('explorers')/'explorers.html', frags))
    browser.get_log('browser')   # start the console log here
    return browser


def test_conv_explorer_equals_conv2d(explorer_page):
    d, rng = explorer_page, np.random.default_rng(0)
    settings, tiny_settings = _conv_settings(rng, N_CONV, (1, 3)), _conv_settings(rng, N_CONV_TINY, (1, 3))
    t = time.perf_counter()
    main, tiny = _hook(d, 'conv', 0, settings), _hook(d, 'conv', 2, tiny_settings)
    js_s = time.perf_counter() - t
    t = time.perf_counter()
    kinds = [_check_conv(r, [IMAGES['digit'], IMAGES['photo']], s) for r, s in zip(main, settings)]
    kinds += [_check_conv(r, [IMAGES['tiny'], IMAGES['tiny_photo']]) for r in tiny]
    py_s = time.perf_counter() - t
    assert kinds.count('compared') >= 300 and kinds.count('refused') >= 5, (kinds.count('compared'), kinds.count('refused'))
    print(f"conv explorer: {kinds.count('compared')} settings equal to F.conv2d, {kinds.count('refused')} refused as PyTorch refuses them; "
          f"browser {js_s:.1f} s, Python {py_s:.1f} s")
    # the other explorer on the page kept its own settings
    other = _hook(d, 'conv', 1, None, 'cnnxLast')
    assert (other['kernel'], other['stride'], other['padding'], tuple(other['shape'])) == ('sobel_x', 2, 1, (14, 14))
    _check_conv(other, [IMAGES['digit']])
    _clean(d)


def test_receptive_field_explorer_equals_receptive_field(explorer_page):
    d, rng = explorer_page, np.random.default_rng(1)
    t = time.perf_counter()
    settings = _rf_settings(rng, N_RF)
    reports = _hook(d, 'receptive', 0, settings)
    js_s = time.perf_counter() - t
    t = time.perf_counter()
    kinds = [_check_rf(r, IMAGES['digit']) for r in reports]
    py_s = time.perf_counter() - t
    assert kinds.count('compared') >= 180 and kinds.count('refused') >= 20, (kinds.count('compared'), kinds.count('refused'))
    print(f"receptive-field explorer: {kinds.count('compared')} settings equal to receptive_field and PyTorch, {kinds.count('refused')} refused, "
          f"on {len({json.dumps(s['layers']) for s in settings})} random stacks; "
          f"browser {js_s:.1f} s, Python {py_s:.1f} s")
    other = _hook(d, 'receptive', 1, None, 'cnnxLast')
    assert other['layers'] == [['conv', 3, 2, 1, 1]] and _check_rf(other, IMAGES['digit']) == 'compared'
    _clean(d)


def test_the_default_stack_is_chapter_03s(explorer_page):
    "The receptive-field explorer opens on chapter 03's CNN up to its second pool: 10×10 fields, 4 pixels apart."
    r = _hook(explorer_page, 'receptive', 0, [dict(layers=[['conv', 3, 1, 0, 1], ['max', 2, 2, 0, 1], ['conv', 3, 1, 0, 1], ['max', 2, 2, 0, 1]], unit=[0.5, 0.5])])[0]
    assert [(R['size'], R['jump'], R['start']) for R in r['rows']] == [(1, 1, 0), (3, 1, 0), (4, 2, 0), (8, 2, 0), (10, 4, 0)]
    assert r['unit'] == [2, 2] and r['box'] == [8, 8, 17, 17]


def test_conv_explorer_does_what_chapter_02_says(explorer_page):
    "Each setting chapter 02 suggests trying (the list under its explorer) shows what the chapter says it shows."
    d, digit, images = explorer_page, IMAGES['digit'], [IMAGES['digit'], SKY]
    run = lambda settings: _hook(d, 'conv', 3, settings)
    # stride 2, padding 0: 13×13; the last output column's window ends at input column 26, so column 27 is never read
    r = run([dict(image=0, kernel='top_edge', stride=2, padding=0, dilation=1, mode='zeros', sel=[0.5, 0.99])])[0]
    assert r['shape'] == [13, 13] and r['sel'][1] == 12 and max(t['col'] for t in r['terms']) == 26
    assert '⌊25/2⌋ + 1 = 13' in r['size'] and 'columns 24, 25, 26:' in r['explain']
    # stride 2, padding 1: 14×14, and the first window starts one pixel outside the digit
    r = run([dict(image=0, stride=2, padding=1, sel=[0, 0])])[0]
    assert r['shape'] == [14, 14] and min(t['row'] for t in r['terms']) == -1 and min(t['col'] for t in r['terms']) == -1
    # dilation 4: 20×20, the nine taps four pixels apart over 9×9 pixels
    r = run([dict(image=0, stride=1, padding=0, dilation=4, sel=[0.5, 0.5])])[0]
    rows, cols = sorted({t['row'] for t in r['terms']}), sorted({t['col'] for t in r['terms']})
    assert r['shape'] == [20, 20] and rows[-1] - rows[0] == 8 and cols[-1] - cols[0] == 8 and rows[1] - rows[0] == 4
    # padding 4 with sobel_x, zeros then reflect: only the outer ring (four pixels wide) changes; on the photo, zeros makes strong
    # vertical edges down both sides (bright sky against the black padding) and reflect removes them
    for image in (0, 1):
        zeros, reflect = run([dict(image=image, kernel='sobel_x', mix='all', stride=1, padding=4, dilation=1, mode=m, sel=[0.5, 0.5])
                              for m in ('zeros', 'reflect')])
        for rep in (zeros, reflect): assert _check_conv(rep, images) == 'compared'
        z, f = (torch.tensor(rep['out']).view(rep['shape']) for rep in (zeros, reflect))
        inner = torch.zeros_like(z, dtype=torch.bool); inner[4:-4, 4:-4] = True   # the windows that read no padding
        assert torch.equal(z[inner], f[inner])
        if image == 1:
            sides = torch.cat([z[4:-4, 2:4], z[4:-4, -4:-2]], 1).abs()   # the windows that read the first or last image column and the padding
            assert sides.min() > 1 and sides.min() > 5*z[inner].abs().max(), (sides.min(), z[inner].abs().max())
            assert torch.cat([f[:, :4], f[:, -4:]], 1).abs().max() < 0.2
    # the colour photo: 'all three, each ÷3' with top_edge is top_edge on the grey (mean) image; 'red only' is top_edge on red alone
    every, red = run([dict(image=1, kernel='top_edge', mix=m, stride=1, padding=0, dilation=1, mode='zeros', sel=[0.5, 0.5]) for m in ('all', 'red')])
    x = SKY.double()/255
    grey = F.conv2d(x.mean(0)[None, None], EXPLORER_KERNELS['top_edge'].double()[None, None])[0, 0]
    torch.testing.assert_close(torch.tensor(every['out'], dtype=torch.float64).view(grey.shape), grey, rtol=1e-3, atol=1e-3)   # the page shows 1/3 as 0.3333
    torch.testing.assert_close(torch.tensor(red['out'], dtype=torch.float64).view(grey.shape), F.conv2d(x[:1][None], EXPLORER_KERNELS['top_edge'].double()[None, None])[0, 0])
    assert all(c in every['explain'] for c in ('red: ', 'green: ', 'blue: '))   # each channel's multiply-adds written out, then their total
    _clean(d)


def _canvas_point(d, canvas, rows, cols, i, j):
    "Offsets from a canvas's centre to the middle of its grid cell (i, j), for ActionChains."
    w, h = d.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas)
    return int((j + 0.5)*w/cols - w/2), int((i + 0.5)*h/rows - h/2)


def test_conv_explorer_real_controls(explorer_page):
    "Drive the controls as a reader does: selects, sliders by keyboard, a typed weight, the pointer and the arrow keys."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select
    d = explorer_page
    root = d.find_elements(By.CSS_SELECTOR, '[data-cnnx="conv"]')[0]
    k = lambda name: root.find_element(By.CSS_SELECTOR, f'[data-k="{name}"]')
    Select(k('image')).select_by_index(1)                       # the colour photo: three weight slices appear
    assert len(root.find_elements(By.CSS_SELECTOR, '[data-k="w"]')) == 27 and k('mixbox').is_displayed()
    Select(k('kernel')).select_by_value('sobel_y'); Select(k('mix')).select_by_value('green')
    k('stride').send_keys(Keys.HOME, Keys.ARROW_RIGHT)         # stride 2
    k('padding').send_keys(Keys.HOME, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)   # padding 2
    k('dilation').send_keys(Keys.HOME)                          # dilation 1
    Select(k('mode')).select_by_value('circular')
    r = _hook(d, 'conv', 0, None, 'cnnxLast')
    assert (r['image'], r['kernel'], r['mix'], r['stride'], r['padding'], r['dilation'], r['mode']) == (1, 'sobel_y', 'green', 2, 2, 1, 'circular')
    assert _check_conv(r, [IMAGES['digit'], IMAGES['photo']], dict(kernel='sobel_y', mix='green')) == 'compared'
    w = root.find_elements(By.CSS_SELECTOR, '[data-k="w"]')[4]  # the red slice's centre weight
    w.send_keys(Keys.CONTROL, 'a'); w.send_keys('2.5')
    r = _hook(d, 'conv', 0, None, 'cnnxLast')
    assert r['kernel'] == 'custom' and r['weights'][4] == 2.5 and _check_conv(r, [IMAGES['digit'], IMAGES['photo']]) == 'compared'
    out = k('out')
    ActionChains(d).move_to_element_with_offset(out, *_canvas_point(d, out, *r['shape'], 3, 5)).perform()
    r = _hook(d, 'conv', 0, None, 'cnnxLast')
    assert r['sel'] == [3, 5] and r['explain'].startswith('Output pixel (3, 5) reads input rows')
    out.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_LEFT)   # keyboard: focus the output and move
    r = _hook(d, 'conv', 0, None, 'cnnxLast')
    assert r['sel'] == [5, 4] and _check_conv(r, [IMAGES['digit'], IMAGES['photo']]) == 'compared'
    out.send_keys(Keys.END)
    assert _hook(d, 'conv', 0, None, 'cnnxLast')['sel'] == [r['shape'][0] - 1, r['shape'][1] - 1]
    _clean(d)


def test_receptive_field_explorer_real_controls(explorer_page):
    "Add, edit and remove layers with the controls, then choose a unit with the pointer and the keys."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select
    d = explorer_page
    root = d.find_elements(By.CSS_SELECTOR, '[data-cnnx="receptive"]')[1]
    rows = lambda: root.find_elements(By.CSS_SELECTOR, '[data-k="lrow"]')
    field = lambda n, f: rows()[n].find_element(By.CSS_SELECTOR, f'[data-f="{f}"]')
    def type_in(el, text): el.send_keys(Keys.CONTROL, 'a'); el.send_keys(text)
    root.find_element(By.CSS_SELECTOR, '[data-k="add"]').click()        # after a conv, a 2×2 max pool
    root.find_element(By.CSS_SELECTOR, '[data-k="add"]').click()        # then a conv
    assert len(rows()) == 3
    Select(field(2, 'kind')).select_by_value('avg')
    assert not field(2, 'd').is_enabled()                              # an avg pool has no dilation
    type_in(field(2, 'k'), '3'); type_in(field(2, 'p'), '1')
    type_in(field(0, 'd'), '2')
    r = _hook(d, 'receptive', 1, None, 'cnnxLast')
    assert r['layers'] == [['conv', 3, 2, 1, 2], ['max', 2, 2, 0, 1], ['avg', 3, 1, 1, 1]] and _check_rf(r, IMAGES['digit']) == 'compared'
    type_in(field(1, 'p'), '2')                                        # a 2×2 pool with padding 2: PyTorch refuses it, so does the page
    r = _hook(d, 'receptive', 1, None, 'cnnxLast')
    assert r['error']['layer'] == 1 and field(1, 'p').get_attribute('aria-invalid') == 'true' and _check_rf(r, IMAGES['digit']) == 'refused'
    field(1, 'remove').click()
    Select(root.find_element(By.CSS_SELECTOR, '[data-k="layer"]')).select_by_value('0')
    r = _hook(d, 'receptive', 1, None, 'cnnxLast')
    assert len(rows()) == 2 and r['layer'] == 0 and _check_rf(r, IMAGES['digit']) == 'compared'
    cv = root.find_element(By.CSS_SELECTOR, '[data-k="map"]')
    ActionChains(d).move_to_element_with_offset(cv, *_canvas_point(d, cv, *r['shape'], 0, 1)).click().perform()
    cv.send_keys(Keys.ARROW_RIGHT)
    r = _hook(d, 'receptive', 1, None, 'cnnxLast')
    assert r['unit'] == [0, 2] and _check_rf(r, IMAGES['digit']) == 'compared'
    assert r['raw'][0] < 0 and 'padding' in r['explain']                # padding 1, dilation 2: the first row's fields start above the image
    _clean(d)


@pytest.mark.parametrize('width', [670, 400])
def test_explorers_fit_the_column_and_label_every_control(explorer_page, width):
    d = explorer_page
    problems = d.execute_script("""
      var width = arguments[0], out = [];
      document.querySelectorAll('.col').forEach(function(c) { c.style.width = width + 'px'; });
      document.querySelectorAll('[data-cnnx]').forEach(function(root, n) {
        var r = root.getBoundingClientRect();
        if (r.width > width + 0.5) out.push(n + ': explorer ' + r.width + ' px wide');
        root.querySelectorAll('*').forEach(function(el) {
          var scroller = el.parentElement && el.parentElement.closest('[style*="overflow-x:auto"]');
          if (scroller && root.contains(scroller)) return;     // inside a deliberately scrollable table
          var b = el.getBoundingClientRect();
          if (b.width && b.right > r.right + 0.5) out.push(n + ': ' + el.tagName + ' ' + (el.getAttribute('data-k') || el.className) + ' ends at ' + b.right + ' > ' + r.right);
        });
        root.querySelectorAll('input,select,button,canvas').forEach(function(el) {
          if (el.hidden || el.closest('[hidden]')) return;
          var named = el.closest('label') || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim());
          if (!named) out.push(n + ': ' + el.tagName + ' ' + el.getAttribute('data-k') + ' has no label');
        });
        if (!root.querySelector('[tabindex="0"]')) out.push(n + ': nothing to focus for the keyboard');
      });
      return out;""", width)
    assert not problems, problems
    _clean(d)


def test_animation_plays_offline(browser, tmp_path, anim_html):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    d = browser
    d.get(_page(tmp_path/'anim.html', [anim_html]))
    d.get_log('browser')
    img = d.find_element(By.CSS_SELECTOR, '.animation img')
    WebDriverWait(d, 5).until(lambda _: img.get_attribute('src'))
    assert d.execute_script("return document.querySelectorAll('.fa, i').length") == 0
    sizes = d.execute_script("""return Array.from(document.querySelectorAll('.anim-buttons button')).map(function(b) {
        return [b.title, b.textContent.trim(), b.offsetWidth, b.scrollWidth <= b.clientWidth]; })""")
    assert len(sizes) == 9 and all(text and w > 0 and fits for _, text, w, fits in sizes), sizes
    assert d.execute_script("return arguments[0].getBoundingClientRect().right <= document.querySelector('.col').getBoundingClientRect().right", img)
    first = img.get_attribute('src')
    d.find_element(By.CSS_SELECTOR, 'button[title="Next frame"]').click()
    assert img.get_attribute('src') != first
    d.find_element(By.CSS_SELECTOR, 'button[title="Last frame"]').click(); last = img.get_attribute('src')
    d.find_element(By.CSS_SELECTOR, 'button[title="First frame"]').click()
    assert img.get_attribute('src') == first
    d.find_element(By.CSS_SELECTOR, 'button[title="Play"]').click()
    WebDriverWait(d, 5).until(lambda _: img.get_attribute('src') == last)   # it plays to the end
    d.execute_script("document.querySelector('.col').style.width = '400px'")
    assert d.execute_script("return arguments[0].getBoundingClientRect().width <= 400", img)
    _clean(d)


# --- the no-kernel guarantee ----------------------------------------------------------------------------------------------
SMALL_NOTEBOOK = ["import torch",
                  "from cnn_course.conv import conv_explorer\nfrom cnn_course.receptive import receptive_field_explorer",
                  "g = torch.Generator().manual_seed(22)\nu8 = lambda *shape: torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)\n"
                  "digit, photo = u8(28, 28), u8(3, 24, 32)",
                  "conv_explorer(digit, photo, kernel='sobel_x', stride=2, padding=1)",
                  "receptive_field_explorer(digit)"]


def _run_cells(nb):
    """Run `nb`'s code cells here, in one namespace, and save each cell's last-expression value as Jupyter does: an
    `execute_result` holding what IPython's display formatter gives for it (the formatter a Jupyter kernel uses). Printed
    output and `display()` calls are not recorded: the small notebook has none."""
    import ast, nbformat
    from IPython.core.formatters import DisplayFormatter
    ns, fmt = {}, DisplayFormatter()
    for n, cell in enumerate([c for c in nb.cells if c.cell_type == 'code'], 1):
        tree = ast.parse(cell.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f'<cell {n}>', 'exec'), ns)
        value = None if last is None else eval(compile(ast.Expression(last.value), f'<cell {n}>', 'eval'), ns)
        cell.execution_count = n
        if value is not None:
            data, md = fmt.format(value)
            cell.outputs = [nbformat.v4.new_output('execute_result', data=data, metadata=md, execution_count=n)]


def _convert(tmp):
    """Execute the small notebook, save it, and convert the saved file to HTML with nbconvert's `HTMLExporter` (what
    `jupyter nbconvert --to html` runs). Returns the HTML file.

    The cells run in this process (`_run_cells`), not in a Jupyter kernel: a kernel would import torch and the course again,
    about 5 s of CPU, for the same outputs. Outputs a real kernel saved are checked by `test_chapters_saved_explorers_work`
    (the chapters' committed outputs, written by `jupyter nbconvert --execute` in scripts/book.sh)."""
    import nbformat
    from nbconvert import HTMLExporter
    (tmp/'nbs').mkdir()
    nb = nbformat.v4.new_notebook(metadata=dict(kernelspec=dict(name='python3', display_name='Python 3', language='python')))
    nb.cells = [nbformat.v4.new_markdown_cell('# Explorers, saved')] + [nbformat.v4.new_code_cell(c) for c in SMALL_NOTEBOOK]
    _run_cells(nb)
    nbformat.write(nb, tmp/'nbs'/'explorers.ipynb')
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(tmp/'nbs'/'explorers.ipynb', as_version=4), resources=dict(metadata=dict(name='explorers')))
    (tmp/'html').mkdir(); (tmp/'html'/'explorers.html').write_text(html, encoding='utf-8')
    return tmp/'html'/'explorers.html'


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    "The nbconvert HTML of the executed and saved notebook."
    return _convert(tmp_path_factory.mktemp('no_kernel'))


def _html_outputs(nb_path):
    "The text/html outputs of a notebook's code cells, with the cell's source."
    nb = json.loads(Path(nb_path).read_text())
    return [(''.join(c['source']), ''.join(o['data']['text/html'])) for c in nb['cells'] if c['cell_type'] == 'code'
            for o in c.get('outputs', []) if 'text/html' in o.get('data', {})]


def _check_saved_explorers(d, url, images, n=25, allowed=()):
    "Open a page with saved explorers (one conv, one receptive at least), run random settings on each and compare with PyTorch."
    d.get(url)
    d.get_log('browser')
    n_conv = d.execute_script("return document.querySelectorAll('[data-cnnx=\"conv\"]').length")
    n_rf = d.execute_script("return document.querySelectorAll('[data-cnnx=\"receptive\"]').length")
    assert n_conv >= 1 and n_rf >= 1, (n_conv, n_rf)
    rng = np.random.default_rng(5)
    for i in range(n_conv):
        for r in _hook(d, 'conv', i, _conv_settings(rng, n, tuple(im.shape[0] if im.ndim == 3 else 1 for im in images['conv']))):
            _check_conv(r, images['conv'])
    for i in range(n_rf):
        for r in _hook(d, 'receptive', i, _rf_settings(rng, n)): _check_rf(r, images['digit'])
    _clean(d, allowed)


def test_explorers_work_in_nbconvert_html(browser, converted):
    "A saved notebook converted with `jupyter nbconvert --to html`: both explorers work with no kernel and load nothing."
    html = converted.read_text()
    frags = re.findall(r'<div class="cnnx .*?</script>\n</div>', html, re.S)
    assert len(frags) == 2 and not any(re.search(r'https?:', f) for f in frags)
    # nbconvert's own page template loads require.js and MathJax from CDNs (unreachable here): those are the only addresses allowed
    template = sorted(set(re.findall(r'<script src="(https?://[^"?]+)', html)))
    assert all('require' in u or 'mathjax' in u for u in template), template
    _check_saved_explorers(browser, converted.as_uri(), dict(conv=[IMAGES['digit'], IMAGES['photo']], digit=IMAGES['digit']), allowed=tuple(template))


@pytest.mark.parametrize('name', ['02_kernels_and_strides.ipynb', '03_pooling_and_receptive_fields.ipynb'])
def test_chapters_saved_explorers_work(browser, tmp_path, name):
    "Where a chapter holds a saved explorer output (the committed full run), it works in the browser with no kernel."
    outs = [h for src, h in _html_outputs(ROOT/'nbs'/name) if 'data-cnnx=' in h]
    if not outs: pytest.skip(f"{name} holds no saved explorer output yet (the full-size run writes it)")
    url = _page(tmp_path/'chapter.html', outs)
    d = browser
    d.get(url); d.get_log('browser')
    rng = np.random.default_rng(7)
    for h in outs:
        kind = re.search(r'data-cnnx="(\w+)"', h)[1]
        data = json.loads(re.search(r'class="cnnx-data">(.*?)</script>', h, re.S)[1].replace('<\\/', '</'))
        if kind == 'conv':
            ims = [torch.tensor(im['px'], dtype=torch.uint8).view(im['c'], im['h'], im['w']) for im in data['images']]
            ims = [im[0] if im.shape[0] == 1 else im for im in ims]
            i = [x for x in outs if re.search(r'data-cnnx="conv"', x)].index(h)
            for r in _hook(d, 'conv', i, _conv_settings(rng, 25, tuple(im.shape[0] if im.ndim == 3 else 1 for im in ims))): _check_conv(r, ims)
        else:
            digit = torch.tensor(data['img']['px'], dtype=torch.uint8).view(data['img']['h'], data['img']['w'])
            i = [x for x in outs if re.search(r'data-cnnx="receptive"', x)].index(h)
            for r in _hook(d, 'receptive', i, _rf_settings(rng, 25)): _check_rf(r, digit)
    _clean(d)
