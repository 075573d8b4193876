"""GALA blocks (reveal.models.gala): the block's equations, its placement, the exact start from a pretrained network."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from reveal.core.errors import InputError
from reveal.models.gala import (GalaBlock, add_gala, attention_maps, auto_gala_layers, gala_blocks, gala_sites,
                                map_loss)
from reveal.models.registry import Observer
from reveal.models.sites import ChannelGain, attach_module, find_site


def _block_by_hand(u, w):
    """The paper's equations, one number at a time (numpy, no torch)."""
    c, h, wd = u.shape
    p = u.mean(axis=(1, 2))
    hidden = np.maximum(w["shrink_w"] @ p + w["shrink_b"], 0)
    g = w["expand_w"] @ hidden + w["expand_b"]
    s = np.zeros((h, wd))
    for i in range(h):
        for j in range(wd):
            local = np.maximum(w["local_w"] @ u[:, i, j] + w["local_b"], 0)
            s[i, j] = (w["collapse_w"] @ local + w["collapse_b"]).item()
    gate = np.empty_like(u)
    for k in range(c):
        gate[k] = np.tanh(w["a"][k] * (g[k] + s) + w["m"][k] * (g[k] * s))
    return gate


def test_the_block_computes_the_papers_equations():
    u = np.array([[[1.0, -2.0], [0.5, 3.0]], [[0.0, 1.0], [2.0, -1.0]]])  # C = 2, H = W = 2
    w = {"shrink_w": np.array([[1.0, -1.0]]), "shrink_b": np.array([0.1]),
         "expand_w": np.array([[2.0], [-1.0]]), "expand_b": np.array([0.0, 0.5]),
         "local_w": np.array([[1.0, 1.0]]), "local_b": np.array([-0.5]),
         "collapse_w": np.array([[0.5]]), "collapse_b": np.array([-0.1]),
         "a": np.array([1.0, 0.5]), "m": np.array([0.2, -1.0])}
    gate = _block_by_hand(u, w)
    for residual, expected in ((False, u * gate), (True, u * (1 + gate))):
        block = GalaBlock(2, reduction=2, residual=residual)
        with torch.no_grad():
            block.shrink.weight.copy_(torch.tensor(w["shrink_w"]))
            block.shrink.bias.copy_(torch.tensor(w["shrink_b"]))
            block.expand.weight.copy_(torch.tensor(w["expand_w"]))
            block.expand.bias.copy_(torch.tensor(w["expand_b"]))
            block.local_shrink.weight.copy_(torch.tensor(w["local_w"]).view(1, 2, 1, 1))
            block.local_shrink.bias.copy_(torch.tensor(w["local_b"]))
            block.collapse.weight.copy_(torch.tensor(w["collapse_w"]).view(1, 1, 1, 1))
            block.collapse.bias.copy_(torch.tensor(w["collapse_b"]))
            block.a.copy_(torch.tensor(w["a"]))
            block.m.copy_(torch.tensor(w["m"]))
        block.keep_attention = True
        got = block(torch.tensor(u, dtype=torch.float32)[None])
        np.testing.assert_allclose(got[0].detach().numpy(), expected, rtol=1e-5, atol=1e-6)
        # the attention map: the L2 norm over the channels of each column of the gate applied
        applied = 1 + gate if residual else gate
        np.testing.assert_allclose(block.attention[0].detach().numpy(), np.sqrt((applied ** 2).sum(axis=0)),
                                   rtol=1e-5)


