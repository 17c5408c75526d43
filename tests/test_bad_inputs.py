"Walk the public API with bad inputs (issue 10): each must raise a ValueError or TypeError naming the argument, never pass silently."
import types

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import cnn_course.core, cnn_course.mlp, cnn_course.conv, cnn_course.pool, cnn_course.receptive, cnn_course.resnet, cnn_course.pets
from cnn_course.core import *
from cnn_course.mlp import *
from cnn_course.conv import *
from cnn_course.pool import *
from cnn_course.receptive import *
from cnn_course.resnet import *
from cnn_course.pets import *

g = torch.Generator().manual_seed(0)
img, x4 = torch.rand(8, 8, generator=g), torch.rand(2, 1, 8, 8, generator=g)
u8 = torch.randint(0, 256, (2, 8, 8), dtype=torch.uint8, generator=g)
y2 = torch.tensor([0, 1])
dl = TensorLoader(x4, y2, bs=2)
net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
rf = receptive_field(nn.Conv2d(1, 1, 3), (1, 8, 8))
history = pd.DataFrame(dict(epoch=[1], train_loss=[1.], valid_loss=[1.]))
ok_conv = lambda x, w, stride=1, padding=0, dilation=1: torch.nn.functional.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)

# (function, args, kwargs, a word the message must contain: the argument's name)
CASES = [
    (dataset_folder, ('imagenet',), {}, 'name'),
    (get_data, ('imagenet',), {}, 'name'),
    (load_mnist, ('valid',), {}, 'split'),
    (load_mnist, ('test',), dict(refresh='yes'), 'refresh'),
    (seed_everything, ('1',), {}, 'seed'),
    (seed_everything, (1.5,), {}, 'seed'),
    (banner, (), dict(show='no'), 'show'),
    (banner, (), dict(amp='yes'), 'amp'),
    (hardware, (), dict(amp=1), 'amp'),
    (tidy_path, (3,), {}, 'path'),
    (eval_mode, (3,), {}, 'model'),
    (eval_mode, (nn.Linear,), {}, 'model'),
    (DataGenerator, ('0',), {}, 'seed'),
    (record_result, ('01', 'm', 'd', 90), dict(amp='yes', force=True), 'amp'),
    (verdict, (True, 3, 'x'), {}, 'right'),
    (record_result, ('01', 'm', 'd', 101), dict(force=True), 'accuracy'),
    (record_result, ('01', 'm', 'd', 90), dict(epochs=-1, force=True), 'epochs'),
    (record_result, ('01', 'm', 'd', 90), dict(epochs=1.5, force=True), 'epochs'),
    (record_result, ('01', 'm', 'd', 90), dict(seconds_per_epoch=-2, force=True), 'seconds_per_epoch'),
    (record_result, (None, 'm', 'd', 90), dict(force=True), 'chapter'),
    (results_table, (3,), {}, 'path'),
    (record_result, ('01', 'm', 'd', 90), dict(task='', force=True), 'task'),
    (flow_diagram, ({},), {}, 'nodes'),
    (flow_diagram, ({'a': 'x'},), dict(edges=[('a', 'b')]), 'nodes'),
    (flow_diagram, ({'a': 'x'},), dict(edges=[('a',)]), 'edge'),
    (flow_diagram, ({'a': 'x', 'b': 'y'},), dict(pos={'a': (0, 0)}), 'pos'),
    (flow_diagram, ({'a': 'x'},), dict(per_row=0), 'per_row'),
    (flow_diagram, ({'a': 'x'},), dict(fontsize=-1), 'fontsize'),
    (normalise_pixels, (torch.rand(3),), {}, 'x'),
    (normalise_pixels, (torch.tensor([-0.42, 0.3, 2.8]),), {}, 'x'),   # already standardised
    (normalise_pixels, (torch.ones(3, dtype=torch.bool),), {}, 'x'),
    (normalise_pixels, (u8,), dict(how='zscore'), 'how'),
    (normalise_pixels, ([1, 2],), {}, 'x'),
    (mnist_tensors, ('valid',), {}, 'split'),
    (mnist_tensors, ('test',), dict(n=0), 'n'),
    (mnist_tensors, ('test',), dict(n='5'), 'n'),
    (TensorLoader, ('abc', 'abc'), {}, 'x'),
    (TensorLoader, (x4, y2), dict(bs=0), 'bs'),
    (TensorLoader, (x4, torch.tensor([1])), {}, 'length'),
    (mnist_loaders, (), dict(n_valid=0), 'n_valid'),
    (mnist_loaders, (), dict(bs=0), 'bs'),
    (mlp, ((784,),), {}, 'sizes'),
    (mlp, ((784, 0, 10),), {}, 'sizes'),
    (mlp, ((784, 10),), dict(p=1.0), 'p'),
    (param_table, ('model',), {}, 'model'),
    (manual_cross_entropy, (torch.zeros(2, 3), torch.tensor([0, 3])), {}, 'targets'),
    (manual_cross_entropy, (torch.zeros(2, 3), torch.tensor([0., 1.])), {}, 'targets'),
    (manual_cross_entropy, (torch.zeros(3), torch.tensor([0])), {}, 'logits'),
    (evaluate, (net, []), {}, 'dl'),
    (fit, (net, dl, dl, 0), {}, 'epochs'),
    (fit, (net, dl, dl, 1), dict(lr=-1), 'lr'),
    (fit, (net, dl, None, 1), {}, 'valid_dl'),
    (plot_learning_curves, (pd.DataFrame(dict(a=[1])),), {}, 'history'),
    (fastai_loaders, ('abc', 'def'), {}, 'train_dl'),
    (shift_images, (u8, 1), dict(fill=-1), 'fill'),
    (shift_images, (u8, 1), dict(fill=0.5), 'fill'),
    (shift_images, (u8, 8), {}, 'dx'),
    (shift_images, (u8, 1.5), {}, 'dx'),
    (shift_images, (torch.rand(8, 8), 1), {}, 'x'),
    (accuracy_vs_shift, (mlp((64, 2)), x4[:0], y2[:0]), {}, 'x'),
    (random_permutation, (0,), {}, 'n_pixels'),
    (permute_pixels, (x4, torch.arange(63)), {}, 'perm'),
    (permute_pixels, (x4, torch.zeros(64, dtype=torch.long)), {}, 'perm'),
    (conv_output_size, (5, 0), {}, 'kernel'),
    (conv_output_size, (2, 5), {}, 'larger'),
    (conv_output_size, (5, 3), dict(s=0), 'stride'),
    (pad2d, (img, -1), {}, 'p'),
    (pad2d, (img, 1), dict(mode='edge'), 'mode'),
    (pad2d, (torch.rand(0, 4), 1), dict(mode='replicate'), 'p'),
    (pad2d, (img, 8), dict(mode='reflect'), 'p'),
    (conv2d_loops, (x4, torch.rand(1, 2, 3, 3)), {}, 'weight'),
    (conv2d_loops, (x4, torch.rand(1, 1, 3, 3)), dict(stride=0), 'stride'),
    (conv2d_unfold, (x4.long(), torch.rand(1, 1, 3, 3)), {}, 'x'),
    (conv2d_unfold, (x4, torch.rand(1, 1, 3, 3)), dict(bias=torch.rand(2)), 'bias'),
    (random_conv_case, ('g',), {}, 'g'),
    (torch_conv2d, (x4, torch.rand(1, 1, 3, 3)), dict(padding_mode='edge'), 'padding_mode'),
    (filter2d, (x4, torch.rand(3, 3)), {}, 'img'),
    (filter2d, (img, torch.rand(1, 3, 3)), {}, 'kernel'),
    (show_kernels, ({},), {}, 'kernels'),
    (show_kernels, ('top_edge',), {}, 'kernels'),
    (show_feature_maps, (img, {}), {}, 'kernels'),
    (check_horizontal_edges, (3,), {}, 'answer'),
    (animate_conv, ('/tmp/never.gif',), dict(n=2, k=5), 'larger'),
    (conv_animation, (), dict(n=2, k=5), 'larger'),
    (conv_animation, (), dict(interval=0), 'interval'),
    (conv_block, (0, 8), {}, 'ni'),
    (conv_block, (1, 0), {}, 'nf'),
    (small_cnn, ((),), {}, 'channels'),
    (small_cnn, ((8, 0),), {}, 'channels'),
    (small_cnn, (), dict(n_out=0), 'n_out'),
    (conv_vs_dense, (mlp((784, 10)),), {}, 'conv'),
    (conv_vs_dense, (net,), dict(input_size=(28, 28)), 'input_size'),
    (check_conv2d, (ok_conv,), dict(n_cases=0), 'n_cases'),
    (check_conv2d, (ok_conv,), dict(n_cases=-3), 'n_cases'),
    (check_conv2d, ('not a function',), {}, 'fn'),
    (check_output_size, ('14',), {}, 'answer'),
    (check_conv_params, ('12832',), {}, 'answer'),
    (check_bottom_edge, ('kernel',), {}, 'kernel'),
    (max_pool2d, (torch.ones(4, 4, dtype=torch.bool), 2), {}, 'bool'),
    (max_pool2d, (img, 0), {}, 'kernel_size'),
    (max_pool2d, (img, 2), dict(padding=2), 'padding'),
    (avg_pool2d, (img.long(), 2), {}, 'floating'),
    (avg_pool2d, ([[1.]], 2), {}, 'x'),
    (mnist_cnn, (0,), {}, 'c1'),
    (feature_change, (net, x4[:0]), {}, 'x'),
    (feature_change, ('f', x4), {}, 'f'),
    (shift_equivariance, ('f', x4), {}, 'f'),
    (shift_equivariance, (net, x4), dict(shifts=[-1]), 'shifts'),
    (shift_equivariance, (net, x4[0]), {}, 'x'),
    (check_pool_output, ('14',), {}, 'answer'),
    (check_min_pool, (3,), {}, 'min_pool2d'),
    (window_step, (Axis(1, 1, 0), -3), {}, 'kernel'),
    (window_step, (Axis(1, 1, 0), 3, 0), {}, 'stride'),
    (window_step, (Axis(1, 1, 0), 3, 1, 0, 0), {}, 'dilation'),
    (window_step, ((1, 1), 3), {}, 'axis'),
    (receptive_field, ('model', (1, 8, 8)), {}, 'model'),
    (receptive_field, (net, (8, 0)), {}, 'input_size'),
    (receptive_field, (net, (3, 8, 8)), {}, 'input_size'),
    (receptive_box, (rf,), dict(layer='nope'), 'layer'),
    (receptive_box, (rf, (6, 0)), {}, 'index'),
    (receptive_box, ('rf',), {}, 'rf'),
    (SumPool2d, (0,), {}, 'kernel_size'),
    (linearised, ('model',), {}, 'model'),
    (measured_receptive_box, (net, (1, 8, 8), (9, 9)), {}, 'index'),
    (plot_receptive_field, (img, (0, 0, 1)), {}, 'boxes'),
    (effective_receptive_field, (net,), {}, 'input_size'),
    (effective_receptive_field, (net, (1, 8, 8)), dict(n=0), 'n'),
    (effective_receptive_field, (net,), dict(inputs=torch.full((2, 1, 8, 8), float('nan'))), 'inputs'),
    (effective_receptive_field, (net, (1, 8, 8)), dict(reduce='max'), 'reduce'),
    (effective_receptive_field, (net, (1, 8, 8)), dict(channels=[5]), 'channels'),
    (erf_extent, (torch.zeros(5, 5),), {}, 'erf'),
    (erf_extent, (torch.ones(5, 5),), dict(mass=1.5), 'mass'),
    (erf_spread, (torch.full((5, 5), float('nan')),), {}, 'erf'),
    (plot_effective_receptive_field, (torch.zeros(3),), {}, 'erf'),
    (plot_effective_receptive_field, (torch.ones(3, 3),), dict(label=3), 'label'),
    (plot_effective_receptive_field, (torch.ones(3, 3),), dict(box=(0, 1)), 'box'),
    (check_rf_size, ('7',), {}, 'answer'),
    (dataset_folder, ([1, 2],), {}, 'name'),
    (evaluate, ('model', dl), {}, 'model'),
    (evaluate, (net, 'abc'), {}, 'dl'),
    (fit, ('model', dl, dl, 1), {}, 'model'),
    (fit, (net, 3, dl, 1), {}, 'train_dl'),
    (fit, (net, dl, dl, 1), dict(lr='big'), 'lr'),
    (plot_learning_curves, ('history',), {}, 'history'),
    (accuracy_vs_shift, ('model', x4, y2), {}, 'model'),
    (show_feature_maps, ('img', {'a': torch.rand(3, 3)}), {}, 'img'),
    (plot_receptive_field, (None, (0, 0, 1, 1)), {}, 'image'),
    (measured_receptive_box, (net, (1, 2, 2)), {}, 'input_size'),
    (effective_receptive_field, (net, (1, 2, 2)), {}, 'input_size'),
    (check_covers_digit, ('net',), {}, 'model'),
    (plot_grid, (torch.zeros(3, 3),), {}, 'images'),
    (plot_grid, (torch.zeros(2, 3, 3),), dict(ncols=0), 'ncols'),
    (top_activating_patches, (net, x4, rf, '0', [0]), dict(k=3), 'k'),
    (top_activating_patches, (net, x4, rf, 'conv9', [0]), dict(k=1), 'layer'),
    (top_activating_patches, (net, 'x4', rf, '0', [0]), {}, 'images'),
    (tutorial_mnist, ('yes',), {}, 'train'),
    (tutorial_mnist, (), dict(root=3), 'root'),
    (tutorial_fit, ('model',), {}, 'model'),
    (tutorial_fit, (net,), dict(epochs=0), 'epochs'),
    (tutorial_fit, (net,), dict(n_train=70_000), 'n_train'),
    (tutorial_fit, (net,), dict(lr=-1), 'lr'),
    (tutorial_fit, (net,), dict(seed=1.5), 'seed'),
    (conv_matrix, (torch.ones(3, 3), 2, 5), {}, 'larger'),
    (conv_matrix, (torch.ones(1, 3, 3), 5, 5), {}, 'kernel'),
    (show_conv_matrix, (torch.ones(3, 3), 5, 0), {}, 'w'),
    (show_channels, (img,), {}, 'img'),
    (fit, (net, dl, dl, 1), dict(epoch_end=3), 'epoch_end'),
    (tutorial_fit, (net,), dict(n_valid=0), 'n_valid'),
    (tutorial_fit, (net,), dict(n_train=55_000, n_valid=10_000), 'n_train'),
    (show_feature_maps, (img, {'a': torch.rand(3, 3)}), dict(ncols=0), 'ncols'),
]

