"""Signal detection: sensitivity (d′) and criterion (c) of every observer, humans and models alike.

Animal / non-animal categorization is a yes/no task with *animal* as the signal: a **hit** is
the answer "animal" to an animal image, a **false alarm** the answer "animal" to a non-animal
image. Accuracy mixes two things that d′ and c separate: how well an observer tells the two
categories apart (d′ = z(H) − z(F)) and how ready they are to say "animal" (c = −(z(H) + z(F))/2;
c < 0 is liberal, c > 0 conservative, c = 0 unbiased), z the inverse of the standard normal
distribution function (Macmillan & Creelman 2005, *Detection Theory: A User's Guide*, ch. 1–2).

With a few trials per observer and level, hit and false-alarm rates of exactly 0 or 1 are
common, and z(0) = −∞, z(1) = +∞. They are kept finite by the **log-linear correction**
(Hautus 1995, *Behav. Res. Methods Instrum. Comput.* 27, 46–51): 0.5 is added to the hits and
the false alarms and 1 to the trial counts of *every* cell, not only the extreme ones, so all
observers and levels are treated alike; it biases d′ less than replacing 0 and 1 by 1/(2N) and
1 − 1/(2N). The rates written next to d′ and c (``hit_rate``, ``fa_rate``) are the raw proportions.
The corrected d′ is bounded by the trial counts: with n animal and n non-animal trials, a perfect
observer has d′ = 2·z((n + 0.5)/(n + 1)) — 2.30 for n = 3, 4.50 for n = 40 — so compare d′ between
observers who saw similar numbers of trials per level (a model that sees every stimulus has far
more than a participant, who sees each image once).

The same tidy trials as accuracy (:func:`reveal.analysis.curves.observer_accuracy`) enter: the
exclusions and their settings decide which trials reach both. A timed-out trial that reaches them
(``--timeouts-as-errors``; by default timeouts are left out of both) counts as *not* saying
"animal": a miss on an animal image, a correct rejection on a non-animal one. (Accuracy counts it
as an error in both cases; there is no answer to call "animal", and counting the absence of one as
a false alarm would make d′ depend on the deadline in a way the task does not.)
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import binom, norm

from ..core.levels import level_value
from .curves import series_label

__all__ = ["SIGNAL", "CORRECTION", "CUED_LABEL", "rates", "dprime_criterion", "observer_sdt", "group_sdt",
           "parse_cued_label", "strength_sweeps", "has_sweep", "sweep_summary"]

#: The category that is the signal (the answer that counts as "yes").
SIGNAL = "animal"
#: What the report and figure say about the correction.
CORRECTION = ("log-linear correction (Hautus 1995): H = (hits + 0.5)/(n_animal + 1), "
              "F = (false alarms + 0.5)/(n_nonanimal + 1) in every cell")

_KEYS = ["observer_kind", "observer", "group", "series", "map_source", "level"]
_QUANTITIES = ("hit_rate", "fa_rate", "dprime", "criterion")


def _counts(hits, n_signal, false_alarms, n_noise):
    """The four counts as float arrays (broadcast), checked: 0 ≤ count ≤ trials."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (hits, n_signal, false_alarms, n_noise)))
    h, ns, f, nn = (np.array(a, dtype=float) for a in arrays)
    for count, total, what in ((h, ns, "hits"), (f, nn, "false_alarms")):
        if np.any(~np.isfinite(count)) or np.any(~np.isfinite(total)):
            raise ValueError(f"{what} and their trial counts must be finite")
        if np.any(count < 0) or np.any(count > total):
            raise ValueError(f"{what} must be between 0 and their number of trials")
    return h, ns, f, nn


def _out(a: np.ndarray):
    """A 0-d result as a float, an array as an array."""
    return float(a) if a.ndim == 0 else a


