"""``reveal game build|run``: a thin argparse layer over :mod:`reveal.experiments.game_builder` / ``.run``."""
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
    b.add_argument("--labels", required=True, help="CSV image_id,imagenet_class,label (class index 0-999; "
                                                   "label: the word the player reads)")
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


def _build(args) -> int:
    from ..core.gamelabels import read_game_labels
    from ..experiments.game_builder import build_game
    from ..models import load_observer
    from ..models.partner import PartnerNet, check_classes

    if args.per_player is not None:
        int_in_range(args.per_player, "--per-player", 1, why="the rounds each player plays")
    photos = read_game_labels(args.labels)
    # refused before anything is written: a photograph whose class the partner lacks could never be recognised
    check_classes(PartnerNet(load_observer(args.model, weights=args.weights)),
                  {p.image_id: p.imagenet_class for p in photos}, args.labels)
    out = build_game(args.images, args.labels, args.out, name=args.name, model=args.model, weights=args.weights,
                     round_s=args.round_s, player_bubble=args.player_bubble, partner_bubble=args.partner_bubble,
                     n_per_player=args.per_player, seed=args.seed, overwrite=args.overwrite)
    print(f"built {out['psyexp']} ({out['n_images']} photographs)")
    print(f"  lab script: {out['py']}")
    print(f"  play it:    reveal game run --game {out['folder']} --participant ID")
    return 0


def _run(args) -> int:
    from .experiment import run_lab

    return run_lab(args.game, args.participant, session=args.session, fullscreen=args.fullscreen,
                   emulate_hz=args.emulate_refresh, assume_hz=args.assume_refresh, max_rounds=args.max_rounds)
