"""Attention maps of the bundled network concentrate on the cat of skimage's chelsea."""
import numpy as np
import pandas as pd
import pytest
import torch
from skimage import data

from reveal.models.attention import activation_norm, attention_map, default_layer, full_view
from reveal.models.registry import load_observer

# chelsea is 300x451: the cat's face fills rows 50-280, cols 80-350; the strip right of
# col 395 is out-of-focus background
CAT = (slice(50, 280), slice(80, 350))
BACKGROUND = (slice(0, 300), slice(395, 451))


@pytest.fixture(scope="module")
def observer():
    torch.set_num_threads(2)
    return load_observer("efficientnet_lite0")


@pytest.fixture(scope="module")
def chelsea():
    return data.chelsea()


def _ratio(m):
    return m[CAT].mean() / m[BACKGROUND].mean()


def test_smoothgrad_concentrates_on_the_cat(observer, chelsea):
    m = attention_map(observer, chelsea, "smoothgrad", rng=np.random.default_rng(0), n_samples=4)
    assert m.shape == chelsea.shape[:2]
    assert (m >= 0).all()
    assert _ratio(m) > 1.3


@pytest.mark.slow  # ~15 s of network passes on 2 cores
def test_smoothgrad_is_reproducible_and_top_class_works(observer, chelsea):
    small = chelsea[::2, ::2]
    a = attention_map(observer, small, "smoothgrad", rng=np.random.default_rng(5), n_samples=2, target="top")
    b = attention_map(observer, small, "smoothgrad", rng=np.random.default_rng(5), n_samples=2, target="top")
    np.testing.assert_array_equal(a, b)
    assert a.shape == small.shape[:2]


def test_activation_norm_concentrates_on_the_cat(observer, chelsea):
    layer = default_layer(observer.module, full_view(observer))
    assert layer == "_blocks.15"  # the last block, 8x8 on a 256-px input
    m = attention_map(observer, chelsea, "activation")
    assert m.shape == chelsea.shape[:2]
    assert _ratio(m) > 1.5


def test_centre_crop_leaves_the_unseen_border_at_zero(observer, chelsea):
    m = attention_map(observer, chelsea, "activation", crop=True)
    # the observer's 224 crop of the 256-px resize sees columns ~94-357 of 451
    assert (m[:, :80] == 0).all() and (m[:, 370:] == 0).all()
    assert (m[60:240, 120:330] > 0).all()


def test_unknown_layer_and_kind_raise(observer, chelsea):
    with pytest.raises(AttributeError):
        activation_norm(observer.module, full_view(observer), chelsea, layer="no_such_layer")
    with pytest.raises(ValueError, match="unknown attention kind"):
        attention_map(observer, chelsea, "gradcam")


@pytest.mark.slow  # ~15 s of network passes on 2 cores
def test_written_attention_maps_read_back_through_the_map_folder(observer, tmp_path):
    from reveal.core.mapfiles import read_index, read_maps
    from reveal.models.attention import write_attention_maps

    photos = {"chelsea": data.chelsea()[::3, ::3], "coffee": data.coffee()[::4, ::4]}
    made = write_attention_maps(observer, photos, tmp_path / "att", n_samples=2, seed=3)
    assert list(made) == ["efficientnet_lite0:smoothgrad", "efficientnet_lite0:activation"]
    back = read_maps(tmp_path / "att")
    assert list(back) == list(made)
    for source, maps in made.items():
        for image_id, m in maps.items():
            assert back[source][image_id].shape == photos[image_id].shape[:2]
            np.testing.assert_allclose(back[source][image_id], m.astype(np.float32))
    index = read_index(tmp_path / "att")
    params = index["sources"]["efficientnet_lite0:smoothgrad"]["parameters"]
    assert params == {"model": "efficientnet_lite0", "kind": "smoothgrad", "crop": False, "target": "animal",
                      "n_samples": 2, "noise": 0.15, "seed": 3}
    assert index["sources"]["efficientnet_lite0:activation"]["parameters"]["layer"] == "_blocks.15"
    # the same seed gives the same SmoothGrad maps
    again = write_attention_maps(observer, {"chelsea": photos["chelsea"]}, tmp_path / "again", ["smoothgrad"],
                                 n_samples=2, seed=3)
    np.testing.assert_array_equal(again["efficientnet_lite0:smoothgrad"]["chelsea"],
                                  made["efficientnet_lite0:smoothgrad"]["chelsea"])


@pytest.mark.slow  # ~15 s of network passes on 2 cores
def test_attention_command_writes_a_map_folder(tmp_path, capsys):
    from reveal.core.mapfiles import read_maps
    from reveal.cli.main import main
    from reveal.stimuli.sample import write_sample_inputs

    sample = write_sample_inputs(tmp_path / "sample")
    out = tmp_path / "att"
    assert main(["maps", "attention", "--images", str(sample["images"]), "--kinds", "activation",
                 "--out", str(out), "--no-progress"]) == 0
    maps = read_maps(out)
    assert list(maps) == ["efficientnet_lite0:activation"]
    assert sorted(maps["efficientnet_lite0:activation"]) == ["chelsea", "coffee", "horse", "rocket"]
    assert "efficientnet_lite0:activation: 4 maps" in capsys.readouterr().out
    # the folder is what reveal maps compare reads
    assert main(["maps", "compare", "--attention", str(out), "--reference",
                 f"spectral_residual={sample['maps']['spectral_residual']}", "--ceiling", "0.58",
                 "--resamples", "99", "--out", str(tmp_path / "cmp")]) == 0
    summary = pd.read_csv(tmp_path / "cmp" / "compare_summary.csv")
    assert list(summary["source"]) == ["efficientnet_lite0:activation"]
    assert summary["n_images"].iat[0] == 4
    # bad input is a clean error naming what is wrong
    assert main(["maps", "attention", "--images", str(sample["images"]), "--kinds", "gradcam",
                 "--out", str(out)]) == 2
    assert "gradcam" in capsys.readouterr().err
    assert main(["maps", "attention", "--images", str(sample["images"]), "--kinds", "activation",
                 "--layer", "no_such_layer", "--out", str(out)]) == 2
    assert "no_such_layer" in capsys.readouterr().err
    assert main(["maps", "attention", "--images", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "nowhere" in capsys.readouterr().err
