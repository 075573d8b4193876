"""`reveal analyze` and the synthetic participants on a set with its own levels (1, 10, 100)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reveal.analysis.synthetic import simulate_trials
from reveal.cli.main import main
from reveal.core.readers import read_trials

CONDITIONS = ["1", "10", "100", "full"]


def test_synthetic_participants_rotate_over_the_sets_conditions():
    trials = simulate_trials({"clickme": 0.6, "salicon": 1.2}, 4, rng=0, n_images=8, levels=CONDITIONS)
    assert set(trials["level"]) == set(CONDITIONS)
    assert trials.groupby(["observer", "level"]).size().unique().tolist() == [2]  # 8 images over 4 conditions


@pytest.mark.slow  # reveal analyze end to end, psignifit fits included (20 s): the full suite, not the everyday loop
def test_analyze_reports_the_sets_levels(tmp_path, manifest_for, write_experiment_folder):
    trials = simulate_trials({"clickme": 0.6, "salicon": 1.2}, 8, rng=np.random.default_rng(4), n_images=16,
                             levels=CONDITIONS, kind="human")
    stim = tmp_path / "stimset"
    stim.mkdir()
    manifest = manifest_for(trials).assign(level_index=lambda d: d["level"].map(CONDITIONS.index))
    manifest.to_csv(stim / "manifest.csv", index=False)
    (stim / "stimset.json").write_text(json.dumps({"parameters": {"seed": 1}, "levels": CONDITIONS}))
    write_experiment_folder(trials, tmp_path / "data")
    assert set(read_trials([tmp_path / "data"], stimuli=stim).trials["level"]) == set(CONDITIONS)
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "data"), "--stimuli", str(stim), "--out", str(out),
                 "--resamples", "200", "--bootstrap", "100", "--seed", "1", "--no-progress"]) == 0
    tests = pd.read_csv(out / "tests.csv", dtype={"level": str})
    assert tests["level"].tolist() == CONDITIONS and (tests["p_fwer"] >= tests["p"]).all()
    curves = pd.read_csv(out / "curves.csv", dtype={"level": str})
    assert set(curves["level"]) == set(CONDITIONS)
    assert (out / "report.html").stat().st_size > 0
