"""Figures of maps: thumbnails of each image next to its maps, and the reliability spread."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: never open a window (CI, the lab's headless machines)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .metrics import resize_map  # noqa: E402

__all__ = ["thumbnail_grid", "reliability_figure"]


def _norm01(m):
    m = np.asarray(m, dtype=np.float64)
    lo, hi = np.min(m), np.max(m)
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def thumbnail_grid(image_ids, maps, images=None, scores=None, max_rows=8, size=1.6):
    """Each image (a row) with its maps side by side.

    Parameters
    ----------
    image_ids : sequence of str
        Rows, in order (the first ``max_rows``).
    maps : dict
        ``column title -> {image_id -> ndarray (h, w)}``; each map is shown min–max
        normalised at the image's size (or the first column's when there is no image).
    images : dict, optional
        ``image_id -> RGB ndarray (H, W, 3)`` for a first "image" column.
    scores : dict, optional
        ``column title -> {image_id -> float}`` written under the thumbnail (e.g. Spearman
        with the reference).
    max_rows : int
    size : float
        Inches per thumbnail.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ids = list(image_ids)[:max_rows]
    images = images or {}
    scores = scores or {}
    cols = (["image"] if images else []) + list(maps)
    fig, axes = plt.subplots(max(1, len(ids)), max(1, len(cols)), figsize=(size * len(cols), size * len(ids) + 0.3),
                             squeeze=False)
    for r, image_id in enumerate(ids):
        shape = images[image_id].shape[:2] if image_id in images else None
        for c, title in enumerate(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if title == "image":
                if image_id in images:
                    ax.imshow(images[image_id])
            else:
                m = maps[title].get(image_id)
                if m is None:
                    ax.text(0.5, 0.5, "no map", ha="center", va="center", transform=ax.transAxes, fontsize=7)
                else:
                    shape = shape or np.shape(m)
                    ax.imshow(_norm01(resize_map(m, shape)), cmap="inferno", vmin=0, vmax=1)
                    s = scores.get(title, {}).get(image_id)
                    if s is not None and np.isfinite(s):
                        ax.set_xlabel(f"ρ = {s:.2f}", fontsize=7, labelpad=1)
            if r == 0:
                ax.set_title(title.replace(":", ":\n"), fontsize=8)  # model:kind on two lines
            if c == 0:
                ax.set_ylabel(image_id, fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def reliability_figure(per_image):
    """Histogram of per-image split-half reliability against the mismatched-image null.

    Parameters
    ----------
    per_image : pandas.DataFrame
        With columns ``reliability`` and ``null`` (:func:`split_half_reliability`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(4.5, 3))
    data = [per_image[c].dropna().to_numpy() for c in ("reliability", "null")]
    lo = min([d.min() for d in data if d.size] + [0.0])
    bins = np.linspace(lo, 1, 31)
    for d, label, colour in zip(data, ("same image (split-half)", "different images (null)"),
                                ("tab:blue", "tab:grey")):
        if d.size:
            ax.hist(d, bins=bins, alpha=0.6, label=f"{label}: mean {d.mean():.2f}", color=colour)
    ax.set_xlabel("Spearman ρ between half maps")
    ax.set_ylabel("images")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
