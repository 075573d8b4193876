"""Model vs human, trial by trial: error consistency (Geirhos et al. 2020) and per-image Spearman.

Error consistency asks whether two observers get the *same* trials wrong beyond what their
accuracies alone predict:

    c_exp = p1·p2 + (1 − p1)(1 − p2),  c_obs = share of trials both right or both wrong,
    κ = (c_obs − c_exp) / (1 − c_exp).

κ is undefined when c_exp = 1 (both observers at 100 % — or both at 0 % — on the shared
trials: there are no errors to be consistent about). Such pairs are counted and reported
as undefined, never averaged in as 0 or 1. κ is computed per level, because pooling levels
of different difficulty inflates κ (both observers err more on the hard levels).

Humans in this design see each image once, at one level (Latin square), so a human and a
model share the trials that human saw; two humans share trials only when they are on the
same row of the Latin square (participants i and i + n of one group, n conditions), which gives the
human–human reference.

Model evidence for the per-image correlation is the probability the model gives to the
*correct* category (``p_animal`` for animal images, ``1 − p_animal`` otherwise): raw
``p_animal`` would correlate with human accuracy with opposite signs in the two categories.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from ..core.levels import level_value

__all__ = ["error_consistency", "pairwise_error_consistency", "model_human_consistency",
           "summarize_consistency", "image_spearman", "reference_kind"]


def error_consistency(correct_a: ArrayLike, correct_b: ArrayLike) -> tuple[float, float, float]:
    """Error consistency κ of two observers on the same trials.

    Parameters
    ----------
    correct_a, correct_b : array_like of 0/1, shape (n_trials,)
        Trial-wise correctness of each observer, aligned.

    Returns
    -------
    kappa, c_obs, c_exp : float
        ``kappa`` is NaN when undefined (no trials, or c_exp = 1: both at ceiling/floor).

    Examples
    --------
    Both observers miss trials 3 and 6; only the second also misses trial 4:

    >>> kappa, c_obs, c_exp = error_consistency([1, 1, 0, 1, 1, 0], [1, 1, 0, 0, 1, 0])
    >>> print(f"kappa={kappa:.3f} c_obs={c_obs:.3f} c_exp={c_exp:.3f}")
    kappa=0.667 c_obs=0.833 c_exp=0.500

    Two observers at ceiling have no errors to be consistent about:

    >>> error_consistency([1, 1, 1], [1, 1, 1])[0]
    nan
    """
    a = np.asarray(correct_a, float)
    b = np.asarray(correct_b, float)
    if a.shape != b.shape:
        raise ValueError("correct_a and correct_b must be aligned (same shape)")
    k, co, ce, _ = pairwise_error_consistency(a[None, :], b[None, :])  # no trials: NaN, NaN, NaN
    return k.item(), co.item(), ce.item()


def pairwise_error_consistency(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """κ for every pair of rows of two observers × trials matrices (NaN = trial not seen).

    Parameters
    ----------
    a : ndarray, shape (n_a, n_trials)
    b : ndarray, shape (n_b, n_trials)
        Correctness (0/1) or NaN where the observer did not see that trial. Each pair is
        scored on the trials both saw.

    Returns
    -------
    kappa, c_obs, c_exp, n_shared : ndarray, shape (n_a, n_b)
        ``kappa`` is NaN where undefined.

    Examples
    --------
    The first observer of ``a`` did not see the fourth trial:

    >>> import numpy as np
    >>> a = np.array([[1, 0, 1, np.nan], [1, 1, 1, 1]])
    >>> b = np.array([[1, 0, 0, 1]])
    >>> kappa, c_obs, c_exp, n_shared = pairwise_error_consistency(a, b)
    >>> np.round(kappa, 3).tolist(), n_shared.tolist()
    ([[0.4], [0.0]], [[3.0], [4.0]])
    """
    n, right_a, right_b, agree = shared_counts(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa, c_obs, c_exp = _kappa(n, right_a, right_b, agree)
    return kappa, c_obs, c_exp, n


def shared_counts(a, b):
    """Counts behind κ for every pair of rows of two observers × trials matrices.

    Parameters
    ----------
    a : ndarray, shape (n_a, n_trials)
    b : ndarray, shape (n_b, n_trials)
        Correctness (0/1), NaN where the observer did not see the trial.

    Returns
    -------
    n, right_a, right_b, agree : ndarray, shape (n_a, n_b)
        Trials both saw; of those, right for a, right for b, and both right or both wrong.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    ma, mb = np.isfinite(a).astype(float), np.isfinite(b).astype(float)
    ca, cb = np.where(ma > 0, a, 0.0), np.where(mb > 0, b, 0.0)
    wa, wb = ma - ca, mb - cb  # wrong (seen and not correct)
    return ma @ mb.T, ca @ mb.T, ma @ cb.T, ca @ cb.T + wa @ wb.T


