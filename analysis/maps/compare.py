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

import numpy as np
import pandas as pd

from ...core.seeding import as_generator
from . import metrics
from .reliability import average_ranks

__all__ = ["spearman_matrix", "mismatch_test", "compare_maps", "MapComparison"]


def _unit_ranks(maps, shape):
    out = np.empty((len(maps), int(np.prod(shape))))
    for k, m in enumerate(maps):
        z = average_ranks(metrics.resize_map(m, shape))
        z -= z.mean()
        norm = np.sqrt(np.einsum("i,i->", z, z))
        out[k] = z / norm if norm > 0 else np.nan
    return out


def spearman_matrix(maps, references):
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
    """
    shapes = {np.shape(r) for r in references}
    if len(shapes) != 1:
        raise ValueError(f"references must share one shape, got {sorted(shapes)}")
    shape = shapes.pop()
    return _unit_ranks(maps, shape) @ _unit_ranks(references, shape).T


def mismatch_test(r, rng=None, n_resamples=9999):
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


def compare_maps(sources, references, rng=None, fixations=None, ceiling=math.nan, n_resamples=9999,
                 shuffled_auc=True):
    """Compare map sources with reference maps.

    Parameters
    ----------
    sources : dict
        ``source name -> {image_id -> ndarray (h, w)}``.
    references : dict
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