# Public names that take no argument a learner could get wrong in a way worth walking, or that are not functions.

# chapter 04 (cnn_course.resnet) and core's load_cifar
u8_4d = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8, generator=g)
cifar_dls = fastai_loaders(CifarLoader(u8_4d, y2, bs=2), CifarLoader(u8_4d, y2, bs=2))
x3 = torch.rand(2, 3, 8, 8, generator=g)
CASES += [
    (load_cifar, ('valid',), {}, 'split'),
    (load_cifar, ('test',), dict(refresh='yes'), 'refresh'),
    (show_cifar, (torch.zeros(2, 1, 8, 8, dtype=torch.uint8),), {}, 'x'),
    (channel_stats, (np.zeros((2, 3, 8, 8)),), {}, 'x'),
    (channel_stats, (torch.zeros(0, 3, 8, 8, dtype=torch.uint8),), {}, 'x'),
    (jpeg_settings, (5,), {}, 'path'),
    (random_crop_flip, (u8_4d,), dict(pad=-1), 'pad'),
    (random_crop_flip, (u8_4d,), dict(pad_mode='edge'), 'pad_mode'),
    (random_crop_flip, (u8[0],), {}, 'x'),
    (CifarLoader, (x3, y2), {}, 'x'),
    (CifarLoader, (u8_4d, y2), dict(bs=0), 'bs'),
    (CifarLoader, ('images', y2), {}, 'x'),
    (cifar_loaders, (), dict(n_train=0), 'n_train'),
    (cifar_loaders, (), dict(n_valid=50_000), 'n_valid'),
    (plain_cnn, (21,), {}, 'depth'),
    (plain_cnn, (20,), dict(init='xavier'), 'init'),
    (plain_cnn, (20,), dict(n_classes=0), 'n_classes'),
    (activation_stds, (nn.Conv2d(3, 3, 1), x3), {}, 'layers'),
    (conv_stack, (0,), {}, 'depth'),
    (conv_stack, (5,), dict(init='xavier'), 'init'),
    (autocast_dtype, (3,), {}, 'device_type'),
    (DeviceAutocast, (torch.float64,), {}, 'dtype'),
    (train_speed, (cifar_resnet(8), CifarLoader(u8_4d, y2, bs=2)), dict(steps=0), 'steps'),
    (cifar_learner, (cifar_resnet(8), cifar_dls), dict(label_smoothing=1.0), 'label_smoothing'),
    (cifar_learner, (cifar_resnet(8), cifar_dls), dict(wd=-1.0), 'wd'),
    (relu_stats, (nn.Linear(2, 2),), {}, 'model'),
    (show_activation_stats, ({},), {}, 'runs'),
    (BatchNorm2d, (0,), {}, 'num_features'),
    (BatchNorm2d, (4,), dict(momentum=2.0), 'momentum'),
    (PadShortcut, (4, 2, 1), {}, 'nf'),
    (BasicBlock, (0, 8), {}, 'ni'),
    (BasicBlock, (8, 8), dict(shortcut='D'), 'shortcut'),
    (BasicBlock, (8, 8), dict(stride=0), 'stride'),
    (cifar_resnet, (21,), {}, 'depth'),
    (cifar_resnet, (20,), dict(shortcut='D'), 'shortcut'),
    (cifar_resnet, (20,), dict(avg_down=True), 'avg_down'),
    (compare_training, ({}, cifar_dls, 1), {}, 'models'),
    (compare_training, ({'m': lambda: cifar_resnet(8)}, cifar_dls, 0), {}, 'epochs'),
    (plot_degradation, ({},), {}, 'results'),
    (conv_grad_norms, (nn.Linear(2, 2), x3, y2), {}, 'model'),
    (Bottleneck, (0, 8), {}, 'ni'),
    (Bottleneck, (8, 8), dict(stride_in_3x3='yes'), 'stride_in_3x3'),
    (macs, (nn.Conv2d(3, 3, 1),), dict(input_size=()), 'input_size'),
    (ResNet, (nn.Linear, [2, 2, 2, 2]), {}, 'block'),
    (ResNet, (BasicBlock, [2, 2]), {}, 'layers'),
    (resnet18, (), dict(n_classes=0), 'n_classes'),
    (resnet34, (), dict(deep_stem='yes'), 'deep_stem'),
    (resnet50, (), dict(stride_in_3x3=1), 'stride_in_3x3'),
    (resnet101, (), dict(avg_down=None), 'avg_down'),
    (resnet152, (), dict(zero_init='no'), 'zero_init'),
    (stage_table, (resnet18(),), dict(input_size=(3,)), 'input_size'),
    (train_recipe, (cifar_resnet(8), 1), dict(momentum=0.9), 'momentum'),
    (train_recipe, (cifar_resnet(8), 0), {}, 'epochs'),
    (flip_tta_accuracy, ('model', []), {}, 'model'),
    (flip_tta_accuracy, (cifar_resnet(8), []), {}, 'dl'),
    (Mul, ('2',), {}, 'scale'),
    (ConvGroup, (0, 8), {}, 'ni'),
    (fast_net, ((64, 256),), {}, 'widths'),
    (init_whitening, (nn.Conv2d(3, 10, 2), x3), {}, 'conv'),
    (Lookahead, (0,), {}, 'every'),
    (FreezeBiasAfter, (-1,), {}, 'epochs'),
    (train_fast, (0,), {}, 'epochs'),
    (epochs_for_budget, (500.0, 100, 0), {}, 'budget_s'),
    (epochs_for_budget, (500.0, 100, 10), dict(margin=1.5), 'margin'),
    (epochs_for_budget, ('fast', 100, 10), {}, 'speed'),
    (epochs_for_budget, (-1.0, 100, 10), {}, 'speed'),
    (epochs_for_budget, (500.0, 0, 10), {}, 'n_images'),
    (seed_table, ({'a': 1.0},), {}, 'values'),
    (seed_table, ({},), {}, 'values'),
    (calibrate_bn, ('model', x3), {}, 'model'),
    (calibrate_bn, (nn.Conv2d(3, 3, 1), x3), {}, 'model'),
    (compare_training, ({'m': lambda: cifar_resnet(8)}, cifar_dls, 1), dict(seeds=[]), 'seeds'),
    (compare_training, ({'m': lambda: cifar_resnet(8)}, cifar_dls, 1), dict(seeds=0), 'seeds'),
    (cifar_learner, (cifar_resnet(8), cifar_dls), dict(progress='no'), 'progress'),
    (train_fast, (1,), dict(widths=(16, 32)), 'widths'),
    (train_fast, (1,), dict(bs=0), 'bs'),
    (check_kaiming_std, ('0.06',), {}, 'answer'),
    (check_fold_bn, (None,), {}, 'fold'),
    (check_resnet_params, ('464154',), {}, 'answer'),
]

