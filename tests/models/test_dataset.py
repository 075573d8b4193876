import shutil

import pytest
import torch

from reveal.models.dataset import StimulusImages
from reveal.core.stimset import read_stimulus_set
from reveal.core.errors import InputError


def _manifest(root):
    return read_stimulus_set(root).manifest


def test_manifest_is_read_as_written(tiny_set):
    df = _manifest(tiny_set)
    assert len(df) == 12
    assert set(df["level"]) == {"1", "full"}
    assert df["file"].nunique() == 9  # the two sources share the intact image


def test_images_decode_to_uint8_rgb(tiny_set):
    df = _manifest(tiny_set)
    ds = StimulusImages(tiny_set, df["file"].unique())
    i, img, ok = ds[0]
    assert i == 0 and ok
    assert img.dtype == torch.uint8 and img.shape == (256, 256, 3)
    assert ds.size == (256, 256)


def _copy(tiny_set, tmp_path):
    dst = tmp_path / "set"
    shutil.copytree(tiny_set, dst)
    return dst


def test_missing_stimulus_file_names_the_row(tiny_set, tmp_path):
    dst = _copy(tiny_set, tmp_path)
    df = _manifest(dst)
    (dst / df["file"].iat[2]).unlink()
    with pytest.raises(InputError) as err:
        _manifest(dst)
    assert err.value.row == 3 and err.value.path == str(dst / "manifest.csv")
    assert df["file"].iat[2] in str(err.value)


def test_bad_manifests(tiny_set, tmp_path):
    dst = _copy(tiny_set, tmp_path)
    text = (dst / "manifest.csv").read_text()
    (dst / "manifest.csv").write_text(text.replace(",nonanimal,", ",vehicle,", 1))
    with pytest.raises(InputError, match="vehicle"):
        _manifest(dst)
    (dst / "manifest.csv").write_text(text.replace("map_source", "source"))
    with pytest.raises(InputError, match="map_source") as err:
        _manifest(dst)
    assert err.value.row == 0
    lines = text.splitlines()
    (dst / "manifest.csv").write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(InputError, match="duplicate") as err:
        _manifest(dst)
    assert err.value.row == len(lines)
    with pytest.raises(InputError, match="not a stimulus set"):
        _manifest(tmp_path)


def test_undecodable_png_is_flagged(tiny_set, tmp_path):
    dst = _copy(tiny_set, tmp_path)
    df = _manifest(dst)
    (dst / df["file"].iat[0]).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    ds = StimulusImages(dst, df["file"], size=(256, 256))
    _, img, ok = ds[0]
    assert not ok and img.shape == (256, 256, 3)


def test_fingerprint_tells_sets_apart(tiny_set, tmp_path):
    dst = _copy(tiny_set, tmp_path)
    assert read_stimulus_set(dst).fingerprint == read_stimulus_set(tiny_set).fingerprint
    text = (dst / "manifest.csv").read_text()
    (dst / "manifest.csv").write_text(text.replace(",7\n", ",8\n"))  # same stimuli, another seed
    assert read_stimulus_set(dst).fingerprint != read_stimulus_set(tiny_set).fingerprint


def test_images_of_another_size_are_resized_to_the_set_size(tmp_path):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((300, 200, 4), 200, np.uint8)).save(tmp_path / "rgba.png")  # RGBA, 300×200
    Image.fromarray(np.full((256, 256), 50, np.uint8)).save(tmp_path / "grey.png")
    ds = StimulusImages(tmp_path, ["grey.png", "rgba.png"])
    assert ds.size == (256, 256)
    (_, grey, ok1), (_, rgba, ok2) = ds[0], ds[1]
    assert ok1 and ok2 and grey.shape == rgba.shape == (256, 256, 3)
    assert int(grey.min()) == int(grey.max()) == 50 and int(rgba.min()) == int(rgba.max()) == 200
