"""The ClickMe game's labels file (``image_id, imagenet_class, label``): the one module that reads it.

One row per photograph: its id (the file stem in the photographs' folder), the ImageNet-1k class
the network partner must find among its top 5 (an index 0–999, or its WordNet id such as
``n02123159``), and the word the player reads above the photograph (``label``, e.g. "cat").
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.util
import re
from pathlib import Path

from .categories import _lines
from .errors import InputError, reading_csv
from .extras import MissingExtraError

__all__ = ["GAME_LABEL_COLUMNS", "GameImage", "MAX_LABEL", "imagenet_wnids", "read_game_labels"]

GAME_LABEL_COLUMNS = ("image_id", "imagenet_class", "label")
#: Longest label shown above the photograph (characters): a category name, not a sentence.
MAX_LABEL = 40


@dataclasses.dataclass(frozen=True)
class GameImage:
    """One photograph of the game: its id, the class the partner must find, the word shown."""

    image_id: str
    imagenet_class: int
    label: str


@functools.lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """ImageNet-1k's 1000 WordNet ids in the networks' class order (index ``i`` is class ``i``).

    The table timm ships (``timm/data/_info/imagenet_synsets.txt``; timm comes with the models
    extra), read as a file: importing timm would import torch, and a labels file needs neither.
    Its order is torchvision's (``tests/core/test_gamelabels.py`` checks the names).

    Raises
    ------
    MissingExtraError
        timm is not installed.
    """
    try:
        spec = importlib.util.find_spec("timm")
    except (ImportError, ValueError):  # hidden, or a broken half-install
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("models", "timm", "a WordNet id in the game's labels file")
    table = Path(list(spec.submodule_search_locations)[0]) / "data" / "_info" / "imagenet_synsets.txt"
    wnids = tuple(table.read_text(encoding="ascii").split())
    if len(wnids) != 1000:
        raise RuntimeError(f"{table} lists {len(wnids)} WordNet ids, not ImageNet-1k's 1000")
    return wnids


def _class_index(text, image_id, path, row):
    text = text.strip()
    if re.fullmatch(r"n\d+", text):
        wnids = imagenet_wnids()
        if text not in wnids:
            raise InputError(f"imagenet_class {text!r} of {image_id!r} is not the WordNet id of an ImageNet-1k "
                             "class (n + 8 digits, e.g. n02123159 for tiger cat)", path, row)
        return wnids.index(text)
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 1000:
        raise InputError(f"imagenet_class {text!r} of {image_id!r} is neither a class index 0-999 nor a WordNet id",
                         path, row)
    return value


def read_game_labels(path) -> list[GameImage]:
    """The photographs of a game, in the file's order.

    Parameters
    ----------
    path : path-like
        CSV with the columns ``image_id, imagenet_class, label`` (others are ignored).

    Returns
    -------
    list of GameImage

    Raises
    ------
    InputError
        Naming the file (and row): missing columns, an empty id or label, an id listed twice,
        a class that is neither an index 0–999 nor an ImageNet-1k WordNet id, a label longer than
        ``MAX_LABEL``, no rows, not UTF-8.
    MissingExtraError
        A WordNet id without timm (the models extra) installed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = p.write_text("image_id,imagenet_class,label\\ncat01,281,cat\\ncup01,n07930864,cup\\n")
    >>> [(g.image_id, g.imagenet_class, g.label) for g in read_game_labels(p)]
    [('cat01', 281, 'cat'), ('cup01', 968, 'cup')]
    """
    path = Path(path)
    out, seen = [], {}
    with reading_csv(path, "game labels"), open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(_lines(fh, path))
        missing = [c for c in GAME_LABEL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"not a game labels file: missing column(s) {', '.join(missing)} "
                             f"(needs {', '.join(GAME_LABEL_COLUMNS)})", path)
        for row_no, row in enumerate(reader, start=1):
            image_id = (row["image_id"] or "").strip()
            label = " ".join((row["label"] or "").split())
            if not image_id:
                raise InputError("empty image_id", path, row_no)
            if image_id in seen:
                raise InputError(f"image {image_id!r} listed twice (rows {seen[image_id]} and {row_no})",
                                 path, row_no)
            if not label:
                raise InputError(f"image {image_id!r} has no label to show the player", path, row_no)
            if len(label) > MAX_LABEL:
                raise InputError(f"the label of {image_id!r} is {len(label)} characters long, over "
                                 f"{MAX_LABEL}: a category name is shown above the photograph", path, row_no)
            seen[image_id] = row_no
            out.append(GameImage(image_id, _class_index(row["imagenet_class"] or "", image_id, path, row_no),
                                 label))
    if not out:
        raise InputError("game labels file has no rows", path)
    return out
