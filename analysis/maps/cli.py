"""``reveal maps reliability`` and ``reveal maps compare``: thin argparse layers over the API."""
from __future__ import annotations

import logging
import math
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ...stimuli.errors import InputError

__all__ = ["register", "run_reliability", "run_compare", "read_categories", "merge_click_dumps"]

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("maps", help="importance maps as data: split-half reliability, comparison with "
                                           "model attention and other sources",
                              description="Inter-rater reliability of ClickMe click dumps, and map similarity "
                                          "metrics of map sources or model attention against reference maps.")
    sub = p.add_subparsers(dest="maps_command", metavar="SUBCOMMAND")
    sub.required = True

    r = sub.add_parser("reliability", help="split-half reliability of click dumps → reliability.csv",
                       description="Split-half Spearman reliability of ClickMe maps from raw click dumps, per "
                                   "image, per category and overall, with the null from halves of different "
                                   "images. Writes reliability.csv, reliability.png and report.html.")
    r.add_argument("--clicks", nargs="+", required=True, metavar="FILE",
                   help="ClickMe click dumps (.csv or .npz); several files are pooled by image and participant")
    r.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    r.add_argument("--splits", type=int, default=100, help="random splits per image (default 100)")
    r.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    r.add_argument("--spearman-brown", action="store_true",
                   help="add Spearman–Brown corrected columns (reliability_sb, null_sb)")
    r.add_argument("--categories", metavar="CSV",
                   help="CSV with image_id and category (e.g. categories.csv or a manifest.csv): adds "
                        "per-category rows")
    _executor_args(r)
    r.set_defaults(func=run_reliability)

    c = sub.add_parser("compare", help="map sources / model attention vs reference maps → CSVs, figures",
                       description="Compare map sources (and a model's attention maps) with reference maps: "
                                   "Spearman, CC, SIM, KLD (+ NSS, AUC-Judd, shuffled AUC with fixations), the "
                                   "fraction of the human split-half ceiling and a randomization test against "
                                   "mismatched images. Writes compare_per_image.csv, compare_summary.csv, "
                                   "thumbnails.png and report.html.")
    c.add_argument("--maps", action="append", default=[], metavar="SOURCE=PATH",
                   help="a map source to evaluate (folder of maps, click dump, SALICON fixations); repeatable")
    c.add_argument("--reference", required=True, metavar="SOURCE=PATH",
                   help="the reference maps; a click dump also gives the human split-half ceiling")
    c.add_argument("--model", metavar="NAME", help="add this observer's attention maps (model registry name, "
                                                   "e.g. efficientnet_lite0); needs --images")
    c.add_argument("--weights", metavar="FILE", help="weights file for --model")
    c.add_argument("--attention", default="smoothgrad,activation",
                   help="attention kinds for --model: smoothgrad, activation (default both)")
    c.add_argument("--target", default="animal", help="SmoothGrad score: animal (log-odds of P(animal)), top "
                                                      "(top-class logit) or a class index (default animal)")
    c.add_argument("--samples", type=int, default=25, help="SmoothGrad noisy samples (default 25)")
    c.add_argument("--layer", help="layer for the activation-norm map (default: the last block at ≥ 7×7)")
    c.add_argument("--images", metavar="DIR", help="the photographs, by file stem (thumbnails; --model input)")
    c.add_argument("--ceiling", type=float, help="human split-half reliability to use as the ceiling "
                                                 "(default: computed when the reference is a click dump)")
    c.add_argument("--splits", type=int, default=100, help="splits for the computed ceiling (default 100)")
    c.add_argument("--resamples", type=int, default=9999, help="randomization resamples (default 9999)")
    c.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    c.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    _executor_args(c)
    c.set_defaults(func=run_compare)


def _executor_args(p):
    p.add_argument("--workers", type=int, default=1, help="local worker processes for the split-half "
                                                          "reliability (default 1: in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler address (e.g. tcp://host:8786): run on that cluster")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