def _kappa(n, right_a, right_b, agree):
    """κ, c_obs, c_exp from counts (NaN where undefined: no trials, or c_exp = 1)."""
    n = np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b, c_obs = right_a / n, right_b / n, agree / n
        c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
        # Where κ is undefined the formula gives 0/0 = NaN by itself: with no trials every
        # share is 0/0, and c_exp = 1 (exactly: both at 100 %, or both at 0 %) means every
        # trial agreed, c_obs = 1. No mask is needed, so none can be wrong.
        kappa = (c_obs - c_exp) / (1 - c_exp)
    return kappa, c_obs, c_exp


def reference_kind(trials: pd.DataFrame) -> str | None:  # pragma: no mutate (annotations are text)
    """The observers models are compared with: humans, or simulated observers if there are none.

    Examples
    --------
    >>> import pandas as pd
    >>> reference_kind(pd.DataFrame({"observer_kind": ["model", "simulated"]}))
    'simulated'
    >>> reference_kind(pd.DataFrame({"observer_kind": ["model", "human", "simulated"]}))
    'human'
    >>> print(reference_kind(pd.DataFrame({"observer_kind": ["model"]})))
    None
    """
    kinds = set(trials["observer_kind"])
    return "human" if "human" in kinds else ("simulated" if "simulated" in kinds else None)


def model_human_consistency(trials: pd.DataFrame, *, min_shared: int = 1) -> pd.DataFrame:
    """κ per level for every (model, human) pair and every pair of humans of one group.

    Parameters
    ----------
    trials : pandas.DataFrame
        Tidy trials (after exclusions).
    min_shared : int
        Pairs sharing fewer trials at a level are left out (not counted at all).

    Returns
    -------
    pandas.DataFrame
        One row per pair and level: ``comparison ("model-human" | "human-human"), model,
        observer_a, observer_b, group, level, n_shared, c_obs, c_exp, kappa, defined``. For
        simulated reference observers the comparison reads ``model-simulated``.

    Examples
    --------
    Two humans and a model on the same three stimuli of one level:

    >>> import numpy as np
    >>> import pandas as pd
    >>> trials = pd.DataFrame({
    ...     "observer": ["p1"] * 3 + ["p2"] * 3 + ["net"] * 3,
    ...     "observer_kind": ["human"] * 6 + ["model"] * 3,
    ...     "group": "clickme", "level": "10", "stimulus_id": ["a", "b", "c"] * 3,
    ...     "category": ["animal", "nonanimal", "animal"] * 3,
    ...     "correct": [1, 0, 1, 1, 0, 0, 1, 0, 1],
    ...     "p_animal": [np.nan] * 6 + [0.9, 0.6, 0.3]})
    >>> pairs = model_human_consistency(trials)
    >>> pairs[["comparison", "observer_a", "observer_b", "n_shared", "kappa"]].round(3)
        comparison observer_a observer_b  n_shared  kappa
    0  human-human         p1         p2         3    0.4
    1  model-human        net         p1         3    1.0
    2  model-human        net         p2         3    0.4
    """
    ref = reference_kind(trials)
    if ref is None:
        return pd.DataFrame(columns=["comparison", "model", "observer_a", "observer_b", "group", "level",
                                     "n_shared", "c_obs", "c_exp", "kappa", "defined"])
    rows = []
    people = trials[trials["observer_kind"] == ref]
    models = trials[trials["observer_kind"] == "model"]
    # (the row order, not the rows: sort=True or False changes nothing summarize_consistency reports)
    for level, lv_trials in people.groupby("level", sort=False):  # pragma: no mutate (row order only)
        lv_models = models[models["level"] == level]
        for group, g_trials in lv_trials.groupby("group", sort=True):  # pragma: no mutate (row order only)
            names = sorted(g_trials["observer"].unique())
            stim = sorted(g_trials["stimulus_id"].unique())
            hm = (g_trials.pivot_table(index="observer", columns="stimulus_id", values="correct", aggfunc="mean")
                  .reindex(index=names, columns=stim).to_numpy(float))
            # Human–human reference (upper triangle).
            n, ra, rb, ag = shared_counts(hm, hm)
            k, co, ce = _kappa(n, ra, rb, ag)
            iu, ju = np.triu_indices(len(names), 1)
            for i, j in zip(iu, ju):
                if n[i, j] >= min_shared:
                    rows.append(("human-human" if ref == "human" else "simulated-simulated", "", names[i],
                                 names[j], group, level, int(n[i, j]), co[i, j], ce[i, j], k[i, j],
                                 ra[i, j], rb[i, j], ag[i, j]))
            for model, m_trials in lv_models.groupby("observer", sort=True):  # pragma: no mutate (row order)
                mv = (m_trials.groupby("stimulus_id")["correct"].mean().reindex(stim).to_numpy(float))[None, :]
                n, ra, rb, ag = (np.ravel(x) for x in shared_counts(mv, hm))  # one model: one row
                k, co, ce = _kappa(n, ra, rb, ag)
                for j in range(len(names)):
                    if n[j] >= min_shared:
                        rows.append((f"model-{ref}", model, model, names[j], group, level, int(n[j]),
                                     co[j], ce[j], k[j], ra[j], rb[j], ag[j]))
    out = pd.DataFrame(rows, columns=["comparison", "model", "observer_a", "observer_b", "group", "level",
                                      "n_shared", "c_obs", "c_exp", "kappa", "right_a", "right_b", "agree"])
    out["defined"] = out["kappa"].notna()
    return out


