"""The logic of the PsychoJS code components, run by a real ``node`` with given frame times.

PsychoJS cannot run in node: loading the real build (``../shared/vendor/psychojs``) there
fails at once ("self is not defined": it needs a browser's window, document and WebGL). So
these tests run *our* code-component JavaScript (the templates the builder writes into the
experiment) with small stand-ins for what PsychoJS and the browser provide (a keyboard
buffer, ``requestAnimationFrame`` called with chosen frame times, download states), to test
the logic at frame times a browser cannot be made to produce: a 144 Hz display with a hitch,
a key at a chosen frame. Every PsychoJS call of the templates, and the whole export, runs
against the real PsychoJS in headless Chromium in ``test_browser.py``.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from reveal.experiments.builder import REFRESH_INTERVALS, code_text

LEVELS = ["1", "1.58", "2.51", "3.98", "6.31", "10", "15.8", "25.1", "39.8", "63.1", "100", "full"]
SOURCES = ("clickme", "salicon")

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is needed")

# Stand-ins for PsychoJS / the browser. Sections run as sloppy functions, so the names they
# assign without `let` are globals shared between sections, as the module-level vars are.
_STUBS = """\
const calls = {downloads: [], data: {}, logs: [], raf: [], console: []};
console.log = (m) => calls.console.push(m);  // stdout carries the JSON answer
// a key press as PsychoJS's KeyPress has it: name and tDown (the press's time, in seconds)
const press = (name, tDown) => ({name: name, tDown: tDown});
class Keyboard {
  constructor(opts) { this.events = []; Keyboard.all.push(this); }
  clearEvents() { this.events = []; }
  getKeys({keyList, waitRelease, clear}) {
    const keys = this.events.filter((k) => !keyList || keyList.includes(k.name));
    if (clear) { this.events = []; }
    return keys;
  }
}
Keyboard.all = [];
globalThis.core = {Keyboard: Keyboard, ServerManager: {ResourceStatus: {DOWNLOADED: 'DOWNLOADED'}}};
globalThis.util = {Clock: class {}};
globalThis.PsychoJS = {Status: {NOT_STARTED: 'NOT_STARTED', STARTED: 'STARTED', FINISHED: 'FINISHED'}};
// the page's state, which the trial's data-quality code reads
globalThis.document = {visibilityState: 'visible', hasFocus: () => true, fullscreenElement: null};
globalThis.window = {innerWidth: 1280, innerHeight: 720, devicePixelRatio: 2};
"""

_PSYCHOJS = """\
globalThis.rv_status = 'NOT_DOWNLOADED';
globalThis.expName = 'rapidcat';  // the compiled script's module-level constant
globalThis.psychoJS = {
  serverManager: {
    prepareResources: (r) => { calls.downloads.push(r); return Promise.resolve(); },
    getResourceStatus: (names) => globalThis.rv_status,
  },
  experimentLogger: {exp: (m) => calls.logs.push(m)},
  experiment: {addData: (k, v) => { calls.data[k] = v; }},
};
"""


def _node(script: str):
    r = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _section(name: str, body: str) -> str:
    return f"function {name}() {{\n{body}\n}}\n"


def test_early_presses_before_onset_are_discarded_and_counted():
    setup = code_text("setup", "js", SOURCES, LEVELS)
    script = (_STUBS + _PSYCHOJS
              + _section("setup", setup) + _section("trial_begin", code_text("trial_begin", "js"))
              + _section("trial_frame", code_text("trial_frame", "js"))
              + _section("trial_end", code_text("trial_end", "js"))
              + _section("feedback_end", code_text("feedback_end", "js")) + """
