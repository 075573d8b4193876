"""GALA training (``reveal.models.gala_training.train_gala``): images/s and peak memory.

Synthetic photographs like the tests' (256 × 256 textured grey, one red or blue disc at a random
place; "human" maps: a blob on the disc), the bundled network with GALA at its 14 × 14 blocks,
the backbone frozen (the default). Repeats, alternating:

* **reference**: the plain network (the same unfolded modules, eval mode, no GALA) doing a
  fine-tuning step's work on the same minibatches: forward, the animal read-out's
  cross-entropy, backward into every parameter (no optimiser step) — images/s;
* **GALA**: ``train_gala`` for ``--epochs`` epochs (λ = 6: cross-entropy + map loss, backward
  into the blocks, Adam step; the frozen prefix cached once, in the time; the validation pass on
  4 images every epoch) — training images × epochs / s, against the reference run as many times.

Medians over the repeats and their ratio; the process's peak resident memory (``ru_maxrss``,
images included). Goal (issue 27): ≥ 10 images/s at 224 px on 2 CPU cores, under 3 GB.

Run: ``.venv/bin/python benchmarks/bench_gala.py [--images 64] [--epochs 3] [--batch 16] [--repeats 3]
[--threads N] [--device cpu] [--no-cache]``
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from reveal.models import load_observer, resolve_device
from reveal.models.gala import add_gala, gala_blocks
from reveal.models.gala_training import GalaTrainConfig, classification_loss, train_gala


def make_set(n, size=256, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    images, labels, maps = [], [], []
    for i in range(n):
        img = np.clip(128 + rng.normal(0, 20, (size, size, 1)), 0, 255).repeat(3, axis=2)
        cy, cx, r = *rng.uniform(40, size - 40, 2), rng.uniform(10, 16)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (220, 30, 30) if i % 2 else (30, 30, 220)
        images.append(img.astype(np.uint8))
        labels.append(i % 2)
        maps.append(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (1.5 * r) ** 2)))
    return images, labels, maps


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--no-cache", action="store_true", help="run the whole network every step (no prefix cache)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    images, labels, maps = make_set(args.images + 4)
    plain = load_observer("efficientnet_lite0")
    gala = add_gala(plain, seed=0)
    print(f"efficientnet_lite0 on {dev} ({torch.get_num_threads()} threads), GALA at "
          f"{', '.join(gala_blocks(gala.module))}; {args.images} training images of 256x256, batches of {args.batch}")
    n = args.images
    split = {"train": np.arange(n), "val": np.arange(n, n + 4), "test": np.arange(0)}
    config = GalaTrainConfig(lam=6.0, epochs=args.epochs, batch_size=args.batch, min_train_images=1,
                             patience=args.epochs)
    module = plain.prepare(dev, fold=False)
    for p in module.parameters():
        p.requires_grad_(True)
    y = torch.tensor(labels[:n], device=dev)

    def reference(epochs=args.epochs):
        t = time.perf_counter()
        for s in [s for _ in range(epochs) for s in range(0, n, args.batch)]:
            x = torch.cat([plain.preprocess(torch.from_numpy(im).permute(2, 0, 1)[None].to(dev))
                           for im in images[s:s + args.batch]])
            module.zero_grad(set_to_none=True)
            classification_loss(module(x), y[s:s + args.batch], "animal").backward()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return n * epochs / (time.perf_counter() - t)

    def gala_run():
        t = time.perf_counter()
        train_gala(gala, images, labels, "animal", maps, config, seed=0, split=split, device=dev,
                   cache_prefix=not args.no_cache)
        return n * args.epochs / (time.perf_counter() - t)

    reference(1)  # warm-up
    ref, ours = [], []
    for _ in range(args.repeats):
        ref.append(reference())
        ours.append(gala_run())
    r, g = float(np.median(ref)), float(np.median(ours))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB on Linux
    print(f"reference (plain forward + backward into every weight): {r:.1f} images/s (runs: "
          f"{', '.join(f'{v:.1f}' for v in ref)})")
    print(f"GALA training, backbone frozen, λ = 6, {args.epochs} epochs"
          f"{' (no prefix cache)' if args.no_cache else ''}: {g:.1f} images/s "
          f"(runs: {', '.join(f'{v:.1f}' for v in ours)}); "
          f"ratio {g / r:.2f} of the reference")
    print(f"peak resident memory of this process: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
