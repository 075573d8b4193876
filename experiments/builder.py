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

The code components are written twice, in Python and in JavaScript, in template files
(``templates/<section>.py.tmpl`` / ``.js.tmpl``, package data, filled with
``string.Template``), not by automatic translation, which declares variables inside one
routine function, where other routines do not see them.  The JavaScript assigns shared
variables without ``let``/``var`` so that PsychoPy declares them once at module level.
The ``addData`` lines are generated from :data:`reveal.core.trialdata.EXPERIMENT_COLUMNS`;
the participant -> list rule is :func:`design.participant_list`, whose source the lab
script's setup code copies, and its JavaScript twin in ``setup.js.tmpl``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import ast
import inspect
import textwrap
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

import pandas as pd

from ..core.trialdata import ANTICIPATION_S, EXPERIMENT_COLUMNS, ONLINE_QUALITY_COLUMNS, PANEL_COLUMNS
from ..core.errors import InputError
from ..core.extras import require_extra
from .psychojs import DEFAULT_PSYCHOJS_VERSION
from ..core.outputs import OutputFolder, atomic_write
from ..core.stimset import read_stimulus_set

from . import design as dsg

if TYPE_CHECKING:  # the return annotation of make_experiment only; imported lazily at run time
    import psychopy.experiment

log = logging.getLogger(__name__)

__all__ = ["build_experiment", "CODE_SECTIONS", "EXPINFO_COLUMNS", "code_text",
           "add_data_lines", "compile_experiment", "make_experiment", "save_psyexp", "set_lab_settings"]

IMAGE_SIZE_PX = 256
FEEDBACK_S = 0.8
#: URL parameters a panel passes (Prolific's), saved on every row online (empty when the link
#: lacks them); ``PROLIFIC_PID`` is also the participant id when the link gives no ``participant``.
PANEL_PARAMS = PANEL_COLUMNS



def _psychopy_experiment():
    require_extra("experiment", "reveal.experiments.builder")
    try:
        from psychopy import experiment
    except ImportError as err:  # esprima is needed by psychopy.experiment but not declared
        raise RuntimeError(f"psychopy.experiment cannot be imported ({err}); install "
                           f"psychopy-lib with esprima and javascripthon") from err
    return experiment


# --------------------------------------------------------------------------- code text
# The code components' Python and JavaScript live in templates/<section>.<py|js>.tmpl
# (package data), filled by string.Template.  Shared names start with ``rv_`` (internal)
# or are the data columns themselves.

#: Code sections of the experiment: template stem -> (routine's code component, Builder tab).
CODE_SECTIONS = ("dialog", "setup", "instr_frame", "trial_begin", "trial_frame", "trial_end", "feedback_begin",
                 "feedback_end", "block_begin", "block_end")
#: Data columns PsychoPy's lab script writes from ``expInfo`` (extraInfo) on every row by
#: itself; the lab script does not add them again (that would duplicate the columns).
EXPINFO_COLUMNS = ("participant", "session", "group")
#: JavaScript value of a data column, where it is not the variable of the column's name.
_JS_VALUES = {"participant": "expInfo['participant']", "session": "expInfo['session']"}


def _template(section: str, lang: str) -> Template:
    """The ``string.Template`` of one code section (``lang`` ``"py"`` or ``"js"``)."""
    if section not in CODE_SECTIONS or lang not in ("py", "js"):
        raise ValueError(f"no code template {section!r} for {lang!r}")
    res = resources.files(__package__).joinpath("templates", f"{section}.{lang}.tmpl")
    return Template(res.read_text(encoding="utf-8"))


def add_data_lines(lang: str) -> str:
    """The ``addData`` lines of one trial, generated from the trial-data contract's
    :data:`reveal.core.trialdata.EXPERIMENT_COLUMNS`.

    Parameters
    ----------
    lang : {"py", "js"}
        ``"py"``: ``thisExp.addData(col, col)`` for every column but
        :data:`EXPINFO_COLUMNS`; ``"js"``: ``psychoJS.experiment.addData(...)`` for every
        column (PsychoJS does not add ``expInfo`` by itself under these names).

    Returns
    -------
    str
        One statement per line, no trailing newline.
    """
    if lang == "py":
        return "\n".join(f"thisExp.addData({col!r}, {col})" for col in EXPERIMENT_COLUMNS
                         if col not in EXPINFO_COLUMNS)
    if lang == "js":
        return "\n".join(f"psychoJS.experiment.addData({col!r}, {_JS_VALUES.get(col, col)});"
                         for col in EXPERIMENT_COLUMNS)
    raise ValueError(f"lang must be 'py' or 'js', not {lang!r}")


