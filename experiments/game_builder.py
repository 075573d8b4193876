"""Generate the ClickMe game as a PsychoPy Builder experiment and compile it (the lab target).

:func:`build_game` writes one folder, as ``reveal experiment build`` does for the
rapid-categorization task:

    <name>.psyexp  <name>.py   (the Builder experiment and PsychoPy's compiled lab script)
    photos/<image_id>.png      (each photograph centre-cropped and resized to 256 × 256)
    practice/coffee.png        (the practice round's photograph: scikit-image's, not the study's)
    conditions/photos.csv  conditions/practice.csv
    design.json                (what was built: photographs, rules, network, seed)

and ``reveal game run`` (:func:`reveal.experiments.run.run_experiment`) plays it; every round
adds to ``data/clicks.csv`` (a ClickMe click dump) and ``data/rounds.csv`` (the round log).

Flow: instructions → practice loop (round, feedback) → rounds loop (round, feedback) → goodbye.
The round's code lives in ``templates/game_*.py.tmpl``; it calls :mod:`reveal.experiments.game`
for the rules and :mod:`reveal.models.partner` for the network, which the compiled script
imports when it runs (this module imports no network). The online export (PsychoJS with the
network in onnxruntime-web) is not built yet.
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
from .builder import _psychopy_experiment, _space_key, _text, save_psyexp, set_lab_settings

__all__ = ["build_game", "make_game", "game_code", "GAME_SECTIONS", "PRACTICE"]

#: Code sections of the game: template stem -> where it goes (see make_game).
GAME_SECTIONS = ("game_setup", "game_round_begin", "game_round_frame", "game_round_end")
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


def game_code(section, **values):
    """The Python code of one game section, its ``$`` fields filled from ``values``."""
    if section not in GAME_SECTIONS:
        raise ValueError(f"no game code section {section!r}")
    text = resources.files(__package__).joinpath("templates", f"{section}.py.tmpl").read_text(encoding="utf-8")
    return Template(text).substitute(values)


def _py_code(comps, routine, name, **sections):
    comp = comps["CodeComponent"](exp=routine.exp, parentName=routine.name, name=name, codeType="Py")
    keys = {"begin_exp": "Begin Experiment", "begin_routine": "Begin Routine", "each_frame": "Each Frame",
            "end_routine": "End Routine"}
    for key, code in sections.items():
        comp.params[keys[key]].val = code
    routine.addComponent(comp)
    return comp


def make_game(name, setup_values, *, display_px=PHOTO_PX):
    """The Builder experiment object of the game (not saved)."""
    _psychopy_experiment()
    from psychopy.experiment import Experiment, getAllComponents
    from psychopy.experiment.loops import TrialHandler

    comps = getAllComponents(fetchIcons=False)
    exp = Experiment()
    set_lab_settings(exp, name, color="$[0.6, 0.6, 0.6]", show_mouse=True,  # the player paints with the mouse
                     end_message="Thank you for playing!")

    instr = exp.addRoutine("game_instructions")
    _py_code(comps, instr, "game_setup_code", begin_exp=game_code("game_setup", **setup_values))
    _text(comps, instr, "instr_msg", "$instr_text", updates="set every repeat")
    _space_key(comps, instr, "instr_key")

    rnd = exp.addRoutine("game_round")
    _text(comps, rnd, "label_text", "", height=36, color="black", updates="set every repeat")
    rnd.getComponentFromName("label_text").params["pos"].val = (0, display_px / 2 + 10)
    photo = comps["ImageComponent"](exp=exp, parentName="game_round", name="photo", image="$image_file",
                                    units="pix", size=(display_px, display_px), pos=(0, -20))
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
    _py_code(comps, rnd, "game_round_code", begin_routine=game_code("game_round_begin"),
             each_frame=game_code("game_round_frame"), end_routine=game_code("game_round_end"))

    fb = exp.addRoutine("round_feedback")
    _text(comps, fb, "fb_text", "$fb_msg", height=30, color="black", stop=2.0, updates="set every repeat")

    bye = exp.addRoutine("goodbye")
    _text(comps, bye, "bye_msg", "That's all - thank you for playing!\n\nPress SPACE to finish.", stop=10)
    _space_key(comps, bye, "bye_key", stop=10)

    flow = exp.flow
    for r in (instr, rnd, fb, rnd, fb, bye):
        flow.addRoutine(r, len(flow))
    # flow: 0 instr, 1 round, 2 fb, 3 round, 4 fb, 5 bye
    practice = TrialHandler(exp, name="practice_round", loopType="sequential", nReps=1,
                            conditionsFile="conditions/practice.csv", isTrials=True)
    flow.addLoop(practice, 1, 3)
    # now: 0 instr, 1 [init, 2 round, 3 fb, 4 term], 5 round, 6 fb, 7 bye
    rounds = TrialHandler(exp, name="rounds", loopType="sequential", nReps=1,
                          conditionsFile="conditions/photos.csv", selectedRows="$round_rows", isTrials=True)
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
               display_px=PHOTO_PX, overwrite=False):
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

    Returns
    -------
    dict
        ``folder``, ``psyexp``, ``py``, ``n_images``.
    """
    require_extra("experiment", "reveal.experiments.game_builder")
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
                      f"{name}.psyexp", f"{name}.py", "design.json"])
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
    exp = make_game(name, values, display_px=display_px)
    psyexp = save_psyexp(exp, out / f"{name}.psyexp")
    from psychopy.scripts.psyexpCompile import compileScript

    compileScript(infile=str(psyexp), outfile=str(out / f"{name}.py"))
    info = {"name": name, "kind": "clickme game", "n_images": len(photos), "n_per_player": n_per_player,
            "seed": int(seed), "model": model, "weights": None if weights is None else os.fspath(weights),
            "rules": {"round_s": rules.round_s, "player_bubble": rules.player_bubble,
                      "partner_bubble": rules.partner_bubble, "spacing": rules.spacing, "top_k": rules.top_k},
            "display_px": int(display_px), "images": os.fspath(Path(images_dir).resolve()),
            "labels": os.fspath(Path(labels).resolve()), "data": ["data/clicks.csv", "data/rounds.csv"]}
    atomic_write(out / "design.json", json.dumps(info, indent=2))
    folder.close()
    return {"folder": out, "psyexp": psyexp, "py": out / f"{name}.py", "n_images": len(photos)}

