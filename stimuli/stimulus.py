"""The stimuli of one image: every map source at every level, plus the intact image.

Pure functions, arrays in and arrays out; :mod:`reveal.stimuli.build` does the file work.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .compose import CENTRING_MODES, LEVELS, composite, important_pixels, level_pixel_counts, level_shifts, shift
from .reveal import reveal_order
from .scramble import SCRAMBLE_MODES, phase_scramble_with_stats
from ..core.levels import check_levels
from ..core.seeding import derive_rng, derive_seed

__all__ = ["RevealParams", "Stimulus", "check_map", "image_background", "image_stimuli"]


@dataclass(frozen=True)
class RevealParams:
    """Every parameter that decides the pixels of a stimulus set (stored in ``stimset.json``).

    Attributes
    ----------
    size : int
        Stimulus side in pixels (humans saw 256×256).
    fit : {'crop', 'stretch'}
        How photographs of any aspect become square (see :mod:`reveal.stimuli.geometry`).
    seed : int
        Set seed; every draw is seeded from (seed, image, source) — the levels of one
        image and source are prefixes of one reveal order, so they need no draw of
        their own, and the scramble is drawn once per image (seeded from (seed, image))
        so that conditions differ only in what is revealed.
    connectivity : {4, 8}
    threshold : float
        A pixel is important when its min–max normalised map value is above this.
    noise, noise_scale, distance_weight : float
        Flood-fill parameters, see :func:`reveal.stimuli.reveal.flood_priority`.
    levels : tuple of float
        Percent of the feature budget at each reveal level (default: 11 log-spaced, 1 %…100 %):
        at least one, each in (0, 100], strictly increasing and distinct at 3 significant digits
        (:func:`reveal.core.levels.check_levels`; stored as floats). The intact image follows them
        (``level_index`` = their number).
    centre : bool
        Move the revealed region's centroid to the image centre (as far as the region
        can move without leaving the image; see :func:`reveal.stimuli.compose.centring_shift`).
    centring : {'per_level', 'full_extent'}
        With ``centre``: centre every level's own region (default, so the 1 % patch is at
        fixation), or shift every level by the shift that centres the 100 % region.
    scramble : {'periodic', 'plain'}
        Background from the image's periodic component (no border plaid; default) or from
        the image itself (see :mod:`reveal.stimuli.scramble`).
    scramble_iterations : int
        At most this many rounds of "clip to range, restore the spectrum" (0: clip once).
    """

    size: int = 256
    fit: str = "crop"
    seed: int = 0
    connectivity: int = 4
    threshold: float = 0.0
    noise: float = 0.05
    noise_scale: float = 2.0
    distance_weight: float = 0.25
    levels: tuple = field(default_factory=lambda: tuple(float(v) for v in LEVELS))
    centre: bool = True
    centring: str = "per_level"
    scramble: str = "periodic"
    scramble_iterations: int = 20

    def __post_init__(self):
        object.__setattr__(self, "levels", check_levels(self.levels))  # frozen: set once, checked
        if self.centring not in CENTRING_MODES:
            raise ValueError(f"centring must be one of {CENTRING_MODES}, got {self.centring!r}")
        if self.scramble not in SCRAMBLE_MODES:
            raise ValueError(f"scramble must be one of {SCRAMBLE_MODES}, got {self.scramble!r}")

    def to_dict(self):
        d = dict(self.__dict__)
        d["levels"] = list(self.levels)
        return d


@dataclass
class Stimulus:
    """One stimulus image and what the manifest says of it."""

    map_source: str
    level: float | str  # percent of the budget, or 'full'
    level_index: int
    pixels: np.ndarray  # (H, W, 3) uint8
    revealed_px: int
    feature_budget: int
    seed: int
    shift: tuple = (0, 0)


def check_map(importance):
    """Why a map cannot be used (a sentence), or None.

    Parameters
    ----------
    importance : ndarray, shape (H, W)
    """
    m = np.asarray(importance, dtype=np.float64)
    if np.isnan(m).any():
        return "map contains NaN values"
    if not np.isfinite(m).all():
        return "map contains infinite values"
    if m.max() == m.min():
        return "map is constant (all-zero or flat): it ranks no pixel above another"
    return None


def image_background(image_id, image, params=RevealParams()):
    """The phase-scrambled background of one image, and what the scramble had to give.

    Drawn once per image (seeded from ``params.seed`` and ``image_id``), so that the
    conditions of an image differ only in what is revealed.

    Parameters
    ----------
    image_id : str
    image : ndarray of uint8, shape (S, S, 3)
    params : RevealParams

    Returns
    -------
    background : ndarray of uint8, shape (S, S, 3)
    stats : dict
        ``clipped_share`` and ``spectrum_error`` (see
        :func:`reveal.stimuli.scramble.phase_scramble_with_stats`).
    """
    return phase_scramble_with_stats(image, derive_rng(params.seed, image_id, "scramble"), mode=params.scramble,
                                     iterations=params.scramble_iterations)


def image_stimuli(image_id, image, maps, params=RevealParams(), *, background=None):
    """All stimuli of one image.

    Parameters
    ----------
    image_id : str
        Used (with ``params.seed`` and the source name) to seed the draws.
    image : ndarray of uint8, shape (S, S, 3)
        The photograph at stimulus size.
    maps : dict of str -> ndarray, each (S, S)
        Importance map per source, at stimulus size, already checked (:func:`check_map`).
    params : RevealParams
    background : ndarray of uint8, shape (S, S, 3), optional
        The image's background, when the caller has it already (for its statistics);
        by default :func:`image_background` of the image.

    Returns
    -------
    list of Stimulus
        For every source, one stimulus per level (``len(params.levels)``) then the
        intact image (``'full'``). The feature budget — the number of pixels at 100 % —
        is the same for every source: the smallest source's count of important pixels.

    Raises
    ------
    ValueError
        If the budget is too small for the smallest level to reveal a pixel.
    """
    budgets = {src: important_pixels(m, params.threshold) for src, m in maps.items()}
    budget = min(budgets.values())
    counts = level_pixel_counts(budget, params.levels)
    if counts.min() < 1:
        poorest = min(budgets, key=budgets.get)
        need = int(np.ceil(50 / min(params.levels)))
        raise ValueError(f"source {poorest!r} has only {budget} important pixel(s); the "
                         f"{min(params.levels):.3g} % level needs at least {need}")
    if background is None:
        background = image_background(image_id, image, params)[0]
    out = []
    for src in maps:  # keep the caller's source order
        seed = derive_seed(params.seed, image_id, src)
        rank = reveal_order(maps[src], np.random.default_rng(seed), params.connectivity,
                            noise=params.noise, noise_scale=params.noise_scale,
                            distance_weight=params.distance_weight)
        shifts = level_shifts(rank, counts, params.centring) if params.centre else [(0, 0)] * len(counts)
        for k, (level, n, (dy, dx)) in enumerate(zip(params.levels, counts, shifts)):
            mask = shift(rank, dy, dx, fill=rank.size) < n  # pixels from outside: never revealed
            out.append(Stimulus(src, float(level), k, composite(shift(image, dy, dx), background, mask),
                                int(n), budget, seed, (dy, dx)))
        out.append(Stimulus(src, "full", len(params.levels), image, image.shape[0] * image.shape[1],
                            budget, seed))
    return out
