"""``reveal power``: a thin argparse layer over :func:`reveal.experiments.power_study.power_study`."""
from __future__ import annotations

import shlex
import sys

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "power", help="simulation-based power: participants needed per group, per level",
        description="Simulate many studies through the reveal design (Latin square, timeouts, exclusions) and "
                    "analyse each with the randomization test and max-|t| correction of `reveal analyze`: "
                    "power per level and family-wise for each number of participants per group. The effect "
                    "comes from pilot data (--pilot), model predictions (--models) and/or stated curves (--group).")
    src = p.add_argument_group("the effect (any mix; every pair of groups is compared)")
    src.add_argument("--pilot", nargs="+", metavar="DATA",
                     help="pilot data files or folders: per-group curves, spread and timeouts fitted from them")
    src.add_argument("--models", nargs="+", metavar="CSV",
                     help="`reveal predict` files: each (model, map source) curve stands in for a group")
    src.add_argument("--group", action="append", default=[], metavar="SPEC",
                     help="a stated group: NAME:threshold=T[,width=W,lapse=L,spread=S,timeouts=R] (threshold in "
                          "%% revealed at the curve's midpoint; width psignifit's, log10 units; spread the "
                          "participants' SD, log10 units)")
    src.add_argument("--compare", metavar="A,B", help="only this pair of groups")
    src.add_argument("--model-spread", type=float, default=0.1, metavar="LOG10",
                     help="participants' spread around a model's curve (default 0.1 log10 units)")
    src.add_argument("--model-timeouts", type=float, default=0.0, metavar="RATE",
                     help="timeout rate of the participants standing in for a model (default 0)")
    des = p.add_argument_group("the design")
    des.add_argument("--stimuli", metavar="SET", help="stimulus set: images per participant and levels (and the "
                                                      "manifest pilot data may need)")
    des.add_argument("--images", type=int, metavar="N", help="images per participant without --stimuli (default 80)")
    des.add_argument("--n", default="20:120:20", metavar="START:STOP:STEP",
                     help="participants per group to try (default 20:120:20; or N1,N2,...)")
    des.add_argument("--timeouts-as-errors", action="store_true", help="as `reveal analyze --timeouts-as-errors`")
    sim = p.add_argument_group("the simulation")
    sim.add_argument("--studies", type=int, default=1000, help="simulated studies per N (default 1000)")
    sim.add_argument("--resamples", type=int, default=1000,
                     help="randomization resamples per simulated study (default 1000; see the README)")
    sim.add_argument("--alpha", type=float, default=0.05)
    sim.add_argument("--target", type=float, default=0.8, help="power wanted (default 0.8)")
    sim.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="power", help="output folder (default: ./power)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier `reveal power` in --out")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_power)


def _power(args) -> int:
    from ..experiments.power_report import needed_text, wide_table
    from ..experiments.power_study import power_study

    study = power_study(args.out, pilot=args.pilot or (), models=args.models or (), groups=args.group,
                        compare=args.compare, stimuli=args.stimuli, images=args.images, n=args.n,
                        model_spread=args.model_spread, model_timeouts=args.model_timeouts,
                        timeouts_as_errors=args.timeouts_as_errors, studies=args.studies, resamples=args.resamples,
                        alpha=args.alpha, target=args.target, rng=args.seed, overwrite=args.overwrite,
                        progress=not args.no_progress,
                        command="reveal " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    result = study.result
    print(wide_table(result.table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"(power, max-|t| corrected; Monte-Carlo SE at most {result.table['power_se'].max():.3f}; "
          f"{args.studies} studies per N)")
    for line in needed_text(result):
        print(line)
    print(f"written: {study.paths['power']}, {study.paths['figure']}, {study.paths['report']}")
    return 0
