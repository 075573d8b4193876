"""Generate the rapid-categorization experiment as a PsychoPy Builder experiment and compile it.

:func:`build_experiment` writes one folder that is at the same time

* a Builder experiment (``<name>.psyexp``) a researcher can open and edit in PsychoPy,
* the lab script (``<name>.py``) PsychoPy compiled from it, and
* a PsychoJS study (``index.html``, ``<name>.js``, ``<name>-legacy-browsers.js``) that can
  be pushed to a Pavlovia project as it is (Pavlovia serves ``lib/``).

The ``.psyexp`` is built with ``psychopy.experiment`` objects (routines, components,
loops) rather than from a hand-written XML template, so it is always what the installed
PsychoPy writes and reads; both scripts come from PsychoPy's own compiler
(``psychopy.scripts.psyexpCompile.compileScript``).

Layout of the folder::

    <name>.psyexp  <name>.py  index.html  <name>.js  <name>-legacy-browsers.js
    conditions/list{L}_training.csv  list{L}_blocks.csv  list{L}_block{b}.csv
    stimuli/manifest.csv  stimuli/stimset.json  stimuli/<the set's PNGs>
    design.json    (what was built: sources, lists, blocks, seed, notes)

Flow: instructions → training loop (trial, feedback) → test intro → blocks loop
(trials loop (trial, feedback), block feedback) → goodbye.

Timing is counted in frames of the refresh rate measured at start (``refresh_hz``):
fixation ``round(fixation_s * hz)`` frames, image ``round(0.4 * hz)`` frames, responses
from image onset for ``round(0.55 * hz)`` frames.  The keyboard does not end the
routine, so a fast answer never cuts the 400 ms image short.  The image is drawn in
``pix`` units at 256 × 256 (the paper's size; PsychoPy users size stimuli in pixels
when the image must match its native resolution).

The code components are written twice, in Python and in JavaScript, by hand: automatic
translation declares variables inside one routine function, where other routines do
not see them.  The JavaScript assigns shared variables without ``let``/``var`` so that
PsychoPy declares them once at module level.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from ..stimuli.errors import InputError
from ..stimuli.stimset import read_stimulus_set

from . import design as dsg

log = logging.getLogger(__name__)

__all__ = ["build_experiment", "DATA_COLUMNS", "compile_experiment", "make_experiment"]

#: Columns the experiment adds to every trial row with ``addData`` (docs/conventions.md).
DATA_COLUMNS = ("participant", "session", "group", "key_animal", "key_nonanimal", "phase",
                "block", "trial", "stimulus_id", "image_id", "category", "map_source",
                "level", "resp_key", "response", "correct", "rt_s", "timed_out",
                "fixation_frames", "stim_frames", "refresh_hz", "dropped_frames")

IMAGE_SIZE_PX = 256
FEEDBACK_S = 0.8


def _psychopy_experiment():
    try:
        from psychopy import experiment
    except ImportError as err:  # esprima is needed by psychopy.experiment but not declared
        raise RuntimeError(f"psychopy.experiment cannot be imported ({err}); install "
                           f"psychopy-lib with esprima and javascripthon") from err
    return experiment


# --------------------------------------------------------------------------- code text
# Shared names start with ``rv_`` (internal) or are the data columns themselves.

def _setup_py(sources, levels) -> str:
    return f'''\
# --- reveal: participant -> list (same rule as experiments.design.list_index) ---
# (os, core, logging: imported by the Builder script itself; importing here would make
# them local to run())
rv_sources = {list(sources)!r}
rv_n_rows = {dsg.N_CONDITIONS}
rv_levels = {[str(x) for x in levels]!r}  # level (as in manifest.csv) by level_index
rv_n_lists = 2 * rv_n_rows * len(rv_sources)
rv_pid = str(expInfo['participant'])
rv_digits = ''.join([c for c in rv_pid if c.isdigit()])
if rv_digits:
    rv_index = int(rv_digits)
else:
    rv_index = sum([ord(c) for c in rv_pid])
list_index = rv_index % rv_n_lists
rv_group_req = str(expInfo.get('group', '')).strip()
if rv_group_req:
    if rv_group_req not in rv_sources:
        raise ValueError(f"group {{rv_group_req}} is not one of {{rv_sources}}")
    rv_cycle = list_index // (rv_n_rows * len(rv_sources))
    list_index = (list_index % rv_n_rows) + rv_n_rows * rv_sources.index(rv_group_req) + rv_n_rows * len(rv_sources) * rv_cycle
group = rv_sources[(list_index // rv_n_rows) % len(rv_sources)]
expInfo['group'] = group
rv_flip = (list_index % 2) ^ ((list_index // (rv_n_rows * len(rv_sources))) % 2)
key_animal = 'l' if rv_flip else 's'
key_nonanimal = 's' if rv_flip else 'l'
training_file = 'conditions/list' + str(list_index) + '_training.csv'
blocks_file = 'conditions/list' + str(list_index) + '_blocks.csv'
# --- refresh rate: everything is timed in frames of the measured rate ---
refresh_hz = expInfo.get('frameRate')
# REVEAL_EMULATE_HZ: displays without vsync (virtual displays, tests) flip as fast as
# they can; pace the trial frames to this rate so that frame counts mean what they say.
rv_emulate_hz = float(os.environ.get('REVEAL_EMULATE_HZ', '0') or 0)
if rv_emulate_hz > 0:
    refresh_hz = rv_emulate_hz
if not refresh_hz:
    logging.warning('reveal: could not measure the refresh rate; assuming 60 Hz')
    refresh_hz = 60.0
refresh_hz = round(float(refresh_hz), 2)
win.recordFrameIntervals = True
win.refreshThreshold = 1.2 / refresh_hz
stim_frames_target = max(1, round({dsg.STIMULUS_S} * refresh_hz))
deadline_frames = max(1, round({dsg.DEADLINE_S} * refresh_hz))
fb_frames = max(1, round({FEEDBACK_S} * refresh_hz))
# Pilot/test shortening (lab script only): REVEAL_MAX_TRIALS, REVEAL_MAX_BLOCKS,
# REVEAL_TRAINING_TRIALS limit rows per block / blocks / training trials.
rv_max_trials = os.environ.get('REVEAL_MAX_TRIALS', '')
rv_max_blocks = os.environ.get('REVEAL_MAX_BLOCKS', '')
rv_max_training = os.environ.get('REVEAL_TRAINING_TRIALS', '')
trial_rows = ('0:' + rv_max_trials) if rv_max_trials else ''
block_rows = ('0:' + rv_max_blocks) if rv_max_blocks else ''
training_rows = ('0:' + rv_max_training) if rv_max_training else ''
rv_block_n = 0
rv_block_correct = 0
rv_pace_clock = core.Clock()
rv_next_flip = 0.0
instr_text = (
    'In each trial a photo flashes briefly after a fixation cross.\\n\\n'
    'Press ' + key_animal.upper() + ' if it contains an ANIMAL,\\n'
    'press ' + key_nonanimal.upper() + ' if it does NOT.\\n\\n'
    'Answer as fast and as accurately as you can: answers later than half a second '
    'count as too slow.\\n\\nFirst a short training with feedback.\\n\\nPress SPACE to start.')
'''


def _setup_js(sources, levels) -> str:
    return f'''\
// --- reveal: participant -> list (same rule as experiments.design.list_index) ---
rv_sources = {json.dumps(list(sources))};
rv_n_rows = {dsg.N_CONDITIONS};
rv_levels = {json.dumps([str(x) for x in levels])};  // level (as in manifest.csv) by level_index
rv_n_lists = 2 * rv_n_rows * rv_sources.length;
rv_pid = String(expInfo['participant']);
rv_digits = rv_pid.replace(/[^0-9]/g, '');
if (rv_digits.length > 0) {{
  rv_index = parseInt(rv_digits, 10);
}} else {{
  rv_index = 0;
  for (const c of rv_pid) {{ rv_index += c.charCodeAt(0); }}
}}
list_index = rv_index % rv_n_lists;
rv_group_req = (expInfo['group'] === undefined) ? '' : String(expInfo['group']).trim();
if (rv_group_req.length > 0) {{
  if (rv_sources.indexOf(rv_group_req) < 0) {{
    throw new Error(`group ${{rv_group_req}} is not one of ${{rv_sources}}`);
  }}
  rv_cycle = Math.floor(list_index / (rv_n_rows * rv_sources.length));
  list_index = (list_index % rv_n_rows) + rv_n_rows * rv_sources.indexOf(rv_group_req) + rv_n_rows * rv_sources.length * rv_cycle;
}}
group = rv_sources[Math.floor(list_index / rv_n_rows) % rv_sources.length];
expInfo['group'] = group;
rv_flip = (list_index % 2) ^ (Math.floor(list_index / (rv_n_rows * rv_sources.length)) % 2);
key_animal = rv_flip ? 'l' : 's';
key_nonanimal = rv_flip ? 's' : 'l';
training_file = 'conditions/list' + String(list_index) + '_training.csv';
blocks_file = 'conditions/list' + String(list_index) + '_blocks.csv';
// --- refresh rate: everything is timed in frames of the measured rate ---
refresh_hz = expInfo['frameRate'];
if (!refresh_hz) {{
  console.warn('reveal: could not measure the refresh rate; assuming 60 Hz');
  refresh_hz = 60.0;
}}
refresh_hz = Math.round(refresh_hz * 100) / 100;
stim_frames_target = Math.max(1, Math.round({dsg.STIMULUS_S} * refresh_hz));
deadline_frames = Math.max(1, Math.round({dsg.DEADLINE_S} * refresh_hz));
fb_frames = Math.max(1, Math.round({FEEDBACK_S} * refresh_hz));
// no shortening online: all rows of every conditions file
trial_rows = null;
block_rows = null;
training_rows = null;
rv_block_n = 0;
rv_block_correct = 0;
instr_text = ('In each trial a photo flashes briefly after a fixation cross.\\n\\n' +
  'Press ' + key_animal.toUpperCase() + ' if it contains an ANIMAL,\\n' +
  'press ' + key_nonanimal.toUpperCase() + ' if it does NOT.\\n\\n' +
  'Answer as fast and as accurately as you can: answers later than half a second ' +
  'count as too slow.\\n\\nFirst a short training with feedback.\\n\\nPress SPACE to start.');
'''


TRIAL_BEGIN_PY = '''\
# Save what has been answered so far: a crash or Escape in this trial loses nothing
# already answered (the final save overwrites the same file).
rv_csv = thisExp.dataFileName + '.csv'
if len(thisExp.entries) > 0:
    thisExp.saveAsWideText(rv_csv, delim='auto', fileCollisionMethod='overwrite')
    thisExp.queueNextCollision('overwrite', fileName=rv_csv)
fixation_frames = max(1, round(fixation_s * refresh_hz))
level = rv_levels[int(level_index)]
stim_frames = 0
rv_dropped_start = win.nDroppedFrames
rv_next_flip = rv_pace_clock.getTime()
'''

TRIAL_BEGIN_JS = '''\
fixation_frames = Math.max(1, Math.round(fixation_s * refresh_hz));
level = rv_levels[Number.parseInt(level_index)];
stim_frames = 0;
'''

TRIAL_FRAME_PY = '''\
# frames the image was actually on screen (this component runs after the image's)
if image.status == STARTED:
    stim_frames += 1
if rv_emulate_hz > 0:
    # pace flips on displays without vsync (see REVEAL_EMULATE_HZ)
    rv_next_flip += 1.0 / rv_emulate_hz
    rv_wait = rv_next_flip - rv_pace_clock.getTime()
    if rv_wait > 0:
        core.wait(rv_wait, hogCPUperiod=0)
    else:
        rv_next_flip = rv_pace_clock.getTime()
'''

TRIAL_FRAME_JS = '''\
if (image.status === PsychoJS.Status.STARTED) {
  stim_frames += 1;
}
'''

TRIAL_END_PY = '''\
rv_keys = key_resp.keys
if not rv_keys:
    resp_key = ''
    response = 'none'
    correct = 0
    rt_s = ''
    timed_out = 1
else:
    if isinstance(rv_keys, (list, tuple)):
        rv_keys = rv_keys[0]
    resp_key = rv_keys
    response = 'animal' if resp_key == key_animal else 'nonanimal'
    correct = 1 if response == category else 0
    rv_rt = key_resp.rt
    if isinstance(rv_rt, (list, tuple)):
        rv_rt = rv_rt[0]
    rt_s = round(float(rv_rt), 4)
    timed_out = 0
dropped_frames = win.nDroppedFrames - rv_dropped_start
if phase == 'test':
    rv_block_n += 1
    rv_block_correct += correct
# participant, session and group: PsychoPy writes expInfo (extraInfo) on every row, and
# setup_code set expInfo['group'] = group; adding them again would duplicate the columns.
thisExp.addData('key_animal', key_animal)
thisExp.addData('key_nonanimal', key_nonanimal)
thisExp.addData('phase', phase)
thisExp.addData('block', block)
thisExp.addData('trial', trial)
thisExp.addData('stimulus_id', stimulus_id)
thisExp.addData('image_id', image_id)
thisExp.addData('category', category)
thisExp.addData('map_source', map_source)
thisExp.addData('level', level)
thisExp.addData('resp_key', resp_key)
thisExp.addData('response', response)
thisExp.addData('correct', correct)
thisExp.addData('rt_s', rt_s)
thisExp.addData('timed_out', timed_out)
thisExp.addData('fixation_frames', fixation_frames)
thisExp.addData('stim_frames', stim_frames)
thisExp.addData('refresh_hz', refresh_hz)
thisExp.addData('dropped_frames', dropped_frames)
'''

TRIAL_END_JS = '''\
if (!key_resp.keys) {
  resp_key = '';
  response = 'none';
  correct = 0;
  rt_s = '';
  timed_out = 1;
} else {
  resp_key = Array.isArray(key_resp.keys) ? key_resp.keys[0] : key_resp.keys;
  response = (resp_key === key_animal) ? 'animal' : 'nonanimal';
  correct = (response === category) ? 1 : 0;
  rt_s = Array.isArray(key_resp.rt) ? key_resp.rt[0] : key_resp.rt;
  rt_s = Math.round(rt_s * 10000) / 10000;
  timed_out = 0;
}
// browsers do not report dropped frames
dropped_frames = '';
if (phase === 'test') {
  rv_block_n += 1;
  rv_block_correct += correct;
}
psychoJS.experiment.addData('participant', expInfo['participant']);
psychoJS.experiment.addData('session', expInfo['session']);
psychoJS.experiment.addData('group', group);
psychoJS.experiment.addData('key_animal', key_animal);
psychoJS.experiment.addData('key_nonanimal', key_nonanimal);
psychoJS.experiment.addData('phase', phase);
psychoJS.experiment.addData('block', block);
psychoJS.experiment.addData('trial', trial);
psychoJS.experiment.addData('stimulus_id', stimulus_id);
psychoJS.experiment.addData('image_id', image_id);
psychoJS.experiment.addData('category', category);
psychoJS.experiment.addData('map_source', map_source);
psychoJS.experiment.addData('level', level);
psychoJS.experiment.addData('resp_key', resp_key);
psychoJS.experiment.addData('response', response);
psychoJS.experiment.addData('correct', correct);
psychoJS.experiment.addData('rt_s', rt_s);
psychoJS.experiment.addData('timed_out', timed_out);
psychoJS.experiment.addData('fixation_frames', fixation_frames);
psychoJS.experiment.addData('stim_frames', stim_frames);
psychoJS.experiment.addData('refresh_hz', refresh_hz);
psychoJS.experiment.addData('dropped_frames', dropped_frames);
'''

FEEDBACK_BEGIN_PY = '''\
if phase == 'training':
    if timed_out:
        fb_msg = 'Too slow!'
        fb_color = 'red'
    elif correct:
        fb_msg = 'Correct'
        fb_color = 'green'
    else:
        fb_msg = 'Wrong'
        fb_color = 'red'
elif timed_out:
    fb_msg = 'Too slow!'
    fb_color = 'red'
else:
    # test trials: feedback only for answers after the deadline
    fb_msg = ''
    fb_color = 'black'
    continueRoutine = False
'''

FEEDBACK_BEGIN_JS = '''\
if (phase === 'training') {
  if (timed_out) {
    fb_msg = 'Too slow!';
    fb_color = 'red';
  } else if (correct) {
    fb_msg = 'Correct';
    fb_color = 'green';
  } else {
    fb_msg = 'Wrong';
    fb_color = 'red';
  }
} else if (timed_out) {
  fb_msg = 'Too slow!';
  fb_color = 'red';
} else {
  // test trials: feedback only for answers after the deadline
  fb_msg = '';
  fb_color = 'black';
  continueRoutine = false;
}
'''

BLOCK_BEGIN_PY = '''\
rv_acc = round(100.0 * rv_block_correct / rv_block_n) if rv_block_n else 0
block_msg = (f'Block {blocks.thisN + 1} of {blocks.nTotal} done.\\n\\n'
             f'Accuracy in this block: {rv_acc} %\\n\\nPress SPACE to continue.')
'''

BLOCK_BEGIN_JS = '''\
rv_acc = (rv_block_n > 0) ? Math.round(100.0 * rv_block_correct / rv_block_n) : 0;
block_msg = `Block ${blocks.thisN + 1} of ${blocks.nTotal} done.\\n\\nAccuracy in this block: ${rv_acc} %\\n\\nPress SPACE to continue.`;
'''

BLOCK_END_PY = '''\
rv_block_n = 0
rv_block_correct = 0
'''

BLOCK_END_JS = '''\
rv_block_n = 0;
rv_block_correct = 0;
'''


# --------------------------------------------------------------------------- experiment

def _text(comps, routine, name, text, *, height=24, color="black", start=0.0,
          start_type="time (s)", stop="", stop_type="duration (s)", updates="constant"):
    comp = comps["TextComponent"](
        exp=routine.exp, parentName=routine.name, name=name, text=text, units="pix",
        color=color, letterHeight=height, wrapWidth=800, startType=start_type, startVal=start,
        stopType=stop_type, stopVal=stop)
    comp.params["text"].updates = updates
    comp.params["color"].updates = updates if color.startswith("$") else "constant"
    routine.addComponent(comp)
    return comp


def _space_key(comps, routine, name="key_space", stop=""):
    comp = comps["KeyboardComponent"](
        exp=routine.exp, parentName=routine.name, name=name, allowedKeys="'space'",
        store="last key", forceEndRoutine=True, startVal=0.0, stopVal=stop)
    routine.addComponent(comp)
    return comp


def _code(comps, routine, name, **sections):
    comp = comps["CodeComponent"](exp=routine.exp, parentName=routine.name, name=name,
                                  codeType="Both")
    keys = {"begin_exp": "Begin Experiment", "begin_routine": "Begin Routine",
            "each_frame": "Each Frame", "end_routine": "End Routine"}
    for key, (py, js) in sections.items():
        comp.params[keys[key]].val = py
        comp.params[keys[key].replace(" ", " JS ", 1)].val = js
    routine.addComponent(comp)
    return comp


def make_experiment(name: str, sources, levels, resources) -> "psychopy.experiment.Experiment":
    """The Builder experiment object (not saved).

    Parameters
    ----------
    name : str
        Experiment name (file stem of the ``.psyexp`` and scripts).
    sources : sequence of str
        Map sources of the set, sorted (the order lists are assigned in).
    levels : sequence of str
        ``level`` by ``level_index`` 0..11, as the manifest writes it.
    resources : sequence of str
        Paths relative to the experiment folder that PsychoJS must download
        (conditions files and stimuli).
    """
    experiment = _psychopy_experiment()
    from psychopy.experiment import getAllComponents
    from psychopy.experiment.loops import TrialHandler

    comps = getAllComponents(fetchIcons=False)
    exp = experiment.Experiment()
    s = exp.settings.params
    s["expName"].val = name
    # Builder's default participant (a random 6-digit id, also online) + the group
    # override: empty = the group the participant's list implies.
    s["Experiment info"].val = ("{'participant':'f\"{randint(0, 999999):06.0f}\"', "
                                "'session':'001', 'group':''}")
    s["color"].val = "$[1,1,1]"  # white background, as in the paper
    s["colorSpace"].val = "rgb"
    s["Units"].val = "pix"
    s["Full-screen window"].val = True
    s["Window size (pixels)"].val = "[1024, 768]"
    s["Show mouse"].val = False
    s["measureFrameRate"].val = True
    s["HTML path"].val = ""  # empty: the JS lists every resource explicitly
    s["Resources"].val = list(resources)
    s["Save log file"].val = True
    s["Save wide csv file"].val = True
    s["Save csv file"].val = False
    s["Save excel file"].val = False
    s["End Message"].val = "Thank you for taking part!"

    # -- instructions (+ the experiment-wide setup code)
    instr = exp.addRoutine("instructions")
    _code(comps, instr, "setup_code", begin_exp=(_setup_py(sources, levels), _setup_js(sources, levels)))
    _text(comps, instr, "instr_msg", "$instr_text", updates="set every repeat")
    _space_key(comps, instr, "instr_key")

    # -- one trial: fixation, image 400 ms, responses until 550 ms after image onset
    trial = exp.addRoutine("rapid_trial")
    _text(comps, trial, "fixation", "+", height=40, start=0, start_type="frame N",
          stop="$fixation_frames", stop_type="duration (frames)")
    img = comps["ImageComponent"](
        exp=exp, parentName="rapid_trial", name="image", image="$image_file", units="pix",
        size=(IMAGE_SIZE_PX, IMAGE_SIZE_PX), startType="frame N", startVal="$fixation_frames",
        stopType="duration (frames)", stopVal="$stim_frames_target")
    img.params["image"].updates = "set every repeat"
    trial.addComponent(img)
    key = comps["KeyboardComponent"](
        exp=exp, parentName="rapid_trial", name="key_resp", allowedKeys="'s','l'",
        store="first key", forceEndRoutine=False, startType="frame N",
        startVal="$fixation_frames", stopType="duration (frames)", stopVal="$deadline_frames")
    trial.addComponent(key)
    # the code runs after image and key_resp in each frame (component order)
    _code(comps, trial, "trial_code", begin_routine=(TRIAL_BEGIN_PY, TRIAL_BEGIN_JS),
          each_frame=(TRIAL_FRAME_PY, TRIAL_FRAME_JS), end_routine=(TRIAL_END_PY, TRIAL_END_JS))

    # -- feedback after a trial (training: correct/wrong/too slow; test: too slow only)
    fb = exp.addRoutine("feedback")
    _code(comps, fb, "feedback_code", begin_routine=(FEEDBACK_BEGIN_PY, FEEDBACK_BEGIN_JS))
    _text(comps, fb, "fb_text", "$fb_msg", height=32, color="$fb_color", start=0,
          start_type="frame N", stop="$fb_frames", stop_type="duration (frames)",
          updates="set every repeat")

    test_intro = exp.addRoutine("test_intro")
    _text(comps, test_intro, "test_msg",
          "Training is over.\n\nNow the test: the same task, without feedback except "
          "'too slow'. There are short breaks between blocks.\n\nPress SPACE to start.")
    _space_key(comps, test_intro, "test_key")

    block_fb = exp.addRoutine("block_feedback")
    _code(comps, block_fb, "block_code", begin_routine=(BLOCK_BEGIN_PY, BLOCK_BEGIN_JS),
          end_routine=(BLOCK_END_PY, BLOCK_END_JS))
    _text(comps, block_fb, "block_msg_text", "$block_msg", updates="set every repeat")
    _space_key(comps, block_fb, "block_key")

    goodbye = exp.addRoutine("goodbye")
    _text(comps, goodbye, "bye_msg", "That's all - thank you for taking part!\n\n"
          "Press SPACE to finish.", stop=10)
    _space_key(comps, goodbye, "bye_key", stop=10)

    # -- flow
    flow = exp.flow
    for r in (instr, trial, fb, test_intro, trial, fb, block_fb, goodbye):
        flow.addRoutine(r, len(flow))
    # flow: 0 instr, 1 trial, 2 fb, 3 test_intro, 4 trial, 5 fb, 6 block_fb, 7 goodbye
    training = TrialHandler(exp, name="training", loopType="sequential", nReps=1,
                            conditionsFile="$training_file", selectedRows="$training_rows",
                            isTrials=True)
    flow.addLoop(training, 1, 3)
    # now: 0 instr, 1 [init, 2 trial, 3 fb, 4 term], 5 test_intro, 6 trial, 7 fb, 8 block_fb
    trials = TrialHandler(exp, name="trials", loopType="sequential", nReps=1,
                          conditionsFile="$trials_file", selectedRows="$trial_rows",
                          isTrials=True)
    flow.addLoop(trials, 6, 8)
    # now: ... 6 [init, 7 trial, 8 fb, 9 term], 10 block_fb, 11 goodbye
    blocks = TrialHandler(exp, name="blocks", loopType="sequential", nReps=1,
                          conditionsFile="$blocks_file", selectedRows="$block_rows",
                          isTrials=False)
    flow.addLoop(blocks, 6, 11)
    return exp


def compile_experiment(psyexp, out_dir=None) -> dict:
    """Compile a ``.psyexp`` with PsychoPy's compiler to the lab and PsychoJS scripts.

    Returns
    -------
    dict
        ``{"py": Path, "js": Path, "legacy_js": Path, "html": Path}``
    """
    from psychopy.scripts.psyexpCompile import compileScript

    psyexp = Path(psyexp)
    out_dir = Path(out_dir) if out_dir is not None else psyexp.parent
    stem = psyexp.stem
    py, js = out_dir / f"{stem}.py", out_dir / f"{stem}.js"
    # compileScript loads the file back, so what is compiled is what Builder would open
    compileScript(infile=str(psyexp), outfile=str(py))
    compileScript(infile=str(psyexp), outfile=str(js))
    return {"py": py, "js": js, "legacy_js": out_dir / f"{stem}-legacy-browsers.js",
            "html": out_dir / "index.html"}


def build_experiment(stimuli_dir, out_dir, name: str = "rapidcat", *, n_blocks: int = 5,
                     n_training: int = 8, allow_unbalanced: bool = False) -> dict:
    """Build the whole experiment folder from a stimulus set.

    Parameters
    ----------
    stimuli_dir : str or Path
        Stimulus set folder (``manifest.csv``).
    out_dir : str or Path
        Experiment folder to write (created; existing generated files are replaced).
    name : str
        Experiment name: ``<name>.psyexp``, ``<name>.py``, ``<name>.js``.
    n_blocks, n_training : int
        Test blocks (5 in the paper) and training trials.
    allow_unbalanced : bool
        Go on (with a warning) when the set's categories are unbalanced.

    Returns
    -------
    dict
        Paths (``psyexp``, ``py``, ``js``, ``legacy_js``, ``html``, ``folder``), the
        number of lists and the design notes.
    """
    if not name.isidentifier():
        raise InputError(f"experiment name {name!r} must be a valid identifier "
                         f"(letters, digits, underscore)")
    stimset = read_stimulus_set(stimuli_dir, check_sizes=True)
    dsg.check_design(stimset, allow_unbalanced=allow_unbalanced)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    # stimuli: the set's PNGs under stimuli/ with its manifest and parameters
    stim_out = out / "stimuli"
    used = sorted(set(stimset.manifest["file"]))
    for rel in used:
        dst = stim_out / rel  # rel is checked relative, without '..' (stimuli.stimset)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(stimset.resolve(rel), dst)
    for meta in ("manifest.csv", "stimset.json"):
        if (stimset.root / meta).is_file():
            shutil.copy2(stimset.root / meta, stim_out / meta)

    # conditions of every list (participants wrap around them)
    cond_dir = out / "conditions"
    if cond_dir.exists():
        shutil.rmtree(cond_dir)
    n = dsg.n_lists(len(stimset.sources))
    resources, notes = [], []
    for L in range(n):
        d = dsg.participant_design(stimset, L, n_blocks=n_blocks, n_training=n_training)
        notes = d.notes
        files = dsg.write_conditions(d, cond_dir)
        for p in [files["training"], files["blocks"], *files["block_files"]]:
            resources.append(p.relative_to(out).as_posix())
    resources += [f"stimuli/{rel}" for rel in used]
    for note in notes:
        log.info("%s", note)

    exp = make_experiment(name, stimset.sources, stimset.levels, resources)
    psyexp = out / f"{name}.psyexp"
    tmp = out / f".{name}-tmp.psyexp"
    exp.saveToXML(str(tmp), makeLegacy=False)
    os.replace(tmp, psyexp)
    paths = compile_experiment(psyexp)
    info = {
        "name": name, "sources": list(stimset.sources), "n_lists": n,
        "n_images": int(len(stimset.images)),
        "n_blocks": int(min(n_blocks, len(stimset.images))), "n_training": int(n_training),
        "seed": stimset.seed, "stimuli": os.fspath(Path(stimuli_dir).resolve()),
        "data_columns": list(DATA_COLUMNS), "notes": notes,
    }
    tmp_info = out / ".design.json.tmp"
    tmp_info.write_text(json.dumps(info, indent=2), encoding="utf-8")
    os.replace(tmp_info, out / "design.json")
    return {"folder": out, "psyexp": psyexp, **paths, "n_lists": n, "notes": notes}
