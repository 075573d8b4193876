"""A set with its own levels, end to end: `reveal stimuli build --levels 1,10,100`, `reveal experiment
build`, lab sessions of the compiled PsychoPy script under Xvfb (keys by xdotool), `reveal analyze`
and `reveal power`.

The participants answer the training and the intact images correctly (the analysis excludes an
observer at chance there) and press ``s`` at every reveal level, so accuracy varies with the category.
"""
from __future__ import annotations

import json
import threading
import time

import pandas as pd
import pytest

from reveal.cli.main import main
from reveal.core.readers import read_trials
from reveal.core.stimset import read_stimulus_set
from reveal.experiments import design as dsg

pytestmark = pytest.mark.slow

CONDITIONS = ["1", "10", "100", "full"]
N_TRAINING = 2
N_BLOCKS = 2


def _rows(folder, participant):
    """Trial rows (training and test) of a participant's data file so far; empty while none is readable."""
    files = sorted((folder / "data").glob(f"{participant}_rapidcat_*.csv"))
    if not files:
        return pd.DataFrame(columns=["phase", "level"])
    try:
        df = pd.read_csv(files[0], dtype={"resp_key": str, "level": str})
        return df[df["phase"].isin(["training", "test"])].reset_index(drop=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, KeyError):
        return pd.DataFrame(columns=["phase", "level"])


def _run_session(exp_dir, participant, stimset, key_driver):
    """One whole lab session through `reveal experiment run`; the key driver answers each trial in turn."""
    d = dsg.participant_design(stimset, participant, n_blocks=N_BLOCKS, n_training=N_TRAINING)
    a = d.assignment
    trials = pd.concat([d.training, d.test], ignore_index=True)
    keys = [(a.key_animal if c == "animal" else a.key_nonanimal) if k == stimset.full_index else "s"
            for c, k in zip(trials["category"], trials["level_index"])]
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("rc", main(
        ["experiment", "run", "--experiment", str(exp_dir), "--participant", str(participant), "--windowed",
         "--emulate-refresh", "60"])))
    with key_driver((keys[0], "space")) as drv:
        runner.start()
        deadline = time.monotonic() + 240
        while runner.is_alive() and time.monotonic() < deadline:
            done = len(_rows(exp_dir, participant))
            drv.keys = [keys[min(done, len(keys) - 1)], "space"]  # the next trial's answer
            time.sleep(0.05)
        runner.join(timeout=30)
    assert result.get("rc") == 0, f"session of participant {participant} did not end cleanly"
    return d, trials


def test_levels_1_10_100_end_to_end(tmp_path, key_driver, xvfb, monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", xvfb)
    stim, exp_dir = tmp_path / "set", tmp_path / "exp"

    # 1. the stimulus set, with its own levels
    assert main(["stimuli", "build", "--sample", "--levels", "1,10,100", "--out", str(stim), "--no-progress"]) == 0
    s = read_stimulus_set(stim, check_sizes=True)
    assert s.conditions == tuple(CONDITIONS) and s.n_conditions == 4 and len(s.images) == 4
    assert json.loads((stim / "stimset.json").read_text())["levels"] == CONDITIONS

    # 2. the experiment: a Latin square of 4 conditions, 2 x 4 x 2 sources = 16 lists
    assert main(["experiment", "build", "--stimuli", str(stim), "--out", str(exp_dir),
                 "--blocks", str(N_BLOCKS), "--training", str(N_TRAINING)]) == 0
    assert "(16 participant lists)" in capsys.readouterr().out
    info = json.loads((exp_dir / "design.json").read_text())
    assert info["n_lists"] == 16 and info["levels"] == CONDITIONS and info["n_conditions"] == 4
    assert len(list((exp_dir / "conditions").glob("list*_blocks.csv"))) == 16
    lab_script = (exp_dir / "rapidcat.py").read_text(encoding="utf-8")
    assert "rv_n_rows = 4" in lab_script and "rv_levels = ['1', '10', '100', 'full']" in lab_script
    assert "rv_n_rows = 4;" in (exp_dir / "rapidcat.js").read_text(encoding="utf-8")

    # 3. lab sessions: participants 0 and 1 see the first map source, 4 and 5 the second
    participants = (0, 1, 4, 5)
    for p in participants:
        d, trials = _run_session(exp_dir, p, s, key_driver)
        df = _rows(exp_dir, p)
        assert df["stimulus_id"].tolist() == trials["stimulus_id"].tolist()
        assert df["level"].tolist() == [CONDITIONS[k] for k in trials["level_index"]]
        test = df[df["phase"] == "test"]
        assert sorted(test["level"]) == sorted(CONDITIONS)  # 4 images: each condition once
        assert (df["group"] == d.assignment.group).all() and (df["stim_frames"] == 24).all()
        full = df[df["level"] == "full"]
        assert (full["correct"] == 1).all(), full[["phase", "resp_key", "response", "category"]]
    groups = {dsg.participant_design(s, p).assignment.group for p in participants}
    assert groups == set(s.sources)

    # 4. the analysis reads the lab files against the set and reports its levels
    tidy = read_trials([exp_dir / "data"], stimuli=stim).trials
    assert len(tidy) == 4 * len(participants) and set(tidy["level"]) == set(CONDITIONS)
    out = tmp_path / "analysis"
    # Xvfb has no vsync: the flips do not time the image at 400 ms, so the timing rule would leave
    # every trial out (the frame counts above are what holds here)
    assert main(["analyze", str(exp_dir / "data"), "--stimuli", str(stim), "--out", str(out), "--keep-timing-failures",
                 "--resamples", "200", "--bootstrap", "100", "--no-fits", "--no-progress"]) == 0
    tests = pd.read_csv(out / "tests.csv", dtype={"level": str})
    assert tests["level"].tolist() == CONDITIONS
    curves = pd.read_csv(out / "curves.csv", dtype={"level": str})
    assert set(curves["level"]) == set(CONDITIONS)
    for name in ("trials.csv", "accuracy.png", "report.html"):
        assert (out / name).stat().st_size > 0, name

    # 5. power over the set's own Latin square
    power = tmp_path / "power"
    assert main(["power", "--stimuli", str(stim), "--group", "fine_grained:threshold=5",
                 "--group", "spectral_residual:threshold=30", "--n", "4,8", "--studies", "20", "--resamples", "19",
                 "--out", str(power), "--no-progress"]) == 0
    table = pd.read_csv(power / "power.csv", dtype={"level": str})
    assert list(dict.fromkeys(table["level"])) == [*CONDITIONS, "any"]
    settings = json.loads((power / "power.json").read_text())
    assert settings["levels"] == CONDITIONS and settings["n_images"] == 4
    print(f"e2e: {info['n_lists']} lists; {len(tidy)} test trials of {len(participants)} participants "
          f"(+{N_TRAINING} training each); analysis: {len(tests)} tests, {len(curves)} curve rows; "
          f"power: {len(table)} rows")
