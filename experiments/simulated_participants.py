"""Simulated participants: the real trial lists, answered by a noisy observer, saved by PsychoPy.

Its one job is data files that look exactly like a lab session's (for ``reveal demo`` and the
end-to-end tests); tidy tables with stated true curves for checking the statistics are
:mod:`reveal.analysis.synthetic`.

Used by ``reveal demo`` to have human-like data without humans. Every simulated file is
labelled as such (``observer_kind = simulated`` on every row, participant ids ``sim…``),
so it can never be mistaken for real data.

The observer (one per participant, its parameters drawn around :class:`ObserverParams`):

    share  = clip(log10(revealed % of the feature budget) / 2, 0, 1)   (1 for the intact image)
    vote   = clip(logit(P_model(animal)), −4, 4) / 4                    (the network's evidence)
    μ      = sensitivity · share^γ · ((1 − w) · y + w · vote)            (y = +1 animal, −1 not)
    answer "animal" when μ + bias + ε > 0, ε ~ N(0, 1); with probability ``lapse`` a coin flip

so accuracy rises with the share of features revealed, and the observer errs more where the
network does (weight ``w``). The response time is ``rt0 + rt_scale · exp(−|μ|/2) · LogNormal(0,
0.35)``; answers after the 550 ms deadline are timeouts.

The trial lists come from :mod:`reveal.experiments.design` (Latin square, blocks, keys, training), and
the data file is written by PsychoPy's own ``ExperimentHandler`` with the columns the compiled
experiment writes, named as PsychoPy names its files, so the analysis reads it through the
same reader as lab data.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.trialdata import ANTICIPATION_S
from ..core.seeding import as_generator
from ..core.extras import require_extra
from . import design as dsg

__all__ = ["ObserverParams", "draw_observer", "simulate_responses", "simulate_participant"]

REFRESH_HZ = 60.0


@dataclass(frozen=True)
class ObserverParams:
    """Parameters of one simulated observer (see the module docstring)."""

    sensitivity: float = 3.0
    gamma: float = 1.0
    model_weight: float = 0.4
    lapse: float = 0.04
    bias: float = 0.0
    rt0: float = 0.30
    rt_scale: float = 0.16


def draw_observer(rng=None, base=ObserverParams()):
    """One observer's parameters: the population's, varied between participants."""
    rng = as_generator(rng)
    return replace(base,
                   sensitivity=float(base.sensitivity * rng.lognormal(0, 0.25)),
                   lapse=float(np.clip(base.lapse + rng.normal(0, 0.02), 0, 0.2)),
                   bias=float(rng.normal(0, 0.2)),
                   rt0=float(base.rt0 + rng.normal(0, 0.03)))


def _feature_share(level):
    if level == "full":
        return 1.0
    return float(np.clip(np.log10(float(level)) / 2, 0, 1))


def simulate_responses(trials, p_animal, params, rng=None, deadline_s=dsg.DEADLINE_S):
    """Answers of one observer to a list of trials.

    Parameters
    ----------
    trials : pandas.DataFrame
        With columns ``stimulus_id, category, level`` (level as written: ``"1.58"``, ``"full"``).
    p_animal : mapping
        ``stimulus_id -> P(animal)`` of a network on that stimulus.
    params : ObserverParams
    rng : None, int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        ``response`` (animal | nonanimal | none), ``rt_s`` (NaN for timeouts), ``timed_out``,
        one row per trial, in the order of ``trials``.
    """
    rng = as_generator(rng)
    n = len(trials)
    y = np.where(trials["category"].to_numpy() == "animal", 1.0, -1.0)
    share = np.array([_feature_share(v) for v in trials["level"]])
    p = np.clip(np.array([p_animal[s] for s in trials["stimulus_id"]], dtype=float), 1e-6, 1 - 1e-6)
    vote = np.clip(np.log(p / (1 - p)), -4, 4) / 4
    mu = params.sensitivity * share ** params.gamma * ((1 - params.model_weight) * y + params.model_weight * vote)
    says_animal = mu + params.bias + rng.standard_normal(n) > 0
    lapses = rng.random(n) < params.lapse
    says_animal = np.where(lapses, rng.random(n) < 0.5, says_animal)
    rt = params.rt0 + params.rt_scale * np.exp(-np.abs(mu) / 2) * rng.lognormal(0, 0.35, n)
    timed_out = rt > deadline_s
    response = np.where(timed_out, "none", np.where(says_animal, "animal", "nonanimal"))
    return pd.DataFrame({"response": response, "rt_s": np.where(timed_out, np.nan, rt.round(4)),
                         "timed_out": timed_out.astype(int)})


def simulate_participant(stimset, participant, p_animal, out_dir, rng=None, *, exp_name="rapidcat",
                         params=None, date="2026-01-01_00h00.00.000", n_blocks=5):
    """Run one simulated participant through their real trial list; write their data file.

    Parameters
    ----------
    stimset : experiments.design.StimulusSet
    participant : int
        Participant index (Latin-square list, group and keys follow from it).
    p_animal : mapping
        ``stimulus_id -> P(animal)`` from a model observer.
    out_dir : path-like
        The ``data`` folder; the file is ``sim{participant:03d}_{exp_name}_{date}.csv``.
    rng : None, int or numpy.random.Generator
    params : ObserverParams, optional
        Default: drawn with :func:`draw_observer`.

    Returns
    -------
    Path
        The CSV written by PsychoPy's ``ExperimentHandler.saveAsWideText``.
    """
    rng = as_generator(rng)
    require_extra("experiment", "reveal.experiments.simulated_participants")
    from psychopy import data as psydata  # PsychoPy writes the file, as in the lab

    design = dsg.participant_design(stimset, participant, n_blocks=n_blocks)
    a = design.assignment
    params = params or draw_observer(rng)
    levels = stimset.levels
    pid = f"sim{participant:03d}"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{pid}_{exp_name}_{date}"
    exp = psydata.ExperimentHandler(
        name=exp_name, extraInfo={"participant": pid, "session": "001", "group": a.group,
                                  "date": date, "expName": exp_name, "observer_kind": "simulated"},
        dataFileName=str(stem), savePickle=False, saveWideText=False)
    for phase_trials in (design.training, design.test):
        trials = phase_trials.assign(level=[levels[int(k)] for k in phase_trials["level_index"]])
        answers = simulate_responses(trials, p_animal, params, rng)
        for (_, t), (_, r) in zip(trials.iterrows(), answers.iterrows()):
            key = {"animal": a.key_animal, "nonanimal": a.key_nonanimal}.get(r["response"], "")
            row = {
                "key_animal": a.key_animal, "key_nonanimal": a.key_nonanimal, "phase": t["phase"],
                "block": int(t["block"]), "trial": int(t["trial"]), "stimulus_id": t["stimulus_id"],
                "image_id": t["image_id"], "category": t["category"], "map_source": t["map_source"],
                "level": t["level"], "resp_key": key, "response": r["response"],
                "correct": int(r["response"] == t["category"]),
                "rt_s": "" if r["timed_out"] else r["rt_s"], "timed_out": int(r["timed_out"]),
                "fixation_frames": int(round(float(t["fixation_s"]) * REFRESH_HZ)),
                "stim_frames": int(round(dsg.STIMULUS_S * REFRESH_HZ)), "refresh_hz": REFRESH_HZ,
                "dropped_frames": 0, "stim_duration_s": dsg.STIMULUS_S, "timing_ok": 1,
                "anticipation": int(not r["timed_out"] and r["rt_s"] < ANTICIPATION_S),
                "early_presses": 0,
            }
            for k, v in row.items():
                exp.addData(k, v)
            exp.nextEntry()
    path = Path(str(stem) + ".csv")
    exp.saveAsWideText(str(path), delim=",", fileCollisionMethod="overwrite")
    exp.abort()  # nothing more to save at exit
    return path