def _participant_list_def() -> str:
    """Source of :func:`design.participant_list`, renamed ``rv_participant_list``."""
    src = textwrap.dedent(inspect.getsource(dsg.participant_list))
    lines = src.splitlines()
    doc = ast.parse(src).body[0].body[0]  # the docstring: documented in design.py
    del lines[doc.lineno - 1:doc.end_lineno]
    src = "\n".join(lines)
    return src.replace("def participant_list(", "def rv_participant_list(", 1)


#: Frame intervals PsychoJS measures before the first trial (median; see setup.js.tmpl).
REFRESH_INTERVALS = 60


def code_text(section: str, lang: str, sources=(), levels=(), downloads=None, url_params=PANEL_PARAMS) -> str:
    """The code of one section in one language, as the experiment's code component holds it.

    Parameters
    ----------
    section : str
        One of :data:`CODE_SECTIONS`.
    lang : {"py", "js"}
    sources : sequence of str
        Map sources, sorted (``setup`` only).
    levels : sequence of str
        ``level`` by ``level_index`` (``setup`` only): the set's conditions, whose number is the
        Latin square's rows (the default 12 when none are given).
    downloads : tuple, optional
        ``(files, list_files, n_blocks)`` (``setup``, JavaScript only): every image path
        once, per list the indices of its images, and blocks per list — what a participant
        downloads after the list is assigned.  Default: no images, 5 blocks.
    url_params : sequence of str
        URL parameters saved on every row online (``setup``, JavaScript only).

    Returns
    -------
    str
    """
    values = {}
    if section == "setup":
        sources, levels = list(sources), [str(x) for x in levels]
        values = {"n_rows": len(levels) or dsg.N_CONDITIONS, "stimulus_s": dsg.STIMULUS_S,
                  "deadline_s": dsg.DEADLINE_S, "feedback_s": FEEDBACK_S, "anticipation_s": ANTICIPATION_S}
        if lang == "py":
            values.update(sources=repr(sources), levels=repr(levels),
                          participant_list_def=_participant_list_def())
        else:
            files, list_files, n_blocks = downloads if downloads is not None else ([], [], 5)
            values.update(sources=json.dumps(sources), levels=json.dumps(levels),
                          n_intervals=REFRESH_INTERVALS, files=json.dumps(list(files)),
                          list_files=json.dumps([list(map(int, x)) for x in list_files],
                                                separators=(",", ":")),
                          n_blocks=int(n_blocks), url_params=json.dumps(list(url_params)))
    elif section == "trial_end":
        values = {"add_data": add_data_lines(lang)}
        if lang == "js":
            values["quality_data"] = "\n".join(f"psychoJS.experiment.addData({col!r}, {col});"
                                                for col in ONLINE_QUALITY_COLUMNS)
    return _template(section, lang).substitute(values)


def _both(section: str, sources=(), levels=(), downloads=None, url_params=PANEL_PARAMS) -> tuple:
    return (code_text(section, "py", sources, levels),
            code_text(section, "js", sources, levels, downloads, url_params))


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


def _space_key(comps, routine, name="key_space", stop="", start=0.0, start_type="time (s)"):
    comp = comps["KeyboardComponent"](
        exp=routine.exp, parentName=routine.name, name=name, allowedKeys="'space'",
        store="last key", forceEndRoutine=True, startType=start_type, startVal=start, stopVal=stop)
    routine.addComponent(comp)
    return comp


def _code(comps, routine, name, **sections):
    comp = comps["CodeComponent"](exp=routine.exp, parentName=routine.name, name=name,
                                  codeType="Both")
    keys = {"before_exp": "Before Experiment", "begin_exp": "Begin Experiment", "begin_routine": "Begin Routine",
            "each_frame": "Each Frame", "end_routine": "End Routine"}
    for key, (py, js) in sections.items():
        comp.params[keys[key]].val = py
        comp.params[keys[key].replace(" ", " JS ", 1)].val = js
    routine.addComponent(comp)
    return comp


