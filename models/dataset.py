"""A stimulus set's images as a torch Dataset, decoded in workers (the set itself is read and
checked by :func:`reveal.core.stimset.read_stimulus_set`)."""
from __future__ import annotations

from pathlib import Path

import cv2
from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
from torch.utils.data import Dataset

__all__ = ["StimulusImages", "decode_rgb"]


def decode_rgb(path, size=None):
    """One image file as a uint8 RGB tensor ``(H, W, 3)``, resized to ``size`` if given and different.

    Safe in forked DataLoader workers. (Do not call ``cv2.setNumThreads`` there: after the
    parent has used OpenCV's thread pool — building stimuli does — it deadlocks the child.)

    OpenCV decodes (as fast as libpng through torchvision or PIL here, and torchvision's
    decoders are deprecated since 0.29). Grey, palette, 16-bit and RGBA PNGs become 8-bit
    RGB (alpha dropped). Raises ``OSError`` for a file OpenCV cannot decode.
    """
    try:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error:  # OpenCV asserts on a header claiming more pixels than it decodes (a bomb)
        bgr = None
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
    files : sequence of str or Path
        Paths relative to ``root``, or absolute (as :meth:`reveal.core.stimset.StimulusSet.resolve`
        gives them).
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
