"""A training set made from the bundled sample: the worked example of ``reveal train``.

The bundled sample (:mod:`reveal.stimuli.sample`) has four photographs: too few to train a
network and test it on images it has not seen. This set is made from them, with a rule a
network can learn and maps can teach: each picture is a phase-scrambled sample photograph
(its texture, no object) with one small object pasted at a random place — the cat of
``chelsea`` in an "animal" picture, the cup of ``coffee`` in a "non-animal" one — and its map
is a blob on the object (plus a weak centre bias, as people's maps have). Where the category
is decided by a small object placed at random, a network's attention can match the map only
by learning from it: λ = 0 against λ > 0 shows what the maps teach.

The maps are made by this rule, not by people: the set is a worked example of the pipeline,
not evidence about human vision.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from skimage.transform import resize

from ..core.categories import write_categories
from .scramble import phase_scramble

__all__ = ["OBJECTS", "training_sample", "write_training_sample"]

#: category -> (loader, (row slice, column slice) of the object in the photograph)
OBJECTS = {
    "animal": (data.chelsea, (slice(0, 300), slice(40, 420))),   # the cat's head
    "nonanimal": (data.coffee, (slice(10, 390), slice(70, 490))),  # cup and saucer
}
BACKGROUNDS = (data.rocket, data.coffee, data.chelsea)


def training_sample(n: int = 80, size: int = 256, rng=None):
    """``n`` pictures with one small object at a random place, and a map on the object.

    Parameters
    ----------
    n : int
        Pictures, half animal (odd indices), half non-animal.
    size : int
        Side of the square pictures (px).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    images : list of ndarray of uint8, shape (size, size, 3)
    categories : list of str
        ``animal`` / ``nonanimal``.
    maps : list of ndarray of float32, shape (size, size)
        Non-negative; their peak on the object.

    Examples
    --------
    >>> images, categories, maps = training_sample(4, size=96, rng=0)
    >>> images[0].shape, images[0].dtype.name, categories, maps[0].shape
    ((96, 96, 3), 'uint8', ['nonanimal', 'animal', 'nonanimal', 'animal'], (96, 96))
    """
    rng = np.random.default_rng(rng)
    objects = {k: load()[rows, cols] for k, (load, (rows, cols)) in OBJECTS.items()}
    textures = [phase_scramble(resize(load(), (size, size), anti_aliasing=True, preserve_range=True)
                               .astype(np.uint8), rng) for load in BACKGROUNDS]
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    centre = np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (2 * (size / 3) ** 2))
    images, categories, maps = [], [], []
    for i in range(n):
        category = "animal" if i % 2 else "nonanimal"
        obj = objects[category]
        w = int(rng.uniform(0.22, 0.32) * size)
        h = max(8, int(round(w * obj.shape[0] / obj.shape[1])))
        patch = resize(obj, (h, w), anti_aliasing=True, preserve_range=True)
        # inside the central crop a network sees (224 of 256: 1/16 of the side off each border)
        margin = size // 16
        top = int(rng.integers(margin, size - margin - h + 1))
        left = int(rng.integers(margin, size - margin - w + 1))
        img = np.roll(textures[int(rng.integers(len(textures)))], tuple(rng.integers(0, size, 2)), axis=(0, 1))
        img = img.astype(np.float64)
        img[top:top + h, left:left + w] = patch
        cy, cx, r = top + h / 2, left + w / 2, (h + w) / 4
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.8 * r) ** 2))
        images.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        categories.append(category)
        maps.append((blob + 0.05 * centre).astype(np.float32))
    return images, categories, maps


def write_training_sample(folder, n: int = 80, size: int = 256, rng=None) -> dict:
    """Write :func:`training_sample` as ``reveal train`` reads a study.

    ``folder/images/<id>.png``, ``folder/maps/<id>.png`` (8-bit, peak 255) and
    ``folder/categories.csv``.

    Returns
    -------
    dict
        ``{"images": Path, "maps": Path, "categories": Path}``.
    """
    folder = Path(folder)
    images, categories, maps = training_sample(n, size, rng)
    paths = {"images": folder / "images", "maps": folder / "maps", "categories": folder / "categories.csv"}
    paths["images"].mkdir(parents=True, exist_ok=True)
    paths["maps"].mkdir(parents=True, exist_ok=True)
    ids = {}
    for i, (img, category, m) in enumerate(zip(images, categories, maps)):
        image_id = f"{category}{i:03d}"
        Image.fromarray(img).save(paths["images"] / f"{image_id}.png")
        Image.fromarray(np.rint(255 * m / m.max()).astype(np.uint8)).save(paths["maps"] / f"{image_id}.png")
        ids[image_id] = category
    write_categories(paths["categories"], ids)
    return paths
