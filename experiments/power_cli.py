"""``reveal power``: a thin argparse layer over :mod:`reveal.experiments.power`."""
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
    from ..analysis.exclusions import ExclusionSettings
    from ..stimuli.errors import InputError
    from ..stimuli.seeding import as_generator
    from ..stimuli.stimset import read_stimulus_set
    from .power import PowerDesign, n_grid, reveal_power
    from .power_effects import effects_from_models, effects_from_pilot, parse_group_spec
    from .power_report import effects_table, needed_text, open_power_output, wide_table, write_power_outputs

    try:
        n_values = n_grid(args.n)
        stated = [parse_group_spec(g) for g in args.group]
    except ValueError as err:
        raise InputError(str(err)) from None
    for name, value, low in (("--studies", args.studies, 10), ("--resamples", args.resamples, 19)):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    if not 0 < args.alpha < 1 or not 0 < args.target < 1:
        raise InputError("--alpha and --target must lie between 0 and 1")
    if not (args.pilot or args.models or stated):
        raise InputError("give the effect: --pilot DATA, --models CSV and/or --group SPEC")
    out = open_power_output(args.out, overwrite=args.overwrite)  # before the work: a wrong --out fails fast
    rng = as_generator(args.seed)
    exclusions = ExclusionSettings(timeouts_as_errors=args.timeouts_as_errors)
    if args.stimuli:
        stimset = read_stimulus_set(args.stimuli)
        if args.images:
            raise InputError("give --stimuli or --images, not both")
        design = PowerDesign(levels=tuple(stimset.levels), n_images=len(stimset.images))
    else:
        design = PowerDesign(n_images=args.images or 80)
    effects = []
    if args.pilot:
        effects += effects_from_pilot(args.pilot, args.stimuli, exclusions=exclusions, rng=rng)
    if args.models:
        effects += effects_from_models(args.models, args.stimuli, spread_log10=args.model_spread,
                                       timeout_rate=args.model_timeouts)
    effects += stated
    names = [e.name for e in effects]
    if len(set(names)) != len(names):
        raise InputError(f"two groups share a name: {', '.join(sorted(n for n in set(names) if names.count(n) > 1))}")
    if args.compare:
        wanted = [w.strip() for w in args.compare.split(",")]
        unknown = [w for w in wanted if w not in names]
        if len(wanted) != 2 or unknown:
            raise InputError(f"--compare takes two of the groups ({', '.join(names)}), not {args.compare!r}")
        effects = [e for e in effects if e.name in wanted]
    if len(effects) < 2:
        raise InputError(f"power needs two groups to compare; the effect gives {', '.join(names) or 'none'}")
    result = reveal_power(effects, n_values, design=design, n_studies=args.studies, n_resamples=args.resamples,
                          alpha=args.alpha, target=args.target, exclusions=exclusions, rng=rng,
                          progress=not args.no_progress)
    table = wide_table(result.table)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"(power, max-|t| corrected; Monte-Carlo SE at most {result.table['power_se'].max():.3f}; "
          f"{args.studies} studies per N)")
    for line in needed_text(result):
        print(line)
    command = "reveal " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    paths = write_power_outputs(result, effects_table(effects, list(design.levels)), out, command=command)
    print(f"written: {paths['power']}, {paths['figure']}, {paths['report']}")
    return 0
