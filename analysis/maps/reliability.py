"""Split-half reliability of ClickMe maps from raw click dumps (inter-rater consistency).

For each image with at least two participants, and each of ``n_splits`` random splits:
the participants are shuffled and cut into two halves (``P // 2`` and the rest); each
half's map is built as the image's map is (mean count map, disk blur of diameter 21
twice: :func:`reveal.stimuli.loaders.clickme.blur_click_map`); the score is the Spearman rank
correlation between the two half maps over pixels, with average ranks for ties. The
image's reliability is the mean over splits; the data set's is the mean over images (the
ClickMe paper reports 0.58).

**Null** (the paper's 0.18): the same statistic between halves of *different* images —
each image is paired with another image (a random cyclic derangement of the images), and
in every split the first half of this image is correlated with a random half of the
partner. Maps that are consistent only because people click the centre or the middle of
the objects score near the null; the gap is what is specific to the image.

**Spearman–Brown** (optional): ``2 r / (1 + r)`` predicts the correlation between two
full-size groups from that of two halves; it is applied to the averaged ``r``.

Work is spread over any :class:`concurrent.futures.Executor` — a
``ProcessPoolExecutor`` for the cores of one machine, or ``Client.get_executor()`` of a
dask.distributed cluster — in tasks of a few images. Each task gets the clicks (small)
rather than maps, and draws from a generator seeded by ``derive_seed(seed, image_id)``,
so the numbers do not depend on the executor, the number of workers or the chunking.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from ...stimuli.loaders.clickme import CLICKME_SHAPE, count_map, disk_sums
from ...core.seeding import as_generator, derive_rng, derive_seed

__all__ = [
    "average_ranks", "unit_ranks", "spearman_brown", "participant_maps", "split_half",
    "ReliabilityResult", "split_half_reliability", "summarize_reliability",
]

log = logging.getLogger(__name__)

def average_ranks(x: ArrayLike) -> np.ndarray:
    """Ranks 1…n with ties given their average rank (``scipy.stats.rankdata``'s 'average').

    Written out because it dominates the reliability run: click maps are mostly zero,
    so when ``x`` is non-negative only the non-zero values are sorted (the zeros share
    the lowest ranks), about twice as fast as ``rankdata`` on ClickMe maps.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ranks : ndarray of float64, shape (x.size,)

    Examples
    --------
    >>> import numpy as np
    >>> average_ranks(np.array([[0, 3], [3, 1]]))
    array([1. , 3.5, 3.5, 2. ])
    >>> average_ranks(np.array([-1.0, 2.0, 2.0]))
    array([1. , 2.5, 2.5])
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    out = np.empty(x.size)
    if x.size and x.min() >= 0:  # pragma: no mutate (> 0, >= 1: the general path ranks alike)
        zero = x == 0  # pragma: no mutate (== -1: no zeros split off, all ranked below alike)
        n0 = int(zero.sum())
        out[zero] = (n0 + 1) / 2
        nz = ~zero
        out[nz] = n0 + _ranks_sorted(x[nz])
        return out
    return _ranks_sorted(x)


def _ranks_sorted(x):
    n = x.size  # (an empty x gives empty ranks below)
    order = np.argsort(x)
    xs = x[order]
    starts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]]))
    ends = np.append(starts[1:], n)
    ranks = np.empty(n)
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def _dot(a, b):
    # einsum, not ``a @ b``: a 1-D BLAS dot may start a thread pool per call, which on a
    # busy machine (or inside worker processes) costs milliseconds instead of microseconds
    return float(np.einsum("i,i->", a, b))


def unit_ranks(x: ArrayLike) -> np.ndarray | None:
    """Centred, unit-norm average ranks of ``x``: the Spearman correlation of two maps is
    then the dot product of their unit ranks (and a matrix product for many maps).

    Parameters
    ----------
    x : ndarray, any shape
        Ranked over all its values (:func:`average_ranks`).

    Returns
    -------
    ndarray of float64, shape (x.size,), or None
        ``(ranks - mean) / norm``; None when ``x`` is constant (all ranks equal: the
        correlation is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> a, b = unit_ranks(np.array([0, 1, 5, 3])), unit_ranks(np.array([0, 2, 3, 4]))
    >>> np.round(a, 3)
    array([-0.671, -0.224,  0.671,  0.224])
    >>> print(f"{a @ b:.1f}")  # scipy.stats.spearmanr([0, 1, 5, 3], [0, 2, 3, 4])
    0.8
    >>> print(unit_ranks(np.ones(3)))
    None
    """
    z = average_ranks(x)
    z -= z.mean()
    norm = np.sqrt(_dot(z, z))
    return z / norm if norm > 0 else None