def rates(hits: ArrayLike, n_signal: ArrayLike, false_alarms: ArrayLike, n_noise: ArrayLike):
    """Raw hit and false-alarm rates (proportions, no correction).

    Parameters
    ----------
    hits : array_like
        "Animal" answers to animal images.
    n_signal : array_like
        Animal trials.
    false_alarms : array_like
        "Animal" answers to non-animal images.
    n_noise : array_like
        Non-animal trials.

    Returns
    -------
    hit_rate, fa_rate : float or ndarray
        ``hits / n_signal`` and ``false_alarms / n_noise``; NaN where there was no trial of that
        kind. Floats for scalar input, arrays (broadcast) otherwise.

    Raises
    ------
    ValueError
        If a count is negative, larger than its number of trials, or not finite.

    Examples
    --------
    >>> rates(8, 10, 1, 10)
    (0.8, 0.1)
    >>> h, f = rates([0, 5], [5, 5], [0, 3], [0, 4])
    >>> h, f
    (array([0., 1.]), array([ nan, 0.75]))
    """
    h, ns, f, nn = _counts(hits, n_signal, false_alarms, n_noise)
    with np.errstate(invalid="ignore", divide="ignore"):
        hit_rate = np.where(ns > 0, h / np.where(ns > 0, ns, 1), np.nan)
        fa_rate = np.where(nn > 0, f / np.where(nn > 0, nn, 1), np.nan)
    return _out(hit_rate), _out(fa_rate)


def _corrected(h, ns, f, nn):
    """Log-linear corrected rates (Hautus 1995)."""
    return (h + 0.5) / (ns + 1.0), (f + 0.5) / (nn + 1.0)


def dprime_criterion(hits: ArrayLike, n_signal: ArrayLike, false_alarms: ArrayLike, n_noise: ArrayLike):
    """Sensitivity d′ and criterion c, with the log-linear correction (Hautus 1995).

    ``H = (hits + 0.5) / (n_signal + 1)``, ``F = (false_alarms + 0.5) / (n_noise + 1)``,
    ``d′ = z(H) − z(F)``, ``c = −(z(H) + z(F)) / 2``, ``z = scipy.stats.norm.ppf``.

    Why the correction: with few trials a raw rate of 0 or 1 is frequent and its z is infinite,
    which would make d′ infinite (or undefined) exactly where an observer does best. Adding 0.5 to
    every count and 1 to every total — in every cell, not only in the extreme ones — keeps every
    rate strictly between 0 and 1, treats all observers and levels alike, and biases d′ less than
    the 1/(2N) rule (Hautus, M. J. 1995. Corrections for extreme proportions and their biasing
    effects on estimated values of d′. *Behavior Research Methods, Instruments, & Computers* 27,
    46–51). It shrinks d′ towards 0 a little, most with few trials.

    Parameters
    ----------
    hits : array_like
        "Animal" answers to animal images.
    n_signal : array_like
        Animal trials.
    false_alarms : array_like
        "Animal" answers to non-animal images.
    n_noise : array_like
        Non-animal trials.

    Returns
    -------
    dprime, criterion : float or ndarray
        Finite wherever ``n_signal ≥ 1`` and ``n_noise ≥ 1``; NaN where there was no trial of one
        kind (a d′ needs both, and the correction would otherwise invent a rate of 0.5). Floats
        for scalar input, arrays (broadcast) otherwise.

    Raises
    ------
    ValueError
        If a count is negative, larger than its number of trials, or not finite.

    Examples
    --------
    Hits 9 of 10 and false alarms 2 of 10: H = 9.5/11, F = 2.5/11.

    >>> d, c = dprime_criterion(9, 10, 2, 10)
    >>> round(d, 3), round(c, 3)
    (1.845, -0.174)

    Perfect answers stay finite; an unbiased observer (hits = correct rejections) has c = 0:

    >>> import numpy as np
    >>> d, c = dprime_criterion([10, 5], [10, 10], [0, 5], [10, 10])
    >>> d.round(3)
    array([3.381, 0.   ])
    >>> np.allclose(c, 0.0)
    True

    No non-animal trial: undefined.

    >>> dprime_criterion(3, 4, 0, 0)
    (nan, nan)
    """
    h, ns, f, nn = _counts(hits, n_signal, false_alarms, n_noise)
    hc, fc = _corrected(h, ns, f, nn)
    zh, zf = norm.ppf(hc), norm.ppf(fc)
    defined = (ns > 0) & (nn > 0)
    dprime = np.where(defined, zh - zf, np.nan)
    criterion = np.where(defined, -(zh + zf) / 2.0, np.nan) + 0.0  # + 0.0: no -0.0
    return _out(dprime), _out(criterion)


