"""Importance maps as data, as Python calls: click dumps and map files in, tables, figures, report out.

``reveal maps reliability`` and ``reveal maps compare`` are thin layers over
:func:`reliability` and :func:`compare`. Everything here reads files: model attention maps
are made by :mod:`reveal.models.attention` (``reveal maps attention``) and read back from their
map folder (:mod:`.mapfiles`); the analysis runs no network.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.categories import read_categories
from ...core.errors import InputError
# re-exported: the executor of --workers/--scheduler is made in one place, for the stimulus build too
from ...core.executors import open_executor
from ...core.version import toolkit_version
from ...core.outputs import OutputFolder
from ..pipeline import write_csv
from ...core.mapfiles import INDEX, read_index, read_maps

__all__ = ["ReliabilityReport", "CompareReport", "open_executor", "merge_click_dumps",
           "reliability", "compare"]

#: The commands that own their output folders (:class:`reveal.core.outputs.OutputFolder`).
RELIABILITY_COMMAND = "reveal maps reliability"
COMPARE_COMMAND = "reveal maps compare"


def merge_click_dumps(paths):
    """Pool click dumps by image and participant.

    Rows of one participant on one image are concatenated, across files too (the user
    id names the participant).

    Parameters
    ----------
    paths : sequence of path-like
        ClickMe click dumps (``.csv`` or ``.npz``) on images of one shape.

    Returns
    -------
    clicks : dict
        ``image_id -> list of per-participant (N, 2) [x, y] arrays``.
    shape : tuple of int
        (H, W) of the images.
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


def _report(path, title, intro, tables, figures, command):
    from ..report import render_page, write_report

    write_report(render_page(title, intro=intro, figures=figures, tables=tables, version=toolkit_version(),
                             command=command), path)


# --------------------------------------------------------------------------- reliability

@dataclasses.dataclass
class ReliabilityReport:
    """What :func:`reliability` computed and wrote.

    Attributes
    ----------
    table : pandas.DataFrame
        Per image, per category and overall (``reliability.csv``).
    result : SplitHalfResult
        From :func:`reveal.analysis.maps.reliability.split_half_reliability`.
    paths : dict
        Output name -> path (empty when nothing was written).
    """

    table: pd.DataFrame
    result: object
    paths: dict

    @property
    def overall(self) -> pd.Series:
        """The overall row of :attr:`table`."""
        return self.table[self.table["scope"] == "overall"].iloc[0]


def reliability(clicks, out=None, *, splits=100, seed=0, spearman_brown=False, categories=None, executor=None,
                progress=False, command="", overwrite=False) -> ReliabilityReport:
    """Split-half reliability of ClickMe maps from click dumps.

    Spearman ρ between the mean maps of two random halves of participants, per image,
    per category and overall, with the null from halves of different images.

    Parameters
    ----------
    clicks : path-like or sequence of path-like
        ClickMe click dumps (``.csv``/``.npz``), pooled by image and participant.
    out : path-like, optional
        Output folder (created): ``reliability.csv``, ``reliability.png``,
        ``report.html``. None writes nothing.
    splits : int
        Random splits per image.
    seed : int
        Seed of every random draw.
    spearman_brown : bool
        Add Spearman–Brown corrected columns.
    categories : path-like or dict, optional
        CSV with ``image_id, category`` (:func:`reveal.core.categories.read_categories`) or that mapping: adds
        per-category rows.
    executor : concurrent.futures.Executor, optional
        Runs the images in parallel (:func:`open_executor`).
    progress : bool
    command : str
        The command line shown in the report.
    overwrite : bool
        Replace an earlier run's outputs in ``out`` (only the files it recorded); a folder
        holding files the toolkit did not write is always refused.

    Returns
    -------
    ReliabilityReport

    Raises
    ------
    InputError
        Unreadable dumps, ``splits`` < 1, no image with two or more participants.
    """
    from .reliability import split_half_reliability, summarize_reliability

    if splits < 1:
        raise InputError(f"splits must be at least 1, got {splits}")
    paths = [clicks] if isinstance(clicks, (str, Path)) else list(clicks)
    if not paths:
        raise InputError("no click dump given")
    merged, shape = merge_click_dumps(paths)
    if categories is not None and not isinstance(categories, dict):
        categories = read_categories(categories)
    # the output folder is checked before the work, which can take minutes
    folder = None if out is None else OutputFolder(out, RELIABILITY_COMMAND, overwrite=overwrite)
    result = split_half_reliability(merged, n_splits=splits, seed=seed, shape=shape, executor=executor,
                                    progress=progress)
    if result.per_image.empty:
        raise InputError(f"no image has two or more participants ({len(result.skipped)} skipped): "
                         f"no split possible", Path(paths[0]))
    table = summarize_reliability(result, categories, spearman_brown, seed=seed)
    report = ReliabilityReport(table, result, {})
    if folder is not None:
        report.paths = _write_reliability(report, folder, splits, command)
    return report


