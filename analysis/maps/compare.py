"""Maps (a model's attention, another map source) against reference human maps.

For each source and image: the metrics of :mod:`reveal.analysis.maps.metrics` between the map
and the reference map (Spearman, CC, SIM, KLD), plus NSS, AUC-Judd and shuffled AUC when
the reference comes with fixations. Per source, the headline is the ClickMe papers':
the mean Spearman correlation with the reference map of the same image, as a **fraction of
the human split-half ceiling** (:mod:`reveal.analysis.maps.reliability`), and a **randomization
test** against the null of mismatched images: the statistic is the mean over images of
``r(map_i, reference_i)``; the null distribution re-pairs maps and references by random
permutations of the images (9,999 by default), ``p = (count + 1) / (resamples + 1)``. The
mean over mismatched pairs (off the diagonal) is reported as ``null``. When the
references differ in size, the mismatched pairs (and the test) are computed with every map
resized to the median reference size; the matched ``spearman`` is always on each
reference's own grid.

All image-by-image correlations come from one matrix product of standardised ranks, so
the permutations cost nothing beyond indexing.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ...core.seeding import as_generator
from . import metrics
from .reliability import unit_ranks

__all__ = ["spearman_matrix", "mismatch_test", "compare_maps", "MapComparison"]


def _unit_ranks(maps, shape):
    out = np.empty((len(maps), int(np.prod(shape))))
    for k, m in enumerate(maps):
        z = unit_ranks(metrics.resize_map(m, shape))
        out[k] = z if z is not None else np.nan
    return out


def spearman_matrix(maps: Sequence[ArrayLike], references: Sequence[ArrayLike]) -> np.ndarray:
    """Spearman correlation of every map with every reference.

    Parameters
    ----------
    maps : sequence of ndarray, each (h, w)
        Resized to the references' shape.
    references : sequence of ndarray, each (H, W), all the same shape

    Returns
    -------
    r : ndarray, shape (len(maps), len(references))
        ``r[i, j]`` = Spearman(maps[i], references[j]); NaN for constant maps.

    Examples
    --------
    >>> import numpy as np
    >>> a, b, c = np.array([[0, 1], [2, 3]]), np.array([[3, 2], [1, 0]]), np.array([[0, 0], [1, 5]])
    >>> np.round(spearman_matrix([a, b, np.ones((4, 4))], [a, c]), 3)
    array([[ 1.   ,  0.949],
           [-1.   , -0.949],
           [   nan,    nan]])
    """
    shapes = {np.shape(r) for r in references}
    if len(shapes) != 1:
        raise ValueError(f"references must share one shape, got {sorted(shapes)}")
    shape = shapes.pop()
    return _unit_ranks(maps, shape) @ _unit_ranks(references, shape).T


def mismatch_test(r: ArrayLike, rng: np.random.Generator | int | None = None,
                  n_resamples: int = 9999) -> tuple[float, float, float]:
    """Randomization test of matched against mismatched map–reference pairs.

    Parameters
    ----------
    r : ndarray, shape (n, n)
        ``r[i, j]``: similarity of map ``i`` with reference ``j`` (diagonal = same image).
    rng : None, int or numpy.random.Generator
    n_resamples : int

    Returns
    -------
    matched : float
        Mean of the diagonal.
    null : float
        Mean off the diagonal (mismatched images).
    p_value : float
        One-sided: matched pairs more similar than random pairings; NaN for fewer than 2
        images.

    Examples
    --------
    Three images have 3! = 6 pairings, so p cannot go below about 1/6:

    >>> import numpy as np
    >>> r = np.array([[0.9, 0.1, 0.2], [0.0, 0.8, 0.1], [0.2, 0.1, 0.7]])
    >>> matched, null, p = mismatch_test(r, rng=0, n_resamples=999)
    >>> print(f"matched {matched:.2f}, null {null:.3f}, p = {p:.3f}")
    matched 0.80, null 0.117, p = 0.161
    """
    rng = as_generator(rng)
    r = np.asarray(r, dtype=np.float64)
    n = len(r)
    diag = np.diag(r)
    matched = float(np.nanmean(diag)) if np.isfinite(diag).any() else math.nan
    if n < 2:
        return matched, math.nan, math.nan
    off = r[~np.eye(n, dtype=bool)]
    null = float(np.nanmean(off)) if np.isfinite(off).any() else math.nan
    rows = np.arange(n)
    count, step = 0, max(1, 1_000_000 // n)  # resamples per chunk: bounded memory for many images
    for start in range(0, n_resamples, step):
        perms = rng.permuted(np.tile(rows, (min(step, n_resamples - start), 1)), axis=1)
        with np.errstate(invalid="ignore"):
            stats_null = np.nanmean(r[rows[None, :], perms], axis=1)
        count += int(np.sum(stats_null >= matched - 1e-14 * max(1.0, abs(matched))))
    return matched, null, (count + 1) / (n_resamples + 1)


class MapComparison:
    """Result of :func:`compare_maps`.

    Attributes
    ----------
    per_image : pandas.DataFrame
        Long form: ``source, image_id, metric, value``.
    summary : pandas.DataFrame
        One row per source: ``source, n_images, spearman, null, p_value, ceiling,
        fraction_of_ceiling`` and the mean of every other metric.
    """

    def __init__(self, per_image, summary):
        self.per_image = per_image
        self.summary = summary


def compare_maps(sources: Mapping[str, Mapping[str, ArrayLike]], references: Mapping[str, ArrayLike],
                 rng: np.random.Generator | int | None = None, fixations: Mapping | None = None,
                 ceiling: float = math.nan, n_resamples: int = 9999, shuffled_auc: bool = True) -> MapComparison:
    """Compare map sources with reference maps.

    Parameters
    ----------
    sources : dict of str to dict of str to ndarray
        ``source name -> {image_id -> ndarray (h, w)}``.
    references : dict of str to ndarray
        ``image_id -> ndarray (H, W)``: the reference (human) maps.
    rng : None, int or numpy.random.Generator
    fixations : dict, optional
        ``image_id -> (points (N, 2) 0-based [row, col], (H, W))`` for the fixation metrics.
    ceiling : float
        Human split-half reliability (Spearman) for ``fraction_of_ceiling``.
    n_resamples : int
        Permutations of the randomization test.
    shuffled_auc : bool
        Compute shuffled AUC (negatives from the other images' fixations on the same grid).

    Returns
    -------
    MapComparison

    Examples
    --------
    A map source close to the references, and one that puts the same centre blob on every
    image (as good on mismatched images as on matched ones):

    >>> import numpy as np
    >>> refs = {"cat": np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]]),
    ...         "dog": np.array([[4, 3, 2], [3, 2, 1], [2, 1, 0]]),
    ...         "owl": np.array([[0, 0, 0], [0, 5, 0], [0, 0, 0]])}
    >>> centre = np.array([[0, 1, 0], [1, 3, 1], [0, 1, 0]])
    >>> sources = {"net": {k: v + 0.5 * np.eye(3) for k, v in refs.items()},
    ...            "centre": {k: centre for k in refs}}
    >>> res = compare_maps(sources, refs, rng=0, ceiling=0.8, n_resamples=99)
    >>> res.summary[["source", "n_images", "spearman", "null", "p_value", "fraction_of_ceiling"]].round(3)
       source  n_images  spearman   null  p_value  fraction_of_ceiling
    0     net         3     0.876 -0.283     0.17                1.095
    1  centre         3     0.200  0.200     1.00                0.250
    >>> net = res.per_image[res.per_image["source"] == "net"]
    >>> net.pivot(index="image_id", columns="metric", values="value").round(3)
    metric       cc    kld    sim  spearman
    image_id
    cat       0.980  0.029  0.933     0.987
    dog       0.980  0.029  0.933     0.987
    owl       0.993  0.167  0.846     0.655
    """
    rng = as_generator(rng)
    rows, summary = [], []
    fixations = fixations or {}
    for name, maps in sources.items():
        ids = [i for i in sorted(references) if i in maps]
        per = {}
        for i in ids:
            vals = {m: f(maps[i], references[i]) for m, f in metrics.MAP_METRICS.items()}
            if i in fixations:
                pts, grid = fixations[i]
                vals["nss"] = metrics.nss(maps[i], pts, shape=grid)
                vals["auc_judd"] = metrics.auc_judd(maps[i], pts, shape=grid)
                if shuffled_auc:
                    others = [fixations[j][0] for j in fixations if j != i and tuple(fixations[j][1]) == tuple(grid)]
                    vals["auc_shuffled"] = (metrics.auc_shuffled(maps[i], pts, np.concatenate(others), rng, shape=grid)
                                            if others else math.nan)
            per[i] = vals
            rows.extend({"source": name, "image_id": i, "metric": m, "value": v} for m, v in vals.items())
        matched = float(np.nanmean([per[i]["spearman"] for i in ids])) if ids else math.nan
        null = p = math.nan
        if len(ids) >= 2:
            shapes = np.array([references[i].shape for i in ids])
            grid = tuple(int(v) for v in np.median(shapes, axis=0))
            refs = [metrics.resize_map(references[i], grid) for i in ids]
            # images of several sizes meet on one grid (the median size) for the mismatched pairs
            _, null, p = mismatch_test(spearman_matrix([maps[i] for i in ids], refs), rng, n_resamples)
        row = {"source": name, "n_images": len(ids), "spearman": matched, "null": null, "p_value": p,
               "ceiling": ceiling,
               "fraction_of_ceiling": matched / ceiling if ceiling and np.isfinite(ceiling) else math.nan}
        for m in sorted({m for v in per.values() for m in v} - {"spearman"}):
            vals = [v[m] for v in per.values() if m in v and np.isfinite(v[m])]
            row[m] = float(np.mean(vals)) if vals else math.nan
        summary.append(row)
    per_image = pd.DataFrame(rows, columns=["source", "image_id", "metric", "value"])
    return MapComparison(per_image, pd.DataFrame(summary))
