"""``reveal stimuli …``: build stimulus sets from the command line.

Building the parser imports nothing heavy (the choices come from :mod:`reveal.stimuli.modes`);
numpy, OpenCV, numba, SciPy and scikit-image are imported only when ``build`` runs.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..core.errors import InputError
from ..core.executors import open_executor, scheduler_address
from ..stimuli.modes import CENTRING_MODES, FIT_MODES
from .arguments import int_in_range, source_path

#: Stimulus sides ``--size`` accepts (pixels). Below 8x8 = 64 pixels no map has the feature
#: budget of 50 that the default 1 % level needs to reveal one pixel; a 4096-pixel stimulus
#: already takes about 5 GB of memory per image to build (2048: 1.3 GB, measured), and larger
#: ones end in OpenCV or the kernel killing the process.
SIZE_RANGE = (8, 4096)
SIZE_WHY = ("a stimulus needs at least 8x8 pixels for its 1 % level to reveal one, and above 4096 it needs more "
            "than 5 GB of memory per image (the experiment shows 256x256)")


def register(subparsers):
    p = subparsers.add_parser("stimuli", help="build stimulus sets from images and importance maps")
    sub = p.add_subparsers(dest="stimuli_command", metavar="ACTION")
    sub.required = True
    b = sub.add_parser("build", help="build a stimulus set (manifest.csv, stimset.json, PNGs)",
                       description="Every image at each reveal level per map source (by default 11 levels, "
                                   "log-spaced 1-100 %%; see --levels) plus the intact image.")
    b.add_argument("--images", type=Path, help="folder of photographs (image id = file stem)")
    b.add_argument("--maps", action="append", default=[], metavar="SOURCE=PATH",
                   help="maps of one source: a folder of PNG/NPY maps or SALICON .mat files, a ClickMe "
                        "click dump (.csv/.npz) or SALICON fixations (.json); repeat per source")
    b.add_argument("--categories", type=Path, help="CSV image_id,category (animal|nonanimal)")
    b.add_argument("--sample", action="store_true",
                   help="use the bundled sample (scikit-image photos, two OpenCV saliency sources)")
    b.add_argument("--out", type=Path, required=True, help="output folder")
    b.add_argument("--size", type=int, default=256,
                   help=f"stimulus side in pixels, {SIZE_RANGE[0]} to {SIZE_RANGE[1]} (default 256)")
    b.add_argument("--fit", choices=FIT_MODES, default="crop",
                   help="make photographs square by centre-cropping (default) or stretching")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--levels", metavar="P1,P2,...",
                   help="reveal levels, percent of the feature budget, comma-separated, strictly increasing, "
                        "each in (0, 100] and distinct at 3 significant digits (default: 11 log-spaced levels "
                        "1,1.58,...,63.1,100); the intact image is always added")
    b.add_argument("--threshold", type=float, default=0.0,
                   help="importance (0-1 after min-max) above which a pixel counts in the budget")
    b.add_argument("--connectivity", type=int, choices=(4, 8), default=4)
    b.add_argument("--no-centre", dest="centre", action="store_false", help="do not centre the region")
    b.add_argument("--centring", choices=CENTRING_MODES, default="per_level",
                   help="centre each level's region (per_level, default: the 1%% patch at fixation) or "
                        "shift every level as the 100%% region is centred (full_extent)")
    b.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler address (e.g. tcp://host:8786): build the images on that "
                        "cluster's workers, which must see the inputs and --out by the same paths (default: "
                        "$DASK_SCHEDULER_ADDRESS when set and no --workers N)")
    b.add_argument("--overwrite", action="store_true", help="replace a different set in --out")
    b.add_argument("--no-progress", dest="progress", action="store_false")
    b.set_defaults(func=_build)


def _build(args):
    from ..core.levels import parse_levels
    from ..stimuli.build import build_stimulus_set
    from ..stimuli.sample import write_sample_inputs
    from ..stimuli.stimulus import RevealParams

    int_in_range(args.size, "--size", *SIZE_RANGE, why=SIZE_WHY)
    levels = {}
    if args.levels is not None:
        try:
            levels = {"levels": parse_levels(args.levels)}
        except ValueError as err:
            raise InputError(f"--levels: {err}") from None
    params = RevealParams(size=args.size, fit=args.fit, seed=args.seed, threshold=args.threshold,
                          connectivity=args.connectivity, centre=args.centre,
                          centring=args.centring, **levels)
    if args.sample and (args.images or args.maps or args.categories):
        raise InputError("--sample replaces --images, --maps and --categories; give one or the other")
    if not args.sample and not (args.images and args.maps and args.categories):
        raise InputError("give --images, --maps SOURCE=PATH and --categories (or --sample)")
    pairs = [source_path(text) for text in args.maps]
    if len(dict(pairs)) != len(pairs):
        raise InputError("a map source is given twice")
    scheduler = scheduler_address(args.scheduler, args.workers)
    out, sample_dir = args.out, None
    if scheduler:
        # a worker runs in its own folder, maybe on another machine: every path it gets is absolute,
        # and the sample is written next to --out (a shared file system) rather than to this machine's /tmp
        out = args.out.resolve()
        if args.sample:
            sample_dir = out.parent
    # the cluster is reached first: a wrong address is reported before any work
    with open_executor(args.workers, scheduler) as executor:
        if sample_dir is not None:
            sample_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="reveal-sample-", dir=sample_dir) as tmp:
            if args.sample:
                inputs = write_sample_inputs(tmp)
                images, maps, categories = inputs["images"], inputs["maps"], inputs["categories"]
            else:
                images, categories, maps = args.images, args.categories, dict(pairs)
                if scheduler:
                    images, categories = images.resolve(), categories.resolve()
                    maps = {name: Path(path).resolve() for name, path in maps.items()}
            result = build_stimulus_set(images, maps, categories, out, params, executor=executor,
                                        overwrite=args.overwrite, progress=args.progress)
    print(f"{result.n_stimuli} stimuli of {result.n_images} images written to {args.out} "
          f"(manifest: {result.manifest})")
    return 0
