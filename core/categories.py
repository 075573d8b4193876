"""The categories file (``image_id, category``): the one module that reads and writes it.

``reveal stimuli build`` takes one (an image listed once), and ``reveal maps reliability``
takes one or a stimulus set's ``manifest.csv`` (an image on many rows, which must agree).
"""
from __future__ import annotations

import csv
from pathlib import Path

from .errors import InputError

__all__ = ["CATEGORIES", "read_categories", "read_imagenet_classes", "write_categories"]

#: The two answers of the task, and so the only categories an image can have.
CATEGORIES = ("animal", "nonanimal")
#: Longest line read (characters): a row is an image id and a category (or a manifest row), far
#: shorter; an endless file without line breaks (``/dev/zero``) stops here, not when memory is full.
MAX_LINE = 1 << 20
#: Most text read (characters): a manifest of millions of stimuli is shorter; an endless file of
#: line breaks stops here.
MAX_CHARS = 1 << 30


def _lines(fh, path):
    """The lines of ``fh``, each read with a limit, so that an endless file is an error."""
    total = 0
    while line := fh.readline(MAX_LINE + 1):
        total += len(line)
        if len(line) > MAX_LINE:
            raise InputError(f"a line longer than {MAX_LINE:,} characters: not a categories CSV", path)
        if total > MAX_CHARS:
            raise InputError(f"more than {MAX_CHARS:,} characters: not a categories CSV", path)
        yield line


def read_categories(path, *, repeats: str = "refuse") -> dict:
    """``image_id -> category`` from a CSV with columns ``image_id`` and ``category``.

    Category names are matched without case or surrounding blanks.

    Parameters
    ----------
    path : path-like
        A UTF-8 CSV (a byte-order mark is allowed), e.g. ``categories.csv`` or ``manifest.csv``.
    repeats : {"refuse", "agree"}
        An image on two rows is an error ("refuse"), or allowed when both rows give the
        same category ("agree", for a manifest with a row per stimulus).

    Returns
    -------
    dict
        ``{image_id: "animal" | "nonanimal"}`` in file order.

    Raises
    ------
    InputError
        Naming the file and the 1-based data row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "categories.csv"
    >>> _ = p.write_text("image_id,category\\ncat01,Animal\\ncar01,nonanimal\\n")
    >>> read_categories(p)
    {'cat01': 'animal', 'car01': 'nonanimal'}
    """
    if repeats not in ("refuse", "agree"):
        raise ValueError(f"repeats must be 'refuse' or 'agree', not {repeats!r}")
    path = Path(path)
    out: dict = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(_lines(fh, path))
            if not {"image_id", "category"} <= set(reader.fieldnames or []):
                raise InputError(f"needs columns image_id and category (found {reader.fieldnames})", path)
            for row_no, row in enumerate(reader, start=1):
                image_id = (row["image_id"] or "").strip()
                category = (row["category"] or "").strip().lower()
                if not image_id:
                    raise InputError("empty image_id", path, row_no)
                if category not in CATEGORIES:
                    raise InputError(f"unknown category {row['category']!r} for {image_id!r} "
                                     f"(allowed: {', '.join(CATEGORIES)})", path, row_no)
                if image_id in out and (repeats == "refuse" or out[image_id] != category):
                    what = "listed twice" if repeats == "refuse" else \
                        f"has two categories: {out[image_id]!r} and {category!r}"
                    raise InputError(f"image {image_id!r} {what}", path, row_no)
                out[image_id] = category
    except FileNotFoundError:
        raise InputError("categories file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a categories CSV", path) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start}): save the categories as UTF-8 CSV", path) from None
    except csv.Error as err:
        raise InputError(f"not a readable CSV ({err})", path) from None
    if not out:
        raise InputError("categories file lists no image", path)
    return out


def read_imagenet_classes(path) -> dict | None:
    """``image_id -> ImageNet class index`` from the categories CSV's optional ``imagenet_class`` column.

    Networks trained on a study's photographs (``reveal train``) learn these classes where the
    column is there, and the animal / non-animal read-out where it is not.

    Returns
    -------
    dict or None
        ``{image_id: int}`` (0–999), or None when the file has no ``imagenet_class`` column.

    Raises
    ------
    InputError
        A row whose class is empty or not an integer in 0–999 (naming the file and the row).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "categories.csv"
    >>> _ = p.write_text("image_id,category,imagenet_class\\ncat01,animal,281\\ncar01,nonanimal,817\\n")
    >>> read_imagenet_classes(p)
    {'cat01': 281, 'car01': 817}
    """
    read_categories(path)  # the file's own checks first (the columns, the categories, repeats)
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(_lines(fh, path))
        if "imagenet_class" not in (reader.fieldnames or []):
            return None
        out = {}
        for row_no, row in enumerate(reader, start=1):
            text = (row["imagenet_class"] or "").strip()
            try:
                value = int(text)
            except ValueError:
                value = -1
            if not 0 <= value < 1000:
                raise InputError(f"imagenet_class {text!r} of {row['image_id'].strip()!r} is not a class index "
                                 f"0-999", path, row_no)
            out[row["image_id"].strip()] = value
    return out


def write_categories(path, categories: dict) -> None:
    """Write ``image_id -> category`` as a categories CSV (atomically; read by :func:`read_categories`).

    Raises
    ------
    InputError
        A category other than :data:`CATEGORIES`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "categories.csv"
    >>> write_categories(path, {"cat1": "animal", "cup1": "nonanimal"})
    >>> read_categories(path)
    {'cat1': 'animal', 'cup1': 'nonanimal'}
    """
    import io

    from .outputs import atomic_write

    wrong = sorted({c for c in categories.values() if c not in CATEGORIES})
    if wrong:
        raise InputError(f"categories must be {' or '.join(CATEGORIES)}, got {', '.join(map(str, wrong))}", path)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image_id", "category"])
    writer.writerows(categories.items())
    atomic_write(path, buf.getvalue())
