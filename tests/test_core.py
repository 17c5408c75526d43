"Tests of `cnn_course.core`: the size setting, data access (present and missing), MNIST loading, seeding."
import json, random, socket

import numpy as np
import pytest
from pathlib import Path
import torch
from hypothesis import given, settings, strategies as st

from cnn_course.core import *

# MNIST_COUNTS (canonical per-class counts of the MNIST splits) comes from cnn_course.core.


# --- the size setting -------------------------------------------------------------------------
def test_size_default_is_full(monkeypatch):
    monkeypatch.delenv(SIZE_ENV, raising=False)
    assert course_size() == 'full'
    assert by_size(quick=1, full=2) == 2


@pytest.mark.parametrize('value,expected', [('quick', 'quick'), ('full', 'full'), (' QUICK ', 'quick'), ('', 'full')])
def test_size_values(monkeypatch, value, expected):
    monkeypatch.setenv(SIZE_ENV, value)
    assert course_size() == expected
    assert by_size('q', 'f') == expected[0]


@pytest.mark.parametrize('value', ['tiny', 'fast', 'fulll', '1'])
def test_size_unknown_value_raises(monkeypatch, value):
    monkeypatch.setenv(SIZE_ENV, value)
    with pytest.raises(ValueError, match='CNN_COURSE_SIZE must be one of'): course_size()
    with pytest.raises(ValueError, match='CNN_COURSE_SIZE'): by_size(1, 2)


# --- data sets ----------------------------------------------------------------------------------
@pytest.fixture
def no_network(monkeypatch):
    "Make every socket connection fail, so nothing can be downloaded."
    def refuse(*args, **kwargs): raise OSError('network disabled by the test')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)


def test_dataset_folder_follows_fastai_home(empty_fastai_home):
    assert dataset_folder('mnist') == empty_fastai_home/'data'/'mnist_png'
    assert dataset_folder('pets') == empty_fastai_home/'data'/'oxford-iiit-pet'
    assert dataset_folder('cifar10') == empty_fastai_home/'data'/'cifar10'


@pytest.mark.parametrize('name', sorted(DATASETS))
def test_missing_data_gives_clear_error(empty_fastai_home, no_network, name):
    with pytest.raises(DataMissingError) as info: get_data(name)
    msg = str(info.value)
    assert repr(name) in msg                                       # which set
    assert str(empty_fastai_home/'data') in msg                    # where fastai looked
    assert 'FASTAI_HOME' in msg and 'To fix' in msg                # how to fix it
    assert isinstance(info.value, FileNotFoundError)
    assert not (empty_fastai_home/'data'/dataset_folder(name).name).exists()


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="name must be one of"): get_data('imagenet')


def test_present_data_needs_no_network(no_network):
    path = get_data('mnist_tiny')
    assert {'train', 'valid', 'labels.csv'} <= {p.name for p in path.iterdir()}