# chapter 05 (cnn_course.pets)
pet_net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)))
pet_x, pet_probs, pet_targs = torch.rand(1, 3, 8, 8, generator=g), torch.rand(4, 3, generator=g), torch.ones(4, 3)
pet_feats, pet_y = torch.rand(6, 3, generator=g), torch.tensor([0, 1, 0, 1, 0, 1])
pet_files = ['Abyssinian_1.jpg', 'Abyssinian_2.jpg', 'pug_1.jpg', 'pug_2.jpg']
pet_dls = types.SimpleNamespace(train_ds=[], c=3, loss_func=None)   # what lpft_learner reads of a DataLoaders before it builds anything
CASES += [
    (pet_breed, (3,), {}, 'fname'),
    (pet_breed, ('Abyssinian_1.png',), {}, 'fname'),
    (pet_species, ('abyssinian.jpg',), {}, 'fname'),
    (pet_labels, (None,), {}, 'fname'),
    (breed_counts, (['cat.png'],), {}, 'fname'),            # the message names pet_breed's argument: the bad file name
    (describe_pets, (['Abyssinian_1.jpg', 'notes.txt'],), {}, 'fname'),
    (describe_pets, ('Abyssinian_1.jpg',), {}, 'files'),
    (official_split, ('no_such_folder',), {}, 'path'),
    (official_split, (3,), {}, 'path'),
    (photo_sizes, ('Abyssinian_1.jpg',), {}, 'files'),
    (check_photos, ('Abyssinian_1.jpg',), {}, 'files'),
    (subset_per_breed, (pet_files, 0), {}, 'n'),
    (subset_per_breed, (pet_files, 2.0), {}, 'n'),
    (stratified_split, (['a', 'a', 'b'],), {}, 'labels'),
    (stratified_split, (['a', 'a'], 1.0), {}, 'valid_pct'),
    (stratified_split, (['a', 'a'], '0.2'), {}, 'valid_pct'),
    (stratified_split, (['a', 'a'], 0.5, 'x'), {}, 'seed'),
    (PetLabels, ('cat',), {}, 'label'),
    (PetLabels, ('breed', ['caltech/cup/image_0001.jpg']), {}, 'no_pet'),
    (PetLabels, ('multi', 'caltech/cup/image_0001.jpg'), {}, 'no_pet'),
    (pets_dls, ('pets', pet_files, pet_files), dict(label='cat'), 'label'),
    (pets_dls, ('pets', pet_files, pet_files), dict(size=0), 'size'),
    (pets_dls, ('pets', pet_files, pet_files), dict(bs=True), 'bs'),
    (pets_dls, ('pets', pet_files, pet_files), dict(size=64, presize=32), 'presize'),
    (pets_dls, ('pets', 'Abyssinian_1.jpg', pet_files), {}, 'train'),
    (pets_dls, ('pets', pet_files, []), {}, 'valid'),
    (pets_dls, ('pets', pet_files, pet_files), dict(stats=None), 'stats'),
    (pets_dls, ('pets', pet_files, pet_files), dict(no_pet=pet_files[:1]), 'no_pet'),
    (imagenet_resnet, ('resnet18',), dict(weights=None), 'arch'),
    (imagenet_resnet, ('resnet34',), dict(weights='nope'), 'weights'),
    (lite_weights_path, ('lite3',), {}, 'name'),
    (efficientnet_lite, ('lite3',), {}, 'name'),
    (efficientnet_lite, ('lite0',), dict(pretrained='yes'), 'pretrained'),
    (imagenet_top1, (pet_net, {}, IMAGENET_STATS), {}, 'photos'),
    (imagenet_top1, (pet_net, {'a': np.zeros((8, 8, 3), np.uint8)}, None), {}, 'stats'),
    (LiteBody, (nn.Linear(2, 2),), {}, 'model'),
    (resnet_body, (nn.Linear(2, 2),), {}, 'model'),
    (body_features, ('body',), {}, 'body'),
    (body_features, (nn.MaxPool2d(2),), {}, 'body'),
    (body_head_splitter, (nn.Linear(2, 2),), {}, 'model'),
    (RunTitle, ('',), {}, 'title'),
    (RunTitle, (3,), {}, 'title'),
    (pets_learner, (None, 'resnet34'), {}, 'body'),
    (pets_learner, (None, net), dict(pretrained='yes'), 'pretrained'),
    (pets_learner, (None, net), dict(amp='yes'), 'amp'),
    (pets_learner, ('dls', net), {}, 'dls'),
    (pooled_features, (net, None, []), {}, 'items'),
    (pooled_features, ('body', None, pet_files), {}, 'body'),
    (pooled_features, (net, None, pet_files), dict(flip='yes'), 'flip'),
    (linear_probe, (pet_feats[:, 0], pet_y, pet_feats, pet_y), {}, 'x_train'),
    (linear_probe, (pet_feats, pet_y[:5], pet_feats, pet_y), {}, 'y_train'),
    (linear_probe, (pet_feats, pet_y, pet_feats, pet_y), dict(wd=-1.0), 'wd'),
    (linear_probe, (pet_feats, pet_y, pet_feats, pet_y), dict(steps=0), 'steps'),
    (linear_probe, (pet_feats, pet_y.float(), pet_feats, pet_y.float()), {}, 'y_train'),
    (linear_probe, (pet_feats, pet_targs[:1].expand(6, 3), pet_feats, pet_y), {}, 'y_train'),   # multi-hot training targets, class indices for validation
    (predict_items, (None, pet_files), {}, 'learn'),
    (scores, ([0, 1], [0], [True, False]), {}, 'preds'),
    (scores, ([], [], []), {}, 'targs'),
    (lpft_learner, (None, 'body', nn.Linear(4, 3)), {}, 'body'),
    (lpft_learner, (None, net, nn.Linear(4, 3)), dict(amp='yes'), 'amp'),
    (lpft_learner, ('dls', net, nn.Linear(4, 3)), {}, 'dls'),
    (lpft_learner, (pet_dls, pet_net[0], 'probe'), {}, 'probe'),
    (lpft_learner, (pet_dls, pet_net[0], nn.Linear(5, 3)), {}, 'probe'),   # 5 inputs, the body gives 4
    (lpft_learner, (pet_dls, pet_net[0], nn.Linear(4, 3)), dict(bn_stats='on'), 'bn_stats'),
    (lpft_learner, (pet_dls, pet_net[0], nn.Linear(4, 3)), dict(label_smoothing=1.0), 'label_smoothing'),
    (bn_mode_scores, ('model', []), {}, 'model'),
    (bn_mode_scores, (nn.Linear(2, 2), []), {}, 'model'),
    (bn_mode_scores, (nn.Sequential(nn.BatchNorm2d(3)), []), {}, 'batches'),
    (start_gradients, (nn.Linear(2, 2), pet_x, pet_y[:1], {'ce': nn.CrossEntropyLoss()}), {}, 'model'),
    (start_gradients, (pet_net, pet_x, pet_y[:1], {}), {}, 'losses'),
    (sign_test, ([1, 0], [True, False]), {}, 'right_a'),
    (sign_test, ([True], [True, False]), {}, 'right_a'),
    (per_class_accuracy, (torch.tensor([0, 1]), torch.tensor([0])), dict(vocab=['a', 'b']), 'preds'),
    (per_class_accuracy, (torch.tensor([]), torch.tensor([]), ['a']), {}, 'targs'),
    (per_class_accuracy, (torch.tensor([0, 1]), torch.tensor([0, 1]), ['a']), {}, 'vocab'),
    (plot_class_accuracy, (pd.DataFrame(dict(label=['a'], accuracy=[1.])),), {}, 'table'),
    (plot_class_accuracy, ('table',), {}, 'table'),
    (plot_class_accuracy, (pd.DataFrame(dict(label=['a'], accuracy=[1.], train=[3], held_out=[2])),), dict(n_worst=-1), 'n_worst'),
    (confused_pairs, ([0, 1], [0], ['a', 'b']), {}, 'preds'),
    (confused_pairs, ([0, 1], [1, 0], ['a', 'b']), dict(min_count=0), 'min_count'),
    (plot_confusion, ([0], [0], ['a']), dict(classes=['z']), 'classes'),
    (plot_confusion, ([0], [0], ['a']), dict(classes=[]), 'classes'),
    (no_pet_photos, ('no_such_folder',), {}, 'path'),
    (no_pet_photos, (3,), {}, 'path'),
    (no_pet_photos, ('no_such_folder',), dict(per_category=0), 'per_category'),
    (no_pet_photos, ('no_such_folder',), dict(n_categories=1.5), 'n_categories'),
    (exact_match, (pet_probs, pet_targs[:, :2]), {}, 'probs'),
    (exact_match, (pet_probs, pet_targs), dict(thresh=1.5), 'thresh'),
    (exact_match, (pet_probs[:, 0], pet_targs[:, 0]), {}, 'probs'),
    (threshold_sweep, (pet_probs, pet_targs), dict(thresholds=[1.0]), 'thresh'),
    (threshold_sweep, (pet_probs, pet_targs[:, :2]), {}, 'probs'),
    (threshold_sweep, (pet_probs, pet_targs), dict(thresholds=[]), 'thresholds'),
    (threshold_sweep, (pet_probs, pet_targs), dict(rule='one breed'), 'rule'),
    (one_breed_labels, (pet_probs, ['a', 'b', 'c']), {}, 'vocab'),
    (one_breed_labels, (pet_probs[:, :2], ['Bengal', 'cat', 'dog']), {}, 'probs'),
    (one_breed_labels, (pet_probs, ['Bengal', 'cat', 'dog']), dict(thresh=1.5), 'thresh'),
    (grad_cam, (pet_net, pet_x[0], 0), {}, 'x'),
    (grad_cam, (pet_net, pet_x, 3), {}, 'cls'),
    (grad_cam, (pet_net, pet_x, -1), {}, 'cls'),
    (occlusion_map, (pet_net, pet_x[0], 0), {}, 'x'),
    (occlusion_map, (pet_net, pet_x, 0), dict(patch=0), 'patch'),
    (occlusion_map, (pet_net, pet_x, 0), dict(patch=9), 'patch'),
    (occlusion_map, (pet_net, pet_x, 0), dict(patch=2, stride=1.5), 'stride'),
    (occlusion_map, (pet_net, pet_x, 0), dict(patch=2, bs=0), 'bs'),
    (occlusion_map, (pet_net, pet_x, 3), dict(patch=4, stride=4), 'cls'),
    (occlusion_map, (pet_net, pet_x, -1), dict(patch=4, stride=4), 'cls'),
    (show_attention, ('learn', pet_files[:1]), {}, 'learn'),
    (top_k, (None, 'Abyssinian_1.jpg'), dict(k=0), 'k'),
    (top_k, (None, 'Abyssinian_1.jpg'), dict(k=2.0), 'k'),
    (check_head_params, ('1335808',), {}, 'answer'),
    (check_multi_hot, ('multi_hot',), {}, 'fn'),
    (check_balanced_accuracy, (None,), {}, 'fn'),
]

