"""``reveal power`` end to end: pilot data written by PsychoPy, model files, stated curves."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from reveal.core.trialdata import MODEL_COLUMNS
from reveal.cli.main import main
from reveal.experiments.power_effects import effects_from_models, effects_from_pilot, parse_group_spec
from reveal.experiments.simulated_participants import simulate_participant
from reveal.core.seeding import derive_rng
from reveal.core.stimset import read_stimulus_set


def _p_animal(manifest, strength):
    """P(animal) per stimulus: evidence for the right answer grows with the level revealed."""
    level = manifest["level"].map(lambda v: 100.0 if v == "full" else float(v))
    evidence = np.clip(np.log10(level) / 2, 0, 1) * strength
    sign = np.where(manifest["category"] == "animal", 1, -1)
    return dict(zip(manifest["stimulus_id"], 0.5 + 0.5 * sign * evidence))


@pytest.fixture(scope="module")
def pilot(tmp_path_factory, make_stimulus_set):
    root = tmp_path_factory.mktemp("power")
    stim = make_stimulus_set(root / "set", n_images=24)
    stimset = read_stimulus_set(stim)
    p_animal = _p_animal(stimset.manifest, 0.9)
    for i in range(24):
        simulate_participant(stimset, i, p_animal, root / "data", derive_rng(0, "power pilot", i))
    return root, stim


@pytest.mark.slow  # two psignifit fits: ~10 s
def test_pilot_effects_are_fitted_per_group(pilot):
    root, stim = pilot
    effects = effects_from_pilot(root / "data", stim, rng=0)
    assert [e.name for e in effects] == ["clickme", "salicon"]
    for e in effects:
        acc = e.accuracy(["1", "10", "100", "full"])
        assert acc[0] < acc[1] <= acc[2] + 1e-9 and 0.5 <= acc[0] and acc[3] > 0.8
        assert e.spread_log10 >= 0 and 0 <= e.timeout_rate < 0.5 and re.match(r"pilot: 1[0-2] participants", e.origin)


@pytest.mark.slow  # three runs, each fitting the pilot with psignifit
def test_power_command_prints_and_saves_table_figure_and_report(pilot, tmp_path, capsys):
    root, stim = pilot
    out = tmp_path / "power"
    args = ["power", "--pilot", str(root / "data"), "--stimuli", str(stim), "--n", "20:120:20",
            "--studies", "40", "--resamples", "99", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "clickme vs salicon" in printed and "N per group for 80% power" in printed
    table = pd.read_csv(out / "power.csv", dtype={"level": str})
    assert sorted(table["n_per_group"].unique()) == [20, 40, 60, 80, 100, 120]
    assert set(table["level"]) == set(read_stimulus_set(stim).levels) | {"any"}
    assert table["power"].between(0, 1).all() and (table["power_se"] >= 0).all()
    assert (out / "power.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "power.html").read_text()
    assert "data:image/png;base64" in report and "Assumed accuracy per group and level" in report
    assert set(pd.read_csv(out / "effects.csv")["group"]) == {"clickme", "salicon"}
    # the same seed gives the same table; an earlier run is replaced only with --overwrite
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "power.csv", dtype={"level": str}), table)


def _model_file(path, stimset, strength):
    man = stimset.manifest
    p = _p_animal(man, strength)
    rows = []
    for i, r in enumerate(man.itertuples(index=False), start=1):
        answer = "animal" if p[r.stimulus_id] >= 0.5 else "nonanimal"
        rows.append(["net", "model", r.map_source, 1, 1, i, r.stimulus_id, r.image_id, r.category, r.map_source,
                     r.level, answer, int(answer == r.category), "", 0, f"{p[r.stimulus_id]:.4f}", "", "x"])
    pd.DataFrame(rows, columns=list(MODEL_COLUMNS)).to_csv(path, index=False)
    return path


def test_models_and_stated_groups(pilot, tmp_path, capsys):
    _, stim = pilot
    stimset = read_stimulus_set(stim)
    pred = _model_file(tmp_path / "net.csv", stimset, 0.9)
    effects = effects_from_models(pred, stim, spread_log10=0.2)
    assert [e.name for e in effects] == ["net:clickme", "net:salicon"]
    assert all(e.spread_log10 == 0.2 and e.origin.startswith("model net") for e in effects)
    out = tmp_path / "out"
    assert main(["power", "--models", str(pred), "--stimuli", str(stim), "--group", "people:threshold=5,spread=0.2",
                 "--compare", "people,net:clickme", "--n", "10,20", "--studies", "20", "--resamples", "49",
                 "--out", str(out), "--no-progress"]) == 0
    assert set(pd.read_csv(out / "power.csv")["comparison"]) == {"net:clickme vs people"}


@pytest.mark.parametrize("extra, message", [
    (["--n", "0:10:5"], "--n takes"),
    (["--n", "20:120:20", "--group", "a:threshold=x"], "threshold must be a number"),
    (["--group", "a:thresh=4"], "unknown setting 'thresh'"),
    (["--group", "a:threshold=4"], "two groups to compare"),
    (["--group", "a:threshold=4", "--group", "b:threshold=5", "--compare", "a,c"], "--compare takes two"),
    (["--group", "a:threshold=4", "--group", "a:threshold=5"], "two groups share a name: a"),
    ([], "give the effect"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, extra, message):
    assert main(["power", "--out", str(tmp_path / "o"), "--studies", "10", "--resamples", "19",
                 "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o" / "power.csv").exists()


def test_parse_group_spec_defaults():
    g = parse_group_spec("clickme:threshold=4")
    assert (g.spread_log10, g.timeout_rate) == (0.1, 0.0)
    assert g.accuracy(["full"])[0] == pytest.approx(0.97)
