"""Stable seeds for the random draws of one (image, source, level) — identical in every process."""
from __future__ import annotations

import zlib

import numpy as np

__all__ = ["derive_seed", "derive_rng"]


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
    """
    ss = np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, *(_key_int(k) for k in keys)])
    return int(ss.generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> np.uint64(1))


def derive_rng(base_seed: int, *keys) -> np.random.Generator:
    """``numpy.random.default_rng(derive_seed(base_seed, *keys))``."""
    return np.random.default_rng(derive_seed(base_seed, *keys))
