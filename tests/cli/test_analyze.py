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

# reveal analyze end to end (psignifit fits, report, figures): 5-40 s each, so the full suite runs
# them and the everyday loop (-m "not slow") leaves them to the analysis package's own tests
ANALYZE_END_TO_END = pytest.mark.slow


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


@ANALYZE_END_TO_END
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


@ANALYZE_END_TO_END
def test_tests_csv(analysis_run):
    tests = pd.read_csv(analysis_run / "tests.csv", dtype={"level": str})
    assert {"level", "statistic", "p", "p_fwer", "p_greater", "difference_low", "hedges_g"} <= set(tests.columns)
    assert len(tests) == 12 and tests["comparison"].nunique() == 1
    assert (tests["p_fwer"] >= tests["p"]).all()
    assert tests["p"].min() >= 1 / 501


@ANALYZE_END_TO_END
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


@ANALYZE_END_TO_END
def test_trials_csv_is_tidy_and_rereadable(analysis_run, human_trials):
    res = read_trials([analysis_run / "trials.csv"])
    assert (res.trials["observer_kind"] == "human").sum() == len(human_trials)


@ANALYZE_END_TO_END
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


SDT_COLUMNS = ["observer_kind", "observer", "group", "series", "map_source", "level", "n_animal", "n_nonanimal",
               "hits", "false_alarms", "hit_rate", "fa_rate", "dprime", "criterion"]


@ANALYZE_END_TO_END
def test_sdt_outputs_written_with_their_columns(analysis_run):
    out = analysis_run
    for name in ("sdt.csv", "sdt_curves.csv", "tests_dprime.csv", "sdt.png", "sdt.svg"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "sdt.png").read_bytes().startswith(b"\x89PNG")
    sdt = pd.read_csv(out / "sdt.csv", dtype={"level": str})
    assert list(sdt.columns) == SDT_COLUMNS
    curves = pd.read_csv(out / "sdt_curves.csv", dtype={"level": str})
    assert list(curves.columns) == [
        "observer_kind", "series", "map_source", "label", "level", "n_observers", "n_trials", "hit_rate",
        "hit_rate_sem", "fa_rate", "fa_rate_sem", "dprime", "dprime_sem", "criterion", "criterion_sem",
        "error_kind"]
    # one curve per series, as curves.csv has
    acc = pd.read_csv(out / "curves.csv", dtype={"level": str})
    key = ["observer_kind", "series", "map_source", "level"]
    pd.testing.assert_frame_equal(curves[key + ["n_observers", "n_trials"]], acc[key + ["n_observers", "n_trials"]])
    models = curves[curves["observer_kind"] == "model"]
    assert len(models) and models["dprime"].notna().all()  # a model sees both categories at every level
    assert set(models["error_kind"]) == {"sampling SE over trials"}
    tests = pd.read_csv(out / "tests_dprime.csv", dtype={"level": str})
    assert list(tests.columns) == list(pd.read_csv(out / "tests.csv", nrows=0).columns)
    assert len(tests) == 12 and tests["comparison"].nunique() == 1


@ANALYZE_END_TO_END
def test_sdt_rates_are_those_of_trials_csv(analysis_run):
    out = analysis_run
    trials = pd.read_csv(out / "trials.csv", dtype={"level": str, "observer": str, "group": str})
    observers = pd.read_csv(out / "observers.csv", dtype={"observer": str})
    excluded = set(observers.loc[observers["excluded"], "observer"])
    # the trials that enter accuracy with the default settings: excluded observers and timeouts left out
    kept = trials[~trials["observer"].isin(excluded) & (trials["timed_out"] == 0)]
    said = kept["response"] == "animal"
    kept = kept.assign(animal=kept["category"] == "animal", nonanimal=kept["category"] == "nonanimal",
                       hit=said & (kept["category"] == "animal"), fa=said & (kept["category"] == "nonanimal"))
    want = kept.groupby(["observer_kind", "observer", "map_source", "level"])[
        ["animal", "nonanimal", "hit", "fa"]].sum()
    sdt = pd.read_csv(out / "sdt.csv", dtype={"level": str, "observer": str}).set_index(
        ["observer_kind", "observer", "map_source", "level"]).sort_index()
    want = want.reindex(sdt.index)
    assert want.notna().all().all() and len(sdt) == len(want)
    assert (sdt["n_animal"] == want["animal"]).all() and (sdt["n_nonanimal"] == want["nonanimal"]).all()
    np.testing.assert_allclose(sdt["hit_rate"], want["hit"] / want["animal"].where(want["animal"] > 0))
    np.testing.assert_allclose(sdt["fa_rate"], want["fa"] / want["nonanimal"].where(want["nonanimal"] > 0))


