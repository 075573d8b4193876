"""The bundled sample: real photographs that ship with scikit-image, and two map sources.

Nothing is downloaded: the photographs are scikit-image's own (``skimage.data``), and the
maps are computed here with OpenCV's maintained saliency implementations:

* ``spectral_residual`` — bottom-up saliency from the spectral residual of the log
  amplitude spectrum (Hou & Zhang, 2007), ``cv2.saliency.StaticSaliencySpectralResidual``;
* ``fine_grained`` — bottom-up saliency from centre-surround differences on an
  integral image (Montabone & Soto, 2010), ``cv2.saliency.StaticSaliencyFineGrained``.

Neither is a human importance map: they stand in for the ClickMe (top-down) and SALICON
(bottom-up) sources so that the whole pipeline can run offline. Each map keeps its most
salient ``SAMPLE_TOP_FRACTION`` of pixels (the rest is 0), which sets the feature budget.

scikit-image ships one animal photograph (``chelsea``, a cat); the horse of
``skimage.data.horse`` is a silhouette drawing, kept as the second animal image so that
the categories are balanced (2 animal, 2 non-animal).
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

__all__ = ["SAMPLE_IMAGES", "SAMPLE_SOURCES", "SAMPLE_TOP_FRACTION", "sample_maps", "write_sample_inputs"]

#: image_id -> (loader, category)
SAMPLE_IMAGES = {
    "chelsea": (data.chelsea, "animal"),
    "horse": (data.horse, "animal"),  # boolean: True is the white background
    "coffee": (data.coffee, "nonanimal"),
    "rocket": (data.rocket, "nonanimal"),
}
SAMPLE_SOURCES = ("spectral_residual", "fine_grained")
SAMPLE_TOP_FRACTION = 0.3


def _rgb(image):
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.dtype != np.uint8:
        image = (255 * (image > 0)).astype(np.uint8) if image.dtype == bool else image.astype(np.uint8)
    return image[..., :3]


def sample_maps(image):
    """The two sample importance maps of an RGB uint8 image.

    Returns
    -------
    dict of str -> ndarray of uint8, shape (H, W)
        0 outside the most salient ``SAMPLE_TOP_FRACTION`` of pixels, 1…255 inside.
    """
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    out = {}
    for name, algo in (("spectral_residual", cv2.saliency.StaticSaliencySpectralResidual_create()),
                       ("fine_grained", cv2.saliency.StaticSaliencyFineGrained_create())):
        ok, sal = algo.computeSaliency(bgr)
        if not ok:
            raise RuntimeError(f"OpenCV {name} saliency failed")
        sal = cv2.resize(sal.astype(np.float32), (image.shape[1], image.shape[0]))
        sal = cv2.GaussianBlur(sal, (0, 0), max(image.shape[:2]) / 100)
        cut = np.quantile(sal, 1 - SAMPLE_TOP_FRACTION)
        kept = np.where(sal > cut, sal - cut, 0.0)
        out[name] = np.where(kept > 0, np.maximum(1, np.rint(255 * kept / kept.max())), 0).astype(np.uint8)
    return out


def write_sample_inputs(folder):
    """Write the sample photographs, their maps and ``categories.csv`` into ``folder``.

    Returns
    -------
    dict
        ``{"images": Path, "maps": {source: Path}, "categories": Path}`` — the arguments
        of :func:`reveal.stimuli.build_stimulus_set`.
    """
    folder = Path(folder)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    maps = {s: folder / "maps" / s for s in SAMPLE_SOURCES}
    for p in maps.values():
        p.mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id, (load, category) in SAMPLE_IMAGES.items():
        image = _rgb(load())
        Image.fromarray(image).save(images / f"{image_id}.png")
        for source, m in sample_maps(image).items():
            Image.fromarray(m).save(maps[source] / f"{image_id}.png")
        rows.append({"image_id": image_id, "category": category})
    with open(folder / "categories.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["image_id", "category"])
        writer.writeheader()
        writer.writerows(rows)
    return {"images": images, "maps": maps, "categories": folder / "categories.csv"}
