"""Cue values fitted on photos (reveal.models.gainfit) and `reveal gains` / `reveal predict --gains`."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from reveal.cli.main import main
from reveal.core.errors import InputError
from reveal.core.gainsfile import read_gains
from reveal.models import Observer, head_gradient_values
from reveal.models.gainfit import fit_gains, gradient_values, read_photo_set, site_tail, tuning_values
from reveal.models.sites import find_site, site_activations

torchvision = pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    """The sample's scikit-image photographs (2 animal, 2 non-animal) and categories.csv."""
    from reveal.stimuli.sample import write_sample_inputs

    folder = tmp_path_factory.mktemp("photos")
    inputs = write_sample_inputs(folder)
    return inputs["images"], inputs["categories"]


def test_tuning_values_against_a_hand_computation():
    rng = np.random.default_rng(0)
    means = rng.random((10, 4))
    means[:, 2] = 3.0  # never varies: 0
    labels = np.arange(10) < 4
    sd = means.std(0)
    sd[2] = np.inf  # the hand computation's 0 for a constant channel
    t = (means[labels].mean(0) - means.mean(0)) / sd
    np.testing.assert_allclose(tuning_values(means, labels), t / np.abs(t).max(), rtol=1e-12)
    with pytest.raises(InputError, match="tuning values are all 0"):
        tuning_values(np.ones((4, 3)), [True, False, True, False])


def test_photo_set_needs_both_categories_and_every_file(tmp_path, photo_set):
    images, categories = photo_set
    photos = read_photo_set(images, categories)
    assert len(photos) == 4 and photos.labels.tolist() == [True, True, False, False]
    only = tmp_path / "only.csv"
    only.write_text("image_id,category\nchelsea,animal\nhorse,animal\n")
    with pytest.raises(InputError, match="only animals"):
        read_photo_set(images, only)
    ghost = tmp_path / "ghost.csv"
    ghost.write_text("image_id,category\nchelsea,animal\nunicorn,nonanimal\n")
    with pytest.raises(InputError, match="unicorn") as err:
        read_photo_set(images, ghost)
    assert err.value.path == str(ghost)


def test_image_averaged_gradient_values_at_the_head_are_the_exact_ones(lite0, photo_set):
    # the head's animal score is linear in the pooled features: averaging its gradient over
    # photos must give the data-free values
    photos = read_photo_set(*photo_set)
    got = gradient_values(lite0, find_site(lite0.module, "head"), photos)
    np.testing.assert_allclose(got, head_gradient_values(lite0).double().numpy(), atol=1e-5)


def test_tuning_values_at_a_depthwise_layer_are_normalised_and_deterministic(lite0, photo_set, tmp_path):
    photos = read_photo_set(*photo_set)
    a = fit_gains(lite0, "blocks.10.depthwise", "tuning", photos)
    b = fit_gains(lite0, "blocks.10.depthwise", "tuning", photos)
    assert a.channels == 672 and a.method == "tuning" and a.target == "animal"
    assert np.abs(a.values).max() == pytest.approx(1.0) and np.array_equal(a.values, b.values)
    # they are what the definition says, from the layer's per-photo means
    site = find_site(lite0.module, "blocks.10.depthwise")
    from reveal.stimuli.loaders.images import read_image

    batches = [torch.from_numpy(np.array(read_image(p))).permute(2, 0, 1)[None] for p in photos.paths]
    means = torch.cat([site_activations(lite0, site, x).flatten(2).mean(2) for x in batches]).double().numpy()
    np.testing.assert_allclose(a.values, tuning_values(means, photos.labels), atol=1e-4)  # batched vs one by one
    assert a.inputs["categories"]["sha256"] and a.inputs["images"]["n_files"] == 4


