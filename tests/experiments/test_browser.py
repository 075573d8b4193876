"""The PsychoJS export in a real browser: headless Chromium and the real PsychoJS build.

An experiment is built with the ``reveal`` command from a small stimulus set (8 images, 2 map
sources, 64 px), and ``tests/browser/drive.mjs`` runs participants through it: it serves the
exported folder on 127.0.0.1 with the PsychoJS build (``../shared/vendor/psychojs`` from the
repository's root, or ``$REVEAL_PSYCHOJS``) under the name ``index.html`` asks for, serves the
CDN libraries from ``tests/browser/node_modules``, clicks through PsychoJS's start dialog, waits
for each screen's text and for each image's onset frame, presses the planned keys and keeps
the data file PsychoJS downloads (the LOCAL environment saves it through the browser).
Nothing of PsychoJS or of the export is replaced.

What is checked: no page error, console error, PsychoJS error dialog or PsychoJS call that the
library lacks; every planned trial is in the downloaded file, in the list's order, with the
answer given (correct, wrong, none, late, two keys, an answer while the page drew no frames);
``rt_s`` agrees with the key's time from the onset frame as the browser saw it; the id chose
the list Python's rule gives (a 24-hex-digit panel id typed into the dialog); each participant
fetches only its list's files; ``reveal analyze`` reads the files.

Needs ``node`` (20+, for playwright-core), Chromium (``$CHROMIUM`` or ``chromium`` on PATH;
Debian package ``chromium``), ``npm ci --prefix tests/browser`` and the PsychoJS build.
Outside CI a missing piece skips these tests (the reason names it); with ``CI`` set it fails
them.

Chromium renders WebGL in software here (SwiftShader), at 5-30 frames per second that vary
within a session, while the experiment counts durations in frames of the rate it measured at
the start: the image's duration in seconds (``timing_ok``) is therefore not asserted, and the
driver presses answers early in the response window as the frames run.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from browser_support import BROWSER_DIR, reveal_command  # (the browser_tools fixture: conftest.py)
from PIL import Image

from reveal.experiments.builder import DEFAULT_PSYCHOJS_VERSION

pytestmark = pytest.mark.slow

SOURCES = ("alpha", "beta")
N_IMAGES, N_BLOCKS, N_TRAINING = 8, 2, 4
STIMULUS_S, DEADLINE_S = 0.4, 0.55

# participant "7" (id in the URL): one of each kind of answer, in the order the images come
# (4 training trials, then 8 test trials); the page draws no frame for 1.5 s from the onset
# of trial 7 and the answer comes after that
PLAN_A = ["correct", "wrong", "missing", "late",
          "double", "correct", "wrong", "correct", "missing", "late", "edge", "correct"]
HIDDEN_TRIAL, HIDDEN_MS = 7, 1500
# a panel's 24-hex-digit id, typed into PsychoJS's start dialog; every answer correct
PANEL_ID = "5f8d0d55b54764421b715e07"
# a Prolific participant: the study link carries PROLIFIC_PID, STUDY_ID and SESSION_ID, and the
# study sends them back to Prolific with the completion code once the data are saved
PROLIFIC_ID = "60a1b2c3d4e5f60718293a4b"
PROLIFIC_QUERY = f"PROLIFIC_PID={PROLIFIC_ID}&STUDY_ID=study42&SESSION_ID=sess9&lab_code=B%2B7"
COMPLETED_URL = "https://app.prolific.com/submissions/complete?cc=C0DE1234"


def run_reveal(*args, cwd=None) -> subprocess.CompletedProcess:
    r = subprocess.run(reveal_command() + [str(a) for a in args], capture_output=True, text=True,
                       cwd=cwd, timeout=600, check=False)
    assert r.returncode == 0, f"reveal {' '.join(map(str, args))}: {r.stdout}\n{r.stderr}"
    return r


def write_inputs(root: Path) -> None:
    """8 smooth colour photographs (64 px), two maps each (a blob per source), categories."""
    rng = np.random.default_rng(3)
    size = 64
    yy, xx = np.mgrid[0:size, 0:size]
    for d in ("photos", "alpha", "beta"):
        (root / d).mkdir(parents=True)
    rows = ["image_id,category"]
    for j in range(N_IMAGES):
        image_id = f"im{j:02d}"
        coarse = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
        Image.fromarray(coarse).resize((size, size), Image.BICUBIC).save(root / "photos" / f"{image_id}.png")
        for source, (cy, cx) in (("alpha", (20 + 8 * (j % 3), 24)), ("beta", (40, 16 + 8 * (j % 4)))):
            m = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 8.0 ** 2))
            Image.fromarray((m / m.max() * 255).astype(np.uint8)).save(root / source / f"{image_id}.png")
        rows.append(f"{image_id},{'animal' if j % 2 == 0 else 'nonanimal'}")
    (root / "categories.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def exported(browser_tools, tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    write_inputs(root / "inputs")
    run_reveal("stimuli", "build", "--images", root / "inputs" / "photos",
               "--maps", f"alpha={root / 'inputs' / 'alpha'}", "--maps", f"beta={root / 'inputs' / 'beta'}",
               "--categories", root / "inputs" / "categories.csv", "--out", root / "set",
               "--size", 64, "--no-progress")
    run_reveal("experiment", "build", "--stimuli", root / "set", "--out", root / "exp",
               "--blocks", N_BLOCKS, "--training", N_TRAINING, "--completed-url", COMPLETED_URL,
               "--url-param", "lab_code")
    return {"root": root, "set": root / "set", "exp": root / "exp"}


def default_png() -> str | None:
    """PsychoPy's placeholder image (what Pavlovia serves as assets/default/default.png)."""
    spec = importlib.util.find_spec("psychopy")
    if spec and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "assets" / "default.png"
        if p.is_file():
            return str(p)
    return None  # the driver serves a 1 x 1 PNG


