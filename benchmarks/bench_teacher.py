"""Teacher network (``reveal.models.teacher``): feature caching, fitting and prediction speed.

Three numbers, on synthetic photographs like the tests' (textured grey noise, red target
discs and blue distractors, "human" maps with blobs on the red discs), at 224 × 224:

* **feature caching**: ``image_features`` (resize, normalise, one forward pass to the last
  hooked block, each layer to the 32 × 32 grid) per image, against the **reference**: the
  plain forward pass of the whole network (prepared as ``reveal predict`` prepares it, same
  resize and normalisation) on the same batch, timed interleaved batch by batch (reference,
  features, reference, …) so that drifts of the machine hit both alike; medians and their
  ratio.
* **fit**: ``fit_teacher`` on the cached features of all images (default config: Adam,
  minibatches of 32, early stopping), seconds per epoch and in all (goal: 1,000 images in
  minutes on 2 CPU cores).
* **prediction**: images/s of features + teacher + maps at the image's size, against the
  plain forward pass (goal: ≥ 20 images/s on a CPU).

Run: ``.venv/bin/python benchmarks/bench_teacher.py [--images 1000] [--batch 16] [--max-epochs 300]
[--threads N] [--device cpu]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from reveal.models import load_observer, resolve_device
from reveal.models.teacher import TeacherConfig, fit_teacher, image_features, maps_to_grid, predict_maps


def make_study(n, size=224, rng=0, participants=5):
    """Synthetic photographs (uint8 RGB) and "human" maps: blobs on the red discs (as the tests')."""
    rng = np.random.default_rng(rng)
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    s = size / 96
    centre = np.exp(-((yy - (size - 1) / 2) ** 2 + (xx - (size - 1) / 2) ** 2) / (2 * (size / 4) ** 2))
    images, maps = [], []
    for _ in range(n):
        coarse = rng.normal(0, 25, (size // 8 + 1, size // 8 + 1, 1))
        texture = np.repeat(np.repeat(coarse, 8, 0), 8, 1)[:size, :size] + rng.normal(0, 12, (size, size, 1))
        img = np.clip(128 + texture, 0, 255).repeat(3, axis=2)
        reds = []
        for colour, count in (("blue", rng.integers(1, 3)), ("red", rng.integers(1, 4))):
            for _ in range(count):
                r = rng.uniform(5, 11) * s
                cy, cx = rng.uniform(r, size - r, 2)
                img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (220, 30, 30) if colour == "red" else (40, 40, 220)
                if colour == "red":
                    reds.append((cy, cx, r))
        human = 0.08 * centre * participants + rng.uniform(0, 0.05 * participants, (size, size))
        for _ in range(participants):
            for cy, cx, r in reds:
                jy, jx = rng.normal(0, 2 * s, 2)
                human += rng.uniform(0.7, 1.3) * np.exp(-((yy - cy - jy) ** 2 + (xx - cx - jx) ** 2) / (2 * r * r))
        images.append(img.round().astype(np.uint8))
        maps.append(human / participants)
    return images, maps


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-epochs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    dev = resolve_device(args.device)
    observer = load_observer(args.model)
    config = TeacherConfig(model=args.model, max_epochs=args.max_epochs)
    t0 = time.perf_counter()
    images, maps = make_study(args.images)
    print(f"{args.model} on {dev} ({torch.get_num_threads()} threads); {args.images} synthetic "
          f"{images[0].shape[0]}x{images[0].shape[1]} images (made in {time.perf_counter() - t0:.1f} s); "
          f"layers {', '.join(config.layers)} -> {config.grid}x{config.grid} grid, input {config.input_size}")

    plain = observer.prepare(dev)
    mean = torch.tensor(observer.mean, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(observer.std, device=dev).view(1, 3, 1, 1)
    size = (config.input_size, config.input_size)

    def reference(chunk):  # what a plain prediction costs: resize, normalise, the whole network
        x = torch.cat([F.interpolate(torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1)))[None].float(),
                                     size=size, mode="bilinear", antialias=True, align_corners=False)
                       for im in chunk]).to(dev)
        with torch.inference_mode():
            return plain(((x - mean) / std).contiguous(memory_format=torch.channels_last))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    # ---- feature caching, interleaved with the reference
    reference(images[:args.batch])  # warm-up
    image_features(observer, images[:args.batch], config, batch_size=args.batch, device=dev)
    t_ref, t_feat, feats = [], [], []
    for start in range(0, len(images), args.batch):
        chunk = images[start:start + args.batch]
        sync()
        t = time.perf_counter()
        reference(chunk)
        sync()
        t_ref.append((time.perf_counter() - t) / len(chunk))
        t = time.perf_counter()
        feats.append(image_features(observer, chunk, config, batch_size=args.batch, device=dev))
        t_feat.append((time.perf_counter() - t) / len(chunk))
    feats = torch.cat(feats)
    ref, feat = float(np.median(t_ref)), float(np.median(t_feat))
    print(f"features: {1e3 * feat:.1f} ms/image (median over {len(t_feat)} batches of {args.batch}), "
          f"plain forward {1e3 * ref:.1f} ms/image: ratio {feat / ref:.2f}; "
          f"cache {feats.shape[1]} x {config.grid}^2 float32 = {feats.numel() * 4 / 1e6:.0f} MB")

    # ---- fit on the cached features
    q = maps_to_grid(maps, config.grid)
    t = time.perf_counter()
    fit = fit_teacher(feats, q, config, rng=0)
    t_fit = time.perf_counter() - t
    n_train = len(fit.split["train"])
    print(f"fit: {t_fit:.1f} s for {fit.epochs} epochs (best {fit.best_epoch}) on {n_train} training images: "
          f"{t_fit / fit.epochs:.2f} s/epoch, {1e3 * t_fit / fit.epochs / n_train:.2f} ms per image-epoch "
          f"(1,000 images x {fit.epochs} epochs ~ {t_fit / fit.epochs / n_train * 700 * fit.epochs / 60:.1f} min); "
          f"val loss {min(fit.log['val_loss']):.3f}")

    # ---- prediction: features + teacher + maps at image size, against the plain forward
    n = min(len(images), 4 * args.batch)
    t_pred, t_ref2 = [], []
    for start in range(0, n, args.batch):
        chunk = images[start:start + args.batch]
        sync()
        t = time.perf_counter()
        reference(chunk)
        sync()
        t_ref2.append((time.perf_counter() - t) / len(chunk))
        t = time.perf_counter()
        predict_maps(fit.teacher, image_features(observer, chunk, config, batch_size=args.batch, device=dev),
                     [im.shape[:2] for im in chunk])
        t_pred.append((time.perf_counter() - t) / len(chunk))
    t = time.perf_counter()
    predict_maps(fit.teacher, feats[:args.batch], [im.shape[:2] for im in images[:args.batch]])
    t_head = (time.perf_counter() - t) / args.batch
    pred, ref2 = float(np.median(t_pred)), float(np.median(t_ref2))
    print(f"prediction: {1 / pred:.1f} images/s (teacher + maps alone {1e3 * t_head:.2f} ms/image), "
          f"plain forward {1 / ref2:.1f} images/s: ratio of times {pred / ref2:.2f} (goal: >= 20 images/s)")


if __name__ == "__main__":
    main()