def set_lab_settings(exp, name, *, color, show_mouse, end_message):
    """The Builder settings every experiment of the toolkit shares (the rapid task's and the game's).

    Pixel units, a full-screen 1024 x 768 window, the refresh rate measured at the start, a dialog
    asking only for the participant, a log and the wide CSV data file (comma-delimited), nothing else.
    Returns the settings' parameters for the caller's own.
    """
    s = exp.settings.params
    s["expName"].val = name
    s["Experiment info"].val = "{'participant':'f\"{randint(0, 999999):06.0f}\"'}"
    s["color"].val = color
    s["colorSpace"].val = "rgb"
    s["Units"].val = "pix"
    s["Full-screen window"].val = True
    s["Window size (pixels)"].val = "[1024, 768]"
    s["Show mouse"].val = show_mouse
    s["measureFrameRate"].val = True
    s["Save log file"].val = True
    s["Save wide csv file"].val = True
    s["Save csv file"].val = False
    # comma, not "auto": PsychoJS turns "auto" with its extension-less file name into a tab
    s["Data file delimiter"].val = "comma"
    s["Save excel file"].val = False
    s["End Message"].val = end_message
    return s


def make_experiment(name: str, sources, levels, startup_resources=(), downloads=None, *,
                    completed_url: str = "", incomplete_url: str = "", url_params=PANEL_PARAMS
                    ) -> "psychopy.experiment.Experiment":
    """The Builder experiment object (not saved).

    Parameters
    ----------
    name : str
        Experiment name (file stem of the ``.psyexp`` and scripts).
    sources : sequence of str
        Map sources of the set, sorted (the order lists are assigned in).
    levels : sequence of str
        ``level`` by ``level_index`` 0..n-1 (the set's conditions), as the manifest writes it.
    startup_resources : sequence of str
        Paths relative to the experiment folder that PsychoJS downloads at start-up, for
        every participant (none by default: see ``downloads``).
    downloads : tuple, optional
        ``(files, list_files, n_blocks)``: what each participant downloads once its list is
        assigned (:func:`code_text`); the instructions' SPACE waits for it online.
    completed_url, incomplete_url : str
        PsychoPy's *Completed URL* and *Incomplete URL* (online): where PsychoJS sends the
        participant once the data are saved (a panel's completion link), or after Escape.
    url_params : sequence of str
        URL parameters saved on every row online (a panel's ids).
    """
    experiment = _psychopy_experiment()
    from psychopy.experiment import getAllComponents
    from psychopy.experiment.loops import TrialHandler

    comps = getAllComponents(fetchIcons=False)
    exp = experiment.Experiment()
    s = set_lab_settings(exp, name, color="$[1,1,1]", show_mouse=False,  # white background, as in the paper
                         end_message="Thank you for taking part!")
    # The dialog asks only for the participant (Builder's default: a random 6-digit id). The
    # session and the group (the map source) are the experimenter's: `reveal experiment run
    # --session --group` in the lab, the link's `session` and `group` parameters online; without
    # a group the id's list says it.
    s["HTML path"].val = ""  # empty: the JS lists every resource explicitly
    s["Resources"].val = list(startup_resources)
    s["Completed URL"].val = completed_url
    s["Incomplete URL"].val = incomplete_url

    # -- instructions (+ the experiment-wide setup code)
    instr = exp.addRoutine("instructions")
    _code(comps, instr, "setup_code", before_exp=_both("dialog"),
          begin_exp=_both("setup", sources, levels, downloads, url_params), each_frame=_both("instr_frame"))
    _text(comps, instr, "instr_msg", "$instr_text", updates="set every repeat")
    _space_key(comps, instr, "instr_key", start="rv_ready", start_type="condition")

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
        startVal="$fixation_frames", stopType="duration (frames)", stopVal="$deadline_frames + 1")
    trial.addComponent(key)
    # key_resp runs one frame past the deadline: PsychoPy (and PsychoJS) stop a keyboard on the
    # frame it reaches its duration, before reading that frame's keys, so the routine lasts until
    # the flip that closes the 550 ms window; trial_end reads the keys of that last frame and
    # judges each answer by its time from the onset flip.
    # the code runs after image and key_resp in each frame (component order)
    _code(comps, trial, "trial_code", begin_routine=_both("trial_begin"),
          each_frame=_both("trial_frame"), end_routine=_both("trial_end"))

    # -- feedback after a trial (training: correct/wrong/too slow; test: too slow only)
    fb = exp.addRoutine("feedback")
    _code(comps, fb, "feedback_code", begin_routine=_both("feedback_begin"), end_routine=_both("feedback_end"))
    _text(comps, fb, "fb_text", "$fb_msg", height=32, color="$fb_color", start=0,
          start_type="frame N", stop="$fb_frames", stop_type="duration (frames)",
          updates="set every repeat")

    test_intro = exp.addRoutine("test_intro")
    _text(comps, test_intro, "test_msg",
          "Training is over.\n\nNow the test: the same task, without feedback except "
          "'too slow'. There are short breaks between blocks.\n\nPress SPACE to start.")
    _space_key(comps, test_intro, "test_key")

    block_fb = exp.addRoutine("block_feedback")
    _code(comps, block_fb, "block_code", begin_routine=_both("block_begin"),
          end_routine=_both("block_end"))
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


