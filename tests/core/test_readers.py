from pathlib import Path
import csv
import io
import shutil

import numpy as np
import pandas as pd
import pytest

from reveal.core.readers import TIDY_COLUMNS, expand_paths, read_trial_file, read_trials
from reveal.core.errors import InputError

COMPARE = ["observer", "observer_kind", "group", "stimulus_id", "image_id", "category", "map_source", "level",
           "response", "correct", "timed_out"]


def _one(human_trials, pid=None):
    pid = pid or sorted(human_trials["observer"].unique())[0]
    return human_trials[human_trials["observer"] == pid].reset_index(drop=True)


def _canon(df):
    return df[COMPARE].sort_values("stimulus_id").reset_index(drop=True)


@pytest.mark.parametrize("writer_name,layout", [("write_lab_csv", "psychopy"), ("write_pavlovia_csv", "psychojs")])
def test_experiment_layouts_read_back_exactly(request, tmp_path, human_trials, writer_name, layout):
    writer = request.getfixturevalue(writer_name)
    one = _one(human_trials)
    path = tmp_path / "p.csv"
    writer(one, path)
    if layout == "psychojs":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf") and b"undefined" in path.read_bytes()
    trials, got_layout, dropped, rows_read = read_trial_file(path)
    assert got_layout == layout
    assert list(trials.columns[:len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    pd.testing.assert_frame_equal(_canon(trials), _canon(one), check_dtype=False)
    # RTs survive, missing RTs of timeouts are NaN (not 0, not an error).
    merged = trials.merge(one, on="stimulus_id", suffixes=("", "_true"))
    assert np.allclose(merged["rt_s"], merged["rt_s_true"], atol=1e-4, equal_nan=True)
    # Nothing is lost silently: every row read is either analysed or in the ledger.
    assert len(trials) + sum(d["rows"] for d in dropped) == rows_read
    reasons = {d["reason"]: d["rows"] for d in dropped}
    assert reasons["training trial (not analysed)"] == 4
    assert reasons["not a trial row (other routine)"] == 1 + len(one) // 16


def test_lab_and_pavlovia_give_the_same_table(write_lab_csv, write_pavlovia_csv, tmp_path, human_trials):
    one = _one(human_trials)
    write_lab_csv(one, tmp_path / "lab.csv")
    write_pavlovia_csv(one, tmp_path / "web.csv")
    a = read_trial_file(tmp_path / "lab.csv")[0].drop(columns="source_file")
    b = read_trial_file(tmp_path / "web.csv")[0].drop(columns="source_file")
    pd.testing.assert_frame_equal(a, b)


def test_response_from_key_and_counterbalancing(write_lab_csv, tmp_path, human_trials):
    """Without a response column the pressed key is mapped through the participant's key assignment."""
    one = _one(human_trials)
    path = tmp_path / "keys.csv"
    write_lab_csv(one, path, drop_columns=("response", "correct"))
    trials = read_trial_file(path)[0]
    pd.testing.assert_frame_equal(_canon(trials), _canon(one), check_dtype=False)


def test_missing_columns_come_from_manifest(write_pavlovia_csv, tmp_path, human_trials, stimulus_dir):
    one = _one(human_trials)
    path = tmp_path / "slim.csv"
    write_pavlovia_csv(one, path, drop_columns=("image_id", "category", "map_source", "level"))
    with pytest.raises(InputError, match="--stimuli") as err:
        read_trial_file(path)
    assert err.value.path == str(path)
    res = read_trials([path], stimuli=stimulus_dir)
    pd.testing.assert_frame_equal(_canon(res.trials), _canon(one), check_dtype=False)
    assert np.allclose(res.trials.sort_values("stimulus_id")["image_frac"],
                       one.sort_values("stimulus_id")["image_frac"])


@pytest.mark.slow  # reads a folder through reveal analyze (11 s): the full suite, not the everyday loop
def test_folder_of_mixed_files_and_model(model_csv, write_experiment_folder, tmp_path, human_trials, stimulus_dir):
    data = tmp_path / "data"
    written = write_experiment_folder(human_trials, data / "raw")
    model = model_csv(human_trials, np.random.default_rng(0))
    model.to_csv(data / "toynet.csv", index=False)
    (data / "raw" / "session.log").write_text("not a csv")  # PsychoPy's other outputs are ignored
    res = read_trials([data], stimuli=stimulus_dir)
    humans = res.trials[res.trials["observer_kind"] == "human"]
    assert humans["observer"].nunique() == len(written)
    assert len(humans) == len(human_trials)
    models = res.trials[res.trials["observer_kind"] == "model"]
    assert len(models) == len(model) and models["p_animal"].notna().all()
    assert set(res.files["layout"]) == {"psychopy", "psychojs", "tidy"}
    assert res.duplicates.empty


def test_duplicates_detected_reported_and_dropped(write_lab_csv, write_pavlovia_csv, tmp_path, human_trials):
    pids = sorted(human_trials["observer"].unique())
    data = tmp_path / "d"
    data.mkdir()
    write_lab_csv(_one(human_trials, pids[0]), data / "a_first.csv")
    shutil.copy(data / "a_first.csv", data / "a_first_copy.csv")  # re-saved / copied file
    # The same participant again, a different session (other answers): keep the first file.
    again = _one(human_trials, pids[0]).copy()
    again["correct"] = 1 - again["correct"]
    write_pavlovia_csv(again, data / "b_second_session.csv")
    write_lab_csv(_one(human_trials, pids[1]), data / "c_other.csv")
    res = read_trials([data])
    assert res.trials.groupby("observer").size().to_dict() == {pids[0]: 80, pids[1]: 80}
    kinds = set(res.duplicates["kind"])
    assert kinds == {"identical file", "same participant in another file"}
    kept = res.trials[res.trials["observer"] == pids[0]]
    assert (kept["source_file"] == str(data / "a_first.csv")).all()
    assert res.dropped["reason"].str.startswith("duplicate").sum() == 2


def test_participant_in_both_groups_is_an_error(write_lab_csv, tmp_path, human_trials):
    one = _one(human_trials)
    write_lab_csv(one, tmp_path / "a.csv")
    other = one.assign(group="salicon" if one["group"].iloc[0] == "clickme" else "clickme")
    write_lab_csv(other, tmp_path / "b.csv")
    with pytest.raises(InputError, match="group") as err:
        read_trials([tmp_path])
    assert err.value.path == str(tmp_path / "b.csv") and f"in {tmp_path / 'a.csv'}" in str(err.value)


def _mangle(experiment_csv_text, tmp_path, human_trials, column, value, data_row):
    """Write a lab file and overwrite one cell of a test-trial row; returns the path and that row's number."""
    text = experiment_csv_text(_one(human_trials), js=False)
    lines = text.splitlines()
    header = lines[0].split(",")
    # The first test trial follows the instruction row and 4 training rows: data row 6.
    cells = lines[data_row].split(",")
    cells[header.index(column)] = value
    lines[data_row] = ",".join(cells)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_non_numeric_rt_names_file_and_row(experiment_csv_text, tmp_path, human_trials):
    path = _mangle(experiment_csv_text, tmp_path, human_trials, "rt_s", "fast", 8)
    with pytest.raises(InputError, match="rt_s") as err:
        read_trials([path])
    assert err.value.path == str(path) and err.value.row == 8
    assert f"{path}, row 8" in str(err.value)


def test_level_not_in_stimulus_set(experiment_csv_text, tmp_path, human_trials, stimulus_dir):
    path = _mangle(experiment_csv_text, tmp_path, human_trials, "level", "7.5", 9)
    with pytest.raises(InputError, match="not in the stimulus set") as err:
        read_trials([path], stimuli=stimulus_dir)
    assert err.value.row == 9


def test_unknown_stimulus_against_manifest(experiment_csv_text, tmp_path, human_trials, stimulus_dir):
    path = _mangle(experiment_csv_text, tmp_path, human_trials, "stimulus_id", "nope", 7)
    with pytest.raises(InputError, match="manifest") as err:
        read_trials([path], stimuli=stimulus_dir)
    assert err.value.row == 7


def test_unknown_layout_no_test_trials_empty_folder(write_lab_csv, tmp_path, human_trials):
    weird = tmp_path / "weird.csv"
    weird.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="unknown column layout") as err:
        read_trials([weird])
    assert err.value.path == str(weird)
    path = tmp_path / "notest" / "notest.csv"  # a participant who quit after the training
    path.parent.mkdir()
    write_lab_csv(_one(human_trials), path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    quitter = table["participant"].iloc[0]
    table[table["phase"] == "training"].to_csv(path, index=False)
    with pytest.raises(InputError, match="no answered test trials") as err:
        read_trials([path])
    assert err.value.path == str(path)
    # beside a complete session the quitter is counted in the ledger, not a refusal of the folder
    other = human_trials[human_trials["observer"] != quitter]
    write_lab_csv(other[other["observer"] == other["observer"].iloc[0]], path.parent / "complete.csv")
    res = read_trials([path.parent])
    assert set(res.trials["observer"]) == {other["observer"].iloc[0]}
    ledger = res.dropped[res.dropped["file"] == str(path)]
    assert "session ended before its first answered test trial" in set(ledger["reason"])
    ended = ledger[ledger["reason"] == "session ended before its first answered test trial"]
    assert ended["rows"].tolist() == [0]  # no answered test trial to drop
    assert quitter in set(ledger["observer"])
    assert not res.files.set_index("file").loc[str(path), "kept"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no CSV"):
        read_trials([empty])
    with pytest.raises(InputError, match="no such file"):
        read_trials([tmp_path / "missing.csv"])


def test_tidy_file_read_as_is(tmp_path, human_trials):
    one = _one(human_trials)
    one.to_csv(tmp_path / "tidy.csv", index=False)
    trials, layout, dropped, _ = read_trial_file(tmp_path / "tidy.csv")
    assert layout == "tidy" and dropped == []
    pd.testing.assert_frame_equal(_canon(trials), _canon(one), check_dtype=False)


# ---- real data files: PsychoJS in a browser (shared fixtures), PsychoPy's own lab writer

# copied from the project's shared fixtures (../shared/fixtures/pavlovia) with their README: the
# suite runs in a clone with nothing beside it
PAVLOVIA = Path(__file__).resolve().parents[1] / "fixtures" / "pavlovia"


def test_the_real_psychojs_files_are_in_the_repository():
    assert len(sorted(PAVLOVIA.glob("*.csv"))) == 3  # a parametrized test over nothing would pass


@pytest.mark.parametrize("path", sorted(PAVLOVIA.glob("*.csv")), ids=lambda p: p.name[:12])
def test_real_psychojs_files_read_as_the_browser_wrote_them(path):
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw_test = raw[raw["phase"] == "test"].reset_index(drop=True)
    trials, layout, dropped, rows_read = read_trial_file(path)
    assert layout == "psychojs"
    assert rows_read == len(raw)
    assert len(trials) + sum(d["rows"] for d in dropped) == rows_read
    assert len(trials) == len(raw_test) > 0
    assert (trials["observer"] == raw_test["participant"]).all()
    assert (trials["group"] == raw_test["group"]).all()
    assert list(trials["response"]) == list(raw_test["response"])
    assert list(trials["correct"].astype(int)) == [int(c) for c in raw_test["correct"]]
    assert list(trials["timed_out"].astype(int)) == [int(c) for c in raw_test["timed_out"]]
    # a missing answer has no RT; answered trials keep the browser's RT
    answered = raw_test["response"] != "none"
    assert trials.loc[~answered.to_numpy(), "rt_s"].isna().all()
    assert np.allclose(trials.loc[answered.to_numpy(), "rt_s"], raw_test.loc[answered, "rt_s"].astype(float))


def test_psychopy_lab_file_with_bom_is_a_lab_file(tmp_path, human_trials):
    from psychopy import data as psydata  # PsychoPy's own writer, as in the lab

    one = _one(human_trials)
    exp = psydata.ExperimentHandler(name="rapidcat", extraInfo={"participant": one["observer"][0],
                                    "session": "001", "group": one["group"][0]},
                                    dataFileName=str(tmp_path / "lab"), savePickle=False, saveWideText=False)
    for _, t in one.iterrows():
        for col in ("stimulus_id", "image_id", "category", "map_source", "level", "response", "correct",
                    "timed_out"):
            exp.addData(col, t[col])
        exp.addData("phase", "test")
        exp.addData("rt_s", "" if t["timed_out"] else t["rt_s"])
        exp.nextEntry()
    path = tmp_path / "lab.csv"
    exp.saveAsWideText(str(path), delim=",", fileCollisionMethod="overwrite")
    exp.abort()
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # PsychoPy writes a BOM too
    trials, layout, dropped, rows_read = read_trial_file(path)
    assert layout == "psychopy"
    pd.testing.assert_frame_equal(_canon(trials), _canon(one), check_dtype=False)


def _fixture_rows(name="chrome01"):
    path = next(PAVLOVIA.glob(f"{name}_*.csv"))
    return path, path.read_bytes()


def test_a_file_cut_mid_line_is_read_to_its_last_complete_trial(tmp_path):
    path, data = _fixture_rows()
    lines = data.split(b"\n")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    test_rows = [i for i in raw.index[raw["phase"] == "test"]]
    cut_line = test_rows[2] + 1  # +1: the header line
    cut = b"\n".join(lines[:cut_line]) + b"\n" + lines[cut_line][:len(lines[cut_line]) // 2]
    target = tmp_path / path.name
    target.write_bytes(cut)
    trials, layout, dropped, rows_read = read_trial_file(target)
    assert layout == "psychojs"
    assert len(trials) == 2  # the two complete test trials before the cut
    assert any("cut off" in d["reason"] for d in dropped)
    assert len(trials) + sum(d["rows"] for d in dropped) == rows_read


def test_an_interrupted_trial_without_participant_is_counted_not_refused(tmp_path, stimulus_dir):
    path, data = _fixture_rows()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    last_test = raw[raw["phase"] == "test"].iloc[[-1]].copy()
    for col in ("response", "resp_key", "timed_out", "correct", "rt_s", "participant", "session", "group"):
        last_test[col] = ""
    cut = pd.concat([raw[raw["phase"] == "test"].iloc[:-2], last_test])  # session ended in trial 3
    target = tmp_path / "p.csv"
    target.write_bytes(b"\xef\xbb\xbf" + cut.to_csv(index=False).encode())
    trials, _, dropped, rows_read = read_trial_file(target)
    assert len(trials) == 2 and set(trials["observer"]) == {"chrome01"}
    assert [d["reason"] for d in dropped] == ["trial interrupted (the session ended during it)"]
    assert dropped[0]["observer"] == ""  # the interrupted row carried no id
    assert len(trials) + sum(d["rows"] for d in dropped) == rows_read


# ---- the online experiment's data-quality columns and panel ids (PsychoJS only)

def _online_quality(n):
    """Per-test-trial values as PsychoJS writes them (0/1, true/false, undefined, null, empty)."""
    cols = {"page_hidden": ["0"] * n, "focus_lost": ["0"] * n, "fullscreen": ["1"] * n, "window_w": ["1280"] * n,
            "window_h": ["720"] * n, "pixel_ratio": ["1.25"] * n, "max_frame_ms": ["16.7"] * n,
            "image_ready": ["1"] * n}
    cols["page_hidden"][1], cols["page_hidden"][2] = "1", "undefined"
    cols["focus_lost"][3], cols["focus_lost"][4] = "true", "null"
    cols["fullscreen"][5] = ""
    cols["window_w"][6], cols["max_frame_ms"][1] = "undefined", "250.5"
    cols["image_ready"][7] = "false"
    return cols


def test_online_quality_columns_are_read_typed(write_pavlovia_csv, write_lab_csv, tmp_path, human_trials):
    from reveal.core.trialdata import ONLINE_QUALITY_COLUMNS, PANEL_COLUMNS

    one = _one(human_trials)
    quality = _online_quality(len(one))
    path = tmp_path / "web.csv"
    write_pavlovia_csv(one, path, extra_columns={**quality, "PROLIFIC_PID": "5f8d0d55b54764421b715e07",
                                                 "STUDY_ID": "0123", "SESSION_ID": "undefined"})
    trials, layout, dropped, rows_read = read_trial_file(path)
    assert layout == "psychojs" and len(trials) == len(one)
    assert len(trials) + sum(d["rows"] for d in dropped) == rows_read
    for column in ONLINE_QUALITY_COLUMNS:
        assert trials[column].dtype == float, column
    got = trials[list(ONLINE_QUALITY_COLUMNS)]
    assert got["page_hidden"].iloc[:2].tolist() == [0.0, 1.0] and np.isnan(got["page_hidden"].iloc[2])
    assert got["focus_lost"].iloc[3] == 1.0 and np.isnan(got["focus_lost"].iloc[4])  # "true", "null"
    assert np.isnan(got["fullscreen"].iloc[5]) and got["fullscreen"].drop(index=5).eq(1.0).all()
    assert np.isnan(got["window_w"].iloc[6]) and got["window_h"].eq(720.0).all()
    assert got["pixel_ratio"].eq(1.25).all() and got["max_frame_ms"].iloc[1] == 250.5
    assert got["image_ready"].iloc[7] == 0.0 and got["image_ready"].sum() == len(one) - 1
    # the panel ids: strings as written (a leading zero kept), a missing one empty
    assert set(PANEL_COLUMNS) <= set(trials.columns)
    assert (trials["PROLIFIC_PID"] == "5f8d0d55b54764421b715e07").all()
    assert (trials["STUDY_ID"] == "0123").all() and (trials["SESSION_ID"] == "").all()
    # a lab file lacks them: nothing changes for it; mixed with the online file it has NaN there
    other = _one(human_trials, sorted(human_trials["observer"].unique())[1])
    write_lab_csv(other, tmp_path / "lab.csv")
    lab = read_trial_file(tmp_path / "lab.csv")[0]
    assert not set(ONLINE_QUALITY_COLUMNS + PANEL_COLUMNS) & set(lab.columns)
    both = read_trials([tmp_path]).trials
    lab_rows = both[both["observer"] == other["observer"].iloc[0]]
    assert lab_rows["page_hidden"].isna().all() and lab_rows["max_frame_ms"].isna().all()


@pytest.mark.parametrize("column,value,message", [("page_hidden", "maybe", "0/1"), ("focus_lost", "2", "0/1"),
                                                  ("max_frame_ms", "slow", "numeric"),
                                                  ("window_w", "wide", "numeric")])
def test_a_bad_online_quality_value_names_file_and_row(write_pavlovia_csv, tmp_path, human_trials, column, value,
                                                      message):
    one = _one(human_trials)
    quality = _online_quality(len(one))
    quality[column][2] = value  # the third test trial: data row 8 (instructions, 4 training rows, 2 trials)
    path = tmp_path / "web.csv"
    write_pavlovia_csv(one, path, extra_columns=quality)
    with pytest.raises(InputError, match=message) as err:
        read_trials([path])
    assert column in str(err.value) and repr(value) in str(err.value)
    assert err.value.path == str(path) and err.value.row == 8


@pytest.mark.slow  # reads a folder through reveal analyze (11 s): the full suite, not the everyday loop
def test_a_folder_is_read_around_an_empty_file_and_a_refused_sessions_stub(write_experiment_folder, tmp_path,
                                                                           human_trials, stimulus_dir):
    # what a kill during a save and a station that never started leave beside good sessions
    data = tmp_path / "data"
    written = write_experiment_folder(human_trials, data)
    (data / "99_rapidcat_2026-03-02_10h00.csv").write_bytes(b"")
    stub = data / "98_rapidcat_2026-03-02_10h05.csv"
    stub.write_text("participant,session,date,expName,psychopyVersion,frameRate\n98,001,2026-03-02,rapidcat,"
                    "2026.2.5,\n")
    res = read_trials([data], stimuli=stimulus_dir)
    assert res.trials["observer"].nunique() == len(written) and len(res.trials) == len(human_trials)
    ledger = res.dropped.set_index("file")["reason"]
    assert ledger[str(data / "99_rapidcat_2026-03-02_10h00.csv")] == "not a trial data file (file is empty)"
    assert ledger[str(stub)].startswith("not a trial data file (unknown column layout")
    assert not res.files.set_index("file").loc[str(stub), "kept"]
    # named on their own they are still errors, naming the file
    for path, message in ((data / "99_rapidcat_2026-03-02_10h00.csv", "file is empty"),
                          (stub, "unknown column layout")):
        with pytest.raises(InputError, match=message) as err:
            read_trials([path], stimuli=stimulus_dir)
        assert err.value.path == str(path)


def test_late_answers_are_read_where_a_file_has_them(write_lab_csv, write_pavlovia_csv, tmp_path, human_trials):
    from reveal.analysis.exclusions import apply_exclusions

    one, other = [human_trials[human_trials["observer"] == p].head(6) for p in human_trials["observer"].unique()[:2]]
    late = ["", "s", "", "", "l", ""]
    times = ["", "0.7123", "", "", "0.6002", ""]
    write_lab_csv(one, tmp_path / "a.csv", drop_columns=("late_key", "late_rt_s"),
                  extra_columns={"late_key": late, "late_rt_s": times})
    write_pavlovia_csv(other, tmp_path / "b.csv", drop_columns=("late_key", "late_rt_s"))  # an older file
    a = read_trial_file(tmp_path / "a.csv")[0]
    assert a["late_key"].tolist() == late
    np.testing.assert_allclose(a["late_rt_s"], [np.nan, 0.7123, np.nan, np.nan, 0.6002, np.nan])
    both = pd.concat([a, read_trial_file(tmp_path / "b.csv")[0]], ignore_index=True)
    counts = apply_exclusions(both).observers.set_index("observer")["n_late_answers"]
    assert counts[one["observer"].iloc[0]] == 2 and pd.isna(counts[other["observer"].iloc[0]])
    # a time that is not a number names the file and the row
    write_lab_csv(one, tmp_path / "c.csv", drop_columns=("late_key", "late_rt_s"),
                  extra_columns={"late_key": late, "late_rt_s": ["", "soon", "", "", "", ""]})
    with pytest.raises(InputError, match=r"c\.csv.*row \d+.*late_rt_s"):
        read_trial_file(tmp_path / "c.csv")


@pytest.mark.parametrize("js", [False, True], ids=["lab", "online"])
@pytest.mark.parametrize("how", ["empty cells", "no column"])
@pytest.mark.parametrize("key", ["", "space"], ids=["no key", "a stray key"])
def test_a_none_response_without_timed_out_is_never_read_as_an_answer(tmp_path, human_trials, experiment_csv_text,
                                                                      js, how, key):
    # a file whose timed_out is missing (an older export, a hand-edited file): "none" is no answer.
    # With nothing else recorded the trial is one the session ended in (not analysed); with a
    # stray key recorded it is read, as timed out.
    one = _one(human_trials).copy()
    none = one.index[:3]
    one.loc[none, ["response", "correct", "timed_out", "rt_s"]] = ["none", 0, 1, np.nan]
    text = experiment_csv_text(one, js=js, drop_columns=("timed_out",) if how == "no column" else ())
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        if how == "empty cells":
            row["timed_out"] = "undefined" if js else ""
        if row["stimulus_id"] in set(one.loc[none, "stimulus_id"]) and key:
            row["resp_key"] = key
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "p.csv"
    path.write_text(out.getvalue())
    trials, _, dropped, _ = read_trial_file(path)
    unanswered = set(one.loc[one["response"] == "none", "stimulus_id"])
    read = trials.set_index("stimulus_id")
    assert not ((trials["response"] == "none") & (trials["timed_out"] == 0)).any()
    assert (read.drop(unanswered, errors="ignore")["timed_out"] == 0).all()  # the answers stay answers
    if key:
        assert (read.loc[list(one.loc[none, "stimulus_id"]), "timed_out"] == 1).all()
    else:
        assert not unanswered & set(trials["stimulus_id"])
        assert sum(d["rows"] for d in dropped if d["reason"].startswith("trial interrupted")) == len(unanswered)


def test_a_missing_response_is_read_as_none(tmp_path, human_trials):
    one = _one(human_trials).copy()
    one.loc[0, ["response", "correct", "timed_out"]] = ["", 0, 1]
    one.to_csv(tmp_path / "tidy.csv", index=False)
    trials, _, _, _ = read_trial_file(tmp_path / "tidy.csv")
    assert trials["response"].iloc[0] == "none" and trials["timed_out"].iloc[0] == 1


def _lab_lines(experiment_csv_text, human_trials):
    lines = experiment_csv_text(_one(human_trials), js=False).splitlines()
    return lines, lines[0].split(",")


def _set_cell(lines, header, data_row, column, value):
    cells = lines[data_row].split(",")
    cells[header.index(column)] = value
    lines[data_row] = ",".join(cells)


def test_a_row_without_participant_id_takes_the_files_one_id_and_two_ids_are_an_error(experiment_csv_text,
                                                                                    tmp_path, human_trials):
    lines, header = _lab_lines(experiment_csv_text, human_trials)
    _set_cell(lines, header, 8, "participant", "")  # a row written before the id was
    path = tmp_path / "one.csv"
    path.write_text("\n".join(lines) + "\n")
    trials, _, _, _ = read_trial_file(path)
    assert trials["observer"].nunique() == 1 and len(trials) == 80
    _set_cell(lines, header, 10, "participant", "someone_else")
    _set_cell(lines, header, 12, "participant", "")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="participant id is missing") as err:
        read_trial_file(path)
    assert err.value.row == 8  # the first row without


def test_the_first_bad_row_is_the_one_named(experiment_csv_text, tmp_path, human_trials):
    for column, value, message in (("category", "plant", "category"), ("response", "maybe", "response")):
        lines, header = _lab_lines(experiment_csv_text, human_trials)
        for row in (9, 7, 12):
            _set_cell(lines, header, row, column, value)
        path = tmp_path / f"{column}.csv"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(InputError, match=message) as err:
            read_trial_file(path)
        assert err.value.row == 7
    one = _one(human_trials).copy()
    one.loc[[3, 5], "observer_kind"] = "robot"
    one.to_csv(tmp_path / "tidy.csv", index=False)
    with pytest.raises(InputError, match="observer_kind") as err:
        read_trial_file(tmp_path / "tidy.csv")
    assert err.value.row == 4  # data rows count from 1 after the header: index 3 is row 4


def test_a_folder_passes_over_copies_and_other_csvs_but_not_when_named_or_alone(write_lab_csv, tmp_path,
                                                                               human_trials):
    data = tmp_path / "d"
    data.mkdir()
    write_lab_csv(_one(human_trials), data / "a.csv")
    shutil.copy(data / "a.csv", data / "b_copy.csv")
    (data / "c_notes.csv").write_text("note,text\n1,hello\n")
    res = read_trials([data])
    assert len(res.trials) == 80
    files, dropped = res.files.set_index("file"), res.dropped.set_index("file")
    copy, notes = str(data / "b_copy.csv"), str(data / "c_notes.csv")
    assert files.loc[[copy, notes], "test_trials"].tolist() == [0, 0]
    assert not files.loc[[copy, notes], "kept"].any()
    assert dropped.loc[copy, "rows"] == len((data / "a.csv").read_text().splitlines()) - 1  # every data row
    assert dropped.loc[notes, "reason"].startswith("not a trial data file (unknown column layout")
    assert dropped.loc[notes, "rows"] == 0
    assert expand_paths([data]) == [data / "a.csv", data / "b_copy.csv", data / "c_notes.csv"]
    (data / "b_copy.csv").unlink()
    assert len(read_trials([data]).trials) == 80  # two files, one of them not trial data: passed over
    with pytest.raises(InputError, match="unknown column layout") as err:
        read_trials([data / "c_notes.csv"])  # named: meant as data
    assert err.value.path == notes
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(data / "c_notes.csv", lone)
    with pytest.raises(InputError, match="unknown column layout") as err:
        read_trials([lone])  # all there is in the folder
    assert err.value.path == str(lone / "c_notes.csv")


def test_an_experiment_header_needs_a_response_column():
    from reveal.core.readers import detect_layout

    assert detect_layout({"participant", "stimulus_id", "correct"}) == "psychopy"
    assert detect_layout({"participant", "stimulus_id", "image"}) is None


def _tidy(observer, kind, group, stimuli, **extra):
    return pd.DataFrame({"observer": observer, "observer_kind": kind, "group": group, "stimulus_id": stimuli,
                         "image_id": stimuli, "category": "animal", "map_source": group, "level": "10",
                         "response": "animal", "correct": 1, "timed_out": 0, "session": "001", "block": 1,
                         "trial": range(1, len(stimuli) + 1), **extra})


def test_several_observers_per_file_are_each_checked_against_earlier_files(tmp_path):
    # file a: the model's first part and P1; file b: the model's second part (overlapping one
    # stimulus: a re-run) and P1 again (a second session: dropped), then P2
    pd.concat([_tidy("net", "model", "clickme", ["s1", "s2"]),
               _tidy("P1", "human", "clickme", ["s1", "s2", "s3"])]).to_csv(tmp_path / "a.csv", index=False)
    pd.concat([_tidy("net", "model", "clickme", ["s2", "s4"]).assign(trial=[2, 3]),
               _tidy("P1", "human", "clickme", ["s1", "s2", "s3"]),
               _tidy("P2", "human", "clickme", ["s1"])]).to_csv(tmp_path / "b.csv", index=False)
    res = read_trials([tmp_path])
    per = res.trials.groupby("observer").size().to_dict()
    assert per == {"net": 3, "P1": 3, "P2": 1}  # net: s1, s2, s4 (s2 once); P1 from a.csv only
    assert set(res.trials.loc[res.trials["observer"] == "P1", "source_file"]) == {str(tmp_path / "a.csv")}
    kinds = sorted(res.duplicates["kind"])
    assert kinds == ["1 repeated rows", "same participant in another file"]
    assert "duplicate participant (kept a.csv)" in set(res.dropped["reason"])
    second = res.duplicates[res.duplicates["kind"] == "same participant in another file"].iloc[0]
    assert (second["file"], second["duplicate_of"]) == (str(tmp_path / "b.csv"), str(tmp_path / "a.csv"))
    # a file holding a single answered trial is kept
    _tidy("P3", "human", "clickme", ["s7"]).to_csv(tmp_path / "c.csv", index=False)
    assert read_trials([tmp_path]).files.set_index("file").loc[str(tmp_path / "c.csv"), "kept"]


def test_an_observer_in_two_groups_within_one_file_is_named_at_its_first_row(tmp_path):
    pd.concat([_tidy("P0", "human", "salicon", ["s9"]), _tidy("P1", "human", "clickme", ["s1", "s2"]),
               _tidy("P1", "human", "salicon", ["s3"]).assign(trial=3)]).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(InputError, match="'P1' is in several groups") as err:
        read_trials([tmp_path / "a.csv"])
    assert err.value.row == 2


def test_empty_copies_count_no_rows_and_a_short_session_is_noted(write_lab_csv, tmp_path, human_trials,
                                                                 stimulus_dir):
    data = tmp_path / "d"
    data.mkdir()
    one = _one(human_trials)
    write_lab_csv(one.head(10), data / "a.csv")  # the session stopped after 10 of its test trials
    write_lab_csv(_one(human_trials, sorted(human_trials["observer"].unique())[1]), data / "a2.csv")  # complete
    (data / "b_empty.csv").write_bytes(b"")
    (data / "c_empty.csv").write_bytes(b"")  # an identical copy of an empty file
    res = read_trials([data], stimuli=stimulus_dir)
    ledger = res.dropped.set_index("file")
    assert ledger.loc[str(data / "c_empty.csv"), "rows"] == 0
    n_images = pd.read_csv(stimulus_dir / "manifest.csv")["image_id"].nunique()
    early = res.dropped[res.dropped["reason"].str.startswith("session ended early")]
    assert early["reason"].tolist() == [f"session ended early after 10 of {n_images} test trials"]
    assert early["observer"].tolist() == [one["observer"].iloc[0]] and early["rows"].tolist() == [0]
    assert res.trials["image_frac"].dtype == np.float64  # from the manifest, as a number


def test_an_experiment_files_bad_observer_kind_is_named_with_its_first_row(experiment_csv_text, tmp_path,
                                                                          human_trials):
    lines, _ = _lab_lines(experiment_csv_text, human_trials)
    kinds = {7: "robot", 9: "alien"}
    lines = [lines[0] + ",observer_kind"] + [line + "," + kinds.get(i, "human") for i, line in enumerate(lines)
                                             if i > 0]
    path = tmp_path / "kinds.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="got 'robot'") as err:
        read_trial_file(path)
    assert err.value.row == 7
    lines = [line.rsplit(",", 1)[0] + ",simulated" if i else line for i, line in enumerate(lines)]
    path.write_text("\n".join(lines) + "\n")
    assert set(read_trial_file(path)[0]["observer_kind"]) == {"simulated"}  # as the file says


def test_a_lab_file_without_trial_column_numbers_trials_from_psychopys_loop(write_lab_csv, tmp_path, human_trials):
    path = tmp_path / "p.csv"
    write_lab_csv(_one(human_trials), path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    expected = table.loc[(table["phase"] == "test") & (table["stimulus_id"] != ""), "trials.thisN"].astype(int)
    table.drop(columns="trial").to_csv(path, index=False)
    trials = read_trial_file(path)[0]
    assert trials["trial"].astype(int).tolist() == expected.tolist()
    table.assign(trial=table["trial"].where(table["trial"] == "", "7")).to_csv(path, index=False)
    assert set(read_trial_file(path)[0]["trial"].astype(int)) == {7}  # a file's own trial column wins


def test_a_repeated_trial_row_within_a_file_is_read_once_and_reported(tmp_path):
    rows = _tidy("P1", "human", "clickme", ["s1", "s2", "s3"])
    pd.concat([rows, rows.iloc[[1]]]).to_csv(tmp_path / "a.csv", index=False)
    res = read_trials([tmp_path])
    assert res.trials["stimulus_id"].tolist() == ["s1", "s2", "s3"]
    assert res.duplicates["kind"].tolist() == ["1 repeated trial rows"]
    assert res.dropped["reason"].tolist() == ["repeated trial row"] and res.dropped["rows"].tolist() == [1]


# ------------------------------------------------------------ edges found by the mutation run (issue 31)

def test_a_header_of_exactly_the_needed_columns_has_its_layout():
    from reveal.core.readers import detect_layout

    assert detect_layout(["observer", "observer_kind", "stimulus_id"]) == "tidy"
    assert detect_layout(["participant", "stimulus_id", "response"]) == "psychopy"


def test_a_bad_level_in_a_trial_file_names_its_row(tmp_path):
    _tidy("P1", "human", "clickme", ["s1", "s2", "s3"]).assign(level=["10", "ten", "10"]).to_csv(
        tmp_path / "a.csv", index=False)
    with pytest.raises(InputError, match="level must be a percentage or 'full', got 'ten'") as err:
        read_trials([tmp_path / "a.csv"])
    assert err.value.row == 2


def test_an_unknown_layout_names_its_first_12_columns(tmp_path):
    pd.DataFrame({f"col{k}": [1] for k in range(15)}).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(InputError, match="unknown column layout") as err:
        read_trials([tmp_path / "a.csv"])
    assert "'col11'" in str(err.value) and "'col12'" not in str(err.value)


def test_a_key_without_the_key_mapping_is_no_answer_not_a_crash(tmp_path):
    # resp_key alone says nothing about the category chosen (the mapping is counterbalanced)
    t = _tidy("P1", "human", "clickme", ["s1", "s2"]).drop(columns=["observer", "observer_kind", "response"])
    t.assign(participant="P1", resp_key="s").to_csv(tmp_path / "a.csv", index=False)
    assert read_trials([tmp_path / "a.csv"]).trials["response"].tolist() == ["none", "none"]


def test_an_experiment_file_without_a_group_takes_the_map_source(tmp_path):
    t = _tidy("P1", "human", "salicon", ["s1", "s2"]).drop(columns=["observer", "observer_kind", "group"])
    t.assign(participant="P1").to_csv(tmp_path / "a.csv", index=False)
    assert read_trials([tmp_path / "a.csv"]).trials["group"].tolist() == ["salicon", "salicon"]


def test_hidden_csv_files_in_a_folder_are_temporaries_not_data(tmp_path):
    _tidy("P1", "human", "clickme", ["s1"]).to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / ".a.csv.1234.csv").write_text("garbage\n")
    res = read_trials([tmp_path])
    assert res.files["file"].tolist() == [str(tmp_path / "a.csv")]


def test_empty_files_count_no_rows_in_the_ledger(tmp_path):
    _tidy("P1", "human", "clickme", ["s1"]).to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "b.csv").write_bytes(b"")
    (tmp_path / "c.csv").write_bytes(b"")  # an identical (empty) copy of b
    (tmp_path / "d.csv").write_text("note\nx\ny\n")  # not trial data, with rows
    files = read_trials([tmp_path]).files.set_index("file")
    assert files.loc[[str(tmp_path / n) for n in ("b.csv", "c.csv", "d.csv")], "rows_read"].tolist() == [0, 0, 0]


def test_a_folder_of_one_other_csv_is_refused_as_the_data_it_was_meant_to_be(tmp_path):
    (tmp_path / "notes.csv").write_text("note\nx\n")
    with pytest.raises(InputError) as err:
        read_trials([tmp_path])
    assert err.value.message.startswith("unknown column layout") and err.value.path == str(tmp_path / "notes.csv")


def test_a_participant_in_two_groups_names_both_and_the_first_row_of_the_second_file(tmp_path):
    _tidy("P1", "human", "clickme", ["s1", "s2"]).to_csv(tmp_path / "a.csv", index=False)
    pd.concat([_tidy("P0", "human", "salicon", ["s1"]),
               _tidy("P1", "human", "salicon", ["s1", "s2"])]).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputError, match="'P1' is in group 'salicon' here but in group 'clickme' in ") as err:
        read_trials([tmp_path])
    assert err.value.row == 2 and err.value.path == str(tmp_path / "b.csv")


def test_trials_of_several_files_are_numbered_afresh(tmp_path):
    _tidy("P1", "human", "clickme", ["s1", "s2"]).to_csv(tmp_path / "a.csv", index=False)
    _tidy("P2", "human", "clickme", ["s1", "s2"]).to_csv(tmp_path / "b.csv", index=False)
    assert read_trials([tmp_path]).trials.index.tolist() == [0, 1, 2, 3]


def test_no_answered_trials_says_which_files_were_skipped(tmp_path):
    (tmp_path / "a_notes.csv").write_text("note\nx\n")
    (tmp_path / "b_notes.csv").write_text("note\ny\n")
    with pytest.raises(InputError, match=r"given; skipped: a_notes.csv \(not a trial data file .*; b_notes.csv"):
        read_trials([tmp_path])


def test_a_files_own_image_frac_is_kept_over_the_manifests(tmp_path, human_trials, stimulus_dir):
    one = _one(human_trials)
    one.assign(image_frac=0.123).to_csv(tmp_path / "a.csv", index=False)  # a tidy file says what was shown
    res = read_trials([tmp_path / "a.csv"], stimuli=stimulus_dir)
    assert np.allclose(res.trials["image_frac"], 0.123)


def test_a_models_rerun_rows_leave_no_index_column(tmp_path):
    _tidy("net", "model", "clickme", ["s1", "s2"]).to_csv(tmp_path / "a.csv", index=False)
    _tidy("net", "model", "clickme", ["s2", "s3"]).assign(trial=[2, 3]).to_csv(tmp_path / "b.csv", index=False)
    trials = read_trials([tmp_path]).trials
    assert trials["stimulus_id"].tolist() == ["s1", "s2", "s3"] and trials.index.tolist() == [0, 1, 2]
    assert list(trials.columns) == list(read_trials([tmp_path / "a.csv"]).trials.columns)
