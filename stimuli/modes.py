"""The choices of the stimulus options, in a module that imports nothing.

The command line offers them while building its parser, which must not import numpy, OpenCV or
numba; :mod:`.compose` and :mod:`.geometry`, which use them, re-export them from here.

Examples
--------
>>> CENTRING_MODES
('per_level', 'full_extent')
>>> FIT_MODES
('crop', 'stretch')
"""
from __future__ import annotations

__all__ = ["CENTRING_MODES", "FIT_MODES"]

#: How revealed regions are centred: each level's own region (default: the 1 % patch sits
#: at fixation), or every level by the shift that centres the 100 % region.
CENTRING_MODES = ("per_level", "full_extent")

#: ``crop``: centre-crop to a square, then resize (as the original study prepared its
#: images). ``stretch``: resize without cropping (changes the aspect ratio).
FIT_MODES = ("crop", "stretch")
