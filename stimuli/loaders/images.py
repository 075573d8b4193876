"""Reading photographs and greyscale maps from disk."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...core.errors import InputError
from ...core.mapfiles import load_npy

__all__ = ["IMAGE_SUFFIXES", "MAP_SUFFIXES", "read_image", "read_map_file", "files_by_stem", "listed_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAP_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")
#: Largest photograph or map decoded (pixels): far above any photograph a study uses, far
#: below what a decompression bomb asks for.
MAX_PIXELS = 100_000_000


def _open(path):
    # Pillow's own bomb check warns at its limit and refuses at twice it; refuse at ours (the
    # warning would be a second line on stderr for what is one error, or no error at all).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(path)
    if im.width * im.height > MAX_PIXELS:
        im.close()
        raise InputError(f"image of {im.width}x{im.height} pixels is over the limit of {MAX_PIXELS:,} "
                         "(a decompression bomb or not a photograph)", path)
    return im


def _to_uint8_rgb(im):
    """RGB uint8 from any Pillow mode; 16-bit and float images are scaled, never clipped."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if im.mode in ("I", "F") and arr.max() <= 255 and arr.min() >= 0:
            hi = 255.0  # an 8-bit image stored wider
        grey = np.clip(np.rint(arr / hi * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def read_image(path):
    """Read a photograph as RGB uint8, shape (H, W, 3) (grey images are repeated)."""
    path = Path(path)
    try:
        with _open(path) as im:
            return _to_uint8_rgb(im)
    except FileNotFoundError:
        raise InputError("image file not found", path) from None
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"cannot read image: {err}", path) from None


def read_map_file(path):
    """Read a greyscale map (PNG/JPEG/TIFF or ``.npy``) as float64, shape (H, W).

    Colour PNGs are converted to luminance; values keep their scale (0…255 for 8-bit).
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            # its header checked first: a map of at most MAX_PIXELS float64 values, all in the file
            arr = load_npy(path, max_bytes=MAX_PIXELS * 8)
        else:
            with _open(path) as im:
                arr = np.asarray(im.convert("F") if im.mode not in ("I;16", "I", "F") else im)
    except FileNotFoundError:
        raise InputError("map file not found", path) from None
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, EOFError, Image.DecompressionBombError) as err:
        raise InputError(f"cannot read map: {err}", path) from None
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            or arr.dtype == bool):
        raise InputError(f"a map must hold real numbers, not {arr.dtype} values", path)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputError(f"a map must be a 2-D greyscale array, got shape {arr.shape}", path)
    return arr


def files_by_stem(folder, suffixes):
    """``stem -> path`` for files in ``folder`` with one of ``suffixes``; refuses duplicates."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("folder not found", folder)
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in suffixes:
            if p.stem in out:
                raise InputError(f"two files for {p.stem!r}: {out[p.stem].name} and {p.name}", folder)
            out[p.stem] = p
    return out


def listed_images(folder, image_ids, categories_path=None) -> dict:
    """``image_id -> path`` of the photographs in ``folder`` for each listed id (file stem = id).

    Raises
    ------
    InputError
        Naming the categories file, when a listed image has no file in ``folder``.
    """
    files = files_by_stem(folder, IMAGE_SUFFIXES)
    missing = [i for i in image_ids if i not in files]
    if missing:
        raise InputError(f"{len(missing)} image(s) listed in the categories have no file in {folder}: "
                         f"{', '.join(missing[:5])}", categories_path)
    return {i: files[i] for i in image_ids}
