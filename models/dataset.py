"""A stimulus set as a torch Dataset: the manifest read and checked, PNGs decoded in workers."""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ..stimuli.errors import InputError

__all__ = ["MANIFEST_COLUMNS", "read_manifest", "stimset_fingerprint", "StimulusImages", "decode_rgb"]

#: Manifest columns the model observers need (docs/conventions.md lists the full set).
MANIFEST_COLUMNS = ("stimulus_id", "file", "image_id", "category", "map_source", "level")
CATEGORIES = ("animal", "nonanimal")


def read_manifest(stimset_dir, check_files=True):
    """The ``manifest.csv`` of a stimulus set, checked, as strings exactly as written.

    Parameters
    ----------
    stimset_dir : str or os.PathLike
        The stimulus-set folder.
    check_files : bool
        Check that every ``file`` exists (a missing one is an InputError naming its row).

    Returns
    -------
    pandas.DataFrame
        All manifest columns as ``str`` (``level`` stays ``"1.58"`` or ``"full"``).
    """
    root = Path(stimset_dir)
    if not root.is_dir():
        raise InputError("stimulus set folder not found", path=root)
    path = root / "manifest.csv"
    if not path.is_file():
        raise InputError("no manifest.csv here: not a stimulus set folder", path=root)
    try:
        # dtype=str, no NA parsing: ids and levels are labels, kept byte for byte.
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read manifest: {err}", path=path) from None
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path=path, row=0)
    if df.empty:
        raise InputError("manifest lists no stimuli", path=path)
    dup = df["stimulus_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"duplicate stimulus_id {df['stimulus_id'].iat[i]!r}", path=path, row=i + 1)
    bad = ~df["category"].isin(CATEGORIES)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"category {df['category'].iat[i]!r} is not animal or nonanimal", path=path, row=i + 1)
    if check_files:
        for i, rel in enumerate(df["file"]):
            if not rel or not (root / rel).is_file():
                raise InputError(f"stimulus file {rel!r} does not exist in {root}", path=path, row=i + 1)
    return df


def stimset_fingerprint(stimset_dir):
    """Identity of a stimulus set: the first 16 hex digits of SHA-256 of its ``manifest.csv``.

    Two sets built from the same images with different seeds share stimulus ids but not
    manifests (the ``seed`` and ``revealed_px`` columns differ), so this tells them apart.
    """
    digest = hashlib.sha256((Path(stimset_dir) / "manifest.csv").read_bytes()).hexdigest()
    return digest[:16]


def decode_rgb(path, size=None):
    """One image file as a uint8 RGB tensor ``(H, W, 3)``, resized to ``size`` if given and different.

    Safe in forked DataLoader workers. (Do not call ``cv2.setNumThreads`` there: after the
    parent has used OpenCV's thread pool — building stimuli does — it deadlocks the child.)

    OpenCV decodes (as fast as libpng through torchvision or PIL here, and torchvision's
    decoders are deprecated since 0.29). Grey, palette, 16-bit and RGBA PNGs become 8-bit
    RGB (alpha dropped). Raises ``OSError`` for a file OpenCV cannot decode.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot decode image {path}")
    if size is not None and bgr.shape[:2] != tuple(size):
        shrink = size[0] * size[1] < bgr.shape[0] * bgr.shape[1]
        bgr = cv2.resize(bgr, (int(size[1]), int(size[0])),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


class StimulusImages(Dataset):
    """Decoded stimulus images, for a DataLoader whose workers do the PNG decoding.

    Item ``i`` is ``(i, image, ok)``: ``image`` a uint8 tensor ``(H, W, 3)`` at ``size``
    (images of another size are resized so that a batch stacks), ``ok`` False when the
    file could not be decoded (then ``image`` is zeros). Channels last, as decoded: a
    batch ``(N, H, W, 3)`` permuted to ``(N, 3, H, W)`` is then already in the
    channels-last layout the networks run in, so no copy is made to reorder it. A failure is returned rather than
    raised so that the main process can report it as an InputError naming the file —
    an exception raised in a worker reaches it only as text.

    Parameters
    ----------
    root : str or os.PathLike
        Stimulus-set folder.
    files : sequence of str
        Paths relative to ``root``.
    size : (int, int), optional
        Common image size (H, W); default: that of the first file.
    """

    def __init__(self, root, files, size=None):
        self.root = Path(root)
        self.files = list(files)
        if size is None and self.files:
            size = tuple(decode_rgb(self.root / self.files[0]).shape[:2])
        self.size = None if size is None else tuple(int(s) for s in size)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        try:
            return i, decode_rgb(self.root / self.files[i], self.size), True
        except (RuntimeError, OSError, ValueError):
            return i, torch.zeros((*self.size, 3), dtype=torch.uint8), False
