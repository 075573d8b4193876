"""``reveal game build|run|summary|collect|demo``: a thin argparse layer over :mod:`reveal.experiments.game_builder`,
``.run`` and the readers of the game's data."""
from __future__ import annotations

from .arguments import int_in_range


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "game", help="build or run the ClickMe game that collects importance maps (PsychoPy)",
        description="The ClickMe game (Linsley et al. 2019): players paint the parts of a photograph that "
                    "tell what it is while a network partner, seeing only the painted parts, tries to "
                    "recognise it. Every round adds to a ClickMe click dump (data/clicks.csv) that "
                    "`reveal maps` and `reveal stimuli build --maps clickme=DUMP` read.")
    sub = p.add_subparsers(dest="game_command", metavar="ACTION")
    sub.required = True

    b = sub.add_parser("build", help="generate the game's .psyexp and compile its lab script")
    b.add_argument("--images", required=True, help="folder of photographs (file stem = image_id)")
    b.add_argument("--labels", required=True, help="CSV image_id,imagenet_class,label (class: an index 0-999 or "
                                                   "its WordNet id; label: the word the player reads)")
    b.add_argument("--out", required=True, help="game folder to write (empty, new, or an earlier build with "
                                                "--overwrite)")
    b.add_argument("--overwrite", action="store_true", help="replace an earlier build in --out")
    b.add_argument("--name", default="clickme_game", help="experiment name (default: clickme_game)")
    b.add_argument("--model", default="efficientnet_lite0",
                   help="the network partner: any model of `reveal predict` (default: the bundled network)")
    b.add_argument("--weights", help="local weights for --model")
    b.add_argument("--round-s", type=float, default=7.0, help="round length in seconds (default: 7, the paper's)")
    b.add_argument("--player-bubble", type=int, default=14, help="the player's bubbles, px across (default: 14)")
    b.add_argument("--partner-bubble", type=int, default=21,
                   help="the partner's view of each bubble, px across (default: 21)")
    b.add_argument("--per-player", type=int, help="rounds per player (default: every photograph)")
    b.add_argument("--seed", type=int, default=0, help="seed of the players' photographs (default: 0)")
    b.add_argument("--lab-only", action="store_true",
                   help="the lab game only: no online study (index.html, the network as ONNX)")
    b.add_argument("--psychojs-version", default=None,
                   help="online: the PsychoJS release index.html loads (default: the one the browser test runs)")
    b.set_defaults(func=_build)

    r = sub.add_parser("run", help="play the game at the lab station for one participant")
    r.add_argument("--game", required=True, help="folder written by `game build`")
    r.add_argument("--participant", help="participant id (PsychoPy's dialog when omitted)")
    r.add_argument("--session", default="001")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--fullscreen", dest="fullscreen", action="store_true", default=True)
    mode.add_argument("--windowed", dest="fullscreen", action="store_false")
    t = r.add_argument_group("pilot / test options")
    t.add_argument("--max-rounds", type=int, help="at most N rounds after the practice")
    t.add_argument("--assume-refresh", type=float, metavar="HZ",
                   help="the display's refresh rate, used only if it cannot be measured")
    t.add_argument("--emulate-refresh", type=float, metavar="HZ",
                   help="pace frames at HZ on a display without vsync (e.g. Xvfb)")
    r.set_defaults(func=_run)

    m = sub.add_parser("summary", help="rounds per player, share recognised, points, flagged photographs")
    m.add_argument("--game", required=True, help="game folder (its data/rounds.csv), or a round log CSV")
    m.set_defaults(func=_summary)

    c = sub.add_parser("collect", help="add the online game's data files (PsychoJS, from Pavlovia) to the click "
                                       "dump and round log")
    c.add_argument("--game", required=True, help="game folder written by `game build` (its data/ receives them)")
    c.add_argument("files", nargs="+", metavar="FILE", help="the online game's data CSVs (rounds already "
                                                            "collected are skipped)")
    c.set_defaults(func=_collect)

    d = sub.add_parser("demo", help="a short game with scripted players, then reliability and stimuli from "
                                    "the maps it collected")
    d.add_argument("--out", required=True, help="demo folder to write (new or empty)")
    d.add_argument("--players", type=int, default=6, help="scripted players (default: 6)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_demo)


def _build(args) -> int:
    from ..core.gamelabels import read_game_labels
    from ..experiments.game_builder import build_game
    from ..models import load_observer
    from ..experiments.psychojs import DEFAULT_PSYCHOJS_VERSION
    from ..models.partner import PartnerNet, check_classes, export_onnx

    if args.per_player is not None:
        int_in_range(args.per_player, "--per-player", 1, why="the rounds each player plays")
    photos = read_game_labels(args.labels)
    # refused before anything is written: a photograph whose class the partner lacks could never be recognised
    net = PartnerNet(load_observer(args.model, weights=args.weights))
    check_classes(net, {p.image_id: p.imagenet_class for p in photos}, args.labels)
    out = build_game(args.images, args.labels, args.out, name=args.name, model=args.model, weights=args.weights,
                     round_s=args.round_s, player_bubble=args.player_bubble, partner_bubble=args.partner_bubble,
                     n_per_player=args.per_player, seed=args.seed, overwrite=args.overwrite,
                     write_model=None if args.lab_only else (lambda path: export_onnx(net, path)),
                     psychojs_version=args.psychojs_version or DEFAULT_PSYCHOJS_VERSION)
    print(f"built {out['psyexp']} ({out['n_images']} photographs)")
    print(f"  lab script: {out['py']}")
    if out["html"] is not None:
        print(f"  online:     {out['html']} (upload the folder to Pavlovia; the network is model/partner.onnx)")
    print(f"  play it:    reveal game run --game {out['folder']} --participant ID")
    return 0


def _run(args) -> int:
    from pathlib import Path

    from ..core.gamelog import log_to_extend
    from ..stimuli.loaders.clickme import written_rounds
    from .experiment import run_lab

    # the game's data files, if any, must be the game's own: a stranger's is refused now, before the
    # window opens, not when the first round is written
    data = Path(args.game) / "data"
    written_rounds(data / "clicks.csv")
    log_to_extend(data / "rounds.csv")

    return run_lab(args.game, args.participant, session=args.session, fullscreen=args.fullscreen,
                   emulate_hz=args.emulate_refresh, assume_hz=args.assume_refresh, max_rounds=args.max_rounds)


def _summary(args) -> int:
    from pathlib import Path

    from ..analysis.game import summarize_rounds
    from ..core.errors import InputError
    from ..core.gamelog import read_round_log

    path = Path(args.game)
    path = path / "data" / "rounds.csv" if path.is_dir() else path
    if not path.is_file():
        raise InputError("no round log here: play a round first (reveal game run)", path)
    s = summarize_rounds(read_round_log(path))
    if not s.overall["rounds"]:
        print(f"{path}: no game rounds yet (only practice rounds)")
        return 0
    _print_summary(s)
    return 0


def _collect(args) -> int:
    import json
    from pathlib import Path

    from ..core.errors import InputError
    from ..core.gamelog import append_round, read_round_log
    from ..core.gameonline import read_online_rounds
    from ..stimuli.loaders.clickme import append_click_rows, written_rounds

    game = Path(args.game)
    try:
        kind = json.loads((game / "design.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        kind = None
    if kind != "clickme game":
        raise InputError("not a game folder: no design.json of `reveal game build` (kind \"clickme game\") "
                         "here", game)
    files = [read_online_rounds(f) for f in args.files]  # every file checked before anything is written
    dump, log = game / "data" / "clicks.csv", game / "data" / "rounds.csv"
    old = read_round_log(log) if log.is_file() else None
    seen = set() if old is None else set(zip(old["participant"], old["started"]))
    rounds, maps = [], []
    for f in files:
        new = {(r["participant"], r["started"]) for r in f.log_rows} - seen
        rounds += [r for r in f.log_rows if (r["participant"], r["started"]) in new]
        maps += [d for d in f.dump_rows if (d["user_id"], d["timestamp"]) in new]
        seen |= new
    if rounds:
        dump.parent.mkdir(exist_ok=True)
    # maps a collection cut short between the two files already wrote are not added again
    written = written_rounds(dump) if maps else set()
    maps = [d for d in maps if (d["user_id"], d["timestamp"]) not in written]
    if maps:  # first: a stranger's dump is refused before the round log changes
        append_click_rows(dump, maps)
    for row in rounds:
        append_round(log, row)
    total = sum(len(f.log_rows) for f in files)
    players = {r["participant"] for f in files for r in f.log_rows}
    print(f"collected {total} rounds of {len(players)} player(s) from {len(files)} file(s): {len(maps)} map(s) "
          f"added to {dump}, {len(rounds)} rounds to {log} ({total - len(rounds)} already collected)")
    return 0


def _print_summary(s):
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print("players:\n" + s.players.round(3).to_string(index=False))
        print("photographs:\n" + s.images.round(3).to_string(index=False))
    o = s.overall
    print(f"{o['rounds']} rounds by {o['players']} players: {o['recognised']:.0%} recognised by the partner, "
          f"mean points {o['mean_points']:.2f}, {o['flagged_rounds']} round(s) flagged "
          f"({o['flagged_images']} photograph(s)); partner latency median {o['latency_median_s']:.3f} s")


#: The demo's photographs (scikit-image's): id, loader, ImageNet class the partner must find, label, category.
DEMO_PHOTOS = (("chelsea", "chelsea", 282, "cat", "animal"), ("rocket", "rocket", 657, "rocket", "nonanimal"),
               ("motorcycle", "stereo_motorcycle", 665, "motorbike", "nonanimal"))


def _demo(args) -> int:
    """Photographs → the lab game → scripted players → reliability → stimuli (see `reveal game demo --help`)."""

    import numpy as np
    from PIL import Image
    from skimage import data

    from ..analysis.game import summarize_rounds
    from ..core.gamelog import read_round_log
    from ..core.outputs import OutputFolder, atomic_write
    from ..experiments.game_builder import build_game
    from ..experiments.game_play import ScriptedPhoto, play_scripted
    from ..models import load_observer
    from ..models.partner import PartnerNet, partner_top
    from ..stimuli.geometry import fit_image
    from ..stimuli.sample import sample_maps
    from .arguments import int_in_range
    from .main import main

    int_in_range(args.players, "--players", 2, why="split-half reliability needs two players per photograph")
    folder = OutputFolder(args.out, "reveal game demo")
    out = folder.root
    folder.declare([f"inputs/photos/{i}.png" for i, *_ in DEMO_PHOTOS] + ["inputs/labels.csv", "inputs/categories.csv"])
    photos = []
    for image_id, loader, cls, label, _ in DEMO_PHOTOS:
        img = getattr(data, loader)()
        img = img[0] if isinstance(img, tuple) else img  # the stereo pair's left image
        path = folder.path(f"inputs/photos/{image_id}.png")
        Image.fromarray(img).save(path)
        photos.append((image_id, cls, label, fit_image(img, 256)))
    atomic_write(out / "inputs/labels.csv", "image_id,imagenet_class,label\n"
                 + "".join(f"{i},{c},{lab}\n" for i, c, lab, _ in photos))
    atomic_write(out / "inputs/categories.csv", "image_id,category\n"
                 + "".join(f"{i},{cat}\n" for i, *_, cat in DEMO_PHOTOS))
    folder.close()
    print("[1/4] the lab game (reveal game build)", flush=True)
    game = build_game(out / "inputs/photos", out / "inputs/labels.csv", out / "game", seed=args.seed)
    print(f"[2/4] {args.players} scripted players: each cursor wanders through the top 5 % of a bottom-up "
          "saliency map of the photograph (OpenCV's spectral residual), 4-8 px a frame at 60 Hz; the partner "
          "is asked every 100 ms", flush=True)
    net = PartnerNet(load_observer())
    scripted = [ScriptedPhoto(i, f"photos/{i}.png", c, lab, img, sample_maps(img)["spectral_residual"])
                for i, c, lab, img in photos]
    dump, log = game["folder"] / "data" / "clicks.csv", game["folder"] / "data" / "rounds.csv"
    dump.parent.mkdir(exist_ok=True)
    play_scripted(scripted, lambda p, m: partner_top(net, p, m)[0], players=args.players, seed=args.seed,
                  dump_path=dump, log_path=log)
    summary = summarize_rounds(read_round_log(log))
    _print_summary(summary)
    print("[3/4] split-half reliability of the maps collected (reveal maps reliability)", flush=True)
    rc = main(["maps", "reliability", "--clicks", str(dump), "--out", str(out / "reliability"), "--splits", "50",
               "--seed", str(args.seed), "--no-progress"])
    if rc:
        return rc
    print("[4/4] stimuli from the maps collected (reveal stimuli build --maps clickme=DUMP)", flush=True)
    # the game's own 256 x 256 photographs: the frame its clicks are in (the inputs may have other shapes)
    rc = main(["stimuli", "build", "--images", str(game["folder"] / "photos"), "--maps", f"clickme={dump}",
               "--categories", str(out / "inputs/categories.csv"), "--out", str(out / "stimuli"),
               "--seed", str(args.seed), "--no-progress"])
    if rc:
        return rc
    print(f"share of rounds recognised by the partner: {summary.overall['recognised']:.0%} "
          f"(the paper's game: 47 %)")
    print(f"play it yourself: reveal game run --game {game['folder']} --participant ID")
    print(f"then the experiment: reveal experiment build --stimuli {out / 'stimuli'} --out EXPERIMENT "
          "--allow-unbalanced")
    return 0 if np.isfinite(summary.overall["recognised"]) else 1
