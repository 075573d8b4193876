"""The stimulus set on disk: the one module that writes, reads and checks it.

A stimulus set is a folder with ``manifest.csv``, ``stimset.json`` and PNGs (see
docs/conventions.md, "Stimulus set"). :func:`build_stimulus_set` writes it through
:func:`write_stimulus_set_files`; every reader of the toolkit — the experiment builder and
its trial design, the model observers, the analysis — reads it through
:func:`read_stimulus_set` and opens its PNGs through :meth:`StimulusSet.resolve`, so that
every consumer applies the same checks and none can open or copy a file outside the set.

Checks (each an :class:`~reveal.core.errors.InputError` naming the file and, where there is
one, the 1-based data row):

* ``manifest.csv`` exists, is UTF-8, is not empty, is well-formed CSV (every row as many
  fields as the header) and has the columns :data:`REQUIRED_COLUMNS`;
* ``stimulus_id`` unique, (image_id, map_source, level_index) unique, no empty id;
* ``category`` one of :data:`CATEGORIES`, one category per image;
* ``level`` written as :func:`level_label` writes it (3 significant digits, or ``full``),
  ``level_index`` an integer 0..n, n exactly for ``full``, one level per level_index, where n is
  the number of the set's reveal levels: ``stimset.json``'s ``levels`` (checked by
  :func:`~reveal.core.levels.check_level_labels`; each row's level must then be the one listed
  for its level_index), or the default 11 levels for a set without that entry;
* numeric columns (``revealed_px``, ``image_frac``, ...) parse, where present;
* ``file`` a relative POSIX path without ``..`` that, after resolving symlinks, lies inside
  the set folder, and names an existing file;
* optionally, every PNG has the set's size (read from the PNG header, not decoded);
* ``stimset.json``'s ``background`` entry, where present (sets built before it have none),
  holds for each image of the set its background's :data:`BACKGROUND_STATS`, as numbers.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from .categories import CATEGORIES
from .levels import FULL, LEVEL_LABELS, check_level_labels, level_label
from .errors import InputError
from .outputs import atomic_write

__all__ = [
    "MANIFEST", "STIMSET", "MANIFEST_COLUMNS", "REQUIRED_COLUMNS", "StimulusSet", "read_stimulus_set",
    "read_meta", "resolve_file", "write_manifest", "write_meta", "write_stimulus_set_files",
    "BACKGROUND_STATS", "background_entry",
]

#: File names inside a set folder.
MANIFEST = "manifest.csv"
STIMSET = "stimset.json"
#: Columns written by :func:`write_manifest`, in order.
MANIFEST_COLUMNS = ("stimulus_id", "file", "image_id", "category", "map_source", "level", "level_index",
                    "revealed_px", "image_frac", "feature_budget", "seed", "shift_y", "shift_x")
#: Columns a manifest must have to be read (the others are checked when present).
REQUIRED_COLUMNS = ("stimulus_id", "file", "image_id", "category", "map_source", "level", "level_index")

#: What ``stimset.json`` records of each image's phase-scrambled background (its key
#: ``background``: ``{image_id: {stat: value}}``), from
#: :func:`reveal.stimuli.scramble.phase_scramble_with_stats`: the share of values clipped to the
#: range and the relative amplitude-spectrum error.
BACKGROUND_STATS = ("clipped_share", "spectrum_error")
BACKGROUND = "background"

_INT_COLUMNS = ("revealed_px", "feature_budget", "seed", "shift_y", "shift_x")
_FLOAT_COLUMNS = ("image_frac",)


@dataclass(frozen=True)
class StimulusSet:
    """A read and checked stimulus set.

    Attributes
    ----------
    root : Path
        The set folder (as given).
    manifest : pandas.DataFrame
        ``manifest.csv``, every column as ``str`` exactly as written (``level`` stays
        ``"1.58"``, ``level_index`` ``"3"``), in file order (row ``i`` is data row ``i + 1``).
    meta : dict
        ``stimset.json`` (empty when the set has none).
    seed : int
        The set's base seed (``meta["parameters"]["seed"]``), 0 when absent.
    sources : tuple of str
        Map sources, sorted.
    levels : tuple of str
        ``level`` as written, one per ``level_index`` present, in ``level_index`` order (for a
        complete set, ``levels[k]`` is the level of ``level_index`` k).
    images : pandas.DataFrame
        One row per image (``image_id``, ``category``): animals first, then non-animals, each
        sorted by ``image_id`` (the experiment's Latin-square order: each category contiguous).
    fingerprint : str
        First 16 hex digits of the SHA-256 of the ``manifest.csv`` bytes that were read.
    background : pandas.DataFrame
        One row per image (``image_id`` and :data:`BACKGROUND_STATS` as floats), from
        ``stimset.json``; no rows for a set built before the statistics were recorded.
    conditions : tuple of str
        The set's conditions by ``level_index``: its reveal levels as labels, then ``full``
        (``stimset.json``'s ``levels``; :data:`~reveal.core.levels.LEVEL_LABELS`, the default
        11 levels and ``full``, for a set without that entry).
    """

    root: Path
    manifest: pd.DataFrame
    meta: dict
    seed: int
    sources: tuple
    levels: tuple
    images: pd.DataFrame
    fingerprint: str
    background: pd.DataFrame = None
    conditions: tuple = LEVEL_LABELS
    _real_root: Path = field(repr=False, default=None)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def n_conditions(self) -> int:
        """Conditions of the set: its reveal levels + the intact image (12 by default)."""
        return len(self.conditions)

    @property
    def full_index(self) -> int:
        """``level_index`` of the intact image: the number of reveal levels (11 by default)."""
        return len(self.conditions) - 1

    def resolve(self, file: str, row: int | None = None) -> Path:
        """The real path of a stimulus file of this set; refuses one outside the set.

        Parameters
        ----------
        file : str
            A ``file`` value of the manifest.
        row : int, optional
            Its 1-based manifest row, for the error; looked up when not given.

        Returns
        -------
        Path
            Absolute, symlinks resolved, inside the set folder.

        Raises
        ------
        InputError
            If the path is absolute, has ``..``, or resolves (through a symlink) outside the set.
        """
        if row is None:
            hits = np.flatnonzero(self.manifest["file"].to_numpy() == file)
            row = int(hits[0]) + 1 if len(hits) else None  # (below, no mutate: "and" gives the same root)
        return resolve_file(self._real_root or self.root.resolve(), file, self.manifest_path, row)  # pragma: no mutate


def resolve_file(real_root: Path, file: str, manifest_path=None, row: int | None = None) -> Path:
    """Resolve a manifest ``file`` against the set folder, refusing anything that leaves it.

    Parameters
    ----------
    real_root : Path
        The set folder with its symlinks resolved (``Path.resolve()``).
    file : str
        Relative POSIX path as the manifest writes it.
    manifest_path, row
        Where the value came from, for the error.

    Returns
    -------
    Path
        The resolved path (it need not exist).
    """
    if not file:
        raise InputError("empty file", manifest_path, row)
    if "\0" in file:  # no file name can hold one; the system calls would refuse it with a ValueError
        raise InputError(f"file {file!r} holds a NUL character, which no file name can", manifest_path, row)
    pure = PurePosixPath(file)
    if pure.is_absolute() or "\\" in file or (len(file) > 1 and file[1] == ":"):
        raise InputError(f"file {file!r} is an absolute path; files must be relative to the stimulus set "
                         "folder", manifest_path, row)
    if ".." in pure.parts:
        raise InputError(f"file {file!r} leaves the stimulus set folder ('..')", manifest_path, row)
    real = (real_root / pure).resolve()
    if not real.is_relative_to(real_root):
        raise InputError(f"file {file!r} resolves to {real}, outside the stimulus set folder (a symlink "
                         "pointing out of the set)", manifest_path, row)
    return real


#: Most digits of an integer in ``stimset.json``: its seeds and sizes have far fewer, and
#: Python refuses to convert more than 4,300 (a ValueError that would name no file).
MAX_INT_DIGITS = 100


def _json_int(text: str, path) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise InputError(f"holds an integer of {digits:,} digits; a stimulus set's numbers (seed, size, counts) "
                         f"have at most {MAX_INT_DIGITS}", path)
    return int(text)


def read_meta(root) -> dict:
    """``stimset.json`` of a set folder as a dict ({} when there is none)."""
    path = Path(root) / STIMSET
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"), parse_int=lambda text: _json_int(text, path))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path) from None
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err})", path) from None
    except RecursionError:  # Python's JSON reader gives up near 1,000 levels; stimset.json has 4
        raise InputError("JSON nested too deeply to read (a crafted file)", path) from None
    if not isinstance(meta, dict):
        raise InputError("must hold a JSON object", path)
    return meta


def _background(meta: dict, path, image_ids) -> pd.DataFrame:
    """``meta["background"]`` checked, as a table (empty when the set has none)."""
    entry = meta.get(BACKGROUND)
    columns = ["image_id", *BACKGROUND_STATS]
    if entry is None:
        return pd.DataFrame(columns=columns).astype({c: float for c in BACKGROUND_STATS})
    if not isinstance(entry, dict):
        raise InputError(f"{BACKGROUND!r} must map image ids to statistics", path)
    missing = sorted(set(image_ids) - set(entry))
    if missing:
        raise InputError(f"{BACKGROUND!r} lacks image(s) {', '.join(map(repr, missing[:5]))}", path)
    rows = []
    for image_id in sorted(image_ids):
        stats = entry[image_id]
        row = [image_id]
        for key in BACKGROUND_STATS:
            v = stats.get(key) if isinstance(stats, dict) else None
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise InputError(f"{BACKGROUND!r} of image {image_id!r}: {key} {v!r} is not a number", path)
            row.append(float(v))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def background_entry(stats_by_image: dict) -> dict:
    """``stimset.json``'s ``background`` entry from per-image scramble statistics.

    Parameters
    ----------
    stats_by_image : dict of str -> dict
        ``image_id -> {"clipped_share": float, "spectrum_error": float, ...}`` (other keys
        are dropped).

    Returns
    -------
    dict
        Sorted by image id, each value rounded to 6 decimals: far below what the values
        are read for, and the same bytes whatever the last bits of the FFTs were.
    """
    return {i: {k: round(float(stats_by_image[i][k]), 6) for k in BACKGROUND_STATS}
            for i in sorted(stats_by_image)}


def _seed(meta: dict, path) -> int:
    params = meta.get("parameters", {})
    seed = params.get("seed", meta.get("seed", 0)) if isinstance(params, dict) else meta.get("seed", 0)
    try:
        return int(seed)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity, or 1e999 read as a float
        raise InputError(f"seed {seed!r} is not an integer", path) from None


def _parse_csv(path: Path) -> tuple[bytes, list, list]:
    """Header and data rows of ``manifest.csv``, strictly: UTF-8, rectangular, not empty."""
    try:
        data = path.read_bytes()
    except OSError as err:  # pragma: no mutate (unreadable file: a permission root ignores, and tests run as root)
        raise InputError(f"cannot read manifest ({err.strerror})", path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start}); save the manifest as UTF-8", path) from None
    if not text.strip():
        raise InputError("the manifest is empty", path)
    # The csv module rather than pandas.read_csv: it reports each row's field count, so a
    # ragged row becomes an error naming its row instead of being padded or mis-parsed.
    try:
        records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    except csv.Error as err:
        raise InputError(f"not a readable CSV file ({err})", path) from None
    header, rows = [h.strip() for h in records[0]], records[1:]
    for i, r in enumerate(rows, start=1):
        if len(r) != len(header):
            raise InputError(f"{len(r)} fields where the header has {len(header)}", path, i)
    return data, header, rows


def _first(mask, series=None):
    i = int(np.flatnonzero(np.asarray(mask))[0])
    return i, (None if series is None else series.iat[i])


def _set_levels(meta: dict, path) -> tuple:
    """The set's conditions by level_index: ``stimset.json``'s ``levels``, or the default ones."""
    if "levels" not in meta:
        return LEVEL_LABELS
    try:
        return check_level_labels(meta["levels"])
    except ValueError as err:
        raise InputError(str(err), path) from None


def _check_rows(man: pd.DataFrame, path: Path, conditions: tuple = LEVEL_LABELS, declared: bool = False):
    n_conditions, full_index = len(conditions), len(conditions) - 1
    for col in ("stimulus_id", "image_id", "map_source"):
        empty = man[col] == ""
        if empty.any():
            i, _ = _first(empty)
            raise InputError(f"empty {col}", path, i + 1)
    dup = man["stimulus_id"].duplicated()
    if dup.any():
        i, sid = _first(dup, man["stimulus_id"])
        raise InputError(f"duplicate stimulus_id {sid!r}", path, i + 1)
    bad = ~man["category"].isin(CATEGORIES)
    if bad.any():
        i, cat = _first(bad, man["category"])
        raise InputError(f"category {cat!r} is not one of {', '.join(CATEGORIES)}", path, i + 1)
    bad = ~man["level_index"].isin([str(k) for k in range(n_conditions)])
    if bad.any():
        i, k = _first(bad, man["level_index"])
        raise InputError(f"level_index {k!r} is not an integer 0..{n_conditions - 1}"
                         + (f" (the set has {full_index} reveal level(s) and 'full')" if declared else ""),
                         path, i + 1)
    for i, (level, k) in enumerate(zip(man["level"], man["level_index"]), start=1):
        if level == FULL:
            if k != str(full_index):
                raise InputError(f"level 'full' has level_index {k} (must be {full_index})", path, i)
            continue
        try:
            canonical = level_label(level)
            ok = float(level) > 0 and np.isfinite(float(level))
        except ValueError:
            canonical, ok = None, False
        if not ok:
            raise InputError(f"level {level!r} is neither a positive percentage nor 'full'", path, i)
        if canonical != level:
            raise InputError(f"level {level!r} must be written {canonical!r} (3 significant digits)", path, i)
        if k == str(full_index):
            raise InputError(f"level_index {full_index} is the intact image, but level is {level!r}", path, i)
        if declared and level != conditions[int(k)]:
            raise InputError(f"level_index {k} is level {conditions[int(k)]!r} in stimset.json's levels, "
                             f"{level!r} here", path, i)
    for col in _INT_COLUMNS + _FLOAT_COLUMNS:
        if col not in man:
            continue
        for i, v in enumerate(man[col], start=1):
            try:
                int(v) if col in _INT_COLUMNS else float(v)
            except ValueError:
                raise InputError(f"{col} {v!r} is not a number", path, i) from None
    dup = man.duplicated(["image_id", "map_source", "level_index"])
    if dup.any():
        i, _ = _first(dup)
        raise InputError(f"duplicate (image_id, map_source, level_index) = ({man['image_id'].iat[i]!r}, "
                         f"{man['map_source'].iat[i]!r}, {man['level_index'].iat[i]})", path, i + 1)
    cats = man.groupby("image_id", sort=False)["category"].nunique()
    if (cats > 1).any():
        image_id = cats[cats > 1].index[0]
        first_category = man["category"][man["image_id"] == image_id].iat[0]
        i, _ = _first((man["image_id"] == image_id) & (man["category"] != first_category))
        raise InputError(f"image {image_id!r} has more than one category", path, i + 1)
    first_level = man.groupby("level_index", sort=False)["level"].transform("first")  # pragma: no mutate
    clash = man["level"] != first_level  # (above, no mutate: transform keeps the rows, sorted or not)
    if clash.any():
        i, _ = _first(clash)
        raise InputError(f"level_index {man['level_index'].iat[i]} is level {first_level.iat[i]!r} elsewhere, "
                         f"{man['level'].iat[i]!r} here", path, i + 1)


def _check_files(man: pd.DataFrame, real_root: Path, path: Path, check_files: bool, check_sizes: bool,
                 meta: dict):
    size = None
    params = meta.get("parameters")
    if check_sizes and isinstance(params, dict) and isinstance(params.get("size"), int):
        size = (params["size"], params["size"])
    seen = {}
    for i, rel in enumerate(man["file"], start=1):
        if rel in seen:
            continue
        real = resolve_file(real_root, rel, path, i)
        seen[rel] = real
        if check_files and not real.is_file():
            raise InputError(f"missing PNG {rel!r}", path, i)
        if check_sizes:
            from PIL import Image, UnidentifiedImageError

            try:
                # Image.open reads only the header: the size without decoding the pixels. Pillow
                # refuses a header over twice its pixel limit and warns over it; a stimulus is far
                # smaller, so the warning is an error too (not a second line on stderr).
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(real) as im:
                        wh = im.size
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
                raise InputError(f"{rel!r} is refused as a decompression bomb: {err}", path, i) from None
            except (OSError, UnidentifiedImageError):  # pragma: no mutate (UnidentifiedImageError is an OSError)
                raise InputError(f"{rel!r} is not a readable image", path, i) from None
            if size is None:
                size = wh
            elif wh != size:
                raise InputError(f"{rel!r} is {wh[0]}x{wh[1]}, the set's images are {size[0]}x{size[1]}",
                                 path, i)


def read_stimulus_set(root, *, check_files: bool = True, check_sizes: bool = False) -> StimulusSet:
    """Read and check a stimulus set folder (see the module docstring for the checks).

    Parameters
    ----------
    root : str or os.PathLike
        The set folder (``manifest.csv``, ``stimset.json``, PNGs).
    check_files : bool
        Check that every ``file`` exists. Off only for readers that need the manifest's
        metadata, not its images (the analysis); paths are checked to stay inside the
        set in any case.
    check_sizes : bool
        Also check that every PNG is an image of the set's size (``parameters.size`` of
        ``stimset.json``, else the first image's), from its header.

    Returns
    -------
    StimulusSet

    Raises
    ------
    InputError
        Naming ``manifest.csv`` (or ``stimset.json``) and the row.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("stimulus set folder not found", root)
    path = root / MANIFEST
    if not path.is_file():
        raise InputError("no manifest.csv here: not a stimulus set folder (or an interrupted build)", root)
    data, header, rows = _parse_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path, 0)
    if len(set(header)) != len(header):
        raise InputError("a column name appears twice in the header", path, 0)
    if not rows:
        raise InputError("the manifest lists no stimuli", path)
    man = pd.DataFrame(rows, columns=header, dtype=str)
    meta = read_meta(root)
    conditions = _set_levels(meta, root / STIMSET)
    _check_rows(man, path, conditions, declared="levels" in meta)
    real_root = root.resolve()
    _check_files(man, real_root, path, check_files, check_sizes, meta)
    by_index = man.drop_duplicates("level_index").assign(_k=lambda d: d["level_index"].astype(int))
    levels = tuple(by_index.sort_values("_k")["level"])
    images = man.drop_duplicates("image_id")[["image_id", "category"]]
    images = (images.assign(_cat=images["category"].map({c: n for n, c in enumerate(CATEGORIES)}))
              .sort_values(["_cat", "image_id"]).drop(columns="_cat").reset_index(drop=True))
    return StimulusSet(root=root, manifest=man, meta=meta, seed=_seed(meta, root / STIMSET),
                       sources=tuple(sorted(man["map_source"].unique())), levels=levels, images=images,
                       fingerprint=hashlib.sha256(data).hexdigest()[:16],
                       background=_background(meta, root / STIMSET, images["image_id"]), conditions=conditions,
                       _real_root=real_root)


