"""Accuracy curves: per observer per level, then mean ± SEM over observers per series.

A *series* is one curve of the figure: the human (or simulated) observers of one group
(map source), or one model on the stimuli of one map source. Humans, simulated observers
and models are all observers; a model is a single observer, so its error bar is the
binomial standard error over its trials instead of a SEM over observers (the
``error_kind`` column says which).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..core.levels import level_value, sort_levels

__all__ = ["observer_accuracy", "series_label", "group_curves", "pixel_fraction_by_level", "ceiling_level",
           "accuracy_matrix"]


def series_label(kind: str, observer: str, group: str, map_source: str) -> str:
    """The legend label: models and simulated observers are always marked as such.

    Examples
    --------
    >>> series_label("model", "resnet50", "clickme", "clickme")
    'resnet50 on clickme (model)'
    >>> series_label("human", "P01", "clickme", "clickme")
    'clickme (humans)'
    """
    if kind == "model":
        return f"{observer} on {map_source} (model)"
    if kind == "simulated":
        return f"{group} (simulated observers)"
    return f"{group} (humans)"


def _series_key(df: pd.DataFrame) -> pd.Series:
    return df["observer"].where(df["observer_kind"] == "model", df["group"])


def observer_accuracy(trials: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of every observer at every level (and map source).

    Parameters
    ----------
    trials : pandas.DataFrame
        Tidy trials that enter accuracy (after exclusions).

    Returns
    -------
    pandas.DataFrame
        ``observer_kind, observer, group, series, map_source, level, n, n_correct, accuracy``.

    Examples
    --------
    >>> import pandas as pd
    >>> trials = pd.DataFrame({
    ...     "observer": ["p1"] * 3 + ["p2"] * 3 + ["net"] * 3,
    ...     "observer_kind": ["human"] * 6 + ["model"] * 3,
    ...     "group": "clickme", "map_source": "clickme", "level": ["10", "10", "full"] * 3,
    ...     "correct": [1, 0, 1, 1, 1, 1, 0, 0, 1], "image_frac": [0.03, 0.03, 1.0] * 3})
    >>> observer_accuracy(trials)[["observer", "series", "level", "n", "n_correct", "accuracy"]]
      observer   series level  n  n_correct  accuracy
    0       p1  clickme    10  2          1       0.5
    1       p1  clickme  full  1          1       1.0
    2       p2  clickme    10  2          2       1.0
    3       p2  clickme  full  1          1       1.0
    4      net      net    10  2          0       0.0
    5      net      net  full  1          1       1.0
    """
    df = trials.assign(series=_series_key(trials))
    keys = ["observer_kind", "observer", "group", "series", "map_source", "level"]
    out = (df.groupby(keys, sort=False)  # pragma: no mutate (sort=True: the rows are sorted below, keys unique)
             ["correct"].agg(n="size", n_correct="sum").reset_index())
    out["accuracy"] = out["n_correct"] / out["n"]
    return out.sort_values(["observer_kind", "series", "map_source", "observer", "level"],
                           key=lambda c: c.map(level_value) if c.name == "level" else c).reset_index(drop=True)


def group_curves(obs_acc: pd.DataFrame) -> pd.DataFrame:
    """Mean ± SEM (ddof=1) over observers for every series, map source and level.

    Returns
    -------
    pandas.DataFrame
        ``observer_kind, series, map_source, label, level, n_observers, n_trials, mean, sem,
        error_kind``.

    Examples
    --------
    Two humans (SEM over observers) and one model (binomial SE over its trials):

    >>> import pandas as pd
    >>> trials = pd.DataFrame({
    ...     "observer": ["p1"] * 3 + ["p2"] * 3 + ["net"] * 3,
    ...     "observer_kind": ["human"] * 6 + ["model"] * 3,
    ...     "group": "clickme", "map_source": "clickme", "level": ["10", "10", "full"] * 3,
    ...     "correct": [1, 0, 1, 1, 1, 1, 0, 0, 1], "image_frac": [0.03, 0.03, 1.0] * 3})
    >>> curves = group_curves(observer_accuracy(trials))
    >>> curves[["label", "level", "n_observers", "mean", "sem"]].round(3)
                        label level  n_observers  mean   sem
    0        clickme (humans)    10            2  0.75  0.25
    1        clickme (humans)  full            2  1.00  0.00
    2  net on clickme (model)    10            1  0.00  0.00
    3  net on clickme (model)  full            1  1.00  0.00
    """
    rows = []
    for (kind, series, source, level), sub in obs_acc.groupby(
            ["observer_kind", "series", "map_source", "level"],
            sort=False):  # pragma: no mutate (sort=True: the rows are sorted below, keys unique)
        acc = sub["accuracy"].to_numpy(float)
        n_trials = int(sub["n"].sum())
        if len(acc) > 1:
            mean, sem, err = acc.mean(), acc.std(ddof=1) / np.sqrt(len(acc)), "SEM over observers"
        else:  # one observer (a model): binomial SE over its trials
            mean = acc[0]  # pragma: no mutate (acc[-1]: one observer, one value)
            sem, err = np.sqrt(mean * (1 - mean) / n_trials), "binomial SE over trials"
        # one group per human series (a model's label does not use it); one observer per model
        group = sub["group"].iloc[0]  # pragma: no mutate (iloc[-1]: the same group)
        observer = sub["observer"].iloc[0]  # pragma: no mutate (iloc[-1]: the same model)
        rows.append({"observer_kind": kind, "series": series, "map_source": source,
                     "label": series_label(kind, observer, group, source), "level": level,
                     "n_observers": len(acc), "n_trials": n_trials, "mean": mean, "sem": sem, "error_kind": err})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_lv"] = out["level"].map(level_value)
    return out.sort_values(["observer_kind", "series", "map_source", "_lv"]).drop(columns="_lv").reset_index(drop=True)