def summarize_consistency(pairs: pd.DataFrame) -> pd.DataFrame:
    """Mean κ over pairs per comparison, model, group and level, with undefined pairs counted.

    ``kappa_pooled`` is κ of the pairs' trials taken together (their counts summed), the
    read-out for this design: a participant sees about one trial per level (7 with the
    paper's 80 images, 1 with the 4-image sample), and on one shared trial a pair's κ can
    only be 0 or undefined, so a mean of per-pair κ says little there.

    Returns
    -------
    pandas.DataFrame
        ``comparison, model, group, level, n_pairs, n_defined, n_undefined, kappa_pooled,
        kappa_mean, kappa_sem, mean_shared_trials, note``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> trials = pd.DataFrame({
    ...     "observer": ["p1"] * 3 + ["p2"] * 3 + ["net"] * 3,
    ...     "observer_kind": ["human"] * 6 + ["model"] * 3,
    ...     "group": "clickme", "level": "10", "stimulus_id": ["a", "b", "c"] * 3,
    ...     "category": ["animal", "nonanimal", "animal"] * 3,
    ...     "correct": [1, 0, 1, 1, 0, 0, 1, 0, 1],
    ...     "p_animal": [np.nan] * 6 + [0.9, 0.6, 0.3]})
    >>> summary = summarize_consistency(model_human_consistency(trials))
    >>> summary[["comparison", "model", "n_pairs", "kappa_pooled", "kappa_mean"]].round(3)
        comparison model  n_pairs  kappa_pooled  kappa_mean
    0  human-human              1         0.400         0.4
    1  model-human   net        2         0.667         0.7
    """
    rows = []
    keys = ["comparison", "model", "group", "level"]
    for (comp, model, group, level), sub in pairs.groupby(keys, sort=False):  # pragma: no mutate (sorted below)
        k = sub["kappa"].dropna().to_numpy(float)
        note = ""
        if len(k) == 0:
            note = "undefined: every pair at ceiling (no errors to compare)"
        elif len(k) < len(sub):
            note = f"{len(sub) - len(k)} pairs undefined (ceiling)"
        pooled, _, _ = _kappa(sub["n_shared"].sum(), sub["right_a"].sum(), sub["right_b"].sum(),
                              sub["agree"].sum())
        rows.append({"comparison": comp, "model": model, "group": group, "level": level, "n_pairs": len(sub),
                     "n_defined": len(k), "n_undefined": len(sub) - len(k),
                     "kappa_pooled": float(pooled),
                     "kappa_mean": k.mean() if len(k) else np.nan,
                     "kappa_sem": k.std(ddof=1) / np.sqrt(len(k)) if len(k) > 1 else np.nan,
                     "mean_shared_trials": sub["n_shared"].mean(), "note": note})
    out = pd.DataFrame(rows, columns=["comparison", "model", "group", "level", "n_pairs", "n_defined",
                                      "n_undefined", "kappa_pooled", "kappa_mean", "kappa_sem", "mean_shared_trials",
                                      "note"])
    if len(out):
        out["_lv"] = out["level"].map(level_value)
        out = out.sort_values(["comparison", "model", "group", "_lv"]).drop(columns="_lv").reset_index(drop=True)
    return out