# the explorers that run in the browser (issue 22)
CASES += [
    (conv_explorer, ('digit',), {}, 'img'),
    (conv_explorer, (img,), dict(kernel='nope'), 'kernel'),
    (conv_explorer, (img,), dict(photo=img), 'photo'),
    (conv_explorer, (img,), dict(stride=9), 'stride'),
    (conv_explorer, (img,), dict(padding_mode='edge'), 'padding_mode'),
    (conv_explorer, (img,), dict(kernels={'a': torch.ones(2, 2)}), 'kernels'),
    (receptive_field_explorer, ('digit',), {}, 'img'),
    (receptive_field_explorer, (img,), dict(layers=[('pool', 2)]), 'layers'),
    (receptive_field_explorer, (img,), dict(layers=[('conv', 9)]), 'layers'),
    (receptive_field_explorer, (img,), dict(max_layers=0), 'max_layers'),
]

# core: the pages helpers (issue 20) and the home page's results view
CASES += [
    (disclosures, ('cells',), {}, 'cells'),
    (quote_callout, (3,), {}, 'md'),
    (to_quarto, ([],), dict(mk_cell=3), 'mk_cell'),
    (to_quarto, ([{'source': 'x'}],), {}, 'cells'),
    (QuartoMarkup, ('nb',), {}, 'nb'),
    (source_link, (3,), {}, 'sym'),
    (DocRenderer, (3,), {}, 'sym'),
    (show_doc, ('tidy_path',), {}, 'sym'),
    (show_doc, (tidy_path,), dict(title_level=0), 'title_level'),
    (show_doc, (tidy_path,), dict(name=3), 'name'),
    (smallest_text_pt, ('fig',), {}, 'fig'),
    (record_text_sizes, ('shell',), {}, 'shell'),
    (kernel_metadata, (3,), {}, 'kernel'),
    (kernel_metadata, ('no-such-kernel',), {}, 'kernel'),
    (results_view, (3,), {}, 'results'),
]

