"""``reveal maps reliability`` and ``reveal maps compare``: thin argparse layers over :mod:`.pipeline`.

``reveal maps attention`` (model attention maps written to a map folder) is registered by
:mod:`reveal.models.cli` into the same ``maps`` command through :func:`maps_subcommands`.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np

from ...stimuli.errors import InputError

__all__ = ["register", "maps_subcommands", "run_reliability", "run_compare"]


def maps_subcommands(subparsers):
    """The subcommands of ``reveal maps`` (created on first use), for packages that add some.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``reveal`` command's subparsers.

    Returns
    -------
    argparse._SubParsersAction
    """
    parser = subparsers.choices.get("maps")
    if parser is None:
        parser = subparsers.add_parser(
            "maps", help="importance maps as data: split-half reliability, model attention maps, comparison "
                         "with reference maps",
            description="Inter-rater reliability of ClickMe click dumps, model attention maps written to disk, "
                        "and map similarity metrics of map sources against reference maps.")
        parser.reveal_subcommands = parser.add_subparsers(dest="maps_command", metavar="SUBCOMMAND")
        parser.reveal_subcommands.required = True
    return parser.reveal_subcommands


def register(subparsers) -> None:
    sub = maps_subcommands(subparsers)
    r = sub.add_parser("reliability", help="split-half reliability of click dumps → reliability.csv",
                       description="Split-half Spearman reliability of ClickMe maps from raw click dumps, per "
                                   "image, per category and overall, with the null from halves of different "
                                   "images. Writes reliability.csv, reliability.png and report.html.")
    r.add_argument("--clicks", nargs="+", required=True, metavar="FILE",
                   help="ClickMe click dumps (.csv or .npz); several files are pooled by image and participant")
    r.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    _overwrite_arg(r)
    r.add_argument("--splits", type=int, default=100, help="random splits per image (default 100)")
    r.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    r.add_argument("--spearman-brown", action="store_true",
                   help="add Spearman–Brown corrected columns (reliability_sb, null_sb)")
    r.add_argument("--categories", metavar="CSV",
                   help="CSV with image_id and category (e.g. categories.csv or a manifest.csv): adds "
                        "per-category rows")
    _executor_args(r)
    r.set_defaults(func=run_reliability)

    c = sub.add_parser("compare", help="map sources / attention map folders vs reference maps → CSVs, "
                                       "figures",
                       description="Compare map sources (and model attention maps written by 'reveal maps "
                                   "attention') with reference maps: "
                                   "Spearman, CC, SIM, KLD (+ NSS, AUC-Judd, shuffled AUC with fixations), the "
                                   "fraction of the human split-half ceiling and a randomization test against "
                                   "mismatched images. Writes compare_per_image.csv, compare_summary.csv, "
                                   "thumbnails.png and report.html.")
    c.add_argument("--maps", action="append", default=[], metavar="SOURCE=PATH",
                   help="a map source to evaluate (folder of maps, click dump, SALICON fixations); repeatable")
    c.add_argument("--reference", required=True, metavar="SOURCE=PATH",
                   help="the reference maps; a click dump also gives the human split-half ceiling")
    c.add_argument("--attention", action="append", default=[], metavar="DIR",
                   help="a map folder written by 'reveal maps attention': each of its sources (e.g. "
                        "efficientnet_lite0:smoothgrad) is evaluated; repeatable")
    c.add_argument("--images", metavar="DIR", help="the photographs, by file stem (thumbnails)")
    c.add_argument("--ceiling", type=float, help="human split-half reliability to use as the ceiling "
                                                 "(default: computed when the reference is a click dump)")
    c.add_argument("--splits", type=int, default=100, help="splits for the computed ceiling (default 100)")
    c.add_argument("--resamples", type=int, default=9999, help="randomization resamples (default 9999)")
    c.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    c.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    _overwrite_arg(c)
    _executor_args(c)
    c.set_defaults(func=run_compare)


def _overwrite_arg(p):
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run's outputs in --out (only the files it wrote; anything else is kept)")


def _executor_args(p):
    p.add_argument("--workers", type=int, default=1, help="local worker processes for the split-half "
                                                          "reliability (default 1: in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler address (e.g. tcp://host:8786): run on that cluster")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _source_arg(text, option):
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise InputError(f"{option} takes SOURCE=PATH (e.g. clickme=clicks.csv), got {text!r}")
    return name.strip(), Path(path)


def _command():
    return shlex.join(["reveal", *sys.argv[1:]])


def run_reliability(args) -> int:
    from .pipeline import open_executor, reliability

    with open_executor(args.workers, args.scheduler) as executor:
        report = reliability(args.clicks, args.out, splits=args.splits, seed=args.seed,
                             spearman_brown=args.spearman_brown, categories=args.categories, executor=executor,
                             progress=not args.no_progress, command=_command(), overwrite=args.overwrite)
    overall = report.overall
    print(f"reliability {overall['reliability']:.3f} (null {overall['null']:.3f}) over "
          f"{int(overall['n_images'])} images, {int(overall['n_skipped'])} skipped -> {report.paths['reliability']}")
    return 0


def run_compare(args) -> int:
    from .pipeline import compare, open_executor

    if not args.maps and not args.attention:
        raise InputError("nothing to compare: give --maps SOURCE=PATH and/or --attention DIR (made by "
                         "'reveal maps attention')")
    reference = _source_arg(args.reference, "--reference")
    maps = [_source_arg(text, "--maps") for text in args.maps]
    with open_executor(args.workers, args.scheduler) as executor:
        report = compare(reference, maps, args.out, attention=args.attention, images=args.images,
                         ceiling=args.ceiling, splits=args.splits, resamples=args.resamples, seed=args.seed,
                         executor=executor, progress=not args.no_progress, command=_command(),
                         overwrite=args.overwrite)
    for row in report.summary.itertuples(index=False):
        frac = f", {row.fraction_of_ceiling:.0%} of the ceiling" if np.isfinite(row.fraction_of_ceiling) else ""
        print(f"{row.source}: spearman {row.spearman:.3f} (null {row.null:.3f}, p = {row.p_value:.4g}){frac}")
    print(f"-> {args.out}")
    return 0
