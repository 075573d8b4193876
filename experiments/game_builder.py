"""Generate the ClickMe game as a PsychoPy Builder experiment and compile it (the lab target).

:func:`build_game` writes one folder, as ``reveal experiment build`` does for the
rapid-categorization task:

    <name>.psyexp  <name>.py   (the Builder experiment and PsychoPy's compiled lab script)
    index.html  <name>.js  <name>-legacy-browsers.js   (the online study PsychoPy compiles)
    js/game_rules.js  js/game_partner.js   (the round's rules and the partner's input, in JavaScript)
    model/partner.onnx         (the network partner for the browser; online only)
    photos/<image_id>.png      (each photograph centre-cropped and resized to 256 × 256)
    practice/coffee.png        (the practice round's photograph: scikit-image's, not the study's)
    conditions/photos.csv  conditions/practice.csv
    design.json                (what was built: photographs, rules, network, seed)

and ``reveal game run`` (:func:`reveal.experiments.run.run_experiment`) plays it; every round
adds to ``data/clicks.csv`` (a ClickMe click dump) and ``data/rounds.csv`` (the round log).

Flow: instructions → practice loop (round, feedback) → rounds loop (round, feedback) → goodbye.
The round's code lives in ``templates/game_*.py.tmpl`` (lab) and ``templates/game_*.js.tmpl``
(online). The lab script calls :mod:`reveal.experiments.game` for the rules and
:mod:`reveal.models.partner` for the network, which it imports when it runs (this module imports
no network). The online study (``index.html``, ``<name>.js``) runs the same rules ported to
JavaScript (``js/game_rules.js``) and the same network exported to ONNX (``model/partner.onnx``,
written by the caller's ``write_model``) in onnxruntime-web, in the participant's browser.
"""
from __future__ import annotations

import ast
import inspect
import json
import os
import textwrap
from importlib import resources
from pathlib import Path
from string import Template

import pandas as pd

from ..core.errors import InputError
from ..core.extras import require_extra
from ..core.gamelabels import read_game_labels
from ..core.outputs import OutputFolder, atomic_write
from ..stimuli.geometry import fit_image
from ..stimuli.loaders.images import listed_images, read_image
from . import game
from .builder import (_code, _psychopy_experiment, _space_key, _text, check_psychojs_version, compile_experiment,
                      save_psyexp, set_lab_settings, set_psychojs_version)
from .psychojs import DEFAULT_PSYCHOJS_VERSION

__all__ = ["build_game", "make_game", "game_code", "GAME_SECTIONS", "PRACTICE"]

#: Code sections of the game: template stem -> where it goes (see make_game).
GAME_SECTIONS = ("game_setup", "game_instr_frame", "game_round_begin", "game_round_frame", "game_round_end")
#: onnxruntime-web, the release the browser test runs the export with (tests/browser/package.json):
#: the participant's browser loads it from the jsDelivr CDN, as PsychoJS's page loads jQuery.
ORT_VERSION = "1.31.1"
ORT_URL = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_VERSION}/dist/ort.wasm.min.mjs"
#: The network partner's file in an online game folder, and the JavaScript modules it ships.
MODEL_FILE = "model/partner.onnx"
JS_MODULES = ("game_rules.js", "game_partner.js")
#: The practice round's photograph (scikit-image's coffee cup, not one of the study's), its
#: ImageNet class (968, cup) and the label the player reads.
PRACTICE = ("coffee", 968, "cup")
#: The command that owns a game folder (:class:`reveal.core.outputs.OutputFolder`).
COMMAND = "reveal game build"
PHOTO_PX = 256


def _player_number_def():
    """Source of :func:`game.player_number` without its docstring, renamed ``rv_player_number``."""
    src = textwrap.dedent(inspect.getsource(game.player_number))
    lines = src.splitlines()
    doc = ast.parse(src).body[0].body[0]
    del lines[doc.lineno - 1:doc.end_lineno]
    return "\n".join(lines).replace("def player_number(", "def rv_player_number(", 1)