def _said_signal(trials: pd.DataFrame) -> np.ndarray:
    """True where the observer answered "animal" in time (a timed-out trial never did)."""
    said = (trials["response"].astype(str).str.strip().str.lower() == SIGNAL).to_numpy()
    if "timed_out" in trials:
        said = said & (pd.to_numeric(trials["timed_out"], errors="coerce").fillna(0).to_numpy() != 1)
    return said


def observer_sdt(trials: pd.DataFrame) -> pd.DataFrame:
    """Hits, false alarms, their rates, d′ and c of every observer at every level (and map source).

    Parameters
    ----------
    trials : pandas.DataFrame
        The tidy trials that enter accuracy (after exclusions), with ``category`` and ``response``.
        A timed-out trial (``timed_out = 1`` or ``response`` ``none``) counts as not answering
        "animal": a miss on an animal image, a correct rejection on a non-animal one.

    Returns
    -------
    pandas.DataFrame
        ``observer_kind, observer, group, series, map_source, level, n_animal, n_nonanimal, hits,
        false_alarms, hit_rate, fa_rate, dprime, criterion``, in the rows and order of
        :func:`reveal.analysis.curves.observer_accuracy`. ``hit_rate``/``fa_rate`` are raw
        proportions; d′ and c use the log-linear correction (:func:`dprime_criterion`). A level
        where the observer saw no animal (non-animal) image has NaN ``hit_rate`` (``fa_rate``),
        d′ and c.

    Examples
    --------
    ``p1`` says "animal" to 2 of 3 animals and 1 of 3 non-animals; the model ``net`` saw no
    non-animal image:

    >>> import pandas as pd
    >>> trials = pd.DataFrame({
    ...     "observer": ["p1"] * 6 + ["net"] * 2, "observer_kind": ["human"] * 6 + ["model"] * 2,
    ...     "group": "clickme", "map_source": "clickme", "level": "10",
    ...     "category": ["animal"] * 3 + ["nonanimal"] * 3 + ["animal"] * 2,
    ...     "response": ["animal", "animal", "nonanimal", "animal", "nonanimal", "nonanimal", "animal", "none"],
    ...     "timed_out": [0] * 7 + [1]})
    >>> sdt = observer_sdt(trials)
    >>> sdt[["observer", "n_animal", "n_nonanimal", "hits", "false_alarms", "hit_rate", "fa_rate"]].round(3)
      observer  n_animal  n_nonanimal  hits  false_alarms  hit_rate  fa_rate
    0       p1         3            3     2             1     0.667    0.333
    1      net         2            0     1             0     0.500      NaN
    >>> sdt[["observer", "dprime", "criterion"]].round(3)
      observer  dprime  criterion
    0       p1   0.637        0.0
    1      net     NaN        NaN
    """
    df = trials.assign(
        series=trials["observer"].where(trials["observer_kind"] == "model", trials["group"]),
        _animal=(trials["category"].astype(str).str.strip().str.lower() == SIGNAL).to_numpy())
    said = _said_signal(trials)
    df["_nonanimal"] = ~df["_animal"]
    df["_hit"] = df["_animal"] & said
    df["_fa"] = df["_nonanimal"] & said
    out = (df.groupby(_KEYS, sort=False)[["_animal", "_nonanimal", "_hit", "_fa"]].sum().astype(int)
           .set_axis(["n_animal", "n_nonanimal", "hits", "false_alarms"], axis=1).reset_index())
    counts = [out[c].to_numpy() for c in ("hits", "n_animal", "false_alarms", "n_nonanimal")]
    out["hit_rate"], out["fa_rate"] = (np.asarray(a, float) for a in rates(*counts))
    out["dprime"], out["criterion"] = (np.asarray(a, float) for a in dprime_criterion(*counts))
    return out.sort_values(["observer_kind", "series", "map_source", "observer", "level"],
                           key=lambda c: c.map(level_value) if c.name == "level" else c).reset_index(drop=True)