def spearman_brown(r: float | ArrayLike) -> float | np.ndarray:
    """Spearman–Brown prophecy for doubling the group size: ``2 r / (1 + r)``.

    Parameters
    ----------
    r : float or array_like
        Correlation(s) between halves.

    Returns
    -------
    float or ndarray
        A float for a scalar ``r``.

    Examples
    --------
    >>> import numpy as np
    >>> spearman_brown(0.5)
    0.6666666666666666
    >>> np.round(spearman_brown(np.array([0.2, 0.6])), 3)
    array([0.333, 0.75 ])
    """
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 2 * r / (1 + r)
    return float(out) if out.ndim == 0 else out


def participant_maps(points_per_participant: Sequence[ArrayLike],
                     shape: tuple[int, int] = CLICKME_SHAPE) -> np.ndarray:
    """Blurred click map of each participant, unnormalised and integer-exact.

    The blur is linear, so the blurred mean over any half equals the mean of these
    maps over that half: each participant is blurred once instead of once per split.

    Parameters
    ----------
    points_per_participant : sequence of ndarray, each (N_i, 2) [x, y] 0-based
    shape : tuple of int
        (H, W).

    Returns
    -------
    maps : ndarray of float64, shape (P, H, W)
        The exact integer disk sums (:func:`reveal.stimuli.loaders.clickme.disk_sums`: the blur of
        ``blur_click_map`` without its normalisation ``1 / disk_area**2``, which Spearman
        ignores). A
        half's mean is then a sum of integers divided once, so pixels whose maps are equal
        in exact arithmetic tie bit for bit in the ranks — with normalised maps the sums of
        rounded fractions broke ~40 % of those ties at random — and pixels no click reaches
        are exactly 0.

    Examples
    --------
    >>> import numpy as np
    >>> maps = participant_maps([np.array([[8, 8], [9, 10]]), np.array([[40, 5]])], shape=(48, 48))
    >>> maps.shape, bool((maps == np.round(maps)).all())
    ((2, 48, 48), True)
    """
    out = np.empty((len(points_per_participant), *shape))
    for i, pts in enumerate(points_per_participant):
        out[i] = disk_sums(count_map(pts, shape))
    return out


