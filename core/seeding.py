"""Randomness: the toolkit's one ``rng`` convention, and stable seeds for (image, source, level).

Every function that draws takes ``rng=None | int | numpy.random.Generator`` (as scikit-image
does) and turns it into a Generator with :func:`as_generator`. Seeds that must be the same
in every process are derived with :func:`derive_seed` from the set's seed and string keys.
"""
from __future__ import annotations

import zlib

import numpy as np

__all__ = ["as_generator", "derive_seed", "derive_rng"]


def as_generator(rng=None) -> np.random.Generator:
    """A Generator from the toolkit's ``rng`` argument.

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        None: fresh OS entropy (not reproducible); an int: seeds a new Generator; a
        Generator is used as it is (draws advance it).

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> bool(as_generator(7).integers(100) == as_generator(7).integers(100))
    True
    >>> g = np.random.default_rng(0)
    >>> as_generator(g) is g
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        # legacy global-state style: refuse rather than mix two streams silently
        raise TypeError("rng must be None, an int or a numpy.random.Generator, not a RandomState")
    return np.random.default_rng(rng)


def _key_int(key) -> int:
    if isinstance(key, (int, np.integer)):
        return int(key) & 0xFFFFFFFF
    # crc32, not hash(): Python salts str hashes per process, which would break rebuilds.
    return zlib.crc32(str(key).encode("utf-8"))


def derive_seed(base_seed: int, *keys) -> int:
    """A 63-bit seed derived from a base seed and any number of keys (str or int).

    Parameters
    ----------
    base_seed : int
        The set's seed.
    *keys : str or int
        E.g. ``image_id, map_source``.

    Returns
    -------
    int
        Same inputs give the same seed on every machine and process.

    Examples
    --------
    >>> derive_seed(0, "chelsea", "clickme") == derive_seed(0, "chelsea", "clickme")
    True
    >>> derive_seed(0, "chelsea", "clickme") == derive_seed(0, "chelsea", "salicon")
    False
    """
    ss = np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, *(_key_int(k) for k in keys)])
    return int(ss.generate_state(2, dtype=np.uint32).view(np.uint64).item()) >> 1  # 63 bits


def derive_rng(base_seed: int, *keys) -> np.random.Generator:
    """``numpy.random.default_rng(derive_seed(base_seed, *keys))``."""
    return np.random.default_rng(derive_seed(base_seed, *keys))