# ----------------------------------------------------------------------------- writing

def _replace_atomically(path: Path, write):
    buf = io.StringIO(newline="")
    write(buf)
    atomic_write(path, buf.getvalue())


def write_manifest(path, rows) -> Path:
    """Write ``manifest.csv`` (columns :data:`MANIFEST_COLUMNS`) through a temporary file.

    Parameters
    ----------
    path : path-like
    rows : iterable of dict
        One per stimulus, keyed by :data:`MANIFEST_COLUMNS`.
    """
    path = Path(path)

    def write(fh):
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)

    _replace_atomically(path, write)
    return path


def write_meta(path, meta: dict) -> Path:
    """Write ``stimset.json`` (indented JSON) through a temporary file."""
    path = Path(path)
    _replace_atomically(path, lambda fh: fh.write(json.dumps(meta, indent=2) + "\n"))
    return path


def write_stimulus_set_files(out_dir, rows, meta: dict) -> Path:
    """Write a set's ``stimset.json`` and then its ``manifest.csv`` (last, so that an
    interrupted build never leaves a manifest claiming files that are not there).

    Returns
    -------
    Path
        The manifest.
    """
    out_dir = Path(out_dir)
    write_meta(out_dir / STIMSET, meta)
    return write_manifest(out_dir / MANIFEST, rows)