@ANALYZE_END_TO_END
def test_report_has_the_dprime_figure_and_table(analysis_run):
    text = (analysis_run / "report.html").read_text(encoding="utf-8")
    parser = _Images()
    parser.feed(text)
    assert len(parser.srcs) >= 3  # accuracy, d′ and c, consistency
    alts = re.findall(r"<img alt='([^']*)'", text)
    sdt_alt = [i for i, alt in enumerate(alts) if "Signal detection" in alt]
    assert sdt_alt == [1] and "Hautus 1995" in alts[1]  # right after the accuracy figure, the correction named
    assert base64.b64decode(parser.srcs[1].split(",", 1)[1]).startswith(b"\x89PNG")
    section = text[text.index("<h2>Signal detection"):text.index("<h2>Psychometric")]
    for needle in ("<th>hit rate</th>", "<th>FA rate</th>", "<th>d′</th>", "<th>c</th>", "toynet on", "±",
                   "log-linear correction"):
        assert needle in section, needle


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="no headless chromium on this machine")
@ANALYZE_END_TO_END
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


@ANALYZE_END_TO_END
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


@ANALYZE_END_TO_END
def test_unattended_online_trials_left_out_by_default_and_kept_with_the_switch(tmp_path, human_trials,
                                                                               write_pavlovia_csv, write_lab_csv):
    """Online files with page_hidden/focus_lost beside a lab file: counted per observer and in the ledger."""
    few = _few_observers(human_trials, per_group=2)
    data = tmp_path / "data"
    data.mkdir()
    counts, unattended = {}, []
    for i, (pid, sub) in enumerate(few.groupby("observer", sort=True)):
        if i == 0:  # a lab participant: no attention columns
            write_lab_csv(sub, data / f"{pid}.csv")
            unattended += [False] * len(sub)
            continue
        n = len(sub)
        hidden = ["1" if j % 10 == i else "0" for j in range(n)]
        blurred = ["true" if j % 16 == 3 else ("undefined" if j == 5 else "false") for j in range(n)]
        write_pavlovia_csv(sub, data / f"{pid}.csv", extra_columns={
            "page_hidden": hidden, "focus_lost": blurred, "fullscreen": "1", "window_w": "1280", "window_h": "720",
            "pixel_ratio": "2", "max_frame_ms": "16.7", "image_ready": "1", "PROLIFIC_PID": pid})
        counts[pid] = (hidden.count("1"), blurred.count("true"))
        unattended += [h == "1" or b == "true" for h, b in zip(hidden, blurred)]
    unattended = np.array(unattended)
    timed_out = np.concatenate([sub["timed_out"].to_numpy() == 1 for _, sub in few.groupby("observer", sort=True)])
    args = ["analyze", str(data), "--no-fits", "--resamples", "50", "--bootstrap", "50", "--no-progress",
            "--max-timeout-rate", "1", "--chance", "0"]
    assert main(args + ["--out", str(tmp_path / "default")]) == 0
    assert main(args + ["--out", str(tmp_path / "kept"), "--keep-unattended"]) == 0
    reason = "page hidden or window unfocused during the trial (online)"
    lab = sorted(few["observer"].unique())[0]
    for name in ("default", "kept"):
        out = tmp_path / name
        obs = pd.read_csv(out / "observers.csv", dtype={"observer": str}).set_index("observer")
        assert obs.loc[lab, ["n_page_hidden", "n_focus_lost"]].isna().all()  # not measured, not 0
        for pid, pair in counts.items():  # the counts before any exclusion, whatever the switch
            assert (obs.loc[pid, "n_page_hidden"], obs.loc[pid, "n_focus_lost"]) == pair
        trials = pd.read_csv(out / "trials.csv", dtype={"observer": str, "PROLIFIC_PID": str})
        assert len(trials) == len(few)  # trials.csv is every trial read, with the online columns
        online = trials.dropna(subset=["PROLIFIC_PID"])
        assert (online["PROLIFIC_PID"] == online["observer"]).all() and online["page_hidden"].notna().all()
        report = (out / "report.html").read_text(encoding="utf-8")
        assert "Attention during online trials" in report and "n_page_hidden" in report
        # the lab participant's online-only counts do not apply: '—' in the report (empty in observers.csv)
        cells = [c.strip() for c in re.findall(r"<td>(.*?)</td>", report, re.S)]
        assert not {"&lt;NA&gt;", "<NA>", "nan", "NaN", "None"} & set(cells)
        header = re.findall(r"<th>(.*?)</th>", report[report.index("<h3>Observers</h3>"):])
        rows = {row[0]: dict(zip(header, row)) for row in _cells(report) if row}
        assert (rows[lab]["n_page_hidden"], rows[lab]["n_focus_lost"]) == ("—", "—")
        assert {pid: (int(rows[pid]["n_page_hidden"]), int(rows[pid]["n_focus_lost"])) for pid in counts} == counts
        # accuracy is computed on the trials neither timed out nor (by default) unattended
        curves = pd.read_csv(out / "curves.csv")
        analysed = curves.loc[curves["observer_kind"] == "human", "n_trials"].sum()
        if name == "default":
            assert f"<td>{reason}</td>\n      <td>{int(unattended.sum())}</td>" in report
            assert analysed == int((~unattended & ~timed_out).sum())
        else:
            assert reason not in report and "--keep-unattended" in report
            assert analysed == int((~timed_out).sum())