class _Executor:
    """The executor chosen on the command line, as a context manager (None: serial)."""

    def __init__(self, args):
        self.args, self.client, self.pool = args, None, None

    def __enter__(self):
        if self.args.scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise InputError("--scheduler needs dask.distributed (pip install 'reveal[cluster]')") from None
            self.client = Client(self.args.scheduler)
            return self.client.get_executor()
        if self.args.workers > 1:
            from concurrent.futures import ProcessPoolExecutor
            self.pool = ProcessPoolExecutor(self.args.workers)
            return self.pool
        return None

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown()
        if self.client is not None:
            self.client.close()


def _source_arg(text, option):
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise InputError(f"{option} takes SOURCE=PATH (e.g. clickme=clicks.csv), got {text!r}")
    return name.strip(), Path(path)


def read_categories(path):
    """``image_id -> category`` from a CSV with those columns (duplicates must agree)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read categories: {err}", path) from None
    missing = {"image_id", "category"} - set(table.columns)
    if missing:
        raise InputError(f"categories CSV needs columns image_id and category (missing {sorted(missing)})", path)
    out = {}
    for row, (image_id, category) in enumerate(zip(table["image_id"], table["category"]), start=1):
        if out.setdefault(image_id, category) != category:
            raise InputError(f"image {image_id!r} has two categories: {out[image_id]!r} and {category!r}", path, row)
    return out


def merge_click_dumps(paths):
    """Pool click dumps: ``image_id -> list of per-participant [x, y] arrays``, and the shape.

    Rows of one participant on one image are concatenated, across files too (the user
    id names the participant).
    """
    from ...stimuli.loaders import read_click_csv, read_click_npz

    pooled, shape = {}, None
    for p in map(Path, paths):
        if p.suffix.lower() not in (".csv", ".npz"):
            raise InputError("a click dump must be a .csv or .npz file", p)
        dump = read_click_npz(p) if p.suffix.lower() == ".npz" else read_click_csv(p)
        if shape is not None and tuple(dump.shape) != shape:
            raise InputError(f"clicks on {dump.shape} images, other dumps on {shape}", p)
        shape = tuple(dump.shape)
        for image_id in dump.image_ids():
            users = pooled.setdefault(image_id, {})
            for user, pts in dump.clicks[image_id].items():
                users[user] = pts if user not in users else np.concatenate([users[user], pts])
    return {i: [u[k] for k in sorted(u)] for i, u in pooled.items()}, shape


def _command():
    return "reveal " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _version():
    from ...stimuli.errors import toolkit_version as version

    return version()


def _report(path, title, intro, tables, figures):
    from ..report import render_page, write_report

    write_report(render_page(title, intro=intro, figures=figures, tables=tables, version=_version(),
                             command=_command()), path)


# --------------------------------------------------------------------------- reliability

def run_reliability(args) -> int:
    import matplotlib.pyplot as plt

    from ..figures import png_bytes, save_figure
    from ..pipeline import write_csv

    from .figures import reliability_figure
    from .reliability import split_half_reliability, summarize_reliability

    if args.splits < 1:
        raise InputError(f"--splits must be at least 1, got {args.splits}")
    clicks, shape = merge_click_dumps(args.clicks)
    categories = read_categories(args.categories) if args.categories else None
    with _Executor(args) as executor:
        result = split_half_reliability(clicks, n_splits=args.splits, seed=args.seed, shape=shape,
                                        executor=executor, progress=not args.no_progress)
    if result.per_image.empty:
        raise InputError(f"no image has two or more participants ({len(result.skipped)} skipped): "
                         f"no split possible", Path(args.clicks[0]))
    table = summarize_reliability(result, categories, args.spearman_brown, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table, out / "reliability.csv")
    fig = reliability_figure(result.per_image)
    save_figure(fig, out / "reliability.png")
    png = png_bytes(fig)
    plt.close(fig)
    overall = table[table["scope"] == "overall"].iloc[0]
    _report(out / "report.html", "Split-half reliability of importance maps",
            [f"{int(overall['n_images'])} images ({int(overall['n_skipped'])} skipped: fewer than 2 "
             f"participants), {args.splits} random splits each. Spearman ρ between the mean maps of two random "
             f"halves of participants (blurred as the maps are built); null: halves of different images.",
             f"Reliability {overall['reliability']:.3f}, null {overall['null']:.3f}, randomization p = "
             f"{overall['p_value']:.4g}."],
            {"Reliability (per image, per category, overall)": table},
            {"Per-image split-half reliability and the mismatched-image null.": png})
    print(f"reliability {overall['reliability']:.3f} (null {overall['null']:.3f}) over "
          f"{int(overall['n_images'])} images, {int(overall['n_skipped'])} skipped -> {out / 'reliability.csv'}")
    return 0


# --------------------------------------------------------------------------- compare

def _load_source(name, path):
    """``image_id -> map`` and, for fixation sources, ``image_id -> (points, shape)``."""
    from ...stimuli.loaders import open_map_source, read_salicon_mat

    source = open_map_source(name, path)
    maps, fixations = {}, {}
    for image_id, ref in source.refs.items():
        maps[image_id] = ref.load()
        if ref.kind == "fixations":
            fixations[image_id] = read_salicon_mat(ref.path) if ref.per_image else (ref.points[0], ref.shape)
    return source, maps, fixations


def _check_shapes(name, source, maps, references):
    for image_id, m in maps.items():
        ref = references.get(image_id)
        if ref is None:
            continue
        (h, w), (rh, rw) = m.shape, ref.shape
        # same aspect: resized like the MIT code; another aspect means another image or a crop
        if abs(h / w - rh / rw) > 0.02 * rh / rw:
            ref_obj = source.refs.get(image_id)
            raise InputError(f"map of {image_id!r} is {h}x{w} (rows x cols) but the reference is {rh}x{rw}: "
                             f"a different aspect ratio", ref_obj.path if ref_obj else source.path)


def run_compare(args) -> int:
    import matplotlib.pyplot as plt

    from ..figures import png_bytes, save_figure
    from ..pipeline import write_csv
    from ...stimuli.loaders import read_image
    from ...stimuli.loaders.images import IMAGE_SUFFIXES, files_by_stem
    from ...stimuli.seeding import derive_rng

    from .compare import compare_maps
    from .figures import thumbnail_grid
    from .reliability import split_half_reliability, summarize_reliability

    if not args.maps and not args.model:
        raise InputError("nothing to compare: give --maps SOURCE=PATH and/or --model NAME")
    ref_name, ref_path = _source_arg(args.reference, "--reference")
    ref_source, references, fixations = _load_source(ref_name, ref_path)
    sources = {}
    for text in args.maps:
        name, path = _source_arg(text, "--maps")
        if name in sources or name == ref_name:
            raise InputError(f"map source name {name!r} given twice (the reference is {ref_name!r})")
        src, maps, _ = _load_source(name, path)
        _check_shapes(name, src, maps, references)
        if not set(maps) & set(references):
            raise InputError(f"source {name!r} has no image in common with the reference {ref_name!r}", path)
        sources[name] = maps
    images = {}
    if args.images:
        files = files_by_stem(args.images, IMAGE_SUFFIXES)
        images = {i: read_image(p) for i, p in files.items() if i in references}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.model:
        if not images:
            raise InputError("--model needs --images DIR with the photographs of the reference's images "
                             "(matched by file stem)", args.images)
        sources.update(_attention_sources(args, images, out))

    ceiling, ceiling_note = args.ceiling, "given with --ceiling"
    if ceiling is None:
        ceiling, ceiling_note = math.nan, "not available (the reference is not a click dump; use --ceiling)"
        if ref_source.format.startswith("clickme"):
            clicks = {i: list(r.points) for i, r in ref_source.refs.items()}
            with _Executor(args) as executor:
                rel = split_half_reliability(clicks, n_splits=args.splits, seed=args.seed,
                                             shape=next(iter(ref_source.refs.values())).shape, executor=executor,
                                             progress=not args.no_progress)
            if len(rel.per_image):
                table = summarize_reliability(rel, seed=args.seed)
                write_csv(table, out / "reliability.csv")
                ceiling = float(table[table["scope"] == "overall"]["reliability"].iloc[0])
                ceiling_note = (f"split-half reliability of the reference click dump ({len(rel.per_image)} images, "
                                f"{args.splits} splits; reliability.csv)")

    result = compare_maps(sources, references, derive_rng(args.seed, "compare"), fixations=fixations,
                          ceiling=ceiling, n_resamples=args.resamples)
    write_csv(result.per_image, out / "compare_per_image.csv")
    write_csv(result.summary, out / "compare_summary.csv")

    spearman = {s: g.set_index("image_id")["value"].to_dict()
                for s, g in result.per_image[result.per_image["metric"] == "spearman"].groupby("source")}
    shown = [i for i in sorted(references) if any(i in m for m in sources.values())]
    fig = thumbnail_grid(shown, {f"{ref_name} (reference)": references, **sources}, images=images, scores=spearman)
    save_figure(fig, out / "thumbnails.png", dpi=150)
    png = png_bytes(fig, dpi=110)
    plt.close(fig)
    _report(out / "report.html", "Maps against reference maps",
            [f"Reference: {ref_name} ({ref_path}), {len(references)} images. Human ceiling: "
             + (f"{ceiling:.3f}, " if np.isfinite(ceiling) else "") + ceiling_note + ".",
             "spearman: mean Spearman ρ with the reference map of the same image; null: mean ρ with the "
             "references of other images; p_value: randomization test re-pairing maps and references "
             f"({args.resamples} permutations); fraction_of_ceiling: spearman / ceiling. Metrics follow the "
             "MIT saliency benchmark (analysis.maps.metrics)."],
            {"Summary per source": result.summary},
            {"Images (rows) with the reference and each source's map; ρ: Spearman with the reference.": png})
    for row in result.summary.itertuples(index=False):
        frac = f", {row.fraction_of_ceiling:.0%} of the ceiling" if np.isfinite(row.fraction_of_ceiling) else ""
        print(f"{row.source}: spearman {row.spearman:.3f} (null {row.null:.3f}, p = {row.p_value:.4g}){frac}")
    print(f"-> {out}")
    return 0


def _attention_sources(args, images, out):
    """Attention maps of ``args.model`` for every image, also saved as .npy under out/maps/."""
    from ...models.registry import load_observer
    from ...stimuli.seeding import derive_rng

    from .attention import attention_map

    kinds = [k.strip() for k in args.attention.split(",") if k.strip()]
    bad = set(kinds) - {"smoothgrad", "activation"}
    if bad or not kinds:
        raise InputError(f"--attention takes smoothgrad and/or activation, got {args.attention!r}")
    target = args.target
    if target not in ("animal", "top"):
        try:
            target = int(target)
        except ValueError:
            raise InputError(f"--target must be animal, top or a class index, got {args.target!r}") from None
    observer = load_observer(args.model, weights=args.weights)
    observer.module.eval()
    sources = {}
    for kind in kinds:
        name = f"{observer.name}:{kind}"
        folder = out / "maps" / name.replace(":", "_")
        folder.mkdir(parents=True, exist_ok=True)
        maps = {}
        for image_id, image in images.items():
            if kind == "smoothgrad":
                m = attention_map(observer, image, "smoothgrad", rng=derive_rng(args.seed, image_id, kind),
                                  target=target, n_samples=args.samples)
            else:
                try:
                    m = attention_map(observer, image, "activation", layer=args.layer)
                except AttributeError as err:  # get_submodule of a name the model does not have
                    raise InputError(f"model {args.model!r} has no layer {args.layer!r}: {err}") from None
            maps[image_id] = m
            np.save(folder / f"{image_id}.npy", m.astype(np.float32))
        sources[name] = maps
    return sources
