"""Forward time of a cued observer (feature-similarity gain at a layer) against the plain one.

``reveal.models.cueing.cue_observer`` folds the gains into the classifier's weights
(``W' = W · diag(g)``): the cued network is the plain one with other numbers in one
matrix, so it should cost nothing (goal: ≤ 1.05× the plain forward). The hooked form
(``fold=False``: a forward pre-hook multiplying the 1,280 pooled features by ``g``) adds a
Python call and one small elementwise product per batch (goal: ≤ 1.3×). ``--layer`` times
another cue site (``reveal gains layers``), e.g. ``blocks.1.depthwise``, whose hook multiplies a
96 × 112 × 112 map per image (values there come from a photo set; random ones in [−1, 1] time
the same).

All three networks are prepared as ``reveal predict`` prepares them (``Observer.prepare``:
eval, batch norms folded, channels-last), fed the same batch of random 224 × 224 images,
timed interleaved (plain, folded, hooked, plain, …) so that drifts of the machine hit all
three alike; medians and ratios to the plain forward measured in the same run. Also checks
that folded and hooked agree and that strength 0 reproduces the plain logits.

Run: ``.venv/bin/python benchmarks/bench_cueing.py [--model efficientnet_lite0] [--batch 32]
[--repeats 15] [--strength 1] [--layer head] [--device cpu]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reveal.models import cue_observer, head_gradient_values, load_observer, resolve_device
from reveal.models.sites import check_site, find_site


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--strength", type=float, default=1.0)
    ap.add_argument("--layer", default="head")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    dev = resolve_device(args.device)
    plain = load_observer(args.model)
    if args.layer == "head":
        values = head_gradient_values(plain)
    else:
        site = find_site(plain.module, args.layer)
        values = torch.rand(check_site(plain, site), generator=torch.Generator().manual_seed(1)) * 2 - 1
    cue = dict(values=values, layer=args.layer, method="fsg" if args.layer == "head" else "fsg-gradient")
    folded = cue_observer(plain, args.strength, **cue)
    hooked = cue_observer(plain, args.strength, fold=False, check=False, **cue)
    zero = cue_observer(plain, 0.0, check=False, **cue)
    nets = {"plain": plain.prepare(dev), "folded": folded.prepare(dev), "hooked": hooked.prepare(dev)}
    images = torch.randint(0, 256, (args.batch, 3, 224, 224), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    x = plain.preprocess(images.to(dev))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    times = {k: [] for k in nets}
    with torch.inference_mode():
        out = {k: net(x) for k, net in nets.items()}  # warm-up (oneDNN/cuDNN kernel choice)
        same_zero = torch.equal(zero.prepare(dev)(x), out["plain"])
        for _ in range(args.repeats):
            for k, net in nets.items():
                sync()
                t0 = time.perf_counter()
                net(x)
                sync()
                times[k].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    gap = float((out["folded"] - out["hooked"]).abs().max())
    print(f"{args.model}, cue at {args.layer} ({folded.description.rsplit('(', 1)[-1].rstrip(')')} when folded), "
          f"on {dev} ({torch.get_num_threads()} threads), batch {args.batch} x 224x224, "
          f"strength {args.strength:g}, median of {args.repeats} interleaved runs")
    for k in nets:
        q1, q3 = np.percentile(times[k], [25, 75])
        print(f"  {k:6s} {med[k] * 1e3:8.1f} ms  (IQR {q1 * 1e3:.1f}-{q3 * 1e3:.1f})  "
              f"{args.batch / med[k]:7.1f} images/s")
    for k, goal in (("folded", 1.05), ("hooked", 1.3)):
        ratio = med[k] / med["plain"]
        print(f"{k} / plain: {ratio:.3f}x  (goal <= {goal}: {'OK' if ratio <= goal else 'MISSED'})")
    print(f"largest |logit folded - logit hooked|: {gap:.2e};  strength 0 == plain, bit for bit: {same_zero}")


if __name__ == "__main__":
    main()