globalThis.expInfo = {participant: '3', session: '001', group: '', frameRate: 60};
setup();
const ONSET = 100.0;  // the onset flip's time (key_resp's clock was reset there)
// answer: [key, rt] read by key_resp; lastFrame: [key, rt] pressed in the window's last frame
// (key_resp stopped before reading it); feedback: [key, rt] pressed during the feedback
function runTrial(pressesBefore, duringFixation, answer, {tStop = 1.6, lastFrame = null, feedback = null} = {}) {
  fixation_s = 1.2; level_index = '4'; category = 'animal'; phase = 'test'; block = 1;
  trial = 0; stimulus_id = 'img01_clickme_6.31'; image_id = 'img01'; map_source = 'clickme';
  image = {status: 'NOT_STARTED'};
  key_resp = {keys: undefined, rt: undefined, clock: {getLastResetTime: () => ONSET}};
  trial_begin();
  const kb = Keyboard.all[Keyboard.all.length - 1];
  kb.events.push(...pressesBefore.map((k) => press(k, ONSET - 3)));  // left over from the previous
  trial_begin();                                                      // screen (cleared at the start)
  for (frameN = 0; frameN < fixation_frames + 40; frameN++) {
    if (frameN === 10 || frameN === 20) { kb.events.push(...duringFixation.map((k) => press(k, ONSET - 0.5))); }
    if (frameN >= fixation_frames) { image.status = 'STARTED'; }
    trial_frame();
    if (frameN === fixation_frames + 5 && answer) { kb.events.push(press(answer[0], ONSET + answer[1])); }
  }
  // key_resp (PsychoJS's, listening from the onset flip) has the answer it read
  key_resp.keys = answer ? answer[0] : undefined; key_resp.rt = answer ? answer[1] : undefined;
  if (lastFrame) { kb.events.push(press(lastFrame[0], ONSET + lastFrame[1])); }
  image.tStart = 1.2; image.tStop = tStop;
  const before = rv_block_correct;
  trial_end();
  if (feedback) { kb.events.push(press(feedback[0], ONSET + feedback[1])); }
  feedback_end();
  return Object.assign({block_correct_added: rv_block_correct - before}, calls.data);
}
const a = runTrial(['s', 'l'], ['s', 'space'], ['l', 0.31]);
const b = runTrial([], [], ['s', 0.31]);
const late = runTrial([], [], [key_animal, 0.8]);  // PsychoJS kept listening: an answer at 800 ms
const longImage = runTrial([], [], ['s', 0.31], {tStop: 2.1});  // flips 900 ms apart: a stalled frame
const lastFrame = runTrial([], [], null, {lastFrame: [key_animal, 0.545]});  // 540-550 ms
const duringFeedback = runTrial([], [], null, {feedback: ['l', 0.7]});
const none = runTrial([], [], null);
process.stdout.write(JSON.stringify([a, b, late, longImage, lastFrame, duringFeedback, none]));
""")
    a, b, late, long_image, last_frame, during_feedback, none = _node(script)
    # 's' pressed twice during fixation: counted (space is no response key), and the answer
    # is the key after onset, not the early 's'
    assert a["early_presses"] == 2 and a["resp_key"] == "l" and a["rt_s"] == 0.31
    assert b["early_presses"] == 0 and b["resp_key"] == "s"
    # judged by time from the onset flip, as in the lab script
    assert (a["timed_out"], b["timed_out"], late["timed_out"]) == (0, 0, 1)
    assert (b["timing_ok"], long_image["timing_ok"]) == (1, 0) and long_image["stim_duration_s"] == 0.9
    # an answer in the window's last frame (key_resp stopped before reading it) counts
    assert (last_frame["resp_key"], last_frame["rt_s"], last_frame["timed_out"]) == ("l", 0.545, 0)
    assert last_frame["late_key"] == ""
    # an answer after the deadline is no answer, kept as a late answer, whenever it came
    for t, key, rt in ((late, "l", 0.8), (during_feedback, "l", 0.7)):
        assert (t["response"], t["resp_key"], t["rt_s"], t["correct"]) == ("none", "", "", 0)
        assert (t["late_key"], t["late_rt_s"]) == (key, rt)
    assert (none["late_key"], none["late_rt_s"], none["timed_out"]) == ("", "", 1)
    assert a["late_key"] == "" and a["late_rt_s"] == ""
    # the block screen's accuracy counts what the analysis counts: a late answer is not correct
    for trial in (a, b, late, long_image, last_frame, during_feedback, none):
        assert trial["block_correct_added"] == (trial["correct"] and not trial["timed_out"])


def _refresh_script(frame_ms: list, extra: str = "") -> str:
    setup = code_text("setup", "js", SOURCES, LEVELS)
    return (_STUBS + _PSYCHOJS + f"const FRAMES = {json.dumps(frame_ms)};\n" + """
globalThis.window = {requestAnimationFrame: (cb) => calls.raf.push(cb)};
globalThis.expInfo = {participant: '3', session: '001', group: '', frameRate: 59.0};
globalThis.instr_msg = {setText: (t) => { calls.text = t; }};
""" + _section("setup", setup + "\nreturn rv_median_interval;")
            + _section("instr_frame", code_text("instr_frame", "js")) + """
