"""``reveal maps reliability | compare | attention``: thin argparse layers.

``reliability`` and ``compare`` call :mod:`reveal.analysis.maps.pipeline`; ``attention`` calls
:func:`reveal.models.attention.write_attention_maps` (torch is imported only when it runs) and writes a
map folder (:mod:`reveal.core.mapfiles`) that ``compare --attention`` reads.
"""
from __future__ import annotations

import shlex
import sys

from ..core.errors import InputError
from ..core.executors import open_executor, scheduler_address
from .arguments import source_path
from .predict import DEFAULT_MODEL
from .teacher import register_teacher

__all__ = ["register", "run_reliability", "run_compare", "run_attention"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "maps", help="importance maps as data: split-half reliability, model attention maps, comparison "
                     "with reference maps",
        description="Inter-rater reliability of ClickMe click dumps, model attention maps written to disk, "
                    "and map similarity metrics of map sources against reference maps.")
    sub = parser.add_subparsers(dest="maps_command", metavar="SUBCOMMAND")
    sub.required = True
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
    _register_attention(sub)
    register_teacher(sub)


def _register_attention(sub):
    a = sub.add_parser(
        "attention", help="a network's attention maps of photographs → a map folder (.npy + maps.json)",
        description="SmoothGrad and/or activation-norm maps of an ImageNet network for every photograph of a "
                    "folder, at the photograph's size, written as <out>/<model>_<kind>/<image_id>.npy with the "
                    "index <out>/maps.json (docs/conventions.md). Give the folder to 'reveal maps compare "
                    "--attention'. Writing into an existing map folder adds the sources to it.")
    a.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME",
                   help="model registry name (default efficientnet_lite0, bundled), package.module:factory, or "
                        "the folder of a network trained by reveal train")
    a.add_argument("--weights", metavar="FILE", help="weights file for --model")
    a.add_argument("--images", required=True, metavar="DIR", help="the photographs (image id = file stem)")
    a.add_argument("--out", required=True, metavar="DIR", help="map folder (created or added to)")
    a.add_argument("--kinds", default="smoothgrad,activation",
                   help="attention kinds: smoothgrad, activation, gala (a reveal train network's GALA blocks) "
                        "(comma-separated; default smoothgrad,activation)")
    a.add_argument("--target", default="animal", help="SmoothGrad score: animal (log-odds of P(animal)), top "
                                                      "(top-class logit) or a class index (default animal)")
    a.add_argument("--samples", type=int, default=25, help="SmoothGrad noisy samples (default 25)")
    a.add_argument("--layer", help="layer for the activation-norm map (default: the last block at >= 7x7); for "
                                   "gala, one block (blocks.7.dense; default: the mean over the blocks)")
    a.add_argument("--crop", action="store_true",
                   help="the network's own centre crop instead of the whole image (unseen pixels get 0)")
    a.add_argument("--seed", type=int, default=0, help="seed of the SmoothGrad noise (default 0)")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    a.set_defaults(func=run_attention)


def _overwrite_arg(p):
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run's outputs in --out (only the files it wrote; anything else is kept)")


def _executor_args(p):
    p.add_argument("--workers", type=int, default=1, help="local worker processes for the split-half "
                                                          "reliability (default 1: in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler address (e.g. tcp://host:8786): run on that cluster "
                        "(default: $DASK_SCHEDULER_ADDRESS when set and no --workers N)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _executor(args):
    """The executor of ``--workers``/``--scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``), a context manager."""
    return open_executor(args.workers, scheduler_address(args.scheduler, args.workers))


def _command():
    return shlex.join(["reveal", *sys.argv[1:]])


def run_reliability(args) -> int:
    from ..analysis.maps.pipeline import reliability

    with _executor(args) as executor:
        report = reliability(args.clicks, args.out, splits=args.splits, seed=args.seed,
                             spearman_brown=args.spearman_brown, categories=args.categories, executor=executor,
                             progress=not args.no_progress, command=_command(), overwrite=args.overwrite)
    overall = report.overall
    print(f"reliability {overall['reliability']:.3f} (null {overall['null']:.3f}) over "
          f"{int(overall['n_images'])} images, {int(overall['n_skipped'])} skipped -> {report.paths['reliability']}")
    return 0


def run_compare(args) -> int:
    import numpy as np

    from ..analysis.maps.pipeline import compare

    if not args.maps and not args.attention:
        raise InputError("nothing to compare: give --maps SOURCE=PATH and/or --attention DIR (made by "
                         "'reveal maps attention')")
    reference = source_path(args.reference, "--reference")
    maps = [source_path(text, "--maps") for text in args.maps]
    with _executor(args) as executor:
        report = compare(reference, maps, args.out, attention=args.attention, images=args.images,
                         ceiling=args.ceiling, splits=args.splits, resamples=args.resamples, seed=args.seed,
                         executor=executor, progress=not args.no_progress, command=_command(),
                         overwrite=args.overwrite)
    for row in report.summary.itertuples(index=False):
        frac = f", {row.fraction_of_ceiling:.0%} of the ceiling" if np.isfinite(row.fraction_of_ceiling) else ""
        print(f"{row.source}: spearman {row.spearman:.3f} (null {row.null:.3f}, p = {row.p_value:.4g}){frac}")
    print(f"-> {args.out}")
    return 0


def run_attention(args) -> int:
    from ..models.attention import write_attention_maps  # torch is imported only when the command runs

    target = args.target
    if target not in ("animal", "top"):
        try:
            target = int(target)
        except ValueError:
            raise InputError(f"--target must be animal, top or a class index, got {args.target!r}") from None
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    maps = write_attention_maps(args.model, args.images, args.out, kinds, weights=args.weights, target=target,
                                n_samples=args.samples, layer=args.layer, crop=args.crop, seed=args.seed,
                                progress=not args.no_progress)
    for source, by_image in maps.items():
        print(f"{source}: {len(by_image)} maps")
    print(f"-> {args.out} (index {args.out}/maps.json)")
    return 0