def _z_sd(count: float, n: float) -> float:
    """SD of z((k + 0.5)/(n + 1)) over k ~ Binomial(n, count/n): exact, a sum over k = 0..n."""
    if n <= 0:
        return np.nan
    k = np.arange(int(n) + 1)
    pmf = binom.pmf(k, int(n), count / n)
    z = norm.ppf((k + 0.5) / (n + 1.0))
    mean = np.sum(pmf * z)
    return float(np.sqrt(max(np.sum(pmf * (z - mean) ** 2), 0.0)))


def _sampling_se(hits, n_signal, false_alarms, n_noise):
    """Standard errors of one observer's estimates over its trials (plug-in binomial).

    As the binomial SE of a model's accuracy is the SD of k/n for k ~ Binomial(n, observed rate), each
    SE here is the SD of the estimate when the hits and false alarms are drawn again from binomials with
    the observed rates: ``sqrt(H(1 − H)/n)`` for the raw rates, and, computed exactly (a sum over the
    possible counts), the SD of the corrected d′ = z(H′) − z(F′) and of c = −(z(H′) + z(F′))/2 (hits and
    false alarms independent, so var(d′) = var(z(H′)) + var(z(F′)) and var(c) = var(d′)/4). A rate of 0
    or 1 has SE 0, as a model's accuracy of 1 has, where the delta-method approximation (Gourevitch &
    Galanter 1967) would give a large one from the corrected rate alone.
    """
    h, ns, f, nn = (float(v) for v in (hits, n_signal, false_alarms, n_noise))
    hr, fr = rates(h, ns, f, nn)
    se_h = np.sqrt(hr * (1 - hr) / ns) if ns > 0 else np.nan
    se_f = np.sqrt(fr * (1 - fr) / nn) if nn > 0 else np.nan
    se_d = float(np.hypot(_z_sd(h, ns), _z_sd(f, nn))) if ns > 0 and nn > 0 else np.nan
    return se_h, se_f, se_d, se_d / 2.0