# --- MNIST as tensors ---------------------------------------------------------------------------
@pytest.mark.parametrize('split,n', [('train', 60_000), ('test', 10_000)])
def test_load_mnist(split, n):
    x, y = load_mnist(split)
    assert x.shape == (n, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (n,) and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == list(MNIST_COUNTS[split])
    assert (dataset_folder('mnist')/f"{'training' if split == 'train' else 'testing'}-v1.npz").exists()


def test_mnist_cache_matches_pngs():
    "The cached arrays hold the PNGs' digits in MNIST order (that the whole cache equals a fresh decode: tests/test_mnist_integrity.py)."
    from PIL import Image
    x, y = load_mnist('test')
    folder = dataset_folder('mnist')/'testing'
    assert y[:5].tolist() == [7, 2, 1, 0, 4]                        # canonical MNIST order
    for i in (0, 1, 4321, 9999):                                    # file <label>/<MNIST index>.png is row i
        assert np.array_equal(np.asarray(Image.open(folder/str(int(y[i]))/f'{i}.png')), x[i].numpy())


def test_load_mnist_bad_split():
    with pytest.raises(ValueError, match='split must be one of'): load_mnist('valid')


# --- reproducibility ----------------------------------------------------------------------------
def _draws():
    model = torch.nn.Linear(4, 3)
    return torch.randn(5), model.weight.detach().clone(), np.random.rand(3), random.random()


def test_seeding_gives_identical_tensors_twice():
    seed_everything(123); a = _draws()
    seed_everything(123); b = _draws()
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert np.array_equal(a[2], b[2]) and a[3] == b[3]
    seed_everything(124); c = _draws()
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize('seed', ['1', 1.5, None, True])
def test_seed_must_be_int(seed):
    with pytest.raises(TypeError, match='seed must be an int'): seed_everything(seed)


def test_device_and_banner(monkeypatch):
    monkeypatch.setenv(SIZE_ENV, 'quick')
    assert default_device().type in ('cuda', 'mps', 'cpu')
    text = banner(show=False)
    for part in ('cnn-course', 'torch', 'fastai', 'hardware: ', 'data: ', 'size: quick'): assert part in text
    assert len(text.splitlines()) == 3 and max(len(l) for l in text.splitlines()) <= 100   # no line wider than the page
    if default_device().type == 'cpu':   # the CPU's capability and the number format, so a reader can tell a bf16 CPU's times from an AVX2 CPU's
        assert f"({torch.backends.cpu.get_cpu_capability()})" in text and text.split('hardware: ')[1].split('\n')[0].endswith('float32')
        assert banner(show=False, amp=True).split('\n')[1].endswith(('bf16 autocast', 'float32 (no 16-bit format helps here)'))


def test_banner_shows_no_home_folder(monkeypatch, tmp_path):
    "A page must not show the build machine's home: paths under it are written with ~."
    monkeypatch.setenv('FASTAI_HOME', str(Path.home()/'.fastai'))
    assert str(Path.home()) not in banner(show=False) and '~' in banner(show=False)
    assert tidy_path(Path.home()/'a') == str(Path('~')/'a') and tidy_path(tmp_path) == str(tmp_path)
    with pytest.raises(TypeError, match='path must be a str or a Path'): tidy_path(3)


def test_hardware_names_the_format():
    assert hardware().endswith('float32')
    if autocast_dtype(default_device().type) == torch.bfloat16: assert hardware(amp=True).endswith('bf16 autocast')
    with pytest.raises(TypeError, match='amp must be True or False'): hardware(amp=1)


# --- the data stream: same seed, same batches ------------------------------------------------------
def test_data_generator_restarts_at_every_seeding():
    g = DataGenerator()
    seed_everything(3); a = torch.randperm(20, generator=g.get()); a2 = torch.randperm(20, generator=g.get())
    torch.randn(10_000)                                   # global draws (a model's initialisation) do not move it
    seed_everything(3); b = torch.randperm(20, generator=g.get()); b2 = torch.randperm(20, generator=g.get())
    assert torch.equal(a, b) and torch.equal(a2, b2) and not torch.equal(a, a2)
    seed_everything(4); assert not torch.equal(torch.randperm(20, generator=g.get()), a)
    fixed = DataGenerator(seed=7)                         # a fixed seed: restarted at 7 whatever seed_everything got
    seed_everything(1); c = torch.randperm(20, generator=fixed.get())
    seed_everything(2); assert torch.equal(torch.randperm(20, generator=fixed.get()), c)


@pytest.mark.parametrize('seed', ['1', 1.5, True])
def test_data_generator_seed_must_be_int(seed):
    with pytest.raises(TypeError, match='seed must be an int or None'): DataGenerator(seed)


# --- the results table --------------------------------------------------------------------------
def test_record_result_full_only(tmp_path, monkeypatch):
    path = tmp_path/'results.json'
    monkeypatch.setenv(SIZE_ENV, 'quick')
    assert record_result('01 x', 'm', 'd', 97.5, path=path) is None and not path.exists()
    monkeypatch.setenv(SIZE_ENV, 'full')
    row = record_result('01 x', 'm', 'd', 97.456, epochs=3, seconds_per_epoch=2.04, path=path)
    assert row['accuracy'] == 97.46 and row['seconds_per_epoch'] == 2.0
    record_result('02 y', 'n', 'd', 99.0, path=path)
    table = results_table(path)
    assert table.chapter.tolist() == ['01 x', '02 y']
    assert len(json.loads(path.read_text())) == 2
    with pytest.raises(ValueError, match='accuracy must be a percentage'): record_result('01 x', 'm', 'd', 101, path=path)


def test_results_table_empty(tmp_path):
    assert len(results_table(tmp_path/'none.json')) == 0


# --- exercise checks ----------------------------------------------------------------------------
def test_verdict(capsys):
    assert verdict(True, 'the answer', 'a hint') is True
    assert verdict(0, 'the answer', 'a hint') is False
    out = capsys.readouterr().out.splitlines()
    assert out == ['✓ Right! the answer', '✗ Not yet. a hint']


def test_record_result_task(tmp_path, monkeypatch):
    "Each result names its task, so a 2-class accuracy is not read beside 10-class ones as if comparable."
    monkeypatch.setenv(SIZE_ENV, 'full')
    path = tmp_path/'r.json'
    assert record_result('02 y', 'n', 'd', 99.0, task='3 vs 7, 2 classes', path=path)['task'] == '3 vs 7, 2 classes'
    assert results_table(path).task.tolist() == ['3 vs 7, 2 classes'] and list(results_table(path).columns) == RESULT_COLUMNS
    with pytest.raises(TypeError, match='task must be a non-empty str'): record_result('02 y', 'n', 'd', 99.0, task='', path=path)


# --- eval_mode -----------------------------------------------------------------------------------------

def _tree(flags):
    "A Sequential of Linear / BatchNorm1d / Dropout / nested Sequential layers whose training flags are `flags` (in modules() order)."
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Sequential(torch.nn.BatchNorm1d(3), torch.nn.Dropout()), torch.nn.Dropout())
    for m, f in zip(net.modules(), flags): m.training = f
    return net


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=6, max_size=6), st.booleans())
def test_eval_mode_restores_every_layer(flags, fail):
    "Inside: every layer in eval mode. After, normally or after an error: each layer's own flag, not one flag for all."
    net = _tree(flags)
    try:
        with eval_mode(net) as m:
            assert m is net and not any(x.training for x in net.modules())
            if fail: raise KeyError('boom')
    except KeyError: assert fail
    assert [x.training for x in net.modules()] == flags


def test_eval_mode_matches_torch_eval_inside():
    "Outputs inside the block are the eval-mode outputs torch gives (batch norm's running statistics, no dropout)."
    torch.manual_seed(0)
    net, x = _tree([True]*6), torch.randn(5, 3)
    net(x)   # one training step of the running statistics
    with eval_mode(net): inside = net(x)
    net.eval(); expected = net(x)
    torch.testing.assert_close(inside, expected)