def game_code(section, lang="py", **values):
    """The code of one game section (``lang`` ``"py"`` or ``"js"``), its ``$`` fields filled from ``values``.

    A section with no template in ``lang`` is empty (the lab's instructions wait for nothing).
    """
    if section not in GAME_SECTIONS or lang not in ("py", "js"):
        raise ValueError(f"no game code section {section!r} in {lang!r}")
    res = resources.files(__package__).joinpath("templates", f"{section}.{lang}.tmpl")
    return Template(res.read_text(encoding="utf-8")).substitute(values) if res.is_file() else ""


def _both(section, values=None):
    values = values or {}
    return game_code(section, "py", **values), game_code(section, "js", **values)


def make_game(name, setup_values, *, display_px=PHOTO_PX):
    """The Builder experiment object of the game (not saved)."""
    _psychopy_experiment()
    from psychopy.experiment import Experiment, getAllComponents
    from psychopy.experiment.loops import TrialHandler

    comps = getAllComponents(fetchIcons=False)
    exp = Experiment()
    s = set_lab_settings(exp, name, color="$[0.6, 0.6, 0.6]", show_mouse=True,  # the player paints with the mouse
                         end_message="Thank you for playing!")
    s["HTML path"].val = ""  # empty: the JS downloads each player's own files (game_setup.js.tmpl)
    s["Resources"].val = []

    instr = exp.addRoutine("game_instructions")
    _code(comps, instr, "game_setup_code", begin_exp=_both("game_setup", setup_values),
          each_frame=_both("game_instr_frame"))
    _text(comps, instr, "instr_msg", "$instr_text", updates="set every repeat")
    # online, SPACE waits for this player's photographs and the network (the lab's rv_ready is True)
    _space_key(comps, instr, "instr_key", start="rv_ready", start_type="condition")

    rnd = exp.addRoutine("game_round")
    _text(comps, rnd, "label_text", "", height=36, color="black", updates="set every repeat")
    rnd.getComponentFromName("label_text").params["pos"].val = (0, display_px / 2 + 10)
    photo = comps["ImageComponent"](exp=exp, parentName="game_round", name="photo", image="$image_file",
                                    units="pix", size=(display_px, display_px), pos=(0, -20),
                                    stopVal="")  # the whole round (Builder's default: 1 s)
    photo.params["image"].updates = "set every repeat"
    rnd.addComponent(photo)
    timer = _text(comps, rnd, "timer_text", "", height=28, color="black", updates="set every frame")
    timer.params["pos"].val = (display_px / 2 + 90, 0)
    score = _text(comps, rnd, "score_text", "", height=24, color="black", updates="set every repeat")
    score.params["pos"].val = (0, -display_px / 2 - 60)
    hint = _text(comps, rnd, "hint_text", "F: poor photograph or wrong label", height=18, color="black")
    hint.params["pos"].val = (0, -display_px / 2 - 95)
    flag = comps["KeyboardComponent"](exp=exp, parentName="game_round", name="flag_key", allowedKeys="'f'",
                                      store="last key", forceEndRoutine=False)
    rnd.addComponent(flag)
    # last: its Begin Routine replaces the photo's image (set from image_file just before)
    _code(comps, rnd, "game_round_code", begin_routine=_both("game_round_begin"),
          each_frame=_both("game_round_frame"), end_routine=_both("game_round_end"))

    fb = exp.addRoutine("round_feedback")
    _text(comps, fb, "fb_text", "$fb_msg", height=30, color="black", stop=2.0, updates="set every repeat")

    bye = exp.addRoutine("goodbye")
    _text(comps, bye, "bye_msg", "That's all - thank you for playing!\n\nPress SPACE to finish.", stop=10)
    _space_key(comps, bye, "bye_key", stop=10)

    flow = exp.flow
    # the loops' conditions files are named by variables (set in game_setup): PsychoPy's compiler
    # would otherwise list every photograph as a resource for every participant to download
    for r in (instr, rnd, fb, rnd, fb, bye):
        flow.addRoutine(r, len(flow))
    # flow: 0 instr, 1 round, 2 fb, 3 round, 4 fb, 5 bye
    practice = TrialHandler(exp, name="practice_round", loopType="sequential", nReps=1,
                            conditionsFile="$rv_practice_conditions", isTrials=True)
    flow.addLoop(practice, 1, 3)
    # now: 0 instr, 1 [init, 2 round, 3 fb, 4 term], 5 round, 6 fb, 7 bye
    rounds = TrialHandler(exp, name="rounds", loopType="sequential", nReps=1,
                          conditionsFile="$rv_photo_conditions", selectedRows="$round_rows", isTrials=True)
    flow.addLoop(rounds, 5, 7)
    return exp


