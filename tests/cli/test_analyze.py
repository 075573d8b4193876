import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd

from reveal.core.outputs import RECORD
import pytest

from reveal.core.readers import read_trials
from reveal.cli.main import main


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []
        self.external = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http", "//")):
                self.external.append(attrs[key])


@pytest.fixture(scope="module")
def analysis_run(manifest_for, model_csv, write_experiment_folder, tmp_path_factory, human_trials):

    root = tmp_path_factory.mktemp("run")
    stim = root / "stimset"
    stim.mkdir()
    manifest_for(human_trials).to_csv(stim / "manifest.csv", index=False)
    write_experiment_folder(human_trials, root / "data")
    model_csv(human_trials, np.random.default_rng(0)).to_csv(root / "toynet.csv", index=False)
    out = root / "out"
    rc = main(["analyze", str(root / "data"), str(root / "toynet.csv"), "--stimuli", str(stim), "--out", str(out),
               "--resamples", "500", "--bootstrap", "300", "--seed", "3", "--no-progress"])
    assert rc == 0
    return out


def test_outputs_written(analysis_run):
    out = analysis_run
    for name in ("trials.csv", "curves.csv", "tests.csv", "fits.csv", "consistency.csv", "image_spearman.csv",
                 "accuracy.png", "accuracy.svg", "consistency.png", "report.html"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "accuracy.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (out / "accuracy.svg").read_bytes()[:2000]
    # atomic writes (a hidden ``.NAME.PID.part`` renamed into place) leave nothing behind: the only
    # hidden file is the folder's record of what the command wrote
    assert [p.name for p in out.rglob(".*")] == [RECORD]


def test_tests_csv(analysis_run):
    tests = pd.read_csv(analysis_run / "tests.csv", dtype={"level": str})
    assert {"level", "statistic", "p", "p_fwer", "p_greater", "difference_low", "hedges_g"} <= set(tests.columns)
    assert len(tests) == 12 and tests["comparison"].nunique() == 1
    assert (tests["p_fwer"] >= tests["p"]).all()
    assert tests["p"].min() >= 1 / 501


def test_fits_and_models_in_curves(analysis_run):
    fits = pd.read_csv(analysis_run / "fits.csv")
    assert set(fits["observer_kind"]) == {"human", "model"}
    assert fits["threshold_pct"].notna().all()
    assert (fits["threshold_low"] <= fits["threshold_pct"]).all()
    human = fits[fits["observer_kind"] == "human"].set_index("series")
    # The simulated ClickMe group has the lower threshold (0.55 vs 0.85 log10 %).
    assert human.loc["clickme", "threshold_pct"] < human.loc["salicon", "threshold_pct"]
    curves = pd.read_csv(analysis_run / "curves.csv")
    assert curves["label"].str.contains(r"toynet on \w+ \(model\)").any()
    cons = pd.read_csv(analysis_run / "consistency.csv")
    assert {"model-human", "human-human"} <= set(cons["comparison"])


def test_trials_csv_is_tidy_and_rereadable(analysis_run, human_trials):
    res = read_trials([analysis_run / "trials.csv"])
    assert (res.trials["observer_kind"] == "human").sum() == len(human_trials)


def test_report_self_contained_with_figure(analysis_run):
    text = (analysis_run / "report.html").read_text(encoding="utf-8")
    parser = _Images()
    parser.feed(text)
    assert parser.srcs and not parser.external
    png = base64.b64decode(parser.srcs[0].split(",", 1)[1])
    assert png.startswith(b"\x89PNG")
    for needle in ("toynet", "(model)", "Excluded observers", "Duplicates", "toolkit version", "p_fwer"):
        assert needle in text, needle
    assert re.search(r"reveal \d", text)


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="no headless chromium on this machine")
def test_report_renders_headless(analysis_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1600", (analysis_run / "report.html").as_uri()],
                   check=True, timeout=120, capture_output=True)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), float)
    assert img.std() > 10  # not a blank page: text and the figure were drawn


def test_bad_input_exits_2_with_clean_message(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["analyze", str(empty), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reveal: error: ") and str(empty) in err and "Traceback" not in err


def _few_observers(trials, per_group=3):
    keep = [obs for _, sub in trials.groupby("group") for obs in sorted(sub["observer"].unique())[:per_group]]
    return trials[trials["observer"].isin(keep)]


def test_out_folder_is_owned(tmp_path, capsys, human_trials, write_experiment_folder):
    from reveal.cli.main import main

    # someone else's files: refused before any work, nothing touched
    out = tmp_path / "results"
    out.mkdir()
    (out / "trials.csv").write_text("my own table\n")
    data = tmp_path / "data"  # a few observers: what is tested is the folder, not the statistics
    write_experiment_folder(_few_observers(human_trials), data)
    rc = main(["analyze", str(data), "--out", str(out), "--no-fits", "--resamples", "50", "--bootstrap", "50"])
    err = capsys.readouterr().err
    assert rc == 2 and str(out) in err and "trials.csv" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["trials.csv"]
    assert (out / "trials.csv").read_text() == "my own table\n"
    # an earlier analysis: kept unless --overwrite, which replaces only the analysis's own files
    again = tmp_path / "again"
    args = ["analyze", str(data), "--out", str(again), "--no-fits", "--resamples", "50", "--bootstrap", "50",
            "--no-progress"]
    assert main(args) == 0
    (again / "notes.md").write_text("mine")
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert (again / "notes.md").read_text() == "mine" and (again / "report.html").stat().st_size > 0


def test_every_observer_excluded_is_a_clear_message(tmp_path, capsys, human_trials, manifest_for,
                                                    write_experiment_folder):
    # every answer wrong (intact images at chance or below): every observer excluded
    few = _few_observers(human_trials)
    wrong = few.assign(correct=0, response=np.where(few["category"] == "animal", "nonanimal", "animal"))
    stim = tmp_path / "stimset"
    stim.mkdir()
    manifest_for(wrong).to_csv(stim / "manifest.csv", index=False)
    write_experiment_folder(wrong, tmp_path / "data")
    rc = main(["analyze", str(tmp_path / "data"), "--stimuli", str(stim), "--out", str(tmp_path / "out"),
               "--no-fits", "--resamples", "50", "--bootstrap", "50", "--no-progress"])
    err = capsys.readouterr().err
    print(err)
    assert rc == 2 and "Traceback" not in err and "excluded" in err
    assert not (tmp_path / "out").exists()