def _write_reliability(report, out, splits, command):
    from ..figures import png_bytes, save_figure
    from .figures import reliability_figure

    paths = {"reliability": out.path("reliability.csv"), "figure": out.path("reliability.png"),
             "report": out.path("report.html")}
    out.declare([])
    write_csv(report.table, paths["reliability"])
    fig = reliability_figure(report.result.per_image)
    save_figure(fig, paths["figure"])
    png = png_bytes(fig)
    overall = report.overall
    _report(paths["report"], "Split-half reliability of importance maps",
            [f"{int(overall['n_images'])} images ({int(overall['n_skipped'])} skipped: fewer than 2 "
             f"participants), {splits} random splits each. Spearman ρ between the mean maps of two random "
             f"halves of participants (blurred as the maps are built); null: halves of different images.",
             f"Reliability {overall['reliability']:.3f}, null {overall['null']:.3f}, randomization p = "
             f"{overall['p_value']:.4g}."],
            {"Reliability (per image, per category, overall)": report.table},
            {"Per-image split-half reliability and the mismatched-image null.": png}, command)
    out.close()
    return paths


# --------------------------------------------------------------------------- compare

@dataclasses.dataclass
class CompareReport:
    """What :func:`compare` computed and wrote.

    Attributes
    ----------
    result : MapComparison
        ``per_image`` and ``summary`` tables (:func:`reveal.analysis.maps.compare.compare_maps`).
    ceiling : float
        The human ceiling used (NaN when none).
    ceiling_note : str
        Where the ceiling came from.
    reliability : pandas.DataFrame or None
        The reference's split-half reliability, when it was computed from a click dump.
    paths : dict
        Output name -> path (empty when nothing was written).
    """

    result: object
    ceiling: float
    ceiling_note: str
    reliability: pd.DataFrame | None
    paths: dict

    @property
    def summary(self) -> pd.DataFrame:
        return self.result.summary

    @property
    def per_image(self) -> pd.DataFrame:
        return self.result.per_image


def _load_source(name, path):
    """``image_id -> map`` and, for fixation sources, ``image_id -> (points, shape)``."""
    from ...stimuli.loaders import open_map_source

    source = open_map_source(name, path)
    maps, fixations = {}, {}
    for image_id, ref in source.refs.items():
        maps[image_id] = ref.load()
        if ref.has_points:  # NSS and the AUCs need points: fixations, or a click dump's pooled clicks
            fixations[image_id] = ref.points_rc()
    return source, maps, fixations


def _check_shapes(maps, references, path_of):
    for image_id, m in maps.items():
        ref = references.get(image_id)
        if ref is None:
            continue
        (h, w), (rh, rw) = m.shape, ref.shape
        # same aspect: resized like the MIT code; another aspect means another image or a crop
        if abs(h / w - rh / rw) > 0.02 * rh / rw:
            raise InputError(f"map of {image_id!r} is {h}x{w} (rows x cols) but the reference is {rh}x{rw}: "
                             f"a different aspect ratio", path_of(image_id))


def _as_pairs(maps):
    if maps is None:
        return []
    return list(maps.items()) if isinstance(maps, dict) else [tuple(p) for p in maps]