def pixel_fraction_by_level(trials: pd.DataFrame) -> pd.Series:
    """Mean percent of the image's pixels revealed at each level (needs ``image_frac``).

    Returns an empty Series when the trials carry no ``image_frac`` (no manifest given).

    Examples
    --------
    >>> import pandas as pd
    >>> trials = pd.DataFrame({"level": ["10", "full", "1", "10"],
    ...                        "image_frac": [0.03, 1.0, 0.004, 0.05]})
    >>> pixel_fraction_by_level(trials).round(3).to_dict()
    {'1': 0.4, '10': 4.0, 'full': 100.0}
    >>> pixel_fraction_by_level(trials.drop(columns="image_frac")).empty
    True
    """
    if "image_frac" not in trials or trials["image_frac"].isna().all():
        return pd.Series(dtype=float)
    means = trials.groupby("level")["image_frac"].mean() * 100.0
    return means.reindex(sort_levels(means.index))


def ceiling_level(levels: Sequence[str], means: ArrayLike, full_mean: float,
                  tolerance: float = 0.03) -> str | None:  # pragma: no mutate (str & None: annotations are text)
    """The lowest level from which accuracy stays within ``tolerance`` of intact-image accuracy.

    Parameters
    ----------
    levels : sequence of str
        Levels (``full`` excluded), any order.
    means : array_like, shape (n_levels,)
        Mean accuracy at those levels.
    full_mean : float
        Mean accuracy on intact images.
    tolerance : float
        Accuracy (proportion) below intact that still counts as ceiling.

    Returns
    -------
    str or None
        The level, or None if the curve never reaches ceiling.

    Examples
    --------
    >>> ceiling_level(["100", "1", "10"], [0.95, 0.55, 0.93], full_mean=0.95)
    '10'

    A curve that drops again at the last level has not reached ceiling:

    >>> print(ceiling_level(["1", "10", "100"], [0.55, 0.93, 0.80], full_mean=0.95))
    None
    """
    order = np.argsort([level_value(lv) for lv in levels])
    levels = [levels[i] for i in order]
    at = np.asarray(means, float)[order] >= full_mean - tolerance
    # The answer is the start of the final run of levels at ceiling (it must stay there).
    if not np.isfinite(full_mean) or not at[-1]:
        return None
    start = len(at)  # at[-1] holds: the first step goes to the last level
    while start > 0 and at[start - 1]:
        start -= 1
    return levels[start]


def accuracy_matrix(obs_acc: pd.DataFrame, levels: Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Observers × levels accuracy matrix (NaN where an observer has no trial at a level).

    Returns
    -------
    values : ndarray, shape (n_observers, n_levels)
    observers : list of str
    groups : ndarray of str, shape (n_observers,)

    Examples
    --------
    >>> import pandas as pd
    >>> obs_acc = pd.DataFrame({"observer": ["p1", "p1", "p2"], "group": ["a", "a", "b"],
    ...                         "level": ["10", "full", "full"], "accuracy": [0.5, 1.0, 0.75]})
    >>> values, observers, groups = accuracy_matrix(obs_acc, ["10", "full"])
    >>> values
    array([[0.5 , 1.  ],
           [ nan, 0.75]])
    >>> observers, groups.tolist()
    (['p1', 'p2'], ['a', 'b'])
    """
    wide = obs_acc.pivot_table(index=["observer", "group"], columns="level", values="accuracy", aggfunc="mean")
    wide = wide.reindex(columns=list(levels))
    observers = [o for o, _ in wide.index]
    groups = np.array([g for _, g in wide.index])
    return wide.to_numpy(float), observers, groups
