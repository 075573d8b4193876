"""ClickMe maps: released heatmaps, and raw click dumps turned into maps.

A click dump is either a CSV ``image_path, clicks, user_id[, timestamp]`` whose ``clicks``
is a Postgres array string ``{"(x,y)","(x,y)",...}`` (0-based x, y), or an NPZ with the
arrays ``file_pointer, clickmap_x, clickmap_y, user_id`` (one entry per trial). The map of
an image (as the ClickMe study made its maps): a count map per participant, the mean over participants, then a
normalised flat disk of diameter 21 applied twice.
"""
from __future__ import annotations

import csv
import io
import logging
import math
import zipfile
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from ...core.errors import InputError, reading_csv
from ...core.outputs import atomic_write
from ...core.mapfiles import npy_header

__all__ = [
    "CLICKME_SHAPE", "ClickDump", "parse_clicks", "format_clicks", "read_click_csv", "read_click_npz",
    "append_click_rows", "written_rounds",
    "disk_kernel", "count_map", "disk_sums", "blur_click_map", "clicks_to_map",
]

log = logging.getLogger(__name__)

#: ClickMe images and maps are 256×256.
CLICKME_SHAPE = (256, 256)
DISK_DIAMETER = 21
BLUR_PASSES = 2

#: The arrays of an NPZ click dump (``clicks_per_trial`` required too, checked with its own message).
NPZ_ARRAYS = ("file_pointer", "clickmap_x", "clickmap_y", "user_id", "clicks_per_trial")
#: Largest NPZ click dump read, in bytes of its arrays together: 100 million clicks as float64
#: x and y with their trials, far above a ClickMe dump and far below a zip bomb's claim.
MAX_NPZ_BYTES = 2_000_000_000

_POINT = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)")


def parse_clicks(text):
    """Parse a Postgres array string of points into an array of [x, y].

    Parameters
    ----------
    text : str
        e.g. ``'{"(10,20)","(11,20)"}'``; ``'{}'`` is no clicks.

    Returns
    -------
    points : ndarray of int64, shape (N, 2)
        Columns x, y (0-based), as in the dump.
    """
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise ValueError(f"clicks must be a Postgres array like {{\"(x,y)\",...}}, got {text[:40]!r}")
    inner = s[1:-1].strip()
    if not inner:
        return np.zeros((0, 2), dtype=np.int64)
    found = _POINT.findall(inner)
    leftover = _POINT.sub("", inner).replace('"', "").replace(",", "").strip()
    if leftover:
        raise ValueError(f"unreadable text in clicks: {leftover[:40]!r}")
    return np.rint(np.array(found, dtype=np.float64)).astype(np.int64)


def format_clicks(points):
    """Points as a dump's ``clicks`` cell, the inverse of :func:`parse_clicks`.

    Examples
    --------
    >>> format_clicks([[10, 20], [11, 20]])
    '{"(10,20)","(11,20)"}'
    >>> parse_clicks(format_clicks([[3, 4]])).tolist()
    [[3, 4]]
    """
    pts = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    return "{" + ",".join(f'"({x},{y})"' for x, y in pts.tolist()) + "}"


def disk_kernel(diameter=DISK_DIAMETER):
    """Flat disk of the given diameter, normalised to sum 1; shape (diameter, diameter)."""
    r = (diameter - 1) / 2
    yy, xx = np.mgrid[:diameter, :diameter]
    disk = ((yy - r) ** 2 + (xx - r) ** 2 <= r * r).astype(np.float64)
    return disk / disk.sum()


def count_map(points, shape):
    """Number of clicks at every pixel.

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        [x, y], 0-based, all inside ``shape``.
    shape : tuple of int
        (H, W).

    Returns
    -------
    counts : ndarray of float64, shape (H, W)
    """
    counts = np.zeros(shape, dtype=np.float64)
    pts = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    np.add.at(counts, (pts[:, 1], pts[:, 0]), 1.0)
    return counts