def split_half(maps: np.ndarray, n_splits: int, rng: np.random.Generator | int | None = None,
               partner_maps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split-half Spearman correlations of one image.

    Parameters
    ----------
    maps : ndarray, shape (P, H, W), P >= 2
        Per-participant blurred maps (:func:`participant_maps`).
    n_splits : int
    rng : numpy.random.Generator
    partner_maps : ndarray, shape (Q, H, W), Q >= 2, optional
        Another image's participant maps, for the null.

    Returns
    -------
    r : ndarray, shape (n_splits,)
        Spearman correlation of the two halves' mean maps (NaN when a half is constant,
        e.g. when nobody in it clicked).
    null : ndarray, shape (n_splits,)
        Spearman correlation of this image's first half with a random half of the partner
        (NaN without a partner).

    Examples
    --------
    Three participants click near the top left of one image; the partner image's two
    near the bottom right:

    >>> import numpy as np
    >>> maps = participant_maps([np.array([[8, 8], [9, 10]]), np.array([[10, 8]]),
    ...                          np.array([[7, 9], [40, 5]])], shape=(48, 48))
    >>> partner = participant_maps([np.array([[40, 40]]), np.array([[38, 41]])], shape=(48, 48))
    >>> r, null = split_half(maps, 4, rng=0, partner_maps=partner)
    >>> np.round(r, 3), np.round(null, 3)
    (array([0.608, 0.727, 0.781, 0.727]), array([-0.561, -0.433, -0.432, -0.443]))
    """
    rng = as_generator(rng)
    p = len(maps)
    if p < 2:
        raise ValueError(f"a split needs at least 2 participants, got {p}")
    r = np.full(n_splits, np.nan)
    null = np.full(n_splits, np.nan)
    for s in range(n_splits):
        perm = rng.permutation(p)
        a = unit_ranks(maps[perm[: p // 2]].mean(axis=0))
        b = unit_ranks(maps[perm[p // 2:]].mean(axis=0))
        if a is not None and b is not None:
            r[s] = _dot(a, b)
        if partner_maps is not None:
            q = len(partner_maps)
            half = rng.permutation(q)[q // 2:]
            c = unit_ranks(partner_maps[half].mean(axis=0))
            if a is not None and c is not None:
                null[s] = _dot(a, c)
    return r, null


def _image_job(job):
    """Worker: reliability of a few images. Top-level so that it pickles."""
    out = []
    for image_id, points, partner_points, shape, n_splits, seed in job:
        rng = derive_rng(seed, image_id)
        maps = participant_maps(points, shape)
        partner = participant_maps(partner_points, shape) if partner_points is not None else None
        r, null = split_half(maps, n_splits, rng, partner)
        out.append({
            "image_id": image_id, "n_participants": len(points), "n_splits": n_splits,
            "valid_splits": int(np.isfinite(r).sum()),
            "reliability": float(np.nanmean(r)) if np.isfinite(r).any() else math.nan,
            "null": float(np.nanmean(null)) if np.isfinite(null).any() else math.nan,
        })
    return out


@dataclass
class ReliabilityResult:
    """Per-image split-half reliability.

    Attributes
    ----------
    per_image : pandas.DataFrame
        ``image_id, n_participants, n_splits, valid_splits, reliability, null``.
    skipped : list of str
        Images with fewer than two participants (no split possible).
    partners : dict
        ``image_id -> image_id`` whose halves gave the null.
    """

    per_image: pd.DataFrame
    skipped: list = field(default_factory=list)
    partners: dict = field(default_factory=dict)


def _clicks_of(clicks):
    # a ClickDump, or a mapping image_id -> list of per-participant point arrays
    if hasattr(clicks, "image_ids") and hasattr(clicks, "points"):  # pragma: no mutate (or: a dump has both)
        return {i: clicks.points(i) for i in clicks.image_ids()}, tuple(clicks.shape)
    return dict(clicks), None


def split_half_reliability(clicks, n_splits=100, seed=0, shape=None, executor=None,
                           images_per_task=4,  # pragma: no mutate (any chunk size gives the same rows)
                           progress=False):
    """Split-half reliability of every image of a click dump, with its null.

    Parameters
    ----------
    clicks : ClickDump or dict of str to list of ndarray
        A click dump (:func:`reveal.stimuli.loaders.read_click_csv`), or
        ``image_id -> list of (N_i, 2) [x, y] arrays`` (one per participant).
    n_splits : int
        Random splits per image (the null draws as many).
    seed : int
        Base seed; image ``i`` draws from ``derive_seed(seed, i)``.
    shape : tuple of int, optional
        (H, W); default the dump's shape, else 256×256.
    executor : concurrent.futures.Executor, optional
        Where the images are computed (``None``: here, serially).
    images_per_task : int
        Images per submitted task (fewer, larger tasks cost less to schedule).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    ReliabilityResult

    Examples
    --------
    ``owl`` has one participant only (skipped); ``cat`` and ``dog`` are each other's
    partner for the null:

    >>> import numpy as np
    >>> clicks = {"cat": [np.array([[8, 8], [9, 10]]), np.array([[10, 8]]), np.array([[7, 9], [40, 5]])],
    ...           "dog": [np.array([[40, 40]]), np.array([[38, 41], [41, 39]])],
    ...           "owl": [np.array([[20, 20]])]}
    >>> result = split_half_reliability(clicks, n_splits=10, seed=0, shape=(48, 48))
    >>> result.per_image[["image_id", "n_participants", "reliability", "null"]].round(3)
      image_id  n_participants  reliability   null
    0      cat               3        0.701 -0.486
    1      dog               2        0.972 -0.556
    >>> result.skipped, result.partners
    (['owl'], {'cat': 'dog', 'dog': 'cat'})
    """
    points, dump_shape = _clicks_of(clicks)
    shape = tuple(shape or dump_shape or CLICKME_SHAPE)
    if n_splits < 1:
        raise ValueError("n_splits must be at least 1")
    eligible = [i for i in sorted(points) if len(points[i]) >= 2]
    skipped = [i for i in sorted(points) if len(points[i]) < 2]
    if skipped:
        log.warning("%d image(s) with fewer than 2 participants skipped (no split possible)", len(skipped))
    partners = {}
    if len(eligible) >= 2:
        # a random cyclic derangement: every image gets a different image as its partner
        order = derive_rng(seed, "null-partners").permutation(len(eligible))
        for k, idx in enumerate(order):
            partners[eligible[idx]] = eligible[order[(k + 1) % len(order)]]
    jobs = [(i, list(points[i]), list(points[partners[i]]) if i in partners else None, shape, n_splits, seed)
            for i in eligible]
    step = max(1, images_per_task)  # pragma: no mutate (2: bigger tasks, same results; 0 or less: one image per task)
    chunks = [jobs[k:k + step] for k in range(0, len(jobs), step)]
    if executor is None:
        results = map(_image_job, chunks)
    else:
        futures = [executor.submit(_image_job, c) for c in chunks]
        results = (f.result() for f in futures)
    if progress:
        from tqdm.auto import tqdm
        results = tqdm(results, total=len(chunks), unit="task", desc="split-half")
    rows = [row for chunk in results for row in chunk]
    columns = ["image_id", "n_participants", "n_splits", "valid_splits", "reliability", "null"]
    return ReliabilityResult(pd.DataFrame(rows, columns=columns), skipped, partners)


def _paired_p(diff, seed):
    """One-sided sign-flip randomization test that mean(reliability - null) > 0."""
    diff = diff[np.isfinite(diff)]
    if diff.size < 2:
        return math.nan
    res = stats.permutation_test((diff,), np.mean, permutation_type="samples", n_resamples=9999,
                                 alternative="greater", rng=np.random.default_rng(derive_seed(seed, "p")))
    return float(res.pvalue)


def summarize_reliability(result, categories=None, spearman_brown_correction=False, seed=0):
    """The reliability table: one row per image, per category and overall.

    Parameters
    ----------
    result : ReliabilityResult
    categories : dict, optional
        ``image_id -> category``; images without one are ``"uncategorised"``.
    spearman_brown_correction : bool
        Add ``reliability_sb`` and ``null_sb`` (Spearman–Brown of the averaged r).
    seed : int
        Seed of the randomization test (``p_value``: reliability above the null,
        sign flips of the per-image differences, 9,999 resamples).

    Returns
    -------
    pandas.DataFrame
        ``scope (image|category|overall), image_id, category, n_images, n_skipped,
        n_participants, reliability, null, [reliability_sb, null_sb,] p_value``.

    Examples
    --------
    >>> import numpy as np
    >>> clicks = {"cat": [np.array([[8, 8], [9, 10]]), np.array([[10, 8]]), np.array([[7, 9], [40, 5]])],
    ...           "dog": [np.array([[40, 40]]), np.array([[38, 41], [41, 39]])],
    ...           "owl": [np.array([[20, 20]])]}
    >>> result = split_half_reliability(clicks, n_splits=10, seed=0, shape=(48, 48))
    >>> table = summarize_reliability(result, categories={"cat": "animal", "dog": "animal", "owl": "animal"})
    >>> table[["scope", "image_id", "category", "n_images", "n_skipped", "reliability", "null"]].round(3)
          scope image_id category  n_images  n_skipped  reliability   null
    0     image      cat   animal         1          0        0.701 -0.486
    1     image      dog   animal         1          0        0.972 -0.556
    2  category            animal         2          1        0.836 -0.521
    3   overall                           2          1        0.836 -0.521
    """
    per = result.per_image.copy()
    categories = categories or {}
    none = "uncategorised" if categories else ""
    per["category"] = [categories.get(i, none) for i in per["image_id"]]
    skipped_cat = pd.Series([categories.get(i, none) for i in result.skipped], dtype=object)
    rows = []
    for rec in per.itertuples(index=False):  # pragma: no mutate (index=True: the fields are read by name)
        rows.append({"scope": "image", "image_id": rec.image_id, "category": rec.category, "n_images": 1,
                     "n_skipped": 0, "n_participants": rec.n_participants,
                     "reliability": rec.reliability, "null": rec.null, "p_value": math.nan})

    def pooled(scope, frame, category, n_skipped):
        return {"scope": scope, "image_id": "", "category": category, "n_images": len(frame),
                "n_skipped": n_skipped,
                "n_participants": float(frame["n_participants"].mean()) if len(frame) else math.nan,
                "reliability": float(frame["reliability"].mean()) if len(frame) else math.nan,
                "null": float(frame["null"].mean()) if len(frame) else math.nan,
                "p_value": _paired_p((frame["reliability"] - frame["null"]).to_numpy(float), seed)}

    if categories:
        for cat in sorted(set(per["category"]) | set(skipped_cat)):
            rows.append(pooled("category", per[per["category"] == cat], cat, int((skipped_cat == cat).sum())))
    rows.append(pooled("overall", per, "", len(result.skipped)))
    table = pd.DataFrame(rows)
    if spearman_brown_correction:
        table.insert(table.columns.get_loc("null") + 1, "reliability_sb", spearman_brown(table["reliability"]))
        table.insert(table.columns.get_loc("reliability_sb") + 1, "null_sb", spearman_brown(table["null"]))
    return table