def image_spearman(trials: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation across images between human accuracy and model evidence.

    For every model and level, each stimulus (one image at that level, per map source) gives
    the mean accuracy of the humans who saw it and the model's probability for the correct
    category; the rank correlation is taken across stimuli. The ``all`` row pools every
    level (there the common dependence on the level dominates; per-level rows are the
    image-wise comparison).

    Returns
    -------
    pandas.DataFrame
        ``model, level, n_images, mean_humans_per_image, spearman_rho, p``.

    Examples
    --------
    The model's evidence for the correct category is 0.9, 0.4 and 0.3 on stimuli a, b
    and c; the humans' accuracy 1, 0 and 0.5:

    >>> import numpy as np
    >>> import pandas as pd
    >>> trials = pd.DataFrame({
    ...     "observer": ["p1"] * 3 + ["p2"] * 3 + ["net"] * 3,
    ...     "observer_kind": ["human"] * 6 + ["model"] * 3,
    ...     "group": "clickme", "level": "10", "stimulus_id": ["a", "b", "c"] * 3,
    ...     "category": ["animal", "nonanimal", "animal"] * 3,
    ...     "correct": [1, 0, 1, 1, 0, 0, 1, 0, 1],
    ...     "p_animal": [np.nan] * 6 + [0.9, 0.6, 0.3]})
    >>> image_spearman(trials).round(3)
      model level  n_images  mean_humans_per_image  spearman_rho      p
    0   net    10         3                    2.0           0.5  0.667
    1   net   all         3                    2.0           0.5  0.667
    """
    cols = ["model", "level", "n_images", "mean_humans_per_image", "spearman_rho", "p"]
    ref = reference_kind(trials)
    models = trials[(trials["observer_kind"] == "model")]
    if ref is None or models.empty or "p_animal" not in trials or models["p_animal"].isna().all():
        return pd.DataFrame(columns=cols)
    people = trials[trials["observer_kind"] == ref]
    human = people.groupby("stimulus_id")["correct"].agg(["mean", "size"])
    rows = []
    for model, m in models.groupby("observer", sort=True):  # pragma: no mutate (sorted below)
        m = m.drop_duplicates("stimulus_id").set_index("stimulus_id")
        evidence = np.where(m["category"] == "animal", m["p_animal"], 1 - m["p_animal"])
        joined = pd.DataFrame({"evidence": evidence, "level": m["level"]}, index=m.index).join(human, how="inner")
        joined = joined.dropna(subset=["evidence", "mean"])
        parts = [(lv, sub) for lv, sub in joined.groupby("level")] + [("all", joined)]
        for level, sub in parts:
            if len(sub) >= 3 and sub["mean"].nunique() > 1 and sub["evidence"].nunique() > 1:
                res = stats.spearmanr(sub["mean"], sub["evidence"])
                rho, p = float(res.statistic), float(res.pvalue)
            else:  # constant ranks (e.g. every human right on every image): undefined
                rho, p = np.nan, np.nan
            rows.append({"model": model, "level": level, "n_images": len(sub),
                         "mean_humans_per_image": float(sub["size"].mean()) if len(sub) else np.nan,
                         "spearman_rho": rho, "p": p})
    out = pd.DataFrame(rows, columns=cols)
    out["_pooled"] = out["level"] == "all"  # the row over every level last, after "full" (infinite) too
    out["_lv"] = [np.inf if lv == "all" else level_value(lv) for lv in out["level"]]
    return out.sort_values(["model", "_pooled", "_lv"]).drop(columns=["_pooled", "_lv"]).reset_index(drop=True)