def group_sdt(obs_sdt: pd.DataFrame) -> pd.DataFrame:
    """Mean ± SEM over observers of hit rate, false-alarm rate, d′ and c per series, map source and level.

    The mean of the observers' own d′ (and c), not the d′ of pooled counts. Each quantity's mean and
    SEM (ddof=1) are over the observers for whom it is defined (NaN left out); a SEM needs two. A
    series with one observer at a level (a model, or a group of one) has instead the sampling SE over
    its trials, as :func:`reveal.analysis.curves.group_curves` gives a model's accuracy the binomial
    SE (the SD of k/n for k ~ Binomial(n, observed rate)): the SD of each estimate when the hits and
    false alarms are drawn again from binomials with the observed rates — ``sqrt(H(1 − H)/n)`` for
    the rates, and for d′ and c computed exactly over the possible counts (var(c) = var(d′)/4). A model
    that is always right has SE 0, as its accuracy has. ``error_kind`` says which.

    Parameters
    ----------
    obs_sdt : pandas.DataFrame
        From :func:`observer_sdt`.

    Returns
    -------
    pandas.DataFrame
        ``observer_kind, series, map_source, label, level, n_observers, n_trials, hit_rate,
        hit_rate_sem, fa_rate, fa_rate_sem, dprime, dprime_sem, criterion, criterion_sem,
        error_kind`` (``n_trials``: animal and non-animal trials together).

    Examples
    --------
    Two humans (SEM over observers) and one model (sampling SE over its 20 trials):

    >>> import pandas as pd
    >>> obs = pd.DataFrame({
    ...     "observer_kind": ["human", "human", "model"], "observer": ["p1", "p2", "net"],
    ...     "group": "clickme", "series": ["clickme", "clickme", "net"], "map_source": "clickme",
    ...     "level": "10", "n_animal": 10, "n_nonanimal": 10, "hits": [9, 7, 8],
    ...     "false_alarms": [1, 3, 2]})
    >>> obs["hit_rate"], obs["fa_rate"] = obs["hits"] / 10, obs["false_alarms"] / 10
    >>> obs["dprime"], obs["criterion"] = dprime_criterion(obs["hits"], 10, obs["false_alarms"], 10)
    >>> curves = group_sdt(obs)
    >>> curves[["label", "n_observers", "dprime", "dprime_sem"]].round(3)
                        label  n_observers  dprime  dprime_sem
    0        clickme (humans)            2   1.570       0.624
    1  net on clickme (model)            1   1.496       0.606
    >>> curves[["hit_rate", "hit_rate_sem", "fa_rate", "fa_rate_sem"]].round(3)
       hit_rate  hit_rate_sem  fa_rate  fa_rate_sem
    0       0.8         0.100      0.2        0.100
    1       0.8         0.126      0.2        0.126
    >>> curves["error_kind"].tolist()
    ['SEM over observers', 'sampling SE over trials']
    """
    columns = ["observer_kind", "series", "map_source", "label", "level", "n_observers", "n_trials"]
    for q in _QUANTITIES:
        columns += [q, f"{q}_sem"]
    columns.append("error_kind")
    rows = []
    for (kind, series, source, level), sub in obs_sdt.groupby(
            ["observer_kind", "series", "map_source", "level"], sort=False):
        row = {"observer_kind": kind, "series": series, "map_source": source,
               "label": series_label(kind, sub["observer"].iloc[0], sub["group"].iloc[0], source),
               "level": level, "n_observers": len(sub),
               "n_trials": int((sub["n_animal"] + sub["n_nonanimal"]).sum())}
        if len(sub) > 1:
            for q in _QUANTITIES:
                v = sub[q].to_numpy(float)
                v = v[np.isfinite(v)]
                row[q] = v.mean() if len(v) else np.nan
                row[f"{q}_sem"] = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
            row["error_kind"] = "SEM over observers"
        else:  # one observer (a model): sampling SE over its trials
            one = sub.iloc[0]
            ses = _sampling_se(one["hits"], one["n_animal"], one["false_alarms"], one["n_nonanimal"])
            for q, se in zip(_QUANTITIES, ses):
                row[q] = float(one[q])
                row[f"{q}_sem"] = float(se)
            row["error_kind"] = "sampling SE over trials"
        rows.append(row)
    out = pd.DataFrame(rows, columns=columns)
    if out.empty:
        return out
    out["_lv"] = out["level"].map(level_value)
    return out.sort_values(["observer_kind", "series", "map_source", "_lv"]).drop(columns="_lv").reset_index(drop=True)


#: The label of a cued observer, as ``reveal predict --attend`` writes it (``reveal.models.cueing.cue_observer``;
#: analysis does not import models, so the format is matched here, and only here):
#: ``<base>+<method>(<target>,<layer>,<strength>)``, e.g. ``efficientnet_lite0+fsg(animal,head,1)`` — the base
#: observer's name, then the cue: its method (``fsg``: feature-similarity gain with the head's exact gradient
#: values; ``fsg-tuning``, ``fsg-gradient``: with values fitted on photos; ``toad``: trained gains), the cued
#: category (``animal``; ``nonanimal``, the invalid cue for animal images), the layer the gains act on (``head``,
#: ``blocks.10.depthwise``, …) and the strength β ≥ 0, written as the shortest exact decimal
#: (``format(β, ".12g")``: ``0``, ``0.5``, ``2``, ``1e-05``).
CUED_LABEL = re.compile(r"^(?P<base>.+)\+(?P<method>fsg|fsg-tuning|fsg-gradient|toad)\((?P<target>[A-Za-z_]\w*),"
                        r"(?P<layer>[\w.]+),(?P<strength>[0-9][0-9.]*(?:e[+-]?[0-9]+)?)\)$")

