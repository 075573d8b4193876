"""Stimuli per second of ``reveal predict`` against a plain one-image-at-a-time loop.

Builds the bundled sample stimulus set, replicates it (hard links) to ``--n`` stimuli,
then, on the same device and in the same run, times

- the plain loop: for each stimulus, PIL decode → torchvision transforms → network on a
  batch of one → softmax read-out (fp32, NCHW, ``torch.inference_mode``), on the first
  ``--loop-n`` stimuli;
- ``models.predict`` end to end: DataLoader workers decoding PNGs, pinned memory,
  channels-last, fp16 autocast on CUDA, read-out, CSV rows appended per batch and the
  final ordered file;
- its two halves alone (decode-only through the same DataLoader; network-only on uint8
  batches already on the device, preprocessing and read-out included) to show which one
  limits the end-to-end rate. On the CPU the two share the cores, so the end-to-end rate
  can be at most ``1 / (1/decode + 1/network)``, decoding granted all cores: that bound,
  as a ratio to the plain loop, says how far batching can go with this network on this
  machine;
- on the CPU, when ``onnxruntime`` or ``openvino`` is installed (they are not toolkit
  dependencies: ``pip install onnxruntime openvino``), the same network exported to ONNX,
  network-only, fp32: what a dedicated CPU inference runtime would change in that bound.

Usage: python benchmarks/bench_predict.py [--device auto|cpu|cuda] [--n 384] [--loop-n 96]
       [--batch-size N] [--workers N] [--sample-set DIR] [--repeats 3]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reveal.models import load_observer, predict, resolve_device
from reveal.models.dataset import StimulusImages
from reveal.models.inference import default_batch_size, default_workers
from reveal.models.readout import animal_evidence


def replicate_set(src, dst, n):
    """A stimulus set of ``n`` stimuli: copies of ``src``'s rows under new ids, PNGs hard-linked."""
    src, dst = Path(src), Path(dst)
    base = pd.read_csv(src / "manifest.csv", dtype=str, keep_default_na=False)
    parts = []
    for k in range(-(-n // len(base))):
        part = base.copy()
        part["stimulus_id"] = part["stimulus_id"] + f"_r{k}"
        part["file"] = f"r{k}/" + part["file"]
        for rel in base["file"].unique():
            target = dst / f"r{k}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src / rel, target)
            except OSError:  # another file system: copy
                target.write_bytes((src / rel).read_bytes())
        parts.append(part)
    pd.concat(parts).iloc[:n].to_csv(dst / "manifest.csv", index=False)
    return dst


def plain_loop(stimset, device, n):
    """The reference: one stimulus at a time, the way a short script would do it."""
    from PIL import Image
    from torchvision import transforms

    net = load_observer("efficientnet_lite0").module.eval().to(device)
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize([127 / 255] * 3, [128 / 255] * 3)])
    manifest = pd.read_csv(Path(stimset) / "manifest.csv", dtype=str, keep_default_na=False).iloc[:n]
    p_animal = []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        for rel in manifest["file"][:4]:  # warm-up
            net(tf(Image.open(Path(stimset) / rel).convert("RGB"))[None].to(device))
        sync()
        t0 = time.perf_counter()
        for rel in manifest["file"]:
            x = tf(Image.open(Path(stimset) / rel).convert("RGB"))[None].to(device)
            prob = torch.softmax(net(x), dim=1)
            p_animal.append(float(prob[0, :398].sum()))
        sync()
        elapsed = time.perf_counter() - t0
    return n / elapsed, np.array(p_animal)


def decode_only(stimset, batch_size, workers):
    manifest = pd.read_csv(Path(stimset) / "manifest.csv", dtype=str, keep_default_na=False)
    files = manifest["file"].unique()
    loader = torch.utils.data.DataLoader(StimulusImages(stimset, files), batch_size=batch_size,
                                         num_workers=workers, pin_memory=torch.cuda.is_available(),
                                         prefetch_factor=4 if workers else None)
    t0 = time.perf_counter()
    count = sum(len(batch[0]) for batch in loader)
    return count / (time.perf_counter() - t0)


def images_per_s(step, batches, batch_size, sync=lambda: None):
    """Rate of ``step()`` (one batch) after 3 warm-up calls; ``sync`` waits for the device."""
    for _ in range(3):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(batches):
        step()
    sync()
    return batches * batch_size / (time.perf_counter() - t0)


