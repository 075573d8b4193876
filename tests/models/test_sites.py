"""Cue sites (reveal.models.sites): the layers a cue acts on, folded or hooked, checked rectified."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from reveal.core.errors import InputError
from reveal.models import Observer, cue_observer
from reveal.models.sites import attach_gains, check_site, cue_sites, find_site, site_activations

torchvision = pytest.importorskip("torchvision")


def random_images(n, seed, size=224):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _logits(observer, x):
    with torch.inference_mode():
        return observer.prepare("cpu")(x)


class TinyVGG(nn.Module):
    """torchvision's VGG layout (features, avgpool, classifier) at a size a test can run."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(nn.Linear(64, 32), nn.ReLU(inplace=True), nn.Dropout(), nn.Linear(32, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return Observer.from_module(torchvision.models.resnet18(weights=None).eval(), "resnet18")


@pytest.fixture(scope="module")
def tiny_vgg():
    torch.manual_seed(1)
    return Observer.from_module(TinyVGG().eval(), "tinyvgg")


def test_named_sites_of_the_three_families(lite0, resnet, tiny_vgg):
    lite = cue_sites(lite0.module)
    assert [s.name for s in lite] == [f"blocks.{k}.depthwise" for k in range(16)] + ["head"]
    assert all(s.foldable and s.where == "input" for s in lite)  # 1×1 projections and the classifier
    assert lite[3].module == "_blocks.3._project_conv"
    assert [s.name for s in cue_sites(resnet.module)] == ["layer1", "layer2", "layer3", "layer4", "head"]
    vgg = {s.name: s for s in cue_sites(tiny_vgg.module)}
    assert list(vgg) == ["features.1", "block1_pool", "features.4", "features.6", "block2_pool", "head"]
    # a ReLU or pool read whole by the next convolution folds into it; one before a pool or the end is hooked
    assert (vgg["features.1"].where, vgg["features.1"].foldable) == ("output", False)  # a max-pool follows
    assert (vgg["block1_pool"].module, vgg["block1_pool"].foldable) == ("features.3", True)
    assert (vgg["features.4"].module, vgg["features.4"].foldable) == ("features.5", True)
    assert (vgg["block2_pool"].module, vgg["block2_pool"].where) == ("features.7", "output")
    # the papers' layers in the real vgg16: block4_pool folds into conv5_1, block5_pool (7×7×512) is hooked
    real = {s.name: s for s in cue_sites(torchvision.models.vgg16())}
    assert (real["block4_pool"].module, real["block4_pool"].foldable) == ("features.24", True)
    assert (real["block5_pool"].module, real["block5_pool"].where) == ("features.30", "output")


# blocks.2 (112 x 112, 10 s) in the full suite; blocks.11 checks the same rule in the everyday loop
@pytest.mark.parametrize("layer", [pytest.param("blocks.2.depthwise", marks=pytest.mark.slow), "blocks.11.depthwise"])
def test_a_depthwise_site_is_rectified_and_folded_and_hooked_agree(lite0, layer):
    site = find_site(lite0.module, layer)
    channels = check_site(lite0, site)
    x = random_images(3, seed=2)
    acts = site_activations(lite0, site, x)
    assert acts.shape[1] == channels and float(acts.amin()) >= 0  # ReLU6 output
    values = torch.linspace(-1, 1, channels)[torch.randperm(channels, generator=torch.Generator().manual_seed(3))]
    folded = cue_observer(lite0, 1.5, values=values, layer=layer, method="fsg-gradient")
    hooked = cue_observer(lite0, 1.5, values=values, layer=layer, fold=False, check=False, method="fsg-gradient")
    assert folded.name == f"efficientnet_lite0+fsg-gradient(animal,{layer},1.5)"
    xp = lite0.preprocess(x)
    a, b, plain = _logits(folded, xp), _logits(hooked, xp), _logits(lite0, xp)
    torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-4)
    assert not torch.allclose(a, plain, atol=1e-2)
    # strength 0 is the plain network, bit for bit, folded
    zero = cue_observer(lite0, 0.0, values=values, layer=layer, method="fsg-gradient", check=False)
    assert torch.equal(_logits(zero, xp), plain)


@pytest.mark.slow  # traces and fuses a ResNet with torch.fx (12 s): the full suite, not the everyday loop
def test_a_hook_survives_torch_fx_fusion(resnet):
    # prepare() fuses a ResNet's batch norms with torch.fx; the stage hook must still act:
    # zero gains after layer4 leave the classifier only its bias
    x = resnet.preprocess(random_images(2, seed=4))
    c = check_site(resnet, find_site(resnet.module, "layer4"))
    cued = cue_observer(resnet, 1.0, values=-torch.ones(c), layer="layer4", method="fsg-tuning")
    assert "hooked after 'layer4'" in cued.description
    logits = _logits(cued, x)
    torch.testing.assert_close(logits, resnet.module.fc.bias.detach().expand(2, -1), atol=1e-6, rtol=0)
    ones = cue_observer(resnet, 0.0, values=-torch.ones(c), layer="layer4", method="fsg-tuning", check=False)
    torch.testing.assert_close(_logits(ones, x), _logits(resnet, x), atol=1e-5, rtol=1e-5)


def test_vgg_pool_sites_fold_and_hook_the_same_gains(tiny_vgg):
    x = tiny_vgg.preprocess(random_images(2, seed=5))
    for layer, channels in (("block1_pool", 8), ("block2_pool", 16), ("features.4", 16)):
        assert check_site(tiny_vgg, find_site(tiny_vgg.module, layer)) == channels
        g = torch.rand(channels, generator=torch.Generator().manual_seed(6)) * 2 - 1
        folded = cue_observer(tiny_vgg, 1.0, values=g, layer=layer, method="fsg-tuning")
        hooked = cue_observer(tiny_vgg, 1.0, values=g, layer=layer, fold=False, method="fsg-tuning")
        torch.testing.assert_close(_logits(folded, x), _logits(hooked, x), atol=1e-5, rtol=1e-5)


def test_any_non_negative_module_is_a_site_and_a_signed_or_shared_one_is_refused(lite0, resnet):
    site = find_site(resnet.module, "layer3.1.relu")  # called twice per block: refused
    with pytest.raises(InputError, match="runs 2 times per forward pass"):
        check_site(resnet, site)
    ok = find_site(resnet.module, "maxpool")
    assert check_site(resnet, ok) == 64
    with pytest.raises(InputError, match=r"'layer3.0.bn1' .*is signed.*named layers: layer1, layer2, layer3"):
        check_site(resnet, find_site(resnet.module, "layer3.0.bn1"))
    with pytest.raises(InputError, match="runs 2 times"):  # efficientnet's ReLU6 serves both stages of a block
        check_site(lite0, find_site(lite0.module, "_blocks.3._swish"))
    with pytest.raises(InputError, match=r"unknown cue layer 'block9_pool'; this model's named layers: "
                                         r"blocks.0.depthwise, .*blocks.15.depthwise, head"):
        find_site(lite0.module, "block9_pool")
    with pytest.raises(InputError, match="reveal gains fit --layer blocks.4.depthwise"):
        cue_observer(lite0, 1.0, layer="blocks.4.depthwise")  # no data-free values below the head


def test_attach_gains_refuses_a_wrong_channel_count():
    net = nn.Sequential(nn.ReLU(), nn.Linear(4, 1000))
    with pytest.raises(InputError, match="3 gains for 'head', which has 4 channels"):
        attach_gains(net, find_site(net, "head"), torch.ones(3))
