"""Synthetic tidy trial tables from stated psychometric curves: no files, no PsychoPy.

Its one job is to give the analysis known answers (tests, checks of the statistics): a table
in the tidy trial format whose true accuracy curves are stated. Participants who run through
the real trial design and whose data files PsychoPy writes are
:mod:`reveal.experiments.simulated_participants`.

Each synthetic participant follows the experiment's design: every image once, at the
condition given by the Latin square (participant i, image j → condition (j + i) mod n, n the
number of conditions: ``levels``, by default the 11 reveal levels and ``full``),
and answers correctly with probability

    p(x) = 0.5 + (0.5 − lapse) · Φ((log10 x − threshold) / sigma)

(``x`` = % of the feature budget revealed; intact images: 1 − lapse; ``sigma`` sets the
slope), with the threshold varying between participants (``observer_sd``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..core.seeding import as_generator
from ..core.levels import FULL, LEVEL_LABELS

__all__ = ["DEFAULT_LEVELS", "two_afc_curve", "accuracy_model", "simulate_trials"]

#: The default conditions (:data:`reveal.core.levels.LEVEL_LABELS`): a set's own are its
#: ``StimulusSet.conditions``.
DEFAULT_LEVELS = list(LEVEL_LABELS)


def two_afc_curve(log10_x, threshold_log10, sigma_log10, lapse):
    """The 2AFC psychometric curve: a cumulative Gaussian in log10 % revealed, as psignifit
    fits it (guess rate 0.5).

    ``p(x) = 0.5 + (0.5 − lapse) · Φ((log10 x − threshold_log10) / sigma_log10)``

    Parameters
    ----------
    log10_x : float or ndarray
        log10 of the % of the feature budget revealed.
    threshold_log10 : float
        Midpoint of the rise (75 % correct without lapses), log10 units.
    sigma_log10 : float
        SD of the cumulative Gaussian, log10 units (psignifit's width is
        ``2 · Φ⁻¹(0.95) · sigma_log10``).
    lapse : float
        Errors on easy trials: the curve tends to 1 − lapse.

    Returns
    -------
    float or ndarray, like ``log10_x``
        Probability correct.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(two_afc_curve(np.log10([1, 10, 100]), threshold_log10=1.0, sigma_log10=0.25, lapse=0.03), 3)
    array([0.5  , 0.735, 0.97 ])
    >>> float(two_afc_curve(1.0, 1.0, 0.25, lapse=0.0))  # 75 % correct at the threshold
    0.75
    """
    return 0.5 + (0.5 - lapse) * norm.cdf((log10_x - threshold_log10) / sigma_log10)


def accuracy_model(levels, threshold_log10, sigma_log10=0.25, lapse=0.03):
    """Probability correct at each level (see module docstring).

    Parameters
    ----------
    levels : sequence of str
    threshold_log10, sigma_log10, lapse : float
        As in :func:`two_afc_curve` (``sigma_log10``: the slope's scale, not a spread between
        participants).

    Returns
    -------
    ndarray, shape (n_levels,)

    Examples
    --------
    Halfway between chance and 1 − lapse at the threshold (10 %), 1 − lapse on intact images:

    >>> import numpy as np
    >>> np.round(accuracy_model(["1", "10", "100", "full"], threshold_log10=1.0), 3)
    array([0.5  , 0.735, 0.97 , 0.97 ])
    """
    out = []
    for lv in levels:
        if lv == FULL:
            out.append(1 - lapse)
        else:
            out.append(two_afc_curve(np.log10(float(lv)), threshold_log10, sigma_log10, lapse))
    return np.array(out)


def simulate_trials(groups: dict, n_per_group: int, *, rng=None, n_images: int = 80, levels=DEFAULT_LEVELS,
                    observer_sd: float = 0.1, timeout_rate: float = 0.0, kind: str = "simulated",
                    sigma_log10: float = 0.25, lapse: float = 0.03) -> pd.DataFrame:
    """Tidy trials of simulated participants.

    Parameters
    ----------
    groups : dict of str to float
        Map source → mean threshold (log10 % revealed) of that group.
    n_per_group : int
    rng : None, int or numpy.random.Generator
    n_images : int
        Images, half animal.
    levels : sequence of str
        The conditions of the Latin square (a set's ``StimulusSet.conditions``; any number).
    observer_sd : float
        Between-participant SD of the threshold (log10 units).
    timeout_rate : float
        Probability of a timeout (no response) on any trial.
    kind : str
        ``observer_kind`` written (``simulated`` by default).
    sigma_log10, lapse : float
        The curve's slope scale and lapse rate (:func:`accuracy_model`), the same for everyone.

    Returns
    -------
    pandas.DataFrame
        Tidy trial table (docs/conventions.md), with ``image_frac`` ≈ level / 100 · 0.3.

    Examples
    --------
    Two participants per group, 24 images each (every level twice):

    >>> trials = simulate_trials({"clickme": 0.8, "salicon": 1.2}, 2, rng=0, n_images=24)
    >>> trials.groupby("observer").size().to_dict()
    {'cl0000': 24, 'cl0001': 24, 'sa1000': 24, 'sa1001': 24}
    >>> trials.groupby(["observer", "level"]).size().unique().tolist()
    [2]
    >>> trials.groupby("group")["correct"].mean().round(3).to_dict()  # lower threshold, more correct
    {'clickme': 0.75, 'salicon': 0.583}
    """
    rng = as_generator(rng)
    levels = list(levels)
    n_cond = len(levels)
    frames = []
    for g_index, (group, threshold) in enumerate(groups.items()):
        for i in range(n_per_group):
            pid = f"{group[:2]}{g_index}{i:03d}"
            th = threshold + observer_sd * rng.standard_normal()
            cond = (np.arange(n_images) + i) % n_cond
            lv = [levels[c] for c in cond]
            p = accuracy_model(lv, th, sigma_log10, lapse)
            correct = (rng.random(n_images) < p).astype(int)
            # first half animal: with the Latin-square rotation every level gets both categories
            # (alternating categories met an even number of conditions: one category per level)
            category = np.where(np.arange(n_images) < n_images // 2, "animal", "nonanimal")
            timed = (rng.random(n_images) < timeout_rate).astype(int)
            response = np.where(correct == 1, category, np.where(category == "animal", "nonanimal", "animal"))
            response = np.where(timed == 1, "none", response)
            correct = np.where(timed == 1, 0, correct)
            order = rng.permutation(n_images)
            image_id = np.array([f"img{j:03d}" for j in range(n_images)])
            frames.append(pd.DataFrame({
                "observer": pid, "observer_kind": kind, "group": group, "session": "1",
                "block": (np.arange(n_images) // 16 + 1).astype(str), "trial": (np.arange(n_images) + 1).astype(str),
                "stimulus_id": [f"{image_id[j]}_{group}_{lv[j]}" for j in order],
                "image_id": image_id[order], "category": category[order], "map_source": group,
                "level": [lv[j] for j in order], "response": response[order], "correct": correct[order],
                "rt_s": np.where(timed[order] == 1, np.nan, rng.uniform(0.3, 0.55, n_images)),
                "timed_out": timed[order],
                "image_frac": [1.0 if lv[j] == FULL else float(lv[j]) / 100 * 0.3 for j in order],
            }))
    return pd.concat(frames, ignore_index=True)