def drive(tools, export: Path, out: Path, **spec) -> dict:
    """Run one participant with tests/browser/drive.mjs; fails with the page's errors."""
    spec = {"export": str(export), "psychojs": tools["psychojs"], "chromium": tools["chromium"],
            "out": str(out), "default_png": default_png(), "timeout_s": 240, **spec}
    r = subprocess.run(["node", str(BROWSER_DIR / "drive.mjs"), json.dumps(spec)],
                       capture_output=True, text=True, timeout=spec["timeout_s"] + 60, check=False)
    try:
        result = json.loads(r.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"drive.mjs exit {r.returncode}, no JSON result\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    if not result.get("ok"):
        pytest.fail(f"participant {spec.get('participant')} in the browser:\n  "
                    + "\n  ".join(result.get("failures", [])) + f"\n{r.stderr[-2000:]}")
    return result


@pytest.fixture(scope="module")
def sessions(browser_tools, exported):
    out = exported["root"] / "downloads"
    # the id in the link, its name in capitals (any case is read)
    a = drive(browser_tools, exported["exp"], out, participant="7", via="none", query="PARTICIPANT=7",
              answers=PLAN_A, hide={"trial": HIDDEN_TRIAL, "ms": HIDDEN_MS}, completion="https://app.prolific.com/")
    b = drive(browser_tools, exported["exp"], out, participant=PANEL_ID, via="dialog")
    c = drive(browser_tools, exported["exp"], out, participant=PROLIFIC_ID, via="none", query=PROLIFIC_QUERY,
              completion="https://app.prolific.com/")
    return {"7": a, PANEL_ID: b, PROLIFIC_ID: c}


def read_conditions(export: Path, name: str) -> list[dict]:
    with open(export / name, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def list_rows(export: Path, list_index: int) -> list[dict]:
    """The trials list L shows, in order (training, then each block's file)."""
    rows = read_conditions(export, f"conditions/list{list_index}_training.csv")
    for b in read_conditions(export, f"conditions/list{list_index}_blocks.csv"):
        rows += read_conditions(export, b["trials_file"])
    return rows


def data_rows(result: dict) -> list[dict]:
    """The downloaded file's trial rows (rows with a phase), values as written."""
    with open(result["download"]["path"], newline="", encoding="utf-8-sig") as f:
        return [r for r in csv.DictReader(f) if r.get("phase")]


def js_round(x: float) -> int:
    return math.floor(x + 0.5)


def number(text: str) -> float | None:
    return None if text in ("", "undefined", None) else float(text)


def test_every_planned_trial_is_saved_in_the_list_order(sessions, exported):
    for pid, result in sessions.items():
        name = result["download"]["suggested_filename"]
        assert name.startswith(f"{pid}_rapidcat_") and name.endswith(".csv"), name
        raw = Path(result["download"]["path"]).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # PsychoJS writes a BOM, as on Pavlovia
        planned = list_rows(exported["exp"], result["list_index"])
        rows = data_rows(result)
        assert len(planned) == N_TRAINING + N_IMAGES == len(result["trials"])
        assert [r["stimulus_id"] for r in rows] == [p["stimulus_id"] for p in planned]
        assert [r["phase"] for r in rows] == [p["phase"] for p in planned]
        # and the browser drew the image each row names, at that trial
        assert [t["image"] for t in result["trials"] if t["image"]] == \
            [p["image_file"] for p, t in zip(planned, result["trials"]) if t["image"]]
        assert {r["participant"] for r in rows} == {pid}


def test_answers_are_recorded_as_given(sessions, exported):
    result = sessions["7"]
    planned = list_rows(exported["exp"], result["list_index"])
    rows = data_rows(result)
    refresh = result["refresh_hz"]
    assert refresh and all(number(r["refresh_hz"]) == refresh for r in rows)
    for k, (row, cond, trial, plan) in enumerate(zip(rows, planned, result["trials"], PLAN_A)):
        shown = {c: row[c] for c in ("resp_key", "response", "correct", "rt_s", "timed_out", "late_key",
                                     "late_rt_s", "early_presses", "stim_duration_s", "timing_ok")}
        where = f"trial {k} ({plan}): {json.dumps(shown)}, keys seen {trial['keydowns']}"
        right = cond["correct_key"]
        other = "l" if right == "s" else "s"
        other_category = "nonanimal" if cond["category"] == "animal" else "animal"
        rt, late_rt = number(row["rt_s"]), number(row["late_rt_s"])
        no_answer = ("", "none", "0", "1", "")
        answer = (row["resp_key"], row["response"], row["correct"], row["timed_out"], row["rt_s"])
        if k == HIDDEN_TRIAL:
            # answered in the frames of its window but 1.5 s after onset: judged by time, a late answer
            assert plan == "correct"
            assert answer == no_answer and row["late_key"] == right and late_rt > 1.0, where
            assert row["timing_ok"] == "0" and number(row["stim_duration_s"]) > 1.0, where
        elif plan in ("correct", "double"):  # of two keys, the first counts
            assert (row["resp_key"], row["response"], row["correct"], row["timed_out"]) == \
                (right, cond["category"], "1", "0"), where
            assert 0.1 <= rt <= DEADLINE_S, where
        elif plan == "wrong":
            assert (row["resp_key"], row["response"], row["correct"], row["timed_out"]) == \
                (other, other_category, "0", "0"), where
            assert 0.1 <= rt <= DEADLINE_S, where
        elif plan == "missing":
            assert (row["resp_key"], row["response"], row["correct"], row["timed_out"], row["rt_s"]) == \
                ("", "none", "0", "1", ""), where
        elif plan == "late":  # after the deadline, during the "too slow" feedback: no answer, kept as late
            assert answer == no_answer and row["late_key"] == right and late_rt > DEADLINE_S, where
        elif plan == "edge":  # in the window's last frame: an answer (by 550 ms as the page saw the key)
            assert trial["keydowns"][0]["after_onset_ms"] <= DEADLINE_S * 1000, where
            assert (row["resp_key"], row["correct"], row["timed_out"], row["late_key"]) == (right, "1", "0", ""), where
            print(f"edge answer: rt_s {rt} (window {trial['window_ms']} ms in this browser's frames)")
        if plan not in ("late",) and k != HIDDEN_TRIAL:
            assert row["late_key"] == "" and row["late_rt_s"] == "", where
        # rt_s (late_rt_s) is the key's time from the image's onset frame, as the page saw the key
        for t in (rt, late_rt):
            if t is not None:
                assert trial["keydowns"], where
                assert abs(t * 1000 - trial["keydowns"][0]["after_onset_ms"]) < 30, where
        assert row["anticipation"] == "0", where
        # the image for the frames of 400 ms at the measured rate (its time is not asserted)
        assert int(float(row["stim_frames"])) == max(1, js_round(STIMULUS_S * refresh)), where
        # a key of the previous trial that came after its window is never this trial's early press
        assert int(float(row["early_presses"])) == 0, where


def test_every_answer_correct_for_the_typed_panel_id(sessions, exported):
    result = sessions[PANEL_ID]
    assert dict(result["dialog_fields"])["participant"] == PANEL_ID
    for row in data_rows(result):
        assert (row["correct"], row["timed_out"]) == ("1", "0"), row


def test_the_id_chooses_the_list_and_keys_of_pythons_rule(sessions, exported):
    from reveal.experiments.design import participant_list

    for pid, result in sessions.items():
        assert result["list_index"] == participant_list(pid, sorted(SOURCES), "", 12), pid
        planned = list_rows(exported["exp"], result["list_index"])
        rows = data_rows(result)
        group = {p["map_source"] for p in planned if p["phase"] == "test"}
        assert {r["group"] for r in rows} == group and len(group) == 1
        animal_key = {p["correct_key"] for p in planned if p["category"] == "animal"}
        assert {r["key_animal"] for r in rows} == animal_key and len(animal_key) == 1


def test_each_participant_fetches_only_its_own_files(sessions, exported):
    exp = exported["exp"]
    for pid, result in sessions.items():
        L = result["list_index"]
        req = result["requests"]
        assert req["not_found"] == [] and req["fetched_twice"] == [] and req["blocked"] == [], req
        paths = [line.split(" ", 1)[1] for line in req["local"]]
        images = {p["image_file"] for p in list_rows(exp, L)}
        conditions = {f"conditions/list{L}_{n}.csv" for n in
                      ["training", "blocks"] + [f"block{b}" for b in range(1, N_BLOCKS + 1)]}
        assert {p for p in paths if p.startswith("stimuli/")} == images
        assert {p for p in paths if p.startswith("conditions/")} == conditions
        lib = {p for p in paths if p.startswith("lib/")}
        assert len(lib) == 2 and all(p.startswith("lib/psychojs-") for p in lib), lib
        assert set(paths) - images - conditions - lib == {"index.html", "rapidcat.js"}
        assert req["local_count"] == len(images) + len(conditions) + 4
        print(f"participant {pid}: list {L}, {req['local_count']} files ({req['local_bytes']} bytes) from the "
              f"study's server: {req['by_kind']}; {len(req['cdn'])} from CDNs")
        # off the machine: the CDN's jQuery, jQuery UI (js, css), PreloadJS; PsychoPy's placeholder
        assert len(req["cdn"]) == 5 and all(c.startswith("200 ") for c in req["cdn"]), req["cdn"]


def test_the_export_calls_only_psychojs_apis_that_exist(sessions):
    for result in sessions.values():
        assert result["api_checked"] > 50 and result["api_missing"] == []
        assert result["psychojs_errors"] == [] and result["page_errors"] == []


def test_reveal_analyze_reads_the_browser_files(sessions, exported):
    out = exported["root"] / "analysis"
    files = [s["download"]["path"] for s in sessions.values()]
    run_reveal("analyze", *files, "--stimuli", exported["set"], "--out", out, "--resamples", 200,
               "--bootstrap", 100, "--no-fits", "--keep-timing-failures", "--keep-unattended", "--no-progress")
    with open(out / "trials.csv", newline="", encoding="utf-8") as f:
        trials = list(csv.DictReader(f))
    assert {t["observer"] for t in trials} == set(sessions)  # the hex id stays a string
    for pid, result in sessions.items():
        tidy = [t for t in trials if t["observer"] == pid]
        test_rows = [r for r in data_rows(result) if r["phase"] == "test"]
        assert [t["stimulus_id"] for t in tidy] == [r["stimulus_id"] for r in test_rows]
        assert [(t["response"], int(float(t["correct"])), int(float(t["timed_out"]))) for t in tidy] == \
            [(r["response"], int(r["correct"]), int(r["timed_out"])) for r in test_rows]
        assert all(t["observer_kind"] == "human" for t in tidy)


def test_the_dialog_asks_only_for_the_participant(sessions):
    # (PsychoJS leaves out a field the link gives, whatever its case: ?PARTICIPANT=7)
    expected = {"7": [], PANEL_ID: ["participant"], PROLIFIC_ID: ["participant"]}
    for pid, result in sessions.items():
        assert [name for name, _ in result["dialog_fields"]] == expected[pid], result["dialog_fields"]
        # the list downloads after OK: the dialog does not claim it already has
        assert "all resources downloaded" not in result["dialog_progress"].lower()
        assert result["dialog_progress"].startswith("After OK, the pictures of your session download")


def test_the_export_loads_the_psychojs_release_it_is_tested_with(sessions, exported):
    design = json.loads((exported["exp"] / "design.json").read_text())
    for result in sessions.values():
        # index.html's lib/psychojs-<version> is the release the library itself reports
        assert result["psychojs_served_as"] == result["psychojs_version"] == design["psychojs_version"] \
            == DEFAULT_PSYCHOJS_VERSION


def test_a_prolific_link_gives_the_id_is_saved_on_every_row_and_sends_the_participant_back(sessions):
    result = sessions[PROLIFIC_ID]
    rows = data_rows(result)
    assert rows and {r["participant"] for r in rows} == {PROLIFIC_ID}
    assert {(r["PROLIFIC_PID"], r["STUDY_ID"], r["SESSION_ID"], r["lab_code"]) for r in rows} == \
        {(PROLIFIC_ID, "study42", "sess9", "B+7")}
    # PsychoJS sends the participant to the completion link once the data file is saved
    assert result["download"] and result["redirect"] == COMPLETED_URL
    print(f"closing dialog: {result['closing_dialog']!r}; then sent to {result['redirect']}")
    for other in ("7", PANEL_ID):  # no panel in these links: empty, not missing
        assert {r["PROLIFIC_PID"] for r in data_rows(sessions[other])} == {""}


def test_online_quality_columns_say_when_the_page_was_hidden(sessions):
    result = sessions["7"]
    rows = data_rows(result)
    hidden = [int(r["page_hidden"]) for r in rows]
    blurred = [int(r["focus_lost"]) for r in rows]
    assert hidden == [int(k == HIDDEN_TRIAL) for k in range(len(rows))], hidden
    assert blurred == hidden, blurred
    for k, row in enumerate(rows):
        assert (int(row["window_w"]), int(row["window_h"])) == (400, 300)  # the driver's viewport
        assert float(row["pixel_ratio"]) == 1 and row["fullscreen"] in ("0", "1")
        assert row["image_ready"] == "1", k  # the list's images were downloaded before the trials
        longest = float(row["max_frame_ms"])
        # the page drew no frame while hidden: that trial's longest frame is the hidden time
        assert (longest >= HIDDEN_MS * 0.9) if k == HIDDEN_TRIAL else (0 < longest < HIDDEN_MS * 0.5), (k, longest)
    # reveal analyze leaves the hidden trial out by default and counts it
    print("quality of the trial with the hidden page:",
          {c: rows[HIDDEN_TRIAL][c] for c in ("page_hidden", "focus_lost", "fullscreen", "window_w", "window_h",
                                              "pixel_ratio", "max_frame_ms", "image_ready", "stim_frames",
                                              "stim_duration_s", "timing_ok")})