const median = setup();
const seen = [];
// downloading: the instructions say how far, and the refresh rate is not measured yet
globalThis.frameN = 0;
instr_frame();
const loading = {text: calls.text, raf: calls.raf.length};
rv_status = 'DOWNLOADED';
frameN = 10;
instr_frame();  // every file in: the measurement starts
let t = 0;
for (const dt of FRAMES) {  // the browser calls back once per frame with its time
  t += dt;
  const cb = calls.raf.shift();
  if (!cb) { break; }
  cb(t);
  frameN += 1;
  instr_frame();
  seen.push(rv_ready);
}
""" + extra)


def test_median_frame_interval_ignores_one_slow_frame():
    times = [16.667 * i for i in range(61)]
    slow = times[:30] + [t + 100 for t in times[30:]]  # one frame 100 ms late (60 intervals)
    script = _refresh_script([16.667], "process.stdout.write(JSON.stringify(["
                             f"median({json.dumps(times)}), median({json.dumps(slow)}),"
                             "median([0, 10, 30]), median([5])]));")
    even, with_slow, two, none = _node(script)
    assert even == pytest.approx(16.667) and with_slow == pytest.approx(16.667)
    assert two == 15 and none is None  # NaN is null in JSON


def test_refresh_rate_measured_over_many_frames_before_the_first_trial():
    # a 144 Hz display with one 120 ms hitch while measuring
    frames = [1000 / 144] * 30 + [120.0] + [1000 / 144] * 40
    script = _refresh_script(frames, "process.stdout.write(JSON.stringify({seen: seen, "
                             "hz: refresh_hz, stim: stim_frames_target, dl: deadline_frames, "
                             "fr: expInfo['frameRate'], logs: calls.logs, text: calls.text, "
                             "loading: loading, n: rv_download_names.length}));")
    out = _node(script)
    assert out["hz"] == 144 and out["fr"] == 144
    assert out["stim"] == round(0.4 * 144) and out["dl"] == round(0.55 * 144)
    # SPACE is not possible before REFRESH_INTERVALS intervals were measured
    assert out["seen"].index(True) == REFRESH_INTERVALS
    assert not any(out["seen"][:REFRESH_INTERVALS])
    assert "144 Hz" in out["logs"][0] and f"median of {REFRESH_INTERVALS}" in out["logs"][0]
    assert "loading" not in out["text"]
    # while the files download: progress in files, and no frame is measured yet
    assert out["loading"]["raf"] == 0
    assert f"(loading the study: 0 of {out['n']} files...)" in out["loading"]["text"]


def participant_downloads(setup_js: str, list_indices) -> list:
    """What ``prepareResources`` is asked for by the setup code of each participant id."""
    script = (_STUBS + _PSYCHOJS + _section("setup", setup_js) + f"""
const out = [];
for (const pid of {json.dumps([str(i) for i in list_indices])}) {{
  calls.downloads = [];
  globalThis.expInfo = {{participant: pid, session: '001', group: '', frameRate: 60}};
  setup();
  out.push([list_index, calls.downloads.length, calls.downloads[0].map((r) => r.path)]);
}}
process.stdout.write(JSON.stringify(out));
""")
    return _node(script)


@pytest.mark.slow
def test_each_participant_downloads_only_its_own_list(built):
    import re

    import pandas as pd
    from psychopy import experiment

    folder = built["folder"]
    exp = experiment.Experiment()
    exp.loadFromXML(str(built["psyexp"]))  # the code PsychoPy compiled into the JS
    setup_js = exp.routines["instructions"].getComponentFromName("setup_code") \
        .params["Begin JS Experiment"].val
    n = built["n_lists"]
    got = participant_downloads(setup_js, range(n))
    union = set()
    for L, (list_index, n_calls, paths) in enumerate(got):
        assert list_index == L and n_calls == 1
        conds = sorted(p for p in paths if p.startswith("conditions/"))
        assert conds == sorted(p.relative_to(folder).as_posix()
                               for p in (folder / "conditions").glob(f"list{L}_*.csv"))
        own = set()
        for c in conds:
            table = pd.read_csv(folder / c)
            if "image_file" in table:
                own |= set(table["image_file"])
        images = [p for p in paths if not p.startswith("conditions/")]
        assert len(images) == len(set(images)) and set(images) == own
        assert all((folder / p).is_file() for p in paths)
        union |= set(paths)
    every = {p.relative_to(folder).as_posix() for p in (folder / "conditions").glob("*.csv")}
    every |= {"stimuli/" + p.relative_to(folder / "stimuli").as_posix()
              for p in (folder / "stimuli").rglob("*.png")}
    assert union == every  # every file is some participant's, none is everyone's
    # start-up resources: PsychoPy's placeholder image only, not the set
    text = built["js"].read_text(encoding="utf-8-sig")
    start = re.findall(r"\{'name': '([^']*)', 'path': '([^']*)'\}", text)
    assert start == [("default.png", "https://pavlovia.org/assets/default/default.png")]
