"""``reveal experiment build|run``: a thin argparse layer over :mod:`reveal.experiments.builder` / ``.run``."""
from __future__ import annotations

import sys

from ..experiments.psychojs import DEFAULT_PSYCHOJS_VERSION
from .arguments import int_in_range


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "experiment", help="build or run the rapid-categorization experiment (PsychoPy)",
        description="Build the PsychoPy Builder experiment (lab script + PsychoJS for "
                    "Pavlovia) from a stimulus set, or run it for one participant.")
    sub = p.add_subparsers(dest="experiment_command", metavar="ACTION")
    sub.required = True

    b = sub.add_parser("build", help="generate the .psyexp, compile it to Python and PsychoJS")
    b.add_argument("--stimuli", required=True, help="stimulus set folder (with manifest.csv)")
    b.add_argument("--out", required=True, help="experiment folder to write (empty, new, or an earlier build "
                                                "with --overwrite)")
    b.add_argument("--overwrite", action="store_true",
                   help="replace an earlier build in --out (only the files it wrote; anything else is kept)")
    b.add_argument("--name", default="rapidcat", help="experiment name (default: rapidcat)")
    b.add_argument("--blocks", type=int, default=5, help="test blocks (default: 5)")
    b.add_argument("--training", type=int, default=8, help="training trials (default: 8)")
    b.add_argument("--allow-unbalanced", action="store_true",
                   help="go on (with a warning) when animal and non-animal counts differ")
    o = b.add_argument_group("online (Pavlovia) options")
    o.add_argument("--completed-url", default="", metavar="URL",
                   help="where PsychoJS sends a participant once the data are saved (e.g. a panel's completion "
                        "link with its code)")
    o.add_argument("--incomplete-url", default="", metavar="URL",
                   help="where PsychoJS sends a participant who ends the study early (Escape)")
    o.add_argument("--url-param", action="append", default=[], metavar="NAME",
                   help="a URL parameter to save on every row (repeatable); PROLIFIC_PID, STUDY_ID and SESSION_ID "
                        "always are")
    psychojs = DEFAULT_PSYCHOJS_VERSION
    o.add_argument("--psychojs-version", default=psychojs, metavar="VERSION",
                   help="the PsychoJS release the study loads (lib/psychojs-VERSION.js, served by Pavlovia; default: "
                        f"{psychojs}, the release the export is tested with in a browser)")
    b.set_defaults(func=_build)

    r = sub.add_parser("run", help="run the compiled lab experiment for one participant")
    r.add_argument("--experiment", required=True, help="folder written by `experiment build`")
    r.add_argument("--participant", help="participant id (PsychoPy's dialog when omitted)")
    r.add_argument("--session", default="001")
    r.add_argument("--group", help="force this map source (between-subjects group)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--fullscreen", dest="fullscreen", action="store_true", default=True,
                      help="full-screen window (default)")
    mode.add_argument("--windowed", dest="fullscreen", action="store_false",
                      help="1024x768 window")
    r.add_argument("--pilot", action="store_true", help="PsychoPy pilot mode")
    t = r.add_argument_group("pilot / test options")
    t.add_argument("--max-trials", type=int, help="at most N trials per block")
    t.add_argument("--max-blocks", type=int, help="at most N blocks")
    t.add_argument("--training-trials", type=int, help="at most N training trials")
    r.add_argument("--assume-refresh", type=float, metavar="HZ",
                   help="the display's refresh rate, used only if it cannot be measured (without it such a "
                        "session does not start)")
    t.add_argument("--emulate-refresh", type=float, metavar="HZ",
                   help="pace frames at HZ on a display without vsync (e.g. Xvfb)")
    r.set_defaults(func=_run)


def _build(args) -> int:
    from ..experiments.builder import build_experiment

    # checked here: the design divides the test trials by the blocks, and slices by the training count
    int_in_range(args.blocks, "--blocks", 1, why="the test trials are split into this many blocks")
    int_in_range(args.training, "--training", 0, why="the number of training trials (0: no training)")
    out = build_experiment(args.stimuli, args.out, name=args.name, n_blocks=args.blocks,
                           n_training=args.training, allow_unbalanced=args.allow_unbalanced,
                           overwrite=args.overwrite, completed_url=args.completed_url,
                           incomplete_url=args.incomplete_url, url_params=args.url_param,
                           psychojs_version=args.psychojs_version)
    for note in out["notes"]:
        print(f"note: {note}")
    print(f"built {out['psyexp']} ({out['n_lists']} participant lists)")
    print(f"  lab script: {out['py']}")
    print(f"  PsychoJS:   {out['html']}, {out['js'].name}, {out['legacy_js'].name}")
    return 0


def _run(args) -> int:
    return run_lab(args.experiment, args.participant, session=args.session, group=args.group,
                   fullscreen=args.fullscreen, pilot=args.pilot, max_trials=args.max_trials,
                   max_blocks=args.max_blocks, training_trials=args.training_trials,
                   emulate_hz=args.emulate_refresh, assume_hz=args.assume_refresh)


def run_lab(folder, participant, **options) -> int:
    """Run a compiled lab script (the experiment's or the game's) and turn its failures into exit codes."""
    from ..experiments.run import NoDisplayError, NoRefreshError, SessionKilledError, run_experiment

    try:
        return run_experiment(folder, participant, **options)
    except (NoDisplayError, NoRefreshError) as err:
        print(f"reveal: error: {err}", file=sys.stderr)
        return 3
    except SessionKilledError as err:
        # a shell's convention for a process ended by a signal: 128 + the signal (137 for kill -9)
        print(f"reveal: {err}", file=sys.stderr)
        return 128 + err.signal_number