def test_the_tail_after_a_site_reproduces_the_network():
    torch.manual_seed(0)
    resnet = Observer.from_module(torchvision.models.resnet18(weights=None).eval(), "resnet18")
    x = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8)
    with torch.inference_mode():
        want = resnet.module(resnet.preprocess(x))
        for layer in ("layer2", "head"):
            site = find_site(resnet.module, layer)
            got = site_tail(resnet, site)(site_activations(resnet, site, x))
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("k", [10, 11])  # block 10 adds its input back (skip), block 11 does not
def test_the_efficientnet_tail_reproduces_the_network_with_the_block_input_as_context(lite0, k):
    x = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    site = find_site(lite0.module, f"blocks.{k}.depthwise")
    tail = site_tail(lite0, site)
    assert tail.skip == (k == 10) and (tail.context_of == "_blocks.10") == (k == 10)
    with torch.inference_mode():
        want = lite0.module.eval()(lite0.preprocess(x))
        block_input = site_activations(lite0, find_site(lite0.module, f"_blocks.{k}"), x) if tail.skip else None
        if block_input is not None:  # a module's output: the input of the next block is the previous one's output
            block_input = site_activations(lite0, find_site(lite0.module, f"_blocks.{k - 1}"), x)
        got = tail(site_activations(lite0, site, x), block_input)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_toad_is_refused_where_the_rest_of_the_network_is_unknown():
    torch.manual_seed(0)
    resnet = Observer.from_module(torchvision.models.resnet18(weights=None).eval(), "resnet18")
    with pytest.raises(InputError, match=r"TOAD trains at: layer1, layer2, layer3, layer4, head"):
        site_tail(resnet, find_site(resnet.module, "maxpool"))


@pytest.mark.slow  # fits TOAD gains through the bundled network (16 s): the full suite, not the everyday loop
def test_toad_fit_at_a_depthwise_block_with_a_skip(lite0, tmp_path):
    # 25 noise photos per category: the pipeline runs end to end (cache, the skip's context, fit)
    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    rows = ["image_id,category"]
    for i in range(50):
        from PIL import Image

        Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(tmp_path / "img" / f"n{i}.png")
        rows.append(f"n{i},{'animal' if i % 2 else 'nonanimal'}")
    (tmp_path / "cats.csv").write_text("\n".join(rows) + "\n")
    photos = read_photo_set(tmp_path / "img", tmp_path / "cats.csv")
    fitted = fit_gains(lite0, "blocks.14.depthwise", "toad", photos, rng=1, max_epochs=3)
    assert fitted.channels == 1152 and fitted.method == "toad" and (fitted.values >= -1).all()
    stats = fitted.training
    assert stats["n_train"] == 40 and stats["n_held_out"] == 10
    assert stats["loss_after"] <= stats["loss_before"] and stats["epochs"] <= 3


# --------------------------------------------------------------------------- command line

@pytest.mark.slow  # reveal gains fit, then reveal predict (9 s): the full suite, not the everyday loop
def test_cli_fit_then_predict_with_the_gains_file(tmp_path, photo_set, tiny_set, capsys):
    images, categories = photo_set
    out = tmp_path / "g.json"
    assert main(["gains", "fit", "--layer", "blocks.12.depthwise", "--method", "gradient", "--images", str(images),
                 "--categories", str(categories), "--out", str(out)]) == 0
    assert "gradient values toward animal at blocks.12.depthwise of efficientnet_lite0, 1152 channels" in \
        capsys.readouterr().out
    fitted = read_gains(out, model="efficientnet_lite0", layer="blocks.12.depthwise")
    assert np.abs(fitted.values).max() == pytest.approx(1.0)
    pred = tmp_path / "p.csv"
    assert main(["predict", "--stimuli", str(tiny_set), "--gains", str(out), "--strength", "0,3", "--no-progress",
                 "--out", str(pred)]) == 0
    df = pd.read_csv(pred)
    label = "efficientnet_lite0+fsg-gradient(animal,blocks.12.depthwise,{})"
    assert set(df["observer"]) == {label.format(0), label.format(3)}
    plain = tmp_path / "plain.csv"
    assert main(["predict", "--stimuli", str(tiny_set), "--no-progress", "--out", str(plain)]) == 0
    zero = df[df["observer"] == label.format(0)].set_index("stimulus_id")["p_animal"]
    base = pd.read_csv(plain).set_index("stimulus_id")["p_animal"]
    np.testing.assert_allclose(zero.loc[base.index], base, atol=1e-6)
    strong = df[df["observer"] == label.format(3)].set_index("stimulus_id")["p_animal"]
    assert not np.allclose(strong.loc[base.index], base, atol=1e-3)
    # the invalid cue uses -f: another observer label, other answers
    inv = tmp_path / "inv.csv"
    assert main(["predict", "--stimuli", str(tiny_set), "--gains", str(out), "--attend", "nonanimal", "--strength",
                 "3", "--no-progress", "--out", str(inv)]) == 0
    assert set(pd.read_csv(inv)["observer"]) == {"efficientnet_lite0+fsg-gradient(nonanimal,blocks.12.depthwise,3)"}


