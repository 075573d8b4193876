"""Time of fitting TOAD gains on cached head features, against one forward pass of the network.

``reveal.models.toad.fit_toad_gains`` trains one non-negative gain per channel of a layer's
cached activations for the animal read-out (Adam, TOAD's learning rate 3e-4, early
stopping on a held-out split). Here the layer is efficientnet_lite0's head: the 1,280
pooled features feeding its classifier ``_fc`` (after ReLU6, so non-negative), cached for
1,000 images, and the tail is the classifier itself. Goal: the fit under 60 s on 2 CPU
cores.

The images are synthetic, 256 × 256 uint8 (the observer centre-crops 224): 500
"animal" images are smooth random blobs (7 × 7 colour noise upsampled bilinearly) with
pixel noise on top, 500 "non-animal" images are pixel noise alone; the labels are those
halves. They stand in for a stimulus set of the right size: the network's features differ
between the halves, so the fit has something to find, but the numbers here are timings,
not a result about animals.

Timed, in one run: the cache (one pass of the prepared network, as ``reveal predict``
prepares it, with a forward pre-hook on the classifier collecting its input), the
reference (one plain forward pass of the same network over the same 1,000 images) and
the fit (median of ``--repeats`` fits with the same seed, after an untimed one-epoch
warm-up). Reported: the fit time, epochs, time per epoch and the fit / forward ratio.

Run: ``nice .venv/bin/python benchmarks/bench_toad.py [--model efficientnet_lite0] [--images 1000]
[--repeats 3] [--threads 2] [--batch 50] [--device cpu]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reveal.models import load_observer, resolve_device
from reveal.models.readout import N_CLASSES
from reveal.models.toad import fit_toad_gains


def synthetic_images(n, size=256, seed=0):
    """uint8 (n, 3, size, size): the first half smooth blobs plus pixel noise, the second pixel noise."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=gen)
    half = n // 2
    blobs = F.interpolate(torch.rand(half, 3, 7, 7, generator=gen) * 255, size=(size, size), mode="bilinear",
                          align_corners=False)
    noise[:half] = (0.75 * blobs + 0.25 * noise[:half].float()).round().clamp(0, 255).to(torch.uint8)
    labels = np.arange(n) < half
    return noise, labels


def classifier(module):
    """The last nn.Linear with 1000 outputs."""
    return [m for m in module.modules() if isinstance(m, nn.Linear) and m.out_features == N_CLASSES][-1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=50, help="images per forward batch (cache and reference)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    obs = load_observer(args.model)
    net = obs.prepare(dev)
    fc = classifier(net)
    images, labels = synthetic_images(args.images)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def forward_pass(collect=None):
        with torch.inference_mode():
            for start in range(0, args.images, args.batch):
                logits = net(obs.preprocess(images[start:start + args.batch].to(dev)))
                if collect is None:
                    logits.sum().item()  # the reference ends as an inference does: logits used
        sync()

    with torch.inference_mode():  # warm-up (oneDNN kernel choice), untimed
        net(obs.preprocess(images[:args.batch].to(dev)))

    feats = []
    handle = fc.register_forward_pre_hook(lambda m, a: feats.append(a[0].detach().float()))
    t0 = time.perf_counter()
    forward_pass(collect=feats)
    cache_s = time.perf_counter() - t0
    handle.remove()
    acts = torch.cat(feats)

    t0 = time.perf_counter()
    forward_pass()
    forward_s = time.perf_counter() - t0

    fit_toad_gains(acts, labels, fc, rng=0, max_epochs=1)  # warm-up: first optimiser step, lazy imports
    times, fit = [], None
    for _ in range(args.repeats):
        sync()
        t0 = time.perf_counter()
        fit = fit_toad_gains(acts, labels, fc, rng=0)
        sync()
        times.append(time.perf_counter() - t0)
    med = float(np.median(times))

    print(f"{args.model} on {dev} ({torch.get_num_threads()} threads); {args.images} synthetic 256x256 images "
          f"(half smooth blobs + noise = 'animal', half pixel noise), forward batches of {args.batch}")
    print(f"cache: {tuple(acts.shape)} head features (min {float(acts.min()):.3g}) in {cache_s:.1f} s "
          f"({args.images / cache_s:.1f} images/s)")
    print(f"reference: one plain forward pass over the {args.images} images in {forward_s:.1f} s")
    print(f"fit_toad_gains (lr {fit.lr:g}, batch 256, patience 10, max 200 epochs; {fit.n_train} train / "
          f"{fit.n_held_out} held-out): median {med:.2f} s of {args.repeats} "
          f"({', '.join(f'{t:.2f}' for t in times)})")
    print(f"  epochs {fit.epochs} (best {fit.best_epoch}, stopped early: {fit.stopped_early}), "
          f"{med / fit.epochs * 1e3:.1f} ms per epoch")
    print(f"  held-out loss {fit.loss_before:.4f} -> {fit.loss_after:.4f}, accuracy {fit.accuracy_before:.3f} -> "
          f"{fit.accuracy_after:.3f}; gains in [{float(fit.gains.min()):.3f}, {float(fit.gains.max()):.3f}]")
    print(f"fit / forward pass: {med / forward_s:.3f}x;  fit under 60 s: {'OK' if med < 60 else 'MISSED'}")


if __name__ == "__main__":
    main()