def _photo_png(rgb):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def build_game(images_dir, labels, out_dir, name="clickme_game", *, model="efficientnet_lite0", weights=None,
               round_s=7.0, player_bubble=14, partner_bubble=21, n_per_player=None, seed=0,
               display_px=PHOTO_PX, overwrite=False, write_model=None,
               psychojs_version=DEFAULT_PSYCHOJS_VERSION):
    """Build the game folder from a folder of photographs and a labels file.

    Parameters
    ----------
    images_dir : path-like
        The photographs, file stem = ``image_id`` (PNG or JPEG, any size: centre-cropped to a
        square and resized to 256 × 256, the frame of the click dump).
    labels : path-like
        ``image_id, imagenet_class, label`` (:func:`reveal.core.gamelabels.read_game_labels`).
    out_dir : path-like
        The game folder (created; an earlier build is replaced only with ``overwrite``).
    model, weights
        The network partner: any model of ``reveal predict``, loaded by the compiled script when
        it runs. (``reveal game build`` refuses photographs whose class it lacks before calling
        this: :func:`reveal.models.partner.check_classes`; this layer runs no network.)
    round_s, player_bubble, partner_bubble
        The round's length and the bubbles' diameters (:class:`reveal.experiments.game.GameRules`).
    n_per_player : int, optional
        Rounds per player (default: every photograph), a balanced seeded subset
        (:func:`reveal.experiments.game.player_images`).
    seed : int
    display_px : int
        Size the photograph is shown at (window pixels); bubbles are placed in its 256-px frame.
    write_model : callable, optional
        ``write_model(path)`` writes the partner as ONNX (``reveal.models.partner.export_onnx``):
        given, the online study is built too (``index.html``, ``<name>.js``, ``js/``,
        ``model/partner.onnx``); without it, the lab game only.
    psychojs_version : str
        Online: the PsychoJS release ``index.html`` loads.

    Returns
    -------
    dict
        ``folder``, ``psyexp``, ``py``, ``n_images``.
    """
    require_extra("experiment", "reveal.experiments.game_builder")
    check_psychojs_version(psychojs_version)
    online = write_model is not None
    if not name.isidentifier():
        raise InputError(f"game name {name!r} must be a valid identifier (letters, digits, underscore)")
    try:
        rules = game.GameRules(round_s=round_s, player_bubble=player_bubble, partner_bubble=partner_bubble)
    except ValueError as err:
        raise InputError(f"the game's rules: {err}") from None
    photos = read_game_labels(labels)
    n_per_player = len(photos) if n_per_player is None else int(n_per_player)
    if not 1 <= n_per_player <= len(photos):
        raise InputError(f"--per-player must be 1 to the {len(photos)} photographs of the labels file, "
                         f"got {n_per_player}", labels)
    files = listed_images(images_dir, [p.image_id for p in photos], labels)

    folder = OutputFolder(out_dir, COMMAND, overwrite=overwrite)
    out = folder.root
    practice_file = f"practice/{PRACTICE[0]}.png"
    folder.declare([f"photos/{p.image_id}.png" for p in photos]
                   + [practice_file, "conditions/photos.csv", "conditions/practice.csv",
                      f"{name}.psyexp", f"{name}.py", "design.json"]
                   + ([f"{name}.js", f"{name}-legacy-browsers.js", "index.html", MODEL_FILE]
                      + [f"js/{m}" for m in JS_MODULES] if online else []))
    for p in photos:
        atomic_write(folder.path(f"photos/{p.image_id}.png"), _photo_png(fit_image(read_image(files[p.image_id]),
                                                                                   PHOTO_PX)))
    from skimage import data

    atomic_write(folder.path(practice_file), _photo_png(fit_image(getattr(data, PRACTICE[0])(), PHOTO_PX)))
    table = pd.DataFrame({"image_id": [p.image_id for p in photos],
                          "image_file": [f"photos/{p.image_id}.png" for p in photos],
                          "imagenet_class": [p.imagenet_class for p in photos],
                          "label": [p.label for p in photos], "is_practice": 0})
    atomic_write(folder.path("conditions/photos.csv"), table.to_csv(index=False, lineterminator="\n"))
    practice = pd.DataFrame({"image_id": [PRACTICE[0]], "image_file": [practice_file],
                             "imagenet_class": [PRACTICE[1]], "label": [PRACTICE[2]], "is_practice": [1]})
    atomic_write(folder.path("conditions/practice.csv"), practice.to_csv(index=False, lineterminator="\n"))

    values = {"player_number_def": _player_number_def(), "round_s": repr(float(rules.round_s)),
              "round_s_text": f"{rules.round_s:g}", "player_bubble": rules.player_bubble,
              "partner_bubble": rules.partner_bubble, "spacing": repr(float(rules.spacing)),
              "n_images": len(photos), "n_per_player": n_per_player, "seed": int(seed),
              "model": repr(os.fspath(Path(model).resolve()) if Path(model).is_dir() else model),
              "weights": repr(None if weights is None else os.fspath(Path(weights).resolve())),
              "display_px": int(display_px)}
    # online: each player number's photographs (player_images is seeded numpy, so the table is
    # computed here, once per player number, rather than ported to JavaScript)
    values.update(player_rows=json.dumps([player_rows(len(photos), p, n_per_player, seed)
                                          for p in range(len(photos))], separators=(",", ":")),
                  photo_files=json.dumps([f"photos/{p.image_id}.png" for p in photos]),
                  practice_file=practice_file, ort_url=ORT_URL, model_file=MODEL_FILE)
    exp = make_game(name, values, display_px=display_px)
    psyexp = save_psyexp(exp, out / f"{name}.psyexp")
    if online:
        paths = compile_experiment(psyexp, out)
        set_psychojs_version(paths, psychojs_version)
        for module in JS_MODULES:
            text = resources.files(__package__).joinpath("templates", module).read_text(encoding="utf-8")
            atomic_write(folder.path(f"js/{module}"), text)
        write_model(folder.path(MODEL_FILE))
    else:
        from psychopy.scripts.psyexpCompile import compileScript

        compileScript(infile=str(psyexp), outfile=str(out / f"{name}.py"))
    info = {"name": name, "kind": "clickme game", "n_images": len(photos), "n_per_player": n_per_player,
            "seed": int(seed), "model": model, "weights": None if weights is None else os.fspath(weights),
            "rules": {"round_s": rules.round_s, "player_bubble": rules.player_bubble,
                      "partner_bubble": rules.partner_bubble, "spacing": rules.spacing, "top_k": rules.top_k},
            "display_px": int(display_px), "images": os.fspath(Path(images_dir).resolve()),
            "labels": os.fspath(Path(labels).resolve()), "data": ["data/clicks.csv", "data/rounds.csv"],
            "online": {"psychojs_version": psychojs_version, "onnxruntime_web": ORT_URL, "model": MODEL_FILE}
            if online else None}
    atomic_write(out / "design.json", json.dumps(info, indent=2))
    folder.close()
    return {"folder": out, "psyexp": psyexp, "py": out / f"{name}.py", "n_images": len(photos),
            "html": out / "index.html" if online else None}


def player_rows(n_images, player, n_per_player, seed):
    """:func:`reveal.experiments.game.player_images` as a list of ints (the online game's table)."""
    return [int(i) for i in game.player_images(n_images, player, n_per_player, seed=seed)]