def disk_sums(values, diameter=DISK_DIAMETER, passes=BLUR_PASSES):
    """Sum of ``values`` over a flat disk around every pixel, ``passes`` times (zero outside).

    Integer-valued input gives exactly the integer result. OpenCV filters a 21×21 kernel
    through the DFT, whose round-off (~1e-12 here) would make values that are equal
    in exact arithmetic differ in their last bits — ranks (Spearman) then order them at
    random. The exact result is an integer, and the round-off is far below 0.5 as long
    as the sums stay below 2**40 (a 21-disk applied twice multiplies by at most
    349² ≈ 1.2e5: a million clicks on one pixel stay far below), so rounding each pass
    to the nearest integer recovers it exactly. Above that bound (never for click
    counts) a direct convolution is used, exact for integers below 2**53.
    """
    disk = (disk_kernel(diameter) > 0).astype(np.float64)  # 0/1: integer sums
    area = disk.sum()
    out = np.asarray(values, dtype=np.float64)
    for _ in range(passes):
        if out.max(initial=0.0) * area < 2.0 ** 40 and out.min(initial=0.0) * area > -(2.0 ** 40):
            out = np.rint(cv2.filter2D(out, -1, disk, borderType=cv2.BORDER_CONSTANT))
        else:
            out = ndimage.correlate(out, disk, mode="constant", cval=0.0)
    return out


def blur_click_map(counts, diameter=DISK_DIAMETER, passes=BLUR_PASSES, divisor=1):
    """Blur a count map with a normalised flat disk, ``passes`` times.

    Zero padding outside the image, so clicks near the border are not reflected back in.

    Parameters
    ----------
    counts : ndarray, shape (H, W)
        Click counts (integers; e.g. summed over participants). Values that are not
        integers are blurred by a direct convolution (no FFT), which is exact where no
        click reaches but does not make every mathematically equal value equal.
    diameter, passes : int
    divisor : int or float
        Divide the result by this too (the number of participants, to turn summed counts
        into the mean map).

    Returns
    -------
    ndarray of float64, shape (H, W)
        For integer ``counts``: the exact integer disk sums divided once by
        ``divisor · area**passes``, so values that are equal in exact arithmetic are equal
        bit for bit (ties stay ties for ranking) and pixels no click reaches are exactly 0.
    """
    c = np.asarray(counts, dtype=np.float64)
    area = float((disk_kernel(diameter) > 0).sum())
    if np.array_equal(c, np.rint(c)):
        return disk_sums(c, diameter, passes) / (divisor * area ** passes)
    out = c / divisor
    kernel = disk_kernel(diameter)
    for _ in range(passes):
        out = ndimage.correlate(out, kernel, mode="constant", cval=0.0)
    return out


def clicks_to_map(points_per_participant, shape=CLICKME_SHAPE, diameter=DISK_DIAMETER, passes=BLUR_PASSES):
    """ClickMe importance map of one image from its participants' clicks.

    Parameters
    ----------
    points_per_participant : sequence of ndarray, each (N_i, 2) [x, y]
    shape : tuple of int
        (H, W) of the image.

    Returns
    -------
    importance : ndarray of float64, shape (H, W)
        Mean over participants of their count maps, disk-blurred ``passes`` times. The
        counts are summed (integers), blurred exactly and divided once by the number of
        participants and the kernel's normalisation, so equal values tie exactly.
    """
    if len(points_per_participant) == 0:
        raise ValueError("no participants")
    total = np.sum([count_map(p, shape) for p in points_per_participant], axis=0)
    return blur_click_map(total, diameter, passes, divisor=len(points_per_participant))


@dataclass
class ClickDump:
    """Clicks of a dump, grouped by image and participant.

    Attributes
    ----------
    path : Path
        The dump file.
    shape : tuple of int
        (H, W) of the images the clicks are on.
    clicks : dict
        ``image_id -> {user_id -> ndarray (N, 2) of [x, y]}``; several rows of one user on
        one image are concatenated.
    image_paths : dict
        ``image_id -> image_path`` as written in the dump.
    dropped : int
        Clicks outside the image, dropped (and logged) when reading.
    """

    path: Path
    shape: tuple
    clicks: dict = field(default_factory=dict)
    image_paths: dict = field(default_factory=dict)
    dropped: int = 0

    def image_ids(self):
        return sorted(self.clicks)

    def participants(self, image_id):
        return sorted(self.clicks[image_id])

    def points(self, image_id):
        """List of (N_i, 2) [x, y] arrays, one per participant (sorted by user id)."""
        per_user = self.clicks[image_id]
        return [per_user[u] for u in sorted(per_user)]

    def count_maps(self, image_id):
        """Per-participant count maps, shape (P, H, W)."""
        return np.stack([count_map(p, self.shape) for p in self.points(image_id)])

    def map(self, image_id):
        """The ClickMe importance map of one image (see :func:`clicks_to_map`)."""
        return clicks_to_map(self.points(image_id), self.shape)

    def _add(self, image_path, user_id, points, row):
        pts = np.asarray(points, dtype=np.int64).reshape(-1, 2)
        h, w = self.shape
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        if not inside.all():
            self.dropped += int((~inside).sum())
            log.warning("%s, row %d: %d click(s) outside the %dx%d image dropped",
                        self.path, row, int((~inside).sum()), w, h)
        image_id = Path(str(image_path)).stem
        self.image_paths.setdefault(image_id, str(image_path))
        per_user = self.clicks.setdefault(image_id, {})
        user = str(user_id)
        prev = per_user.get(user)
        per_user[user] = pts[inside] if prev is None else np.concatenate([prev, pts[inside]])


