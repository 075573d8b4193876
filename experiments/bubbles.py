"""The ClickMe game's bubbles: where the cursor went, as points and masks in the photograph's frame.

Once the player has clicked on the photograph, a translucent bubble is placed wherever the
cursor goes until the round ends: 14 px across for the player, about double (21 px) in the
version of the photograph the network partner sees (Linsley et al. 2019, section 2). The
photograph's frame is ClickMe's 256 × 256 whatever the size it is shown at, and the bubble
centres are the clicks of a ClickMe click dump (``reveal.stimuli.loaders.clickme``).

The cursor is sampled once per frame, and a fast stroke moves many pixels between two samples:
a stroke is interpolated, one centre per pixel step along each segment, so it leaves no gaps.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..stimuli.loaders.clickme import CLICKME_SHAPE

__all__ = ["PLAYER_BUBBLE", "PARTNER_BUBBLE", "to_frame", "stroke_points", "bubble_mask"]

#: Bubble diameters in pixels of the 256 × 256 frame: what the player sees and what the
#: network partner sees (the paper's 14 × 14 and "about double the size", 21 × 21).
PLAYER_BUBBLE = 14
PARTNER_BUBBLE = 21


def to_frame(xy, image_rect, frame=CLICKME_SHAPE):
    """Cursor positions in window pixels as positions in the photograph's frame.

    Parameters
    ----------
    xy : array-like, shape (N, 2)
        x, y in window pixels, origin at the top left, y down.
    image_rect : (left, top, width, height)
        Where the photograph is drawn, in the same pixels.
    frame : (H, W)
        The photograph's frame (ClickMe's 256 × 256).

    Returns
    -------
    ndarray of float64, shape (N, 2)
        x, y in frame pixels, 0-based, pixel centres at integers (may lie outside the frame).

    Examples
    --------
    >>> to_frame([[100, 50], [612, 562]], (100, 50, 512, 512)).tolist()  # the image's corners
    [[-0.5, -0.5], [255.5, 255.5]]
    """
    left, top, width, height = (float(v) for v in image_rect)
    h, w = frame
    p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return np.column_stack([(p[:, 0] - left) * w / width - 0.5, (p[:, 1] - top) * h / height - 0.5])


def stroke_points(samples, frame=CLICKME_SHAPE, step=1.0):
    """Bubble centres along a stroke: the samples joined by straight segments, inside the frame.

    Parameters
    ----------
    samples : array-like, shape (N, 2)
        Cursor positions (x, y) in frame pixels, in the order they were sampled.
    frame : (H, W)
    step : float
        Largest distance between two centres along a segment, in pixels.

    Returns
    -------
    ndarray of int64, shape (M, 2)
        x, y rounded to pixels, in stroke order, without a pixel repeated at once; positions
        outside the frame left out (a stroke that never enters the photograph gives none).

    Examples
    --------
    >>> stroke_points([[0, 0], [4, 0]]).tolist()
    [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]]
    >>> stroke_points([[-20, 5], [-3, 5]]).shape
    (0, 2)
    """
    p = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    if len(p) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    pieces = [p[:1]]
    for a, b in zip(p[:-1], p[1:]):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        t = np.arange(1, n + 1)[:, None] / n
        pieces.append(a + t * (b - a))
    pts = np.rint(np.concatenate(pieces)).astype(np.int64)
    h, w = frame
    pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    if len(pts) > 1:
        keep = np.r_[True, (np.diff(pts, axis=0) != 0).any(axis=1)]
        pts = pts[keep]
    return pts


def bubble_mask(points, frame=CLICKME_SHAPE, diameter=PLAYER_BUBBLE):
    """Where the bubbles lie: a disk of ``diameter`` pixels around each centre.

    Parameters
    ----------
    points : array-like, shape (N, 2)
        Bubble centres (x, y), 0-based, inside the frame.
    frame : (H, W)
    diameter : int
        ``PLAYER_BUBBLE`` for what the player sees, ``PARTNER_BUBBLE`` for the network's view.

    Returns
    -------
    ndarray of bool, shape (H, W)

    Examples
    --------
    >>> m = bubble_mask([[10, 20]], diameter=3)
    >>> m[19:22, 9:12].astype(int).tolist(), int(m.sum())
    ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 9)
    """
    centres = np.zeros(frame, dtype=bool)
    p = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    centres[p[:, 1], p[:, 0]] = True
    # pixels within diameter/2 of the disk's centre: ``diameter`` across for even sizes too (the
    # click maps' disk_kernel keeps those within (diameter - 1)/2, 12 across for 14); an even
    # diameter puts the bubble's centre half a pixel up and left of its pixel
    c = (diameter - 1) / 2
    yy, xx = np.mgrid[:diameter, :diameter]
    disk = (yy - c) ** 2 + (xx - c) ** 2 <= (diameter / 2) ** 2
    return ndimage.binary_dilation(centres, structure=disk)