def compare(reference, maps=None, out=None, *, attention=(), images=None, ceiling=None, splits=100,
            resamples=9999, seed=0, executor=None, progress=False, command="", overwrite=False) -> CompareReport:
    """Compare map sources, and model attention maps from files, with reference maps.

    Spearman, CC, SIM, KLD (+ NSS, AUC-Judd, shuffled AUC when the reference has points:
    fixations, or a click dump's clicks pooled over participants), the fraction of
    the human split-half ceiling, and a randomization test against mismatched images.

    Parameters
    ----------
    reference : tuple of (str, path-like)
        Name and path of the reference maps (folder of maps, click dump, SALICON
        fixations); a click dump also gives the human split-half ceiling.
    maps : dict or sequence of (str, path-like), optional
        Map sources to evaluate, name -> path (same formats as the reference).
    out : path-like, optional
        Output folder (created): ``compare_per_image.csv``, ``compare_summary.csv``,
        ``reliability.csv`` (when the ceiling was computed), ``thumbnails.png``,
        ``report.html``. None writes nothing.
    attention : sequence of path-like
        Map folders written by ``reveal maps attention`` (:mod:`.mapfiles`); every source
        in their index is evaluated, named as there (e.g. ``efficientnet_lite0:smoothgrad``).
    images : path-like, optional
        The photographs, by file stem, for the thumbnails.
    ceiling : float, optional
        Human split-half reliability to use as the ceiling (default: computed when the
        reference is a click dump).
    splits : int
        Splits for the computed ceiling.
    resamples : int
        Randomization resamples.
    seed : int
        Seed of every random draw.
    executor : concurrent.futures.Executor, optional
        For the computed ceiling (:func:`open_executor`).
    progress : bool
    command : str
        The command line shown in the report.
    overwrite : bool
        Replace an earlier run's outputs in ``out`` (only the files it recorded); a folder
        holding files the toolkit did not write is always refused.

    Returns
    -------
    CompareReport

    Raises
    ------
    InputError
        Nothing to compare, a name given twice, unreadable maps, maps of another aspect
        ratio than the reference's, or a source with no image in common with it (the
        message names the file).
    """
    from ...core.seeding import derive_rng
    from .compare import compare_maps
    from .reliability import split_half_reliability, summarize_reliability

    pairs = _as_pairs(maps)
    attention = [attention] if isinstance(attention, (str, Path)) else list(attention)
    if not pairs and not attention:
        raise InputError("nothing to compare: give map sources and/or attention map folders")
    ref_name, ref_path = reference
    ref_source, references, fixations = _load_source(ref_name, Path(ref_path))
    sources = {}

    def add(name, source_maps, path, path_of):
        if name in sources or name == ref_name:
            raise InputError(f"map source name {name!r} given twice (the reference is {ref_name!r})", path)
        _check_shapes(source_maps, references, path_of)
        if not set(source_maps) & set(references):
            raise InputError(f"source {name!r} has no image in common with the reference {ref_name!r}", path)
        sources[name] = source_maps

    for name, path in pairs:
        src, source_maps, _ = _load_source(name, Path(path))
        add(name, source_maps, Path(path),
            lambda i, src=src: src.refs[i].path if i in src.refs else src.path)
    for root in map(Path, attention):
        index = read_index(root)
        for name, source_maps in read_maps(root).items():
            folder = root / index["sources"][name]["folder"]
            add(name, source_maps, root / INDEX, lambda i, folder=folder: folder / f"{i}.npy")

    # the output folder is checked before the work, which can take minutes
    folder = None if out is None else OutputFolder(out, COMPARE_COMMAND, overwrite=overwrite)
    note = "given"
    reliability_table = None
    if ceiling is None:
        ceiling, note = math.nan, "not available (the reference is not a click dump; give a ceiling)"
        if ref_source.format.startswith("clickme"):
            clicks = {i: list(r.points) for i, r in ref_source.refs.items()}
            rel = split_half_reliability(clicks, n_splits=splits, seed=seed,
                                         shape=next(iter(ref_source.refs.values())).shape, executor=executor,
                                         progress=progress)
            if len(rel.per_image):
                reliability_table = summarize_reliability(rel, seed=seed)
                ceiling = float(reliability_table[reliability_table["scope"] == "overall"]["reliability"].iloc[0])
                note = (f"split-half reliability of the reference click dump ({len(rel.per_image)} images, "
                        f"{splits} splits; reliability.csv)")
    result = compare_maps(sources, references, derive_rng(seed, "compare"), fixations=fixations,
                          ceiling=ceiling, n_resamples=resamples)
    report = CompareReport(result, ceiling, note, reliability_table, {})
    if folder is not None:
        report.paths = _write_compare(report, folder, (ref_name, ref_path), sources, references, images,
                                      resamples, command)
    return report


def _write_compare(report, out, reference, sources, references, images, resamples, command):
    from ...stimuli.loaders import read_image
    from ...stimuli.loaders.images import IMAGE_SUFFIXES, files_by_stem
    from ..figures import png_bytes, save_figure
    from .figures import thumbnail_grid

    photos = {}
    if images is not None:
        photos = {i: read_image(p) for i, p in files_by_stem(images, IMAGE_SUFFIXES).items() if i in references}
    paths = {}
    if report.reliability is not None:
        paths["reliability"] = out.path("reliability.csv")
    paths["per_image"], paths["summary"] = out.path("compare_per_image.csv"), out.path("compare_summary.csv")
    paths["thumbnails"], paths["report"] = out.path("thumbnails.png"), out.path("report.html")
    out.declare([])
    if report.reliability is not None:
        write_csv(report.reliability, paths["reliability"])
    write_csv(report.per_image, paths["per_image"])
    write_csv(report.summary, paths["summary"])

    per_image = report.per_image
    spearman = {s: g.set_index("image_id")["value"].to_dict()
                for s, g in per_image[per_image["metric"] == "spearman"].groupby("source")}
    shown = [i for i in sorted(references) if any(i in m for m in sources.values())]
    ref_name, ref_path = reference
    fig = thumbnail_grid(shown, {f"{ref_name} (reference)": references, **sources}, images=photos,
                         scores=spearman)
    save_figure(fig, paths["thumbnails"], dpi=150)
    png = png_bytes(fig, dpi=110)
    ceiling = report.ceiling
    _report(paths["report"], "Maps against reference maps",
            [f"Reference: {ref_name} ({ref_path}), {len(references)} images. Human ceiling: "
             + (f"{ceiling:.3f}, " if np.isfinite(ceiling) else "") + report.ceiling_note + ".",
             "spearman: mean Spearman ρ with the reference map of the same image; null: mean ρ with the "
             "references of other images; p_value: randomization test re-pairing maps and references "
             f"({resamples} permutations); fraction_of_ceiling: spearman / ceiling. Metrics follow the "
             "MIT saliency benchmark (analysis.maps.metrics). Model attention maps are read from the map "
             "folders written by reveal maps attention."],
            {"Summary per source": report.summary},
            {"Images (rows) with the reference and each source's map; ρ: Spearman with the reference.": png},
            command)
    out.close()
    return paths