_SWEEP_KEYS = ["base", "method", "target", "layer"]
SWEEP_COLUMNS = ["base", "method", "target", "layer", "strength", "n_strengths", "observer", "map_source", "level",
                 "n_animal", "n_nonanimal", "n", "hit_rate", "fa_rate", "dprime", "criterion"]


def parse_cued_label(label) -> dict | None:
    """Base observer, cue method, target, layer and strength of a cued observer's label (None for any other label).

    The format is :data:`CUED_LABEL`'s: ``<base>+<method>(<target>,<layer>,<strength>)``.

    Examples
    --------
    >>> parse_cued_label("efficientnet_lite0+fsg(animal,head,1)")
    {'base': 'efficientnet_lite0', 'method': 'fsg', 'target': 'animal', 'layer': 'head', 'strength': 1.0}
    >>> parse_cued_label("vgg16+toad(animal,block5_pool,0.5)")["method"]
    'toad'
    >>> parse_cued_label("net+fsg(nonanimal,head,0.5)")["strength"]
    0.5
    >>> parse_cued_label("efficientnet_lite0") is None, parse_cued_label("p01") is None
    (True, True)
    """
    m = CUED_LABEL.match(str(label).strip())
    if m is None:
        return None
    try:
        strength = float(m["strength"])
    except ValueError:  # e.g. "1.2.3"
        return None
    return {"base": m["base"], "method": m["method"], "target": m["target"], "layer": m["layer"], "strength": strength}


def strength_sweeps(obs_sdt: pd.DataFrame) -> pd.DataFrame:
    """Hit rate, false-alarm rate, d′ and c of the cued observers, by base model, cue, strength and level.

    A cued observer (``reveal predict --attend TARGET --strength β``) is labelled
    ``<base>+<method>(<target>,<layer>,<strength>)`` (:data:`CUED_LABEL`); every other observer is left out.
    A *sweep* is a (base, method, target, layer) seen at two or more strengths (``n_strengths``; :func:`has_sweep`).
    The plain ``<base>`` observer, where present, is strength 0 of each of its cues that lacks one.

    Parameters
    ----------
    obs_sdt : pandas.DataFrame
        From :func:`observer_sdt`.

    Returns
    -------
    pandas.DataFrame
        ``base, method, target, layer, strength, n_strengths, observer, map_source, level, n_animal, n_nonanimal, n,
        hit_rate, fa_rate, dprime, criterion`` (``n``: animal and non-animal trials together), sorted by base,
        method, target, layer, map source, level and strength. Empty (these columns) when no observer is cued.

    Examples
    --------
    >>> import pandas as pd
    >>> obs = pd.DataFrame({
    ...     "observer_kind": "model", "group": "clickme", "map_source": "clickme", "level": "10",
    ...     "observer": ["net", "net+fsg(animal,head,0)", "net+fsg(animal,head,2)"],
    ...     "n_animal": 10, "n_nonanimal": 10, "hits": [6, 6, 9], "false_alarms": [2, 2, 6]})
    >>> obs["series"] = obs["observer"]
    >>> obs["hit_rate"], obs["fa_rate"] = obs["hits"] / 10, obs["false_alarms"] / 10
    >>> obs["dprime"], obs["criterion"] = dprime_criterion(obs["hits"], 10, obs["false_alarms"], 10)
    >>> sweeps = strength_sweeps(obs)  # hits and false alarms both rise: c falls, d′ barely moves
    >>> sweeps[["target", "strength", "n_strengths", "hit_rate", "fa_rate", "dprime", "criterion"]].round(3)
       target  strength  n_strengths  hit_rate  fa_rate  dprime  criterion
    0  animal       0.0            2       0.6      0.2   0.978      0.259
    1  animal       2.0            2       0.9      0.6   0.867     -0.663
    >>> has_sweep(sweeps)
    True
    """
    parsed = [parse_cued_label(o) for o in obs_sdt["observer"]] if len(obs_sdt) else []
    keep = np.array([p is not None for p in parsed], dtype=bool)
    if not keep.any():
        return pd.DataFrame(columns=SWEEP_COLUMNS)
    cued = obs_sdt[keep].reset_index(drop=True)
    labels = pd.DataFrame([p for p in parsed if p is not None])
    out = pd.concat([labels, cued], axis=1)
    # the plain observer is strength 0 of every cue of it (a cue at 0 is that observer, bit for bit),
    # so a sweep need not run it again; a cue run at 0 is kept as it is
    plain = []
    for (base, method, target, layer), rows in out.groupby(_SWEEP_KEYS, sort=False):
        base_rows = obs_sdt[obs_sdt["observer"] == base]
        if len(base_rows) and not (rows["strength"] == 0).any():
            plain.append(base_rows.assign(base=base, method=method, target=target, layer=layer, strength=0.0))
    out = pd.concat([out, *plain], ignore_index=True)
    out["n"] = out["n_animal"] + out["n_nonanimal"]
    out["n_strengths"] = out.groupby(_SWEEP_KEYS)["strength"].transform("nunique").astype(int)
    out["_lv"] = out["level"].map(level_value)
    out = out.sort_values(_SWEEP_KEYS + ["map_source", "_lv", "strength"], kind="stable")
    return out[SWEEP_COLUMNS].reset_index(drop=True)


