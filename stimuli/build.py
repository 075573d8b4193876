"""Building a stimulus set on disk: photographs + map sources in, ``manifest.csv`` + PNGs out.

The work is one task per image (all its sources and levels), submitted to any
:class:`concurrent.futures.Executor` — a local process pool, or a dask.distributed
client's ``get_executor()`` for ClickMe-scale sets. Tasks return only manifest rows, so
the parent never holds the set's pixels. PNGs are written to temporary names and renamed;
``manifest.csv`` and ``stimset.json`` are written last, so an interrupted build never
leaves a manifest that claims files which are not there.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..core.categories import read_categories
from ..core.errors import InputError
from ..core.version import toolkit_version
from ..core.levels import level_label
from .geometry import FIT_MODES, fit_image, fit_map, same_aspect
from .loaders import MapRef, open_map_source, read_image
from .loaders.images import listed_images
from ..core.outputs import OutputFolder, atomic_write
from ..core.stimset import MANIFEST, STIMSET, background_entry, write_stimulus_set_files
from .stimulus import RevealParams, check_map, image_background, image_stimuli

__all__ = ["build_stimulus_set", "BuildResult"]

log = logging.getLogger(__name__)



def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class _Task:
    image_id: str
    category: str
    image_path: Path
    maps: tuple  # of MapRef, one per source in order
    out_dir: Path
    params: RevealParams


def _load_checked_map(ref: MapRef, image_shape, params, notes):
    importance = ref.load()
    problem = check_map(importance)
    if problem:
        raise InputError(f"{problem} (image {ref.image_id!r}, source {ref.source!r})", ref.path)
    if importance.shape != image_shape:
        if not same_aspect(importance.shape, image_shape):
            raise InputError(
                f"map of {ref.image_id!r} is {importance.shape[1]}x{importance.shape[0]} but the image is "
                f"{image_shape[1]}x{image_shape[0]}: different aspect ratio, refusing to guess the alignment",
                ref.path)
        notes.append(f"{ref.path}: map {importance.shape[1]}x{importance.shape[0]} resized to its "
                     f"image's {image_shape[1]}x{image_shape[0]} (same aspect ratio)")
        importance = _resize_to(importance, image_shape)
    return fit_map(importance, params.size, params.fit)


def _resize_to(arr, shape):
    return cv2.resize(arr, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]


def _write_png(pixels, path):
    # PNG encoding dominates the build time, and scrambled backgrounds barely compress:
    # OpenCV's Huffman-only zlib is ~5x faster than PIL's default for about the same size.
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(pixels[..., ::-1]), _PNG_FAST)
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    atomic_write(path, buf.tobytes(), sync=False)  # a resumed build verifies every PNG (_holds)


def _holds(path: Path, pixels) -> bool:
    """Whether ``path`` is a PNG that decodes to exactly ``pixels`` (RGB)."""
    if not path.is_file():
        return False
    found = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return found is not None and found.shape == pixels.shape and np.array_equal(found[..., ::-1], pixels)


def _build_image(task: _Task):
    """Worker: every stimulus of one image, written to disk; returns its manifest rows,
    notes on what was adapted (maps resized to their image) and its background's statistics."""
    params = task.params
    raw = read_image(task.image_path)
    image = fit_image(raw, params.size, params.fit)
    notes = []
    maps = {ref.source: _load_checked_map(ref, raw.shape[:2], params, notes) for ref in task.maps}
    background, background_stats = image_background(task.image_id, image, params)
    try:
        stimuli = image_stimuli(task.image_id, image, maps, params, background=background)
    except ValueError as err:
        raise InputError(f"image {task.image_id!r}: {err}", task.maps[0].path) from None
    rows = []
    written = set()
    n_px = params.size * params.size
    full_rel = f"full/{task.image_id}.png"
    for s in stimuli:
        label = level_label(s.level)
        if s.level == "full":
            rel = full_rel
            stimulus_id = f"{task.image_id}_{s.map_source}_full"
        else:
            rel = f"{s.map_source}/{task.image_id}_L{s.level_index:02d}.png"
            stimulus_id = f"{task.image_id}_{s.map_source}_L{s.level_index:02d}"
        if rel not in written:  # the intact image is shared by the sources' `full` rows
            target = task.out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _holds(target, s.pixels):  # a resumed build keeps what is already right
                _write_png(s.pixels, target)
            written.add(rel)
        rows.append({
            "stimulus_id": stimulus_id, "file": rel, "image_id": task.image_id, "category": task.category,
            "map_source": s.map_source, "level": label, "level_index": s.level_index,
            "revealed_px": s.revealed_px, "image_frac": round(s.revealed_px / n_px, 6),
            "feature_budget": s.feature_budget, "seed": s.seed, "shift_y": s.shift[0], "shift_x": s.shift[1],
        })
    return rows, notes, background_stats


