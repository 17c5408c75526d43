"MNIST and data-folder integrity (issue 10): damaged caches, missing or broken PNGs, empty folders, failed downloads."
import socket

import numpy as np
import pytest
import torch

import cnn_course.core as core
from cnn_course.core import *
from cnn_course.core import DataMissingError
from data_helpers import decode_from, link_folders, own


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


def test_good_copy_loads(home):
    x, y = load_mnist('test', refresh=True)
    assert x.shape == (10_000, 28, 28) and torch.bincount(y).tolist() == list(MNIST_COUNTS['test'])
    assert _cache(home).exists()


def _truncate(p): p.write_bytes(p.read_bytes()[:len(p.read_bytes())//2])
def _flip(p):
    b = bytearray(p.read_bytes()); b[len(b)//2] ^= 0xFF; p.write_bytes(bytes(b))
def _few(p): np.savez_compressed(p, x=np.zeros((100, 28, 28), np.uint8), y=np.zeros(100, np.int64))
def _floats(p):
    with np.load(p) as d: x, y = d['x'], d['y']
    np.savez_compressed(p, x=x.astype(np.float32), y=y)
def _garbage(p): p.write_bytes(b'not a zip file')


@pytest.fixture(scope='module')
def decoded_test_split(mnist_home):
    "The real test split, decoded from its 10,000 PNGs once for the module."
    return core._decode_pngs(mnist_home/'data'/'mnist_png'/'testing')


@pytest.fixture
def rebuilds(home, decoded_test_split, monkeypatch):
    """The folders `load_mnist` decodes, one per rebuild; each rebuild returns a copy of the real test split decoded once.

    Decoding the PNGs is tested by `test_good_copy_loads` and the missing and broken PNG tests; these tests are about the cache."""
    return decode_from(monkeypatch, '_decode_pngs', decoded_test_split)


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


def test_missing_png_is_refused_and_cache_kept(home):
    load_mnist('test')
    before = _cache(home).read_bytes()
    own(home/'data'/'mnist_png'/'testing'/'7')
    png = home/'data'/'mnist_png'/'testing'/'7'/'0.png'
    moved = png.with_suffix('.bak'); png.rename(moved)
    try:
        with pytest.raises(DataMissingError, match=r"(?s)9,999 digits.*was not written"): load_mnist('test', refresh=True)
        assert _cache(home).read_bytes() == before                   # the good cache is not overwritten
        _cache(home).unlink()
        with pytest.raises(DataMissingError, match='incomplete'): load_mnist('test')
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