@pytest.mark.slow  # seven refusals through the command line, each loading the network (4 s)
def test_cli_refuses_bad_cue_specs(tmp_path, photo_set, tiny_set, capsys):
    images, categories = photo_set
    gains = tmp_path / "g.json"
    assert main(["gains", "fit", "--method", "tuning", "--images", str(images), "--categories", str(categories),
                 "--out", str(gains)]) == 0
    capsys.readouterr()
    out = tmp_path / "x.csv"

    def refused(*argv, match):
        assert main(["predict", "--stimuli", str(tiny_set), "--out", str(out), "--no-progress", *argv]) == 2
        err = capsys.readouterr().err
        assert match in err and "Traceback" not in err, err
        assert not out.exists()

    refused("--gains", str(gains), "--gain-layer", "blocks.3.depthwise", match="fitted at layer 'head'")
    refused("--gains", str(gains), "--model", "resnet18", match=f"{gains}: these gains were fitted for model")
    refused("--attend", "animal", "--gain-layer", "blocks.3.depthwise",
            match="reveal gains fit --layer blocks.3.depthwise")
    refused("--attend", "animal", "--gain-layer", "layer9", match="unknown cue layer 'layer9'")
    refused("--gain-layer", "head", match="--gain-layer sets the cue of --attend")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "reveal-gains"}))
    refused("--gains", str(broken), match=str(broken))
    # a signed layer (a batch norm's output, before its ReLU6): named, with the valid layers
    assert main(["gains", "fit", "--layer", "_blocks.3._bn1", "--method", "tuning", "--images", str(images),
                 "--categories", str(categories), "--out", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err
    assert "'_blocks.3._bn1'" in err and "is signed" in err and "blocks.0.depthwise" in err and "Traceback" not in err
    assert not (tmp_path / "s.json").exists()
    # TOAD on four photos: refused, saying how many it needs
    assert main(["gains", "fit", "--method", "toad", "--images", str(images), "--categories", str(categories),
                 "--out", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert "reveal: error: too few examples to fit TOAD gains" in err and "at least 25 of each" in err
    assert "given 2 animal" in err and "Traceback" not in err and not (tmp_path / "t.json").exists()
    assert main(["gains", "fit", "--method", "toad", "--intensity", "1", "--images", str(images),
                 "--categories", str(categories), "--out", str(tmp_path / "t.json")]) == 2
    assert "--intensity must be between 0 and 1" in capsys.readouterr().err


def test_cli_lists_the_layers(capsys):
    assert main(["gains", "layers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("blocks.0.depthwise") and "folds into _blocks.0._project_conv" in lines[0]
    assert lines[16].startswith("head") and "folds into _fc" in lines[16]


def test_a_tiny_network_signed_at_the_head_is_refused_by_the_fit(tmp_path, photo_set):
    net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 1000))
    obs = Observer.from_module(net, "signed")
    with pytest.raises(InputError, match="signed"):
        fit_gains(obs, "head", "tuning", read_photo_set(*photo_set))