@dataclass
class BuildResult:
    """What a build wrote."""

    out_dir: Path
    manifest: Path
    n_images: int
    n_stimuli: int


COMMAND = "reveal stimuli build"


def _prepare_out_dir(out_dir: Path, fingerprint: dict, overwrite: bool, files) -> OutputFolder:
    """The build's owned output folder (see :class:`reveal.core.outputs.OutputFolder`).

    The same set (same fingerprint) is rebuilt in place, and an interrupted build resumes:
    PNGs already on disk are kept where they decode to the recomputed pixels. A different
    set needs ``overwrite``, which removes only the files the earlier build recorded.
    """
    fingerprint = json.loads(json.dumps(fingerprint))  # as the record stores it
    prev = OutputFolder.previous_record(out_dir)
    same = (prev is not None and prev["command"] == COMMAND
            and prev["meta"].get("fingerprint") == fingerprint)
    if same:
        folder = OutputFolder(out_dir, COMMAND, resume=True)
        if not (out_dir / MANIFEST).exists():
            log.warning("%s holds an interrupted build of this set: resuming (PNGs already written are "
                        "verified and kept)", out_dir)
    else:
        if prev is not None and prev["command"] == COMMAND and not overwrite:
            raise InputError("output folder already holds a different stimulus set (other parameters or "
                             "inputs); use --overwrite to replace it", out_dir)
        folder = OutputFolder(out_dir, COMMAND, overwrite=overwrite)
    # No manifest may claim files of a half-written set: it is written last, again.
    for name in (MANIFEST, STIMSET):
        (out_dir / name).unlink(missing_ok=True)
    folder.declare([*files, MANIFEST, STIMSET], meta={"fingerprint": fingerprint})
    return folder


def _stimulus_files(image_ids, sources, n_levels):
    """Every PNG a build writes (names are fixed by image, source and level index)."""
    return [f"full/{i}.png" for i in image_ids] + [
        f"{s}/{i}_L{k:02d}.png" for i in image_ids for s in sources for k in range(n_levels)]