def read_click_csv(path, shape=CLICKME_SHAPE):
    """Read a ClickMe CSV click dump.

    Parameters
    ----------
    path : path-like
        CSV with columns ``image_path, clicks, user_id`` (``timestamp`` optional).
    shape : tuple of int
        (H, W) of the images clicked on (ClickMe: 256×256).

    Returns
    -------
    ClickDump
    """
    path = Path(path)
    dump = ClickDump(path=path, shape=tuple(shape))
    with (reading_csv(path, "click dump", ": save the dump as UTF-8"),
          open(path, newline="", encoding="utf-8-sig") as fh):
        reader = csv.DictReader(fh)
        missing = {"image_path", "clicks", "user_id"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"not a ClickMe click dump: missing column(s) {sorted(missing)} "
                             f"(found {reader.fieldnames})", path)
        for row_no, row in enumerate(reader, start=1):
            try:
                pts = parse_clicks(row["clicks"] or "")
            except ValueError as err:
                raise InputError(str(err), path, row_no) from None
            if not row["image_path"]:
                raise InputError("empty image_path", path, row_no)
            dump._add(row["image_path"], row["user_id"], pts, row_no)
    if not dump.clicks:
        raise InputError("click dump has no rows", path)
    return dump


#: The columns of a click dump the toolkit writes (the ClickMe game's): ClickMe's own.
DUMP_COLUMNS = ("image_path", "clicks", "user_id", "timestamp")


def append_click_rows(path, rows):
    """Add rows to a CSV click dump (created with its header), replacing the file in one step.

    The file is rewritten whole through a temporary file and a rename (``core.outputs.atomic_write``):
    a kill at any instant leaves it as it was before the call or with every new row, never half a
    row. A game writes one row per round, so the rewrite stays small.

    Parameters
    ----------
    path : path-like
    rows : iterable of dict
        ``image_path``, ``clicks`` (array-like (N, 2) of x, y), ``user_id``, ``timestamp``.

    Returns
    -------
    Path
    """
    path = Path(path)
    old = _dump_to_extend(path)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    if not old:
        writer.writerow(DUMP_COLUMNS)
    for row in rows:
        writer.writerow([row["image_path"], format_clicks(row["clicks"]), row["user_id"], row["timestamp"]])
    return atomic_write(path, old + buf.getvalue())


def written_rounds(path):
    """The ``(user_id, timestamp)`` of every row of a dump this toolkit wrote (empty if there is none).

    A game's round is one row, named by its player and start time: what ``reveal game collect``
    checks so that a collection cut short and run again adds no map twice.
    """
    old = _dump_to_extend(Path(path))
    return {(row["user_id"], row["timestamp"]) for row in csv.DictReader(io.StringIO(old))}


def _dump_to_extend(path):
    """The text of a dump this toolkit wrote ("" if there is none), refused if it is anything else.

    Rows appended under a stranger's header would be read under its columns, so a file whose first
    line is not exactly ``DUMP_COLUMNS`` is refused (InputError naming it) and left untouched.
    """
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else ""
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start}): not a click dump this toolkit wrote; "
                         "name another file", path) from None
    except OSError as err:
        raise InputError(f"cannot read click dump: {err.strerror}", path) from None
    if old and old.splitlines()[0] != ",".join(DUMP_COLUMNS):
        raise InputError(f"its header is not {','.join(DUMP_COLUMNS)}: not a click dump this toolkit "
                         "wrote; name another file", path)
    if old and not old.endswith("\n"):
        old += "\n"  # a last row written by hand without its line end stays a row of its own
    return old


