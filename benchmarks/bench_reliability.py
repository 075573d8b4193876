"""Split-half reliability at ClickMe scale: time a slice, extrapolate, and scale with workers.

The full job is 10,000 images × 10 participants × 100 splits at 256×256 (each split:
two half maps ranked and correlated, plus the null's half of a partner image). This
script times a slice of it and extrapolates linearly (images are independent), and
reports, measured in the same run:

* the naive per-split route as the reference — build each half's map with
  ``clicks_to_map`` (blur per split) and correlate with ``scipy.stats.spearmanr`` — against
  :func:`reveal.analysis.maps.reliability.split_half` (participants blurred once; zero-aware
  average ranks);
* the executor route with 1 and 2 local worker processes (``ProcessPoolExecutor``; a
  dask cluster's ``Client.get_executor()`` plugs in the same way), as a speed-up ratio.

Usage: ``python benchmarks/bench_reliability.py [--images 16] [--splits 100] [--workers 1 2]``
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
from scipy import stats

from reveal.analysis.maps.reliability import participant_maps, split_half, split_half_reliability
from reveal.stimuli.loaders.clickme import clicks_to_map

FULL_IMAGES, PARTICIPANTS, SPLITS, SHAPE = 10_000, 10, 100, (256, 256)


def synthetic_clicks(rng, n_images, n_participants=PARTICIPANTS, n_clicks=20):
    """ClickMe-like clicks: each participant clicks around two image-specific object parts."""
    out = {}
    for i in range(n_images):
        parts = rng.uniform(40, 216, (2, 2))
        out[f"im{i:05d}"] = [
            np.clip(np.rint(parts[rng.integers(2, size=n_clicks)] + rng.normal(0, 15, (n_clicks, 2))), 0, 255
                    ).astype(int)
            for _ in range(n_participants)]
    return out


def _one_thread():
    # one thread per process for OpenCV's blur, so that "1 worker" really is one core
    cv2.setNumThreads(1)


def naive_image(points, n_splits, rng):
    """Reference: the map of each half built from scratch, scipy's spearmanr."""
    p = len(points)
    rs = []
    for _ in range(n_splits):
        perm = rng.permutation(p)
        a = clicks_to_map([points[k] for k in perm[: p // 2]], SHAPE)
        b = clicks_to_map([points[k] for k in perm[p // 2:]], SHAPE)
        rs.append(stats.spearmanr(a.ravel(), b.ravel()).statistic)
    return float(np.mean(rs))


def cpu_seconds():
    """CPU time of this process and its finished children (the pool's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def fmt_hours(seconds):
    return f"{seconds:8.1f} s = {seconds / 3600:6.2f} h"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=16, help="images in the timed slice (default 16)")
    ap.add_argument("--splits", type=int, default=SPLITS)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--naive-splits", type=int, default=10, help="splits timed for the naive reference")
    args = ap.parse_args()
    _one_thread()
    rng = np.random.default_rng(0)
    clicks = synthetic_clicks(rng, args.images)
    print(f"slice: {args.images} images x {PARTICIPANTS} participants x {args.splits} splits at "
          f"{SHAPE[0]}x{SHAPE[1]} (+ the null); full job: {FULL_IMAGES} images; {os.cpu_count()} CPUs")

    # --- per split: naive reference vs this implementation (one image, one process)
    pts = clicks["im00000"]
    t = time.perf_counter()
    naive_image(pts, args.naive_splits, np.random.default_rng(1))
    naive = (time.perf_counter() - t) / args.naive_splits
    maps_t = time.perf_counter()
    maps = participant_maps(pts, SHAPE)
    partner = participant_maps(clicks["im00001"], SHAPE)
    maps_t = time.perf_counter() - maps_t
    t = time.perf_counter()
    split_half(maps, args.naive_splits, np.random.default_rng(1), partner)
    ours = (time.perf_counter() - t) / args.naive_splits
    print(f"per split   naive (clicks_to_map + spearmanr, no null): {naive * 1e3:7.2f} ms")
    print(f"per split   split_half (with the null's third map):     {ours * 1e3:7.2f} ms   "
          f"ratio naive/ours {naive / ours:5.2f}x   (+ {maps_t * 1e3:.0f} ms per image to blur 2x{PARTICIPANTS} "
          f"participants once)")

    # --- the executor route, whole images
    per_image = {}
    reference = None
    for w in args.workers:
        t, cpu = time.perf_counter(), cpu_seconds()
        if w == 1:
            result = split_half_reliability(clicks, n_splits=args.splits, seed=0, shape=SHAPE, images_per_task=1)
        else:
            with ProcessPoolExecutor(w, initializer=_one_thread) as pool:
                result = split_half_reliability(clicks, n_splits=args.splits, seed=0, shape=SHAPE, executor=pool,
                                                images_per_task=1)
        elapsed, cpu = time.perf_counter() - t, cpu_seconds() - cpu
        if reference is None:
            reference = result.per_image
        same = np.allclose(result.per_image["reliability"], reference["reliability"])
        per_image[w] = elapsed / args.images
        print(f"workers {w}: {elapsed:7.2f} s for the slice = {per_image[w]:6.3f} s/image; "
              f"10,000 images: {fmt_hours(per_image[w] * FULL_IMAGES)}; CPU {cpu:6.2f} s "
              f"({cpu / elapsed:4.2f} cores busy); same numbers as 1 worker: {same}")
    base = per_image[args.workers[0]]
    for w in args.workers[1:]:
        print(f"speed-up {args.workers[0]} -> {w} workers: {base / per_image[w]:4.2f}x "
              f"(ideal {w / args.workers[0]:.0f}x)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: on a shared machine the wall-clock "
          f"speed-up is capped by the cores the other processes leave free")
    print(f"slice reliability {reference['reliability'].mean():.3f}, null {reference['null'].mean():.3f}")


if __name__ == "__main__":
    main()