EXEMPT = {'DataMissingError', 'course_size', 'by_size', 'default_device', 'Axis', 'FastDropout',
          'check_param_count', 'check_cross_entropy', 'check_dropout_value', 'check_unpermute',
          'ValidateLastEpoch', 'ReleaseMemory', 'release_memory', 'FrozenBNStats'}  # no arguments to get wrong


def _case(c): return c.values if hasattr(c, 'values') else c   # a pytest.param or a plain tuple


@pytest.fixture(autouse=True)
def no_data_no_network(tmp_path_factory, fastai_home, monkeypatch):
    "Every bad argument is refused before any data is read: the walk runs with an empty FASTAI_HOME and no network."
    import socket
    fastai_home(tmp_path_factory.mktemp('empty_fastai_home'))
    def refuse(*args, **kwargs): raise OSError("network disabled by tests/test_bad_inputs.py")
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'getaddrinfo', refuse)

@pytest.mark.parametrize('fn,args,kwargs,word', CASES, ids=[f"{_case(c)[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused(fn, args, kwargs, word, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                                    # nothing may be written beside the tests
    try: result = fn(*args, **kwargs)
    except (ValueError, TypeError) as e:
        assert word.lower() in str(e).lower(), f"{fn.__name__}: the error does not name {word!r}: {e}"
        return
    if isinstance(result, bool) and result is False and fn.__name__.startswith('check_'): return   # an exercise check said "not yet"
    pytest.fail(f"{fn.__name__}{args}{kwargs} returned {result!r} silently")


def test_every_public_function_is_walked():
    public = {n for m in (cnn_course.core, cnn_course.mlp, cnn_course.conv, cnn_course.pool, cnn_course.receptive, cnn_course.resnet, cnn_course.pets) for n in m.__all__ if callable(getattr(m, n)) and getattr(getattr(m, n), '__module__', '') == m.__name__}
    walked = {_case(c)[0].__name__ for c in CASES}
    assert public - EXEMPT - walked == set()


@pytest.mark.parametrize('seed', [np.int64(3), np.int32(3), 3])
def test_numpy_ints_are_valid_seeds(seed):
    assert seed_everything(seed) == 3


def test_check_conv2d_needs_cases(capsys):
    with pytest.raises(ValueError, match='n_cases'): check_conv2d(lambda *a, **k: None, n_cases=0)
    assert 'Right' not in capsys.readouterr().out
