"""Small real inputs for building stimulus sets: photographs, maps in several formats."""
import csv

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi
from skimage import data

PHOTOS = {"chelsea": (data.chelsea, "animal"), "astronaut": (data.astronaut, "nonanimal"),
          "coffee": (data.coffee, "nonanimal"), "rocket": (data.rocket, "nonanimal")}


def _small(image, side):
    im = Image.fromarray(image)
    im.thumbnail((side, side))  # keeps the aspect ratio (landscape photos stay landscape)
    return np.asarray(im)


@pytest.fixture
def inputs(tmp_path):
    """images/ (4 photos, ~96 px, various aspects), maps/a (PNG), maps/b (NPY), categories.csv."""
    rng = np.random.default_rng(0)
    images, ma, mb = tmp_path / "images", tmp_path / "maps" / "a", tmp_path / "maps" / "b"
    for d in (images, ma, mb):
        d.mkdir(parents=True)
    rows = []
    for name, (load, cat) in PHOTOS.items():
        photo = _small(load(), 96)
        Image.fromarray(photo).save(images / f"{name}.jpg" if name == "rocket" else images / f"{name}.png")
        h, w = photo.shape[:2]
        a = ndi.gaussian_filter(rng.random((h, w)), 4)
        a = np.where(a > np.quantile(a, 0.5), (a - a.min()) / np.ptp(a) * 254 + 1, 0).astype(np.uint8)
        Image.fromarray(a).save(ma / f"{name}.png")
        b = ndi.gaussian_filter(rng.random((h, w)), 2)
        np.save(mb / f"{name}.npy", np.where(b > np.quantile(b, 0.6), b, 0))
        rows.append((name, cat))
    cats = tmp_path / "categories.csv"
    with open(cats, "w", newline="") as fh:
        csv.writer(fh).writerows([("image_id", "category"), *rows])
    return {"images": images, "maps": {"a": ma, "b": mb}, "categories": cats, "root": tmp_path}
