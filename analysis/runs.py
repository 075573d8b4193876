"""Trained networks compared: the test fold of two GALA runs, and a λ sweep (the ClickMe paper's Fig. 7).

The runs' per-image results (``heldout_per_image.csv``, read by
:func:`reveal.models.gala_files.read_heldout`) come in as tables; nothing here runs a network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.errors import InputError
from .randomization import PermutationTestResult, sign_flip_test

__all__ = ["RunComparison", "compare_runs", "lambda_sweep_figure", "run_figure"]


@dataclass(frozen=True)
class RunComparison:
    """Two runs on the same test images: per-image differences (B − A) and their paired test.

    Attributes
    ----------
    n_images : int
    means : pandas.DataFrame
        Rows ``accuracy`` and ``map_spearman``, columns ``a``, ``b``, ``difference``.
    test : PermutationTestResult
        :func:`reveal.analysis.randomization.sign_flip_test` of the per-image differences
        (statistic: the mean difference; accuracy first, then map Spearman), with its null.
    """

    n_images: int
    means: pd.DataFrame
    test: PermutationTestResult


def compare_runs(a: pd.DataFrame, b: pd.DataFrame, *, rng=None, n_resamples: int = 9999) -> RunComparison:
    """Paired randomization test of two runs' test-fold results, image by image.

    Parameters
    ----------
    a, b : pandas.DataFrame
        ``image_id``, ``correct`` (0/1) and ``map_spearman`` (NaN without a map) per test image;
        the same images in both (runs trained on the same photographs with the same seed).
    rng : None, int or numpy.random.Generator
    n_resamples : int

    Returns
    -------
    RunComparison

    Raises
    ------
    InputError
        When the runs were tested on different images.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"image_id": list("pqrstu"), "correct": [1, 0, 1, 0, 1, 1],
    ...                   "map_spearman": [0.1, 0.2, 0.0, 0.1, 0.3, 0.2]})
    >>> b = a.assign(map_spearman=a["map_spearman"] + [0.3, 0.4, 0.5, 0.2, 0.4, 0.3])
    >>> res = compare_runs(a, b, rng=0, n_resamples=999)
    >>> res.means.round(3).loc["map_spearman"].tolist(), round(float(res.test.pvalue[1]), 3)
    ([0.15, 0.5, 0.35], 0.03)
    """
    if set(a["image_id"]) != set(b["image_id"]):
        only = sorted(set(a["image_id"]) ^ set(b["image_id"]))
        raise InputError(f"the runs were tested on different images ({len(only)} differ, e.g. "
                         f"{', '.join(map(str, only[:3]))}): train both on the same photographs with the same seed")
    b = b.set_index("image_id").loc[a["image_id"]].reset_index()
    cols = ["correct", "map_spearman"]
    va, vb = a[cols].to_numpy(float), b[cols].to_numpy(float)
    test = sign_flip_test(vb - va, rng=rng, n_resamples=n_resamples, statistic="mean")
    means = pd.DataFrame({"a": np.nanmean(va, axis=0), "b": np.nanmean(vb, axis=0)},
                         index=["accuracy", "map_spearman"])
    means["difference"] = means["b"] - means["a"]
    return RunComparison(len(a), means, test)


def lambda_sweep_figure(table: pd.DataFrame):
    """Held-out accuracy and map score against λ, one panel each (the ClickMe paper's Fig. 7).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``lambda``, ``accuracy``, ``map_spearman``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> fig = lambda_sweep_figure(pd.DataFrame({"lambda": [0, 1, 6], "accuracy": [0.9, 0.85, 0.8],
    ...                                         "map_spearman": [0.3, 0.5, 0.6]}))
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes]
    ['held-out accuracy', 'held-out map score']
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    t = table.sort_values("lambda")
    for ax, column, title in zip(fig.subplots(1, 2), ("accuracy", "map_spearman"),
                                 ("held-out accuracy", "held-out map score\n(Spearman of Â with the human map)")):
        ax.plot(t["lambda"], t[column], "o-", color="k")
        ax.set_xlabel("λ (weight of the map loss)")
        ax.set_title(title, fontsize=10)
        ax.set_xscale("symlog", linthresh=1)  # λ = 0 and the paper's 1 … 20 on one axis
        ax.set_xticks(t["lambda"].tolist(), [f"{v:g}" for v in t["lambda"]])
        ax.minorticks_off()
        if column == "accuracy":
            ax.set_ylim(-0.02, 1.02)
    return fig