def test_the_paper_block_starts_as_a_gate_the_residual_one_as_the_identity():
    u = torch.randn(3, 16, 6, 6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(GalaBlock(16)(u), u)
    paper = GalaBlock(16, residual=False)(u)
    assert not torch.allclose(paper, u) and (paper.abs() <= u.abs() + 1e-6).all()  # |tanh| < 1 only shrinks
    with pytest.raises(InputError, match="16 channels got a tensor of shape"):
        GalaBlock(16)(torch.zeros(1, 8, 2, 2))


def test_map_loss_is_the_distance_of_unit_maps_and_trains_the_blocks():
    r = torch.rand(4, 28, 28, generator=torch.Generator().manual_seed(0))
    assert float(map_loss(3 * torch.nn.functional.interpolate(r[:, None], size=(14, 14), mode="bicubic",
                                                               align_corners=False)[:, 0].clamp_min(0), r)) < 1e-5
    a = torch.rand(4, 14, 14, generator=torch.Generator().manual_seed(1))
    direct = np.mean([np.linalg.norm(x / np.linalg.norm(x) - y / np.linalg.norm(y))
                      for x, y in zip(a.flatten(1).numpy(), r[:, ::2, ::2].flatten(1).numpy())])
    assert float(map_loss(a, r[:, ::2, ::2])) == pytest.approx(direct, rel=1e-5)
    # at the residual start (A = 0) the loss moves the block: finite, non-zero gradients
    block = GalaBlock(8)
    block.keep_attention = True
    block(torch.rand(2, 8, 14, 14))
    loss = map_loss(block.attention, torch.rand(2, 56, 56))
    loss.backward()
    grads = [p.grad for p in (block.a, block.m)]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.slow  # builds a ResNet-50 (4 s)
def test_auto_placement_is_the_papers_for_resnet50_and_the_14x14_blocks_of_lite0(lite0):
    resnet = Observer.from_module(torchvision.models.resnet50().eval(), "resnet50")
    assert auto_gala_layers(resnet) == [f"layer3.{k}.dense" for k in range(6)]
    assert auto_gala_layers(lite0) == [f"blocks.{k}.dense" for k in range(5, 11)]
    with pytest.raises(InputError, match=r"unknown GALA layer 'layer9'.*layer3\.0\.dense"):
        gala_sites(resnet.module, ["layer9"])
    with pytest.raises(InputError, match="named twice"):
        gala_sites(resnet.module, ["layer3.0.dense", "layer3.0.dense"])
    vgg = Observer.from_module(torchvision.models.vgg11().eval(), "vgg11")
    with pytest.raises(InputError, match="no residual block at 14x14"):
        auto_gala_layers(vgg)


@pytest.mark.slow  # two predict runs (5 s); the blocks' own tests stay in the everyday loop
def test_a_gala_network_starts_exactly_as_the_pretrained_one_through_predict(lite0, tiny_set, tmp_path):
    from reveal.models import predict

    gala = add_gala(lite0)
    assert gala.name == "efficientnet_lite0+gala" and not gala.batchnorm_folding
    assert sorted(gala_blocks(gala.module)) == sorted(f"blocks.{k}.dense" for k in range(5, 11))
    assert not gala_blocks(lite0.module)  # the observer given is left as it was
    plain = predict(tiny_set, lite0, tmp_path / "plain.csv", device="cpu", progress=False)
    augmented = predict(tiny_set, gala, tmp_path / "gala.csv", device="cpu", progress=False)
    delta = np.abs(plain["p_animal"].to_numpy() - augmented["p_animal"].to_numpy())
    assert delta.max() <= 1e-5, delta.max()
    assert (pd.read_csv(tmp_path / "gala.csv")["observer"] == "efficientnet_lite0+gala").all()
    # every block reports its attention map at its own 14 x 14 grid
    x = lite0.preprocess(torch.randint(0, 256, (2, 3, 256, 256), dtype=torch.uint8))
    logits, maps = attention_maps(gala.module.eval(), x)
    assert logits.shape == (2, 1000) and {tuple(m.shape) for m in maps.values()} == {(2, 14, 14)}


def test_blocks_are_saved_and_loaded_with_the_network_and_attached_once():
    plain = Observer.from_module(torchvision.models.resnet18().eval(), "r18")
    trained = add_gala(plain, ["layer2.1.dense", "layer4.0.conv2"], residual=False, seed=3)
    state = trained.module.state_dict()
    assert "layer2.1.bn2.gala.a" in state and "layer4.0.conv2.gala.collapse.weight" in state
    again = add_gala(plain, ["layer2.1.dense", "layer4.0.conv2"], residual=False, seed=4)
    x = plain.preprocess(torch.randint(0, 256, (1, 3, 224, 224), dtype=torch.uint8))
    with torch.no_grad():
        assert not torch.allclose(trained.module(x), again.module(x))
        again.module.load_state_dict(state)
        torch.testing.assert_close(trained.module(x), again.module(x))
    with pytest.raises(InputError, match="already sends its tensor through 'gala'"):
        attach_module(trained.module, find_site(trained.module, "layer4.0.conv2"), ChannelGain(torch.ones(512)), "x")


def test_the_tail_from_a_blocks_input_is_the_rest_of_the_network(lite0):
    from reveal.models.gainfit import block_tail

    resnet = Observer.from_module(torchvision.models.resnet18().eval(), "r18")
    for observer, block in ((lite0, "_blocks.5"), (resnet, "layer3.1")):
        module = observer.module.eval()
        x = observer.preprocess(torch.randint(0, 256, (2, 3, 256, 256), dtype=torch.uint8,
                                              generator=torch.Generator().manual_seed(0)))
        seen = []
        handle = module.get_submodule(block).register_forward_pre_hook(lambda m, args: seen.append(args[0]))
        with torch.no_grad():
            whole = module(x)
            handle.remove()
            torch.testing.assert_close(block_tail(module, block)(seen[0]), whole)
    assert block_tail(resnet.module, "layer3.9") is None and block_tail(resnet.module, "fc") is None
