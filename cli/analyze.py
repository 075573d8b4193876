"""``reveal analyze``: a thin argparse layer over :func:`reveal.analysis.pipeline.analyze`."""
from __future__ import annotations

import shlex
import sys

from ..core.errors import InputError

__all__ = ["register", "run_analyze"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="trial data (lab, Pavlovia, model CSVs) → curves, tests, fits, figure, report",
        description="Read PsychoPy lab CSVs, PsychoJS/Pavlovia CSVs, tidy trial files and model prediction "
                    "CSVs (files or folders), apply the exclusions, and write trials.csv, curves.csv, tests.csv, "
                    "fits.csv, consistency.csv, observers.csv, exclusions.csv (every row not analysed, with its "
                    "reason), the figure (PNG, SVG) and a self-contained report.html.")
    p.add_argument("data", nargs="+", metavar="DATA", help="data files or folders (searched for *.csv)")
    p.add_argument("--stimuli", metavar="DIR", help="stimulus set folder (manifest.csv): fills missing columns, "
                                                    "checks levels, gives the %% of image pixels")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (created; an earlier analysis's outputs are kept unless --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of an earlier `reveal analyze` in --out (nothing else is touched)")
    p.add_argument("--resamples", type=int, default=10_000, help="randomization resamples (default 10000)")
    p.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples for effect-size CIs")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--timeouts-as-errors", action="store_true",
                   help="count timed-out trials as errors (default: leave them out of accuracy)")
    p.add_argument("--chance", type=float, default=0.5,
                   help="exclude observers whose intact-image accuracy is at or below this (default 0.5); one "
                        "with no answered intact-image trial cannot be judged and is excluded too")
    p.add_argument("--max-timeout-rate", type=float, default=0.25,
                   help="exclude observers who timed out on more than this share of trials (default 0.25)")
    p.add_argument("--keep-timing-failures", action="store_true",
                   help="analyse trials whose image was not shown for 400 ms ± one frame (default: left out, "
                        "counted in the report)")
    p.add_argument("--keep-unattended", action="store_true",
                   help="analyse online (PsychoJS) trials during which the page was hidden (page_hidden = 1: "
                        "another tab, a minimised window) or the browser window lost focus (focus_lost = 1) "
                        "(default: left out, counted in the report)")
    p.add_argument("--no-fits", action="store_true", help="skip the psychometric fits")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_analyze)


def run_analyze(args) -> int:
    from ..analysis.exclusions import ExclusionSettings
    from ..analysis.pipeline import AnalysisSettings, analyze, describe_exclusions, open_output, write_outputs

    if args.resamples < 1 or args.bootstrap < 1:
        raise InputError("--resamples and --bootstrap must be at least 1")
    settings = AnalysisSettings(
        n_resamples=args.resamples, n_bootstrap=args.bootstrap, seed=args.seed, fit=not args.no_fits,
        exclusions=ExclusionSettings(chance=args.chance, max_timeout_rate=args.max_timeout_rate,
                                     timeouts_as_errors=args.timeouts_as_errors,
                                     keep_timing_failures=args.keep_timing_failures,
                                     keep_unattended=args.keep_unattended),
        progress=not args.no_progress)
    out = open_output(args.out, overwrite=args.overwrite)  # refused before minutes of work
    try:
        result = analyze(args.data, stimuli=args.stimuli, settings=settings)
    except InputError:
        out.abandon()  # a bad input leaves no empty folder behind
        raise
    paths = write_outputs(result, out, command=shlex.join(["reveal", *sys.argv[1:]]))
    if result.exclusions.observers["excluded"].any():  # who was left out, and why (every row: exclusions.csv)
        print(f"reveal analyze: {describe_exclusions(result.exclusions)} (every row not analysed: "
              f"{paths['exclusions']})")
    _print_sweeps(result, paths)
    print(f"reveal analyze: {len(result.trials)} trials, report: {paths['report']}")
    return 0


def _print_sweeps(result, paths) -> None:
    """The cue-strength sweeps in brief: hits, false alarms, d′ and c per strength (per level: sweeps.csv)."""
    from ..analysis.sdt import sweep_summary

    summary = sweep_summary(getattr(result, "sweeps", None))
    if not len(summary):
        return
    print(f"reveal analyze: cue-strength sweeps, means over {int(summary['n_levels'].max())} levels and sources "
          f"(each level: {paths['sweeps']}, figure: {paths['sweeps_png']})")
    for (base, method, target, layer), rows in summary.groupby(["base", "method", "target", "layer"], sort=False):
        print(f"  {base}, {method} cue toward {target} at {layer}:")
        for r in rows.itertuples(index=False):
            print(f"    β = {r.strength:<6g} hits {r.hit_rate:.3f}  false alarms {r.fa_rate:.3f}  "
                  f"d′ {r.dprime:+.3f}  c {r.criterion:+.3f}")