def test_every_trial_unattended_is_a_clear_message(tmp_path, capsys, human_trials, write_pavlovia_csv):
    one = _few_observers(human_trials, per_group=1)
    one = one[one["observer"] == one["observer"].iloc[0]]
    data = tmp_path / "data"
    data.mkdir()
    write_pavlovia_csv(one, data / "p.csv", extra_columns={"page_hidden": "1", "focus_lost": "0"})
    rc = main(["analyze", str(data), "--out", str(tmp_path / "out"), "--no-fits", "--resamples", "50",
               "--bootstrap", "50", "--no-progress", "--max-timeout-rate", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and not (tmp_path / "out").exists()
    assert f"{len(one)} page hidden or window unfocused during the trial (online)" in err
    assert "--keep-unattended" in err and "every observer was excluded" not in err


@ANALYZE_END_TO_END
def test_an_analysis_that_failed_part_way_is_replaced_by_its_rerun(tmp_path, capsys, human_trials,
                                                                  write_experiment_folder, monkeypatch):
    import reveal.analysis.report as report

    data = tmp_path / "data"
    write_experiment_folder(_few_observers(human_trials), data)
    out = tmp_path / "results"
    args = ["analyze", str(data), "--out", str(out), "--no-fits", "--resamples", "50", "--bootstrap", "50",
            "--no-progress"]

    def disk_full(*a, **k):  # the disk fills up after the tables and figures are written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_report", disk_full)
    assert main(args) == 2
    assert (out / "curves.csv").is_file() and not (out / "report.html").exists()
    capsys.readouterr()
    monkeypatch.undo()
    assert main(args + ["--overwrite"]) == 0, capsys.readouterr().err  # recognised as the analysis's own
    assert (out / "report.html").stat().st_size > 0


NO_INTACT = "no intact-image trial, so intact-image accuracy cannot be judged"


def _cells(report, section="<h3>Observers</h3>", end="<h2>Settings</h2>"):
    """The table rows (lists of cell texts) of one section of the report."""
    part = report[report.index(section):report.index(end)]
    return [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", part, re.S)]


@ANALYZE_END_TO_END
def test_a_session_that_never_reached_an_intact_image_is_excluded_with_its_reason(
        tmp_path, capsys, human_trials, manifest_for, write_lab_csv, write_pavlovia_csv):
    few = _few_observers(human_trials, per_group=3)
    ids = sorted(few["observer"].unique())
    crashed_id, chance_id = ids[1], ids[0]
    # the session crashed after 10 trials, before its first intact-image (100 %) trial
    crashed = few[(few["observer"] == crashed_id) & (few["level"] != "full")].head(10)
    stim = tmp_path / "stimset"
    stim.mkdir()
    manifest_for(human_trials).to_csv(stim / "manifest.csv", index=False)
    args = ["--stimuli", str(stim), "--no-fits", "--resamples", "50", "--bootstrap", "50", "--no-progress"]
    # beside a participant at chance only: nothing is left, and the message gives each one's reason
    lost = tmp_path / "lost"
    lost.mkdir()
    wrong = few[few["observer"] == chance_id]
    wrong = wrong.assign(correct=0, response=np.where(wrong["category"] == "animal", "nonanimal", "animal"))
    write_lab_csv(wrong, lost / f"{chance_id}.csv")
    write_pavlovia_csv(crashed, lost / f"{crashed_id}.csv")
    assert main(["analyze", str(lost), "--out", str(tmp_path / "none"), *args]) == 2
    err = capsys.readouterr().err
    assert "every observer was excluded" in err and "(2 observers; " in err
    assert f"1 observer: {NO_INTACT}" in err and "1 observer: intact-image accuracy 0.00 at or below chance" in err
    # beside complete sessions (lab and online): the others are analysed; the reason is said on the
    # command line, in the ledger (exclusions.csv), in observers.csv and in the report
    data = tmp_path / "data"
    data.mkdir()
    for i, (pid, sub) in enumerate(few[few["observer"] != crashed_id].groupby("observer", sort=True)):
        if i % 2:
            write_pavlovia_csv(sub, data / f"{pid}.csv", extra_columns={"page_hidden": "0", "focus_lost": "0"})
        else:
            write_lab_csv(sub, data / f"{pid}.csv")
    write_pavlovia_csv(crashed, data / f"{crashed_id}.csv", extra_columns={"page_hidden": "0", "focus_lost": "0"})
    out = tmp_path / "out"
    assert main(["analyze", str(data), "--out", str(out), *args]) == 0
    said = capsys.readouterr().out
    assert f"excluded 1 of {len(ids)} observers: {crashed_id}: {NO_INTACT}" in said
    ledger = pd.read_csv(out / "exclusions.csv", dtype={"observer": str})
    assert list(ledger.columns) == ["file", "observer", "reason", "rows"]
    mine = ledger[ledger["observer"] == crashed_id].set_index("reason")["rows"]
    assert mine[f"observer excluded: {NO_INTACT}"] == len(crashed)
    assert mine["session ended early after 10 of 80 test trials"] == 0  # the reader's entry, in the same file
    obs = pd.read_csv(out / "observers.csv", dtype={"observer": str}).set_index("observer")
    assert obs.loc[crashed_id, "excluded"] and obs.loc[crashed_id, "reason"] == NO_INTACT
    assert obs.loc[crashed_id, ["full_accuracy"]].isna().all()  # the table keeps empty cells
    report = (out / "report.html").read_text(encoding="utf-8")
    excluded = _cells(report, "<h3>Excluded observers</h3>", "<h3>Rows not analysed")
    timeouts = f"{crashed['timed_out'].mean():.4g}"
    assert [row for row in excluded if row] == [[crashed_id, "human", "clickme", "10", "—", timeouts, "True",
                                                 NO_INTACT, "0", "0"]]
    assert f"<td>observer excluded: {NO_INTACT}</td>" in report
    for row in _cells(report):  # nothing printed as a missing value in the observers table
        assert not {"&lt;NA&gt;", "<NA>", "nan", "NaN", "None"} & set(row), row


@ANALYZE_END_TO_END
def test_a_group_of_one_observer_is_analysed_and_its_levels_say_why_untested(tmp_path, capsys, human_trials,
                                                                            write_lab_csv):
    # a pilot whose exclusions left one participant in a group: no interval, no test, and the reason
    data = tmp_path / "data"
    data.mkdir()
    observers = human_trials.groupby("group")["observer"].unique()
    for pid in [observers["clickme"][0], *observers["salicon"][:3]]:
        write_lab_csv(human_trials[human_trials["observer"] == pid], data / f"{pid}.csv")
    assert main(["analyze", str(data), "--out", str(tmp_path / "out"), "--resamples", "200", "--bootstrap", "100",
                 "--no-fits", "--no-progress"]) == 0
    tests = pd.read_csv(tmp_path / "out" / "tests.csv")
    assert (tests["note"] == "not tested: clickme has 1 observer there").all()
    assert tests["p"].isna().all() and tests["difference_low"].isna().all() and tests["difference"].notna().all()
