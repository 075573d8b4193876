"""Fixtures: a tiny hand-made stimulus set and the bundled sample set, built into tmp folders."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from skimage.transform import resize

PHOTOS = {"chelsea": "animal", "coffee": "nonanimal", "rocket": "nonanimal"}
MANIFEST_HEADER = ["stimulus_id", "file", "image_id", "category", "map_source", "level", "level_index",
                   "revealed_px", "image_frac", "feature_budget", "seed"]


def square_photo(name, size=256):
    """A scikit-image photograph centre-cropped to a square and resized, uint8 RGB."""
    img = getattr(skimage.data, name)()
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return (resize(img, (size, size), anti_aliasing=True) * 255).round().astype(np.uint8)


def write_png(path, rgb):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)


def write_tiny_set(root, rng):
    """Each photo intact (one PNG shared by two map sources, as in real sets) and at one level
    where a central disc of 2 % of the pixels shows the photo over uniform noise."""
    root = Path(root)
    rows = []
    yy, xx = np.mgrid[:256, :256]
    disc = (yy - 127.5) ** 2 + (xx - 127.5) ** 2 <= 0.02 * 256 * 256 / np.pi
    for image_id, category in PHOTOS.items():
        img = square_photo(image_id)
        write_png(root / "full" / f"{image_id}.png", img)
        for source in ("srcA", "srcB"):
            noise = rng.integers(0, 256, img.shape, dtype=np.uint8)
            write_png(root / source / f"{image_id}_L00.png", np.where(disc[..., None], img, noise))
            rows.append([f"{image_id}_{source}_L00", f"{source}/{image_id}_L00.png", image_id, category, source,
                         "1", "0", str(int(disc.sum())), f"{disc.mean():.6f}", str(int(disc.sum())), "7"])
            rows.append([f"{image_id}_{source}_full", f"full/{image_id}.png", image_id, category, source,
                         "full", "11", str(256 * 256), "1.000000", str(int(disc.sum())), "7"])
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_HEADER)
        writer.writerows(rows)
    return root


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """12 stimuli (3 photos × 2 sources × {1 %, full}); read-only: copy it before changing it."""
    return write_tiny_set(tmp_path_factory.mktemp("tiny_set"), np.random.default_rng(5))


@pytest.fixture(scope="session")
def sample_set(tmp_path_factory):
    """The toolkit's bundled sample set (4 photos × 2 sources × 12 conditions), built by `reveal stimuli`."""
    from reveal.cli.main import main

    out = tmp_path_factory.mktemp("sample") / "set"
    assert main(["stimuli", "build", "--sample", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="session")
def lite0():
    from reveal.models import load_observer

    return load_observer("efficientnet_lite0")


@pytest.fixture(scope="session")
def sample_predictions(sample_set, lite0, tmp_path_factory):
    """efficientnet_lite0 on the sample set, on the CPU, written to a CSV (path, DataFrame)."""
    from reveal.models import predict

    out = tmp_path_factory.mktemp("pred") / "lite0.csv"
    df = predict(sample_set, lite0, out, device="cpu", progress=False)
    return out, df


@pytest.fixture(scope="session")
def photo():
    """``photo(name)``: a scikit-image photograph as a 256×256 uint8 RGB array."""
    return square_photo