def run_figure(log: pd.DataFrame, heldout: pd.DataFrame, best_epoch: int, title: str = ""):
    """One run at a glance: its losses and validation scores by epoch, and its test fold.

    Parameters
    ----------
    log : pandas.DataFrame
        ``log.csv``: ``epoch``, ``train_ce``, ``val_ce``, ``train_map``, ``val_map``,
        ``val_accuracy``, ``val_map_spearman`` (no rows for a run of 0 epochs).
    heldout : pandas.DataFrame
        ``heldout_per_image.csv``: ``correct``, ``map_spearman`` per test image.
    best_epoch : int
        The epoch whose weights were kept (marked; 0: the initial network).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: losses, validation scores, the test images' map Spearman (their accuracy
        in the title).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"epoch": [1, 2], "train_ce": [0.7, 0.5], "val_ce": [0.7, 0.6], "train_map": [0.4, 0.3],
    ...                     "val_map": [0.4, 0.35], "val_accuracy": [0.6, 0.7], "val_map_spearman": [0.2, 0.4]})
    >>> held = pd.DataFrame({"correct": [1, 0, 1], "map_spearman": [0.5, 0.1, float("nan")]})
    >>> fig = run_figure(log, held, best_epoch=2)
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes]
    ['losses', 'validation', 'test fold: accuracy 0.667']
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10.5, 3.2), layout="constrained")
    losses, scores, test = fig.subplots(1, 3)
    if len(log):
        curves = (("train_ce", "-", "cross-entropy, training"), ("val_ce", "--", "validation"),
                  ("train_map", "-", "map loss (sum over blocks), training"), ("val_map", "--", "validation"))
        for column, style, label in curves:
            color = "C0" if column.endswith("ce") else "C1"
            losses.plot(log["epoch"], log[column], style, color=color, label=label)
        scores.plot(log["epoch"], log["val_accuracy"], "o-", color="k", label="accuracy")
        scores.plot(log["epoch"], log["val_map_spearman"], "s--", color="C1", label="map Spearman")
        scores.set_ylim(-1.02, 1.02)
        for ax in (losses, scores):
            if best_epoch > 0:
                ax.axvline(best_epoch, color="0.6", lw=0.8, ls=":", label=f"kept (epoch {best_epoch})")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=7, frameon=False)
    else:
        for ax in (losses, scores):
            ax.text(0.5, 0.5, "not trained (0 epochs):\nthe initial network", ha="center", va="center",
                    transform=ax.transAxes)
    losses.set_title("losses", fontsize=10)
    scores.set_title("validation", fontsize=10)
    rho = heldout["map_spearman"].to_numpy(float)
    rho = rho[np.isfinite(rho)]
    accuracy = float(heldout["correct"].mean()) if len(heldout) else float("nan")
    if len(rho):
        test.hist(rho, bins=np.linspace(-1, 1, 21), color="0.7", edgecolor="k")
        test.axvline(rho.mean(), color="C1", label=f"mean {rho.mean():.3f} (n = {len(rho)})")
        test.legend(fontsize=7, frameon=False)
    else:
        test.text(0.5, 0.5, "no test image has a map", ha="center", va="center", transform=test.transAxes)
    test.set_xlabel("map Spearman of Â with the human map")
    test.set_ylabel("test images")
    test.set_title(f"test fold: accuracy {accuracy:.3f}\n({len(heldout)} images)", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
