"""Figures of maps: thumbnails of each image next to its maps, and the reliability spread."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..figures import new_figure  # an Agg canvas of its own: no pyplot, the user's backend untouched
from .metrics import resize_map

__all__ = ["thumbnail_grid", "reliability_figure"]


def _norm01(m):
    m = np.asarray(m, dtype=np.float64)
    lo, hi = np.min(m), np.max(m)
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def _wrap_title(title, width):
    """A column title in lines of at most ``width`` characters: ``model:kind`` on two lines, and a long
    name (``efficientnet_lite0+gala(lambda-6)``) broken after ``+ _ ( -`` (else anywhere), so that it
    stays above its own thumbnail instead of running off the figure.

    Examples
    --------
    >>> print(_wrap_title("efficientnet_lite0+gala(lambda-6):smoothgrad", 17))
    efficientnet_
    lite0+gala(
    lambda-6):
    smoothgrad
    """
    lines = []
    for part in title.replace(":", ":\n").split("\n"):
        while len(part) > width:
            cut = max(part.rfind(ch, 0, width) for ch in "+_(- ") + 1
            cut = cut if cut > 0 else width
            lines.append(part[:cut])
            part = part[cut:]
        lines.append(part)
    return "\n".join(line for line in lines if line)


def thumbnail_grid(image_ids: Sequence[str], maps: Mapping[str, Mapping[str, np.ndarray]],
                   images: Mapping[str, np.ndarray] | None = None,
                   scores: Mapping[str, Mapping[str, float]] | None = None, max_rows: int = 8,
                   size: float = 1.6) -> Figure:
    """Each image (a row) with its maps side by side.

    Parameters
    ----------
    image_ids : sequence of str
        Rows, in order (the first ``max_rows``).
    maps : dict of str to dict of str to ndarray
        ``column title -> {image_id -> ndarray (h, w)}``; each map is shown min–max
        normalised at the image's size (or the first column's when there is no image).
    images : dict of str to ndarray, optional
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

    Examples
    --------
    Two images (rows) and two map columns; the second has no map of ``dog``:

    >>> import numpy as np
    >>> maps = {"reference": {"cat": np.eye(3), "dog": np.ones((3, 3))}, "net:smoothgrad": {"cat": np.eye(3)}}
    >>> fig = thumbnail_grid(["cat", "dog"], maps, scores={"net:smoothgrad": {"cat": 0.91}})
    >>> [(ax.get_ylabel(), ax.get_xlabel()) for ax in fig.axes]
    [('cat', ''), ('', 'ρ = 0.91'), ('dog', ''), ('', '')]
    >>> fig.axes[3].texts[0].get_text()
    'no map'
    """
    ids = list(image_ids)[:max_rows]
    images = images or {}
    scores = scores or {}
    cols = (["image"] if images else []) + list(maps)
    titles = {c: _wrap_title(c, max(8, int(size * 14))) for c in cols}
    title_lines = max((t.count("\n") + 1 for t in titles.values()), default=1)
    # room for the titles' lines (8 pt, about 0.14 inch each) above the first row
    fig = new_figure(figsize=(size * len(cols), size * len(ids) + 0.2 + 0.14 * title_lines))
    axes = fig.subplots(max(1, len(ids)), max(1, len(cols)), squeeze=False)
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
                ax.set_title(titles[title], fontsize=8)
            if c == 0:
                ax.set_ylabel(image_id, fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def reliability_figure(per_image: pd.DataFrame) -> Figure:
    """Histogram of per-image split-half reliability against the mismatched-image null.

    Parameters
    ----------
    per_image : pandas.DataFrame
        With columns ``reliability`` and ``null`` (:func:`split_half_reliability`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> fig = reliability_figure(pd.DataFrame({"reliability": [0.6, 0.7, 0.55], "null": [0.2, 0.1, np.nan]}))
    >>> for t in fig.axes[0].get_legend().get_texts():
    ...     print(t.get_text())
    same image (split-half): mean 0.62
    different images (null): mean 0.15
    """
    fig = new_figure(figsize=(4.5, 3))
    ax = fig.subplots()
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