def network_only(device, batch_size, batches=None):
    """Images/s of preprocessing + network + read-out on uint8 batches already on ``device``."""
    obs = load_observer("efficientnet_lite0")
    net = obs.prepare(device)
    batches = batches or (20 if device.type == "cuda" else max(8, 192 // batch_size))
    x = torch.randint(0, 256, (batch_size, 256, 256, 3), dtype=torch.uint8, device=device).permute(0, 3, 1, 2)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
        return images_per_s(lambda: animal_evidence(net(obs.preprocess(x)))[0].cpu(), batches, batch_size, sync)


def other_cpu_runtimes(batch_size, tmp, batches=None):
    """{runtime: (images/s, max |d logit|)} of the network alone in ONNX Runtime / OpenVINO
    (fp32), where installed."""
    found = [m for m in ("onnxruntime", "openvino") if importlib.util.find_spec(m)]
    if not found:
        return {}
    obs = load_observer("efficientnet_lite0")
    net = obs.prepare("cpu").to(memory_format=torch.contiguous_format)
    x = torch.randn(batch_size, 3, 224, 224)
    path = Path(tmp) / "efficientnet_lite0.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["logits"], dynamo=False)
    with torch.inference_mode():
        reference = net(x).numpy()
    runners = {}
    if "onnxruntime" in found:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        runners[f"onnxruntime {onnxruntime.__version__}"] = lambda a: session.run(None, {"x": a})[0]
    if "openvino" in found:
        import openvino

        compiled = openvino.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                               "INFERENCE_NUM_THREADS": torch.get_num_threads()})
        runners[f"openvino {openvino.__version__}"] = lambda a: compiled(a)[0]
    batches = batches or max(8, 192 // batch_size)
    a = x.numpy()
    return {name: (images_per_s(lambda: run_net(a), batches, batch_size),
                   float(np.abs(run_net(a) - reference).max()))
            for name, run_net in runners.items()}


def run(args):
    device = resolve_device(args.device)
    bs = args.batch_size or default_batch_size(device)
    workers = default_workers(device) if args.workers is None else args.workers
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        if args.sample_set:  # a set built elsewhere (e.g. where cv2.saliency is missing)
            sample = Path(args.sample_set)
        else:
            from reveal.experiments.cli import main as reveal

            sample = Path(tmp) / "sample"
            assert reveal(["stimuli", "build", "--sample", "--out", str(sample), "--no-progress"]) == 0
        stimset = replicate_set(sample, Path(tmp) / "set", args.n)
        n_files = pd.read_csv(stimset / "manifest.csv")["file"].nunique()
        print(f"stimulus set: {args.n} stimuli ({n_files} distinct PNGs, 256x256), batch {bs}, {workers} workers")

        loop_n = min(args.loop_n, args.n)
        observer = load_observer("efficientnet_lite0")
        predict(sample, observer, Path(tmp) / "warm.csv", device=device, batch_size=bs, num_workers=workers,
                progress=False)  # warm-up: cuDNN autotuning, allocator, page cache
        loop_rates, rates = [], []
        for k in range(args.repeats):  # interleaved, so that a noisy neighbour hits both alike
            loop_rate, loop_p = plain_loop(stimset, device, loop_n)
            out = Path(tmp) / f"pred{k}.csv"
            t0 = time.perf_counter()
            df = predict(stimset, observer, out, device=device, batch_size=bs, num_workers=workers,
                         progress=False)
            rates.append(len(df) / (time.perf_counter() - t0))
            loop_rates.append(loop_rate)
            print(f"  repeat {k + 1}: plain loop {loop_rate:8.1f}, reveal predict {rates[-1]:8.1f} stimuli/s "
                  f"({rates[-1] / loop_rate:.2f}x)")
        loop_rate, rate = float(np.median(loop_rates)), float(np.median(rates))
        print(f"plain loop (one image at a time): {loop_rate:9.1f} stimuli/s  (median; {loop_n} stimuli)")
        print(f"reveal predict (batched, end to end): {rate:9.1f} stimuli/s  (median; {len(df)} stimuli)")
        print(f"speed-up over the plain loop: {rate / loop_rate:.2f}x (median of the ratios "
              f"{np.median(np.array(rates) / np.array(loop_rates)):.2f}x)")
        diff = np.abs(df["p_animal"].to_numpy()[:loop_n] - loop_p).max()
        agree = (df["response"].to_numpy()[:loop_n] == np.where(loop_p >= 0.5, "animal", "nonanimal")).mean()
        print(f"agreement with the loop: max |dP(animal)| {diff:.4f}, same answer {agree:.1%}")

        dec = decode_only(stimset, bs, workers)
        net = network_only(device, bs)
        precision = "fp16" if device.type == "cuda" else "fp32"
        print(f"  decode only ({workers} workers):          {dec:9.1f} images/s")
        print(f"  network only ({precision}, {device.type}, batch {bs}): {net:9.1f} images/s")
        if device.type == "cuda":
            print(f"  end to end / decode-only: {rate / dec:.2f}; limited by "
                  f"{'PNG decoding on the CPU workers' if dec < net else 'the network on the GPU'}")
            if args.target:
                print(f"target >= {args.target} stimuli/s: {'met' if rate >= args.target else 'NOT met'}")
        else:
            # Decoding and the network share the same cores, so their times add up. Decoding
            # is granted all of them here (measured on one when workers=0): the most batching
            # could reach with this network on this machine.
            dec_all = dec * (os.cpu_count() or 1) if workers == 0 else dec
            bound = 1 / (1 / dec_all + 1 / net)
            print(f"  bound for this network here, 1/(1/decode on all cores + 1/network): {bound:.1f} stimuli/s "
                  f"= {bound / loop_rate:.2f}x the plain loop; end to end reaches {rate / bound:.0%} of it")
            need = 1 / (1 / (5 * loop_rate) - 1 / dec_all) if 5 * loop_rate < dec_all else float("inf")
            print(f"  5x the plain loop needs {5 * loop_rate:.1f} stimuli/s: the network alone would have to run "
                  f"at {need:.1f} images/s")
            for name, (other, dmax) in other_cpu_runtimes(bs, tmp).items():
                other_bound = 1 / (1 / dec_all + 1 / other)
                print(f"  network only in {name} (fp32, max |d logit| {dmax:.1e}): {other:9.1f} images/s; "
                      f"bound {other_bound:.1f} stimuli/s = {other_bound / loop_rate:.2f}x the plain loop")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, default=384, help="stimuli in the timed set")
    parser.add_argument("--loop-n", type=int, default=96, help="stimuli timed in the plain loop")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timings of loop and predict")
    parser.add_argument("--sample-set", metavar="DIR", help="use this stimulus set instead of building the sample")
    parser.add_argument("--target", type=float, default=2000, help="stimuli/s target printed on CUDA")
    sys.exit(run(parser.parse_args()))