def _check_npz_sizes(path):
    """Refuse an NPZ whose arrays declare more than their zip members hold, or more than
    :data:`MAX_NPZ_BYTES` together, before numpy allocates them (a zip bomb: a member of a few
    bytes whose header declares 10^12 values).

    Reads each member's ``.npy`` header alone (:func:`reveal.core.mapfiles.npy_header`), against
    the member's uncompressed size in the zip directory.
    """
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.removesuffix(".npy") not in NPZ_ARRAYS:
                continue  # never loaded
            with zf.open(info) as fh:
                try:
                    shape, dtype = npy_header(fh, path, size=info.file_size, max_bytes=MAX_NPZ_BYTES)
                except InputError as err:
                    raise InputError(f"array {info.filename}: {err.message}", path) from None
            total += 0 if dtype.hasobject else math.prod(shape) * dtype.itemsize  # pickles: refused on loading
            if total > MAX_NPZ_BYTES:
                raise InputError(f"its arrays declare more than {MAX_NPZ_BYTES:,} bytes together, over the "
                                 "limit for a click dump (a zip bomb, or split the dump into several files)", path)


def read_click_npz(path, shape=CLICKME_SHAPE):
    """Read a ClickMe NPZ click dump, without ever unpickling it.

    Columns ``file_pointer, clickmap_x, clickmap_y, user_id``, one entry per trial. The
    clicks are stored flat: ``clickmap_x``/``clickmap_y`` hold every trial's coordinates one
    after another and ``clicks_per_trial`` says how many belong to each trial. (The original
    dumps keep one array per trial in a pickled object array; a crafted pickle runs code
    when it is read, so such files are refused with a message saying how to convert them.)
    """
    path = Path(path)
    try:
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as data:
            names = set(data.files)
            need = {"file_pointer", "clickmap_x", "clickmap_y", "user_id"}
            if not need <= names:
                raise InputError(f"not a ClickMe NPZ dump: missing {sorted(need - names)} "
                                 f"(found {sorted(names)})", path)
            cols = {k: data[k] for k in (*sorted(need), *(["clicks_per_trial"] if "clicks_per_trial" in names
                                                          else []))}
    except InputError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise InputError(
                "holds pickled (object) arrays, which reveal never loads because a crafted pickle runs "
                "code when read; store the clicks flat instead: clickmap_x and clickmap_y as every "
                "trial's coordinates one after another, plus clicks_per_trial (one count per trial), "
                "or use the CSV click format", path) from None
        raise InputError(f"cannot read NPZ click dump: {err}", path) from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise InputError(f"cannot read NPZ click dump: {err}", path) from None
    files, users = cols["file_pointer"], cols["user_id"]
    if "clicks_per_trial" not in cols:
        raise InputError("needs clicks_per_trial (how many of clickmap_x/clickmap_y belong to each "
                         "trial)", path)
    counts = np.asarray(cols["clicks_per_trial"])
    xs, ys = np.asarray(cols["clickmap_x"]), np.asarray(cols["clickmap_y"])
    if not (counts.ndim == xs.ndim == ys.ndim == files.ndim == users.ndim == 1):
        raise InputError("every array must be one-dimensional", path)
    if not len(files) == len(users) == len(counts):
        raise InputError("file_pointer, user_id and clicks_per_trial differ in length", path)
    if not (np.issubdtype(counts.dtype, np.integer) and (counts >= 0).all()):
        raise InputError("clicks_per_trial must hold non-negative integers", path)
    if not (np.issubdtype(xs.dtype, np.number) and np.issubdtype(ys.dtype, np.number)):
        raise InputError("clickmap_x and clickmap_y must be numeric", path)
    if not len(xs) == len(ys) == int(counts.sum()):
        raise InputError(f"clickmap_x ({len(xs)}) and clickmap_y ({len(ys)}) must both hold "
                         f"sum(clicks_per_trial) = {int(counts.sum())} coordinates", path)
    dump = ClickDump(path=path, shape=tuple(shape))
    ends = np.cumsum(counts)
    for i, (f, u, end, n) in enumerate(zip(files, users, ends, counts), start=1):
        x = xs[end - n:end].astype(np.float64)
        y = ys[end - n:end].astype(np.float64)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise InputError("click coordinates must be finite", path, i)
        dump._add(f.decode() if isinstance(f, bytes) else str(f), str(u), np.rint(np.stack([x, y], axis=1)), i)
    if not dump.clicks:
        raise InputError("click dump has no trials", path)
    return dump
