"MNIST and data-folder integrity (issue 10): damaged caches, missing or broken PNGs, empty folders, failed downloads."
import socket

import numpy as np
import pytest
import torch

from cnn_course.core import *
from cnn_course.core import DataMissingError
from data_helpers import decode_from, link_folders, load_in, own


@pytest.fixture(scope='module')
def mnist_home(tmp_path_factory):
    "A FASTAI_HOME whose MNIST folders link to the real ones; a test that damages a PNG first owns its folder (`own`)."
    home = tmp_path_factory.mktemp('fastai_home')
    real = dataset_folder('mnist')
    link_folders(real/'testing', home/'data'/'mnist_png'/'testing')
    (home/'data'/'mnist_png'/'training').symlink_to(real/'training', target_is_directory=True)
    return home


@pytest.fixture
def home(mnist_home, fastai_home): return fastai_home(mnist_home)


def _cache(home): return home/'data'/'mnist_png'/'testing-v1.npz'


def test_counts_constant_is_canonical():
    assert sum(MNIST_COUNTS['train']) == 60_000 and sum(MNIST_COUNTS['test']) == 10_000


@pytest.fixture(scope='module')
def first_load(mnist_home):
    "`load_mnist('test', refresh=True)` in the private home, once for the module: the real 10,000 PNGs decoded, and the cache written."
    return load_in(mnist_home, load_mnist, 'test', refresh=True)


def test_good_copy_loads_and_the_cache_is_the_pngs(home, first_load):
    from PIL import Image
    x, y = first_load
    assert x.shape == (10_000, 28, 28) and torch.bincount(y).tolist() == list(MNIST_COUNTS['test'])
    assert _cache(home).exists()
    x2, y2 = load_mnist('test')                                     # read back from the cache: exactly what decoding gave
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert y[:5].tolist() == [7, 2, 1, 0, 4]                        # canonical MNIST order
    folder = home/'data'/'mnist_png'/'testing'
    for i in (0, 1, 4321, 9999):                                    # file <label>/<MNIST index>.png is row i
        assert np.array_equal(np.asarray(Image.open(folder/str(int(y[i]))/f'{i}.png')), x[i].numpy())


def _truncate(p): p.write_bytes(p.read_bytes()[:len(p.read_bytes())//2])
def _flip(p):
    b = bytearray(p.read_bytes()); b[len(b)//2] ^= 0xFF; p.write_bytes(bytes(b))
def _few(p): np.savez_compressed(p, x=np.zeros((100, 28, 28), np.uint8), y=np.zeros(100, np.int64))
def _floats(p):
    with np.load(p) as d: x, y = d['x'], d['y']
    np.savez(p, x=x.astype(np.float32), y=y)   # uncompressed: compressing 31 MB of floats took most of a second
def _garbage(p): p.write_bytes(b'not a zip file')


@pytest.fixture
def rebuilds(home, first_load, monkeypatch):
    """The folders `load_mnist` decodes, one per rebuild; each rebuild returns a copy of the real test split decoded once.

    Decoding the PNGs is tested by `test_good_copy_loads_and_the_cache_is_the_pngs` and the missing and broken PNG tests;
    these tests are about the cache."""
    return decode_from(monkeypatch, '_decode_pngs', tuple(t.numpy() for t in first_load))


@pytest.mark.parametrize('damage', [_truncate, _flip, _few, _floats, _garbage])
def test_damaged_cache_is_rebuilt_with_a_warning(home, rebuilds, damage):
    load_mnist('test')                                            # a good cache first
    damage(_cache(home))
    before = len(rebuilds)
    with pytest.warns(UserWarning, match=r'testing-v1\.npz.*refresh=True'):
        x, y = load_mnist('test')
    assert rebuilds[before:] == [home/'data'/'mnist_png'/'testing']   # rebuilt once, from the test split's folder
    assert x.shape == (10_000, 28, 28) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == list(MNIST_COUNTS['test'])
    with np.load(_cache(home)) as d: assert d['x'].shape == (10_000, 28, 28) and d['x'].dtype == np.uint8  # rebuilt on disk


def test_missing_png_is_refused_and_cache_kept(home, first_load, monkeypatch):
    load_mnist('test')
    before = _cache(home).read_bytes()
    own(home/'data'/'mnist_png'/'testing'/'7')
    png = home/'data'/'mnist_png'/'testing'/'7'/'0.png'            # MNIST index 0: the first row
    moved = png.with_suffix('.bak'); png.rename(moved)
    try:
        with pytest.raises(DataMissingError, match=r"(?s)9,999 digits.*was not written"): load_mnist('test', refresh=True)
        assert _cache(home).read_bytes() == before                   # the good cache is not overwritten
        _cache(home).unlink()
        # with no cache at all: what the real decode above gave (the split without its first row), without decoding again
        calls = decode_from(monkeypatch, '_decode_pngs', tuple(t[1:].numpy() for t in first_load))
        with pytest.raises(DataMissingError, match='incomplete'): load_mnist('test')
        assert calls == [home/'data'/'mnist_png'/'testing']           # decoded once, from the test split's folder
        assert not _cache(home).exists()                              # and no bad cache is written
    finally: moved.rename(png)


@pytest.mark.parametrize('damage', ['truncated', 'wrong size'])
def test_broken_png_is_named(home, damage):
    from PIL import Image
    own(home/'data'/'mnist_png'/'testing'/'2')
    png = home/'data'/'mnist_png'/'testing'/'2'/'1.png'
    real = png.resolve()
    good = real.read_bytes()
    png.unlink()   # a damaged file in place of the link, never written through it
    try:
        if damage == 'truncated': png.write_bytes(good[:len(good)//2])
        else: Image.new('L', (32, 32)).save(png)
        with pytest.raises(ValueError, match=r'testing/2/1\.png'): load_mnist('test', refresh=True)
    finally: png.unlink(); png.symlink_to(real)


@pytest.mark.parametrize('name', sorted(DATASETS))
def test_empty_data_folder_is_incomplete(empty_fastai_home, name):
    dataset_folder(name).mkdir(parents=True)
    with pytest.raises(DataMissingError, match=r'(?s)incomplete.*To fix') as info: get_data(name)
    assert repr(name) in str(info.value) and str(dataset_folder(name)) in str(info.value)


def test_failed_download_leaves_nothing(empty_fastai_home, monkeypatch):
    def refuse(*args, **kwargs): raise OSError('network disabled by the test')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)
    with pytest.raises(DataMissingError): get_data('mnist_tiny')
    left = sorted(str(p.relative_to(empty_fastai_home)) for p in empty_fastai_home.rglob('*') if p.is_file())
    assert left == [], left
