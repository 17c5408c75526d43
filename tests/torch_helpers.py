"Small tensor helpers shared by the test modules (importable because pytest puts tests/ on sys.path)."
import torch
import torch.nn as nn


def seeded_randn(*shape, seed=0):
    "A normal tensor of `shape` drawn from its own generator: the same numbers whatever ran before."
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def randomise_bn(model, seed=0):
    "Give every BN random weights and running statistics, so that eval mode checks each BN sits where torchvision's does."
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g)); m.bias.copy_(0.1*torch.randn(c, generator=g))
                m.running_mean.copy_(0.1*torch.randn(c, generator=g)); m.running_var.copy_(0.5 + torch.rand(c, generator=g))
    return model