def has_sweep(sweeps: pd.DataFrame | None) -> bool:
    """Whether :func:`strength_sweeps` found a sweep: a base, target and layer at two strengths or more.

    Examples
    --------
    >>> import pandas as pd
    >>> has_sweep(pd.DataFrame({"n_strengths": [1, 1]})), has_sweep(pd.DataFrame({"n_strengths": [1, 3]}))
    (False, True)
    >>> has_sweep(pd.DataFrame()), has_sweep(None)
    (False, False)
    """
    return sweeps is not None and len(sweeps) > 0 and bool((sweeps["n_strengths"] >= 2).any())


def sweep_summary(sweeps: pd.DataFrame) -> pd.DataFrame:
    """Each sweep's hit rate, false-alarm rate, d′ and c per strength, averaged over levels and map sources.

    The one-screen view ``reveal analyze`` prints; the values per level are in ``sweeps.csv``.

    Parameters
    ----------
    sweeps : pandas.DataFrame
        From :func:`strength_sweeps`.

    Returns
    -------
    pandas.DataFrame
        ``base, method, target, layer, strength, n_levels, hit_rate, fa_rate, dprime, criterion``
        (unweighted means over the (map source, level) cells), sweeps only (two strengths or more).

    Examples
    --------
    >>> import pandas as pd
    >>> sweeps = pd.DataFrame({
    ...     "base": "net", "method": "fsg", "target": "animal", "layer": "head", "strength": [0.0, 1.0, 0.0, 1.0],
    ...     "n_strengths": 2, "map_source": "clickme", "level": ["10", "10", "full", "full"],
    ...     "hit_rate": [0.6, 0.8, 0.9, 1.0], "fa_rate": [0.2, 0.4, 0.0, 0.2],
    ...     "dprime": [1.0, 1.2, 2.8, 2.6], "criterion": [0.3, -0.3, 0.2, -0.2]})
    >>> sweep_summary(sweeps)[["strength", "n_levels", "hit_rate", "fa_rate", "dprime", "criterion"]]
       strength  n_levels  hit_rate  fa_rate  dprime  criterion
    0       0.0         2      0.75      0.1     1.9       0.25
    1       1.0         2      0.90      0.3     1.9      -0.25
    """
    columns = _SWEEP_KEYS + ["strength", "n_levels", *_QUANTITIES]
    swept = sweeps[sweeps["n_strengths"] >= 2] if has_sweep(sweeps) else None
    if swept is None:
        return pd.DataFrame(columns=columns)
    grouped = swept.groupby(_SWEEP_KEYS + ["strength"], sort=False)
    out = grouped[list(_QUANTITIES)].mean().round(12)
    out.insert(0, "n_levels", grouped.size())
    return out.reset_index()[columns]