def save_psyexp(exp, psyexp) -> Path:
    """Save a Builder experiment to ``psyexp`` in one step (never a half-written file)."""
    psyexp = Path(psyexp)
    # PsychoPy writes only to a file name: saved beside, then renamed over by atomic_write
    tmp = psyexp.with_name(f".{psyexp.stem}.{os.getpid()}.part.psyexp")
    try:
        exp.saveToXML(str(tmp), makeLegacy=False)
        atomic_write(psyexp, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return psyexp


def compile_experiment(psyexp, out_dir=None) -> dict:
    """Compile a ``.psyexp`` with PsychoPy's compiler to the lab and PsychoJS scripts.

    Returns
    -------
    dict
        ``{"py": Path, "js": Path, "legacy_js": Path, "html": Path}``
    """
    require_extra("experiment", "reveal.experiments.builder")
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


def check_psychojs_version(version: str) -> str:
    """``version`` if it names a PsychoJS release (``YYYY.minor.patch``); else :class:`InputError`."""
    if not re.fullmatch(r"20\d\d\.\d{1,2}\.\d{1,2}", version or ""):
        raise InputError(f"--psychojs-version takes a PsychoJS release such as {DEFAULT_PSYCHOJS_VERSION}, "
                         f"got {version!r}")
    return version


def set_psychojs_version(paths: dict, version: str) -> None:
    """Make the compiled online files (``paths["html"]``, ``paths["js"]``) load PsychoJS ``version``.

    PsychoPy's own way, the experiment setting *Use version*, is not used: it also makes the
    lab script call ``psychopy.useVersion``, which fetches another PsychoPy from GitHub when
    the lab station runs it, and the compiler asks GitHub for the list of versions (it fails
    offline).  The compiler names a version in ``index.html`` (css and legacy bundle) and in
    the module's import; those names are replaced, and files that name none are an error
    (a compiler that writes them otherwise) rather than a silently wrong export.
    """
    name = re.compile(r"lib/psychojs-\d[\w.]*?(?=\.(?:iife\.js|js|css)[\"'])")
    for key in ("html", "js"):
        path = Path(paths[key])
        text = path.read_text(encoding="utf-8")
        if not name.search(text):
            raise RuntimeError(f"{path.name} does not load lib/psychojs-<version>: this PsychoPy writes its "
                               f"PsychoJS import differently; --psychojs-version cannot be applied")
        atomic_write(path, name.sub(f"lib/psychojs-{version}", text))


#: The command that owns an experiment folder (:class:`reveal.core.outputs.OutputFolder`).
COMMAND = "reveal experiment build"


def build_experiment(stimuli_dir, out_dir, name: str = "rapidcat", *, n_blocks: int = 5,
                     n_training: int = 8, allow_unbalanced: bool = False, overwrite: bool = False,
                     completed_url: str = "", incomplete_url: str = "", url_params=(),
                     psychojs_version: str = DEFAULT_PSYCHOJS_VERSION) -> dict:
    """Build the whole experiment folder from a stimulus set.

    Parameters
    ----------
    stimuli_dir : str or Path
        Stimulus set folder (``manifest.csv``).
    out_dir : str or Path
        Experiment folder to write (created). It must be empty or hold an earlier build
        (see :class:`reveal.core.outputs.OutputFolder`): a folder with files this
        command did not write is refused, whatever ``overwrite`` says.
    name : str
        Experiment name: ``<name>.psyexp``, ``<name>.py``, ``<name>.js``.
    n_blocks, n_training : int
        Test blocks (5 in the paper) and training trials.
    allow_unbalanced : bool
        Go on (with a warning) when the set's categories are unbalanced.
    overwrite : bool
        Replace an earlier build in ``out_dir`` (only the files it recorded are removed).
    completed_url, incomplete_url : str
        Online: where a participant is sent once the data are saved (e.g. a panel's
        completion link), and after ending the study early.
    url_params : sequence of str
        Online: URL parameters to save on every row, besides :data:`PANEL_PARAMS`.
    psychojs_version : str
        Online: the PsychoJS release ``index.html`` loads (:data:`DEFAULT_PSYCHOJS_VERSION`).

    Returns
    -------
    dict
        Paths (``psyexp``, ``py``, ``js``, ``legacy_js``, ``html``, ``folder``), the
        number of lists and the design notes.
    """
    require_extra("experiment", "reveal.experiments.builder")  # before the set is read: nothing can go on without it
    for url, option in ((completed_url, "--completed-url"), (incomplete_url, "--incomplete-url")):
        if url and not url.startswith(("https://", "http://")):
            raise InputError(f"{option} must be a web address (https://...), got {url!r}")
    check_psychojs_version(psychojs_version)
    url_params = tuple(dict.fromkeys([*PANEL_PARAMS, *url_params]))
    bad = [p for p in url_params if not p.replace("_", "").replace("-", "").isalnum() or not p.isascii()]
    if bad:
        raise InputError(f"--url-param takes a URL parameter name (letters, digits, _ and -), got {bad[0]!r}")
    if not name.isidentifier():
        raise InputError(f"experiment name {name!r} must be a valid identifier "
                         f"(letters, digits, underscore)")
    stimset = read_stimulus_set(stimuli_dir, check_sizes=True)
    dsg.check_design(stimset, allow_unbalanced=allow_unbalanced)
    n = dsg.n_lists(len(stimset.sources), stimset.n_conditions)
    designs = [dsg.participant_design(stimset, L, n_blocks=n_blocks, n_training=n_training) for L in range(n)]
    used = sorted(set(stimset.manifest["file"]))
    metas = [m for m in ("manifest.csv", "stimset.json") if (stimset.root / m).is_file()]
    # Every output is recorded before the first is written: a crash never leaves a file the
    # record lacks, and a rerun with --overwrite removes exactly these.
    folder = OutputFolder(out_dir, COMMAND, overwrite=overwrite)
    out = folder.root
    folder.declare([f"stimuli/{rel}" for rel in used] + [f"stimuli/{m}" for m in metas]
                   + [f"conditions/{f}" for d in designs for f in dsg.conditions_files(d)]
                   + [f"{name}.psyexp", f"{name}.py", f"{name}.js", f"{name}-legacy-browsers.js",
                      "index.html", "design.json"])

    # stimuli: the set's PNGs under stimuli/ with its manifest and parameters
    for rel in used:  # rel is checked relative, without '..' (reveal.core.stimset)
        atomic_write(folder.path(f"stimuli/{rel}"), stimset.resolve(rel).read_bytes())
    for meta in metas:
        atomic_write(folder.path(f"stimuli/{meta}"), (stimset.root / meta).read_bytes())

    # conditions of every list (participants wrap around them)
    cond_dir = out / "conditions"
    # Online, a participant downloads its own list's conditions files and images once the
    # list is assigned (setup code), not the whole set at start-up.
    image_paths = [f"stimuli/{rel}" for rel in used]
    index = {p: i for i, p in enumerate(image_paths)}
    list_files, notes, blocks_per_list = [], [], 0
    for d in designs:
        notes = d.notes
        files = dsg.write_conditions(d, cond_dir)
        blocks_per_list = len(files["block_files"])
        own = pd.concat([d.training["image_file"], d.test["image_file"]]).unique()
        list_files.append(sorted(index[p] for p in own))
    for note in notes:
        log.info("%s", note)

    exp = make_experiment(name, stimset.sources, stimset.conditions,
                          downloads=(image_paths, list_files, blocks_per_list), completed_url=completed_url,
                          incomplete_url=incomplete_url, url_params=url_params)
    psyexp = save_psyexp(exp, out / f"{name}.psyexp")
    paths = compile_experiment(psyexp)
    set_psychojs_version(paths, psychojs_version)
    info = {
        "name": name, "sources": list(stimset.sources), "n_lists": n,
        "levels": list(stimset.conditions), "n_conditions": stimset.n_conditions,
        "n_images": int(len(stimset.images)),
        "n_blocks": int(min(n_blocks, len(stimset.images))), "n_training": int(n_training),
        "seed": stimset.seed, "stimuli": os.fspath(Path(stimuli_dir).resolve()),
        "data_columns": list(EXPERIMENT_COLUMNS), "online_columns": [*ONLINE_QUALITY_COLUMNS, *url_params],
        "completed_url": completed_url, "incomplete_url": incomplete_url,
        "psychojs_version": psychojs_version, "notes": notes,
    }
    atomic_write(out / "design.json", json.dumps(info, indent=2))
    folder.close()
    return {"folder": out, "psyexp": psyexp, **paths, "n_lists": n, "notes": notes}
