"""`reveal demo` end to end: the whole study on the bundled sample, outputs consistent."""
import base64
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from reveal.cli.main import main
from reveal.cli.demo import run_demo
from reveal.core.stimset import read_stimulus_set
from reveal.core.errors import InputError

# Real PsychoPy sessions, compiles or network runs: minutes, so not in `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

N_OBSERVERS = 48  # one full cycle of the design's lists (24 per map source)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`reveal demo` itself, through the console command's entry point."""
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["demo", "--out", str(out), "--observers", str(N_OBSERVERS), "--seed", "3", "--device", "cpu",
                 "--resamples", "500", "--no-progress"]) == 0
    return SimpleNamespace(stimuli=out / "stimuli", experiment=out / "experiment", data=out / "data",
                           analysis=out / "analysis", report=out / "analysis" / "report.html")


def test_every_stimulus_exists(demo):
    rows = read_stimulus_set(demo.stimuli, check_sizes=True).manifest.to_dict("records")  # raises if a file is missing
    assert len(rows) == 4 * 2 * 12
    assert {r["map_source"] for r in rows} == {"spectral_residual", "fine_grained"}


def test_experiment_folder_is_compiled_and_loads(demo):
    from psychopy import experiment

    exp = demo.experiment
    for name in ("rapidcat.psyexp", "rapidcat.py", "rapidcat.js", "rapidcat-legacy-browsers.js", "index.html"):
        assert (exp / name).stat().st_size > 0
    loaded = experiment.Experiment()
    loaded.loadFromXML(str(exp / "rapidcat.psyexp"))
    assert "rapid_trial" in loaded.routines
    compile((exp / "rapidcat.py").read_text(encoding="utf-8-sig"), "rapidcat.py", "exec")  # PsychoPy writes a BOM


def test_trial_table_has_the_expected_rows_per_observer(demo):
    trials = pd.read_csv(demo.analysis / "trials.csv", dtype=str)
    sims = trials[trials["observer_kind"] == "simulated"]
    assert sims["observer"].nunique() == N_OBSERVERS
    assert (sims.groupby("observer").size() == 4).all()  # each image once per participant
    assert set(sims["group"]) == {"spectral_residual", "fine_grained"}
    model = trials[trials["observer_kind"] == "model"]
    plain = model[model["observer"] == "efficientnet_lite0"]
    assert len(plain) == 96
    # the cue-strength sweep: the valid cue at 1 and 2, the invalid one at 2 (0 is the plain observer)
    assert set(model["observer"]) == {"efficientnet_lite0", "efficientnet_lite0+fsg(animal,head,1)",
                                      "efficientnet_lite0+fsg(animal,head,2)",
                                      "efficientnet_lite0+fsg(nonanimal,head,2)"}
    assert (model.groupby("observer").size() == 96).all()
    sweeps = pd.read_csv(demo.analysis / "sweeps.csv")
    assert sorted(sweeps.loc[sweeps["target"] == "animal", "strength"].unique()) == [0, 1, 2]
    assert (demo.analysis / "sdt.png").is_file() and (demo.analysis / "sweeps.png").is_file()
    assert "human" not in set(trials["observer_kind"])  # simulated data is never called human
    # the simulated data files are PsychoPy's own wide-text CSVs, read by the lab reader
    files = sorted(demo.data.glob("sim*_rapidcat_*.csv"))
    assert len(files) == N_OBSERVERS
    assert files[0].read_bytes().startswith(b"\xef\xbb\xbf")


def test_report_shows_both_groups_and_the_model(demo):
    curves = pd.read_csv(demo.analysis / "curves.csv")
    labels = set(curves["label"])
    assert any("spectral_residual" in lb and "simulated" in lb for lb in labels)
    assert any("fine_grained" in lb and "simulated" in lb for lb in labels)
    assert any("efficientnet_lite0" in lb for lb in labels)
    html = demo.report.read_text()
    pngs = re.findall(r"src=['\"]data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert pngs and base64.b64decode(pngs[0]).startswith(b"\x89PNG")
    assert "simulated" in html and "efficientnet_lite0" in html
    tests = pd.read_csv(demo.analysis / "tests.csv")
    assert {"level", "p", "p_fwer"} <= set(tests.columns)


def test_demo_refuses_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds nothing this toolkit wrote"):
        run_demo(tmp_path, n_observers=2)
    for extra in ([], ["--overwrite"]):  # --overwrite never deletes someone else's files
        assert main(["demo", "--out", str(tmp_path), "--observers", "2", "--no-progress", *extra]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_rerun_replaces_the_demo_and_keeps_the_users_files(tmp_path):
    out = tmp_path / "demo"
    run_demo(out, n_observers=4, n_resamples=99, device="cpu", progress=False)
    (out / "notes.txt").write_bytes(b"mine")
    figure = out / "analysis" / "my-figure.svg"
    figure.write_bytes(b"<svg/>")
    # analysis/ now holds a file `reveal analyze` did not write: refused, and the file kept
    with pytest.raises(InputError, match="my-figure.svg"):
        run_demo(out, n_observers=4, n_resamples=99, device="cpu", progress=False)
    assert figure.read_bytes() == b"<svg/>"
    figure.unlink()
    res = run_demo(out, n_observers=6, n_resamples=99, device="cpu", progress=False)
    assert (out / "notes.txt").read_bytes() == b"mine"
    assert res.report.is_file()
    assert len(list((out / "data").glob("*.csv"))) == 6  # the earlier run's 4 files were its own: replaced


def test_demo_shows_the_power_of_its_own_sample_set(demo):
    power = demo.analysis.parent / "power"
    table = pd.read_csv(power / "power.csv", dtype={"level": str})
    assert sorted(table["n_per_group"].unique()) == [20, 40, 60, 80, 100, 120]
    assert table["power"].between(0, 1).all() and "any" in set(table["level"])
    assert (power / "power.png").stat().st_size > 0
    assert "Power of the reveal design" in (power / "power.html").read_text()
