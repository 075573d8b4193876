"""Stimulus generation speed and memory.

1. ``reveal_order`` against a plain pure-Python ``heapq`` priority flood (the reference,
   written below), on the same 256×256 maps in the same run; target ≥ 20× faster.
2. A full build: 80 images × 2 sources × 12 conditions at 256×256 (target < 30 s on a
   2-core machine), with its peak memory (resident set of the parent and of the worker
   processes) next to the size of the set on disk — the build must not hold the set.

Run: ``python benchmarks/bench_stimuli.py [--workers 2]``
"""
from __future__ import annotations

import argparse
import heapq
import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import data

from reveal.stimuli import RevealParams, build_stimulus_set, reveal_order
from reveal.stimuli.reveal import flood_priority


def reference_flood(priority, seed):
    """Plain priority flood: heapq over (−priority, insertion counter, row, col)."""
    h, w = len(priority), len(priority[0])
    rank = [[-1] * w for _ in range(h)]
    queued = [[False] * w for _ in range(h)]
    heap = [(-priority[seed[0]][seed[1]], 0, seed[0], seed[1])]
    queued[seed[0]][seed[1]] = True
    counter, k = 1, 0
    while heap:
        _, _, r, c = heapq.heappop(heap)
        rank[r][c] = k
        k += 1
        for rr, cc in ((r - 1, c), (r, c - 1), (r, c + 1), (r + 1, c)):
            if 0 <= rr < h and 0 <= cc < w and not queued[rr][cc]:
                queued[rr][cc] = True
                heapq.heappush(heap, (-priority[rr][cc], counter, rr, cc))
                counter += 1
    return rank


def bench_order(n_maps=7):
    rng = np.random.default_rng(0)
    maps = [ndi.gaussian_filter(rng.random((256, 256)), s) for s in np.linspace(2, 20, n_maps)]
    reveal_order(maps[0], np.random.default_rng(0))  # compile (numba) outside the timing
    ours, ref = [], []
    for i, m in enumerate(maps):
        t = time.perf_counter()
        reveal_order(m, np.random.default_rng(i))
        ours.append(time.perf_counter() - t)
        # the reference gets the same priorities, computed for it with numpy (not timed)
        priority, seed = flood_priority(m, np.random.default_rng(i))
        plist = priority.tolist()
        t = time.perf_counter()
        reference_flood(plist, seed)
        ref.append(time.perf_counter() - t)
    mo, mr = statistics.median(ours), statistics.median(ref)
    print(f"reveal_order 256x256: median {mo * 1e3:.2f} ms  (min {min(ours) * 1e3:.2f})")
    print(f"pure-Python heapq flood (reference, priorities given): median {mr * 1e3:.1f} ms")
    print(f"ratio: reveal_order is {mr / mo:.1f}x faster (target >= 20x)")


def make_inputs(folder: Path, n_images=80):
    """80 photographs (crops of scikit-image's photos, flipped and shifted) with two maps each."""
    photos = [data.chelsea(), data.astronaut(), data.coffee(), data.rocket(), data.stereo_motorcycle()[0]]
    rng = np.random.default_rng(1)
    (folder / "images").mkdir(parents=True)
    maps = {s: folder / "maps" / s for s in ("clickme", "salicon")}
    for p in maps.values():
        p.mkdir(parents=True)
    rows = ["image_id,category"]
    for i in range(n_images):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(min(h, w) * rng.uniform(0.6, 1.0))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = photo[top:top + side, left:left + side][:, ::(-1 if i % 2 else 1)]
        image_id = f"img{i:03d}"
        Image.fromarray(np.ascontiguousarray(crop)).save(folder / "images" / f"{image_id}.png")
        for j, p in enumerate(maps.values()):
            m = ndi.gaussian_filter(rng.random((side, side)), 6 + 6 * j)
            m = np.where(m > np.quantile(m, 0.6), m, 0)
            np.save(p / f"{image_id}.npy", m)
        rows.append(f"{image_id},{'animal' if i % 2 == 0 else 'nonanimal'}")
    (folder / "categories.csv").write_text("\n".join(rows) + "\n")
    return folder / "images", maps, folder / "categories.csv"


def bench_build(workers):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images, maps, cats = make_inputs(tmp / "in")
        times = {}
        for n in sorted({1, workers}):
            out = tmp / f"set{n}"
            ex = ProcessPoolExecutor(n) if n > 1 else None
            if ex is not None:  # start the workers (and their numba import) before timing
                list(ex.map(abs, range(n)))
            t = time.perf_counter()
            res = build_stimulus_set(images, maps, cats, out, RevealParams(), executor=ex, progress=False)
            times[n] = time.perf_counter() - t
            if ex is not None:
                ex.shutdown()
            size = sum(p.stat().st_size for p in out.rglob("*.png"))
            print(f"build {res.n_images} images -> {res.n_stimuli} stimuli, {n} worker(s): "
                  f"{times[n]:.1f} s (target < 30 s); set on disk {size / 2**20:.1f} MiB")
        if workers > 1:
            print(f"ratio 1 worker / {workers} workers: {times[1] / times[workers]:.2f}x")
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak resident memory: parent {self_mb:.0f} MiB, largest worker {child_mb:.0f} MiB "
          f"(the set's pixels decoded would be {80 * 2 * 12 * 256 * 256 * 3 / 2**20:.0f} MiB)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    bench_order()
    bench_build(args.workers)