def build_stimulus_set(images, maps, categories, out_dir, params=RevealParams(), *,
                       executor: Executor | None = None, overwrite=False, progress=True):
    """Build a stimulus set (docs/conventions.md, "Stimulus set") on disk.

    Parameters
    ----------
    images : path-like
        Folder of photographs; an image's id is its file stem.
    maps : dict of str -> path-like
        ``map_source -> maps`` in any format :func:`reveal.stimuli.loaders.open_map_source`
        reads. Every image needs a map from every source.
    categories : path-like or dict
        CSV ``image_id,category`` (or the dict it reads to); its images are the set.
    out_dir : path-like
        Created if needed. A folder holding a different set is refused unless
        ``overwrite``; a non-empty folder that holds no set is always refused.
    params : RevealParams
    executor : concurrent.futures.Executor, optional
        Where to run the per-image tasks; None runs them here, one after another.
    overwrite : bool
    progress : bool
        Show a progress bar.

    Returns
    -------
    BuildResult
    """
    if params.fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}")
    if not maps:
        raise InputError("at least one map source is needed")
    out_dir = Path(out_dir)
    cat_path = None
    if not isinstance(categories, dict):
        cat_path = Path(categories)
        categories = read_categories(cat_path)
    image_files = listed_images(images, categories, cat_path)
    sources = {name: open_map_source(name, path) for name, path in maps.items()}
    for name, src in sources.items():
        lacking = [i for i in categories if i not in src.refs]
        if lacking:
            raise InputError(f"source {name!r} has no map for {len(lacking)} image(s): "
                             f"{', '.join(lacking[:5])}", src.path)

    # Hashes of every input file, for stimset.json and to recognise a rebuild.
    inputs = {}
    for image_id in categories:
        inputs[str(image_files[image_id])] = _sha256(image_files[image_id])
        for src in sources.values():
            ref = src.refs[image_id]
            if ref.per_image:
                inputs[str(ref.path)] = _sha256(ref.path)
    for src in sources.values():
        for f in src.shared_files:
            inputs[str(f)] = _sha256(f)
    if cat_path is not None:
        inputs[str(cat_path)] = _sha256(cat_path)
    fingerprint = {"parameters": params.to_dict(), "sources": list(sources),
                   "images": sorted(categories), "input_hashes": sorted(inputs.values())}
    folder = _prepare_out_dir(out_dir, fingerprint, overwrite,
                              _stimulus_files(sorted(categories), list(sources), len(params.levels)))

    tasks = [_Task(i, categories[i], image_files[i], tuple(s.refs[i] for s in sources.values()), out_dir, params)
             for i in sorted(categories)]
    rows_by_image = {}
    bar = tqdm(total=len(tasks), desc="stimuli", unit="image", disable=not progress)
    try:
        if executor is None:
            for t in tasks:
                rows_by_image[t.image_id] = _build_image(t)
                bar.update()
        else:
            futures = {executor.submit(_build_image, t): t.image_id for t in tasks}
            for fut in as_completed(futures):
                rows_by_image[futures[fut]] = fut.result()
                bar.update()
    finally:
        bar.close()

    rows = [r for i in sorted(rows_by_image) for r in rows_by_image[i][0]]
    notes = [n for i in sorted(rows_by_image) for n in rows_by_image[i][1]]
    for note in notes:
        log.warning(note)
    meta = {
        "toolkit_version": toolkit_version(),
        **fingerprint,
        "levels": [level_label(v) for v in params.levels] + ["full"],
        # relative to the inputs' common folder: the same inputs give the same bytes wherever
        # they lie (the bundled sample is written to a temporary folder)
        "inputs": _relative_keys(inputs),
        "map_formats": {n: s.format for n, s in sources.items()},
        # how computed maps were made (a teacher's fingerprint, an attention map's parameters)
        "map_provenance": {n: s.provenance for n, s in sources.items() if s.provenance is not None},
        "geometry": (f"{params.fit}: " + ("centre-crop to the largest square, then resize" if params.fit == "crop"
                                          else "resize without cropping")
                     + f" to {params.size}x{params.size} (OpenCV INTER_AREA when shrinking, cubic when "
                     "enlarging); maps are transformed identically"),
        "n_images": len(tasks),
        "n_stimuli": len(rows),
        "notes": notes,
        # per image: how much of the background's range and amplitude spectrum had to give
        "background": background_entry({i: r[2] for i, r in rows_by_image.items()}),
    }
    write_stimulus_set_files(out_dir, rows, meta)
    folder.close()
    return BuildResult(out_dir, out_dir / MANIFEST, len(tasks), len(rows))


def _relative_keys(inputs: dict) -> dict:
    if not inputs:
        return {}
    root = Path(os.path.commonpath([os.path.abspath(p) for p in inputs]))
    if len(inputs) == 1:
        root = root.parent
    return {Path(os.path.abspath(p)).relative_to(root).as_posix(): h for p, h in sorted(inputs.items())}
