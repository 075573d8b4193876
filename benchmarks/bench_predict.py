"""Stimuli per second of ``reveal predict`` against a plain one-image-at-a-time loop.

Builds the bundled sample stimulus set, replicates it (hard links) to ``--n`` stimuli,
then, on the same device and in the same run, times

- the plain loop: for each stimulus, PIL decode → torchvision transforms → network on a
  batch of one → softmax read-out (fp32, NCHW, ``torch.inference_mode``), on the first
  ``--loop-n`` stimuli;
- ``reveal.models.predict`` end to end: DataLoader workers decoding PNGs, pinned memory,
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

On CUDA, sets large enough to matter can be built where nothing can be downloaded
(``--build-set DIR --images K --sources S``: variants of scikit-image's colour photographs
and generated importance maps through ``reveal stimuli build``), several models compared
(``--models efficientnet_lite0,resnet50``; ``--random-weights`` for torchvision models whose
published weights cannot be fetched: speed only), GPU and host memory sampled over each run,
the answers checked against the CPU path (``--cpu-check N``) and an interrupted run resumed
(``--resume-check``).

Usage: python benchmarks/bench_predict.py [--device auto|cpu|cuda] [--n 384] [--loop-n 96]
       [--batch-size N] [--workers N] [--sample-set DIR] [--repeats 3]
       [--build-set DIR --images K --sources S --build-workers W] [--models A,B] [--random-weights]
       [--cpu-check N] [--resume-check] [--compile]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import threading
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reveal.models import load_observer, predict, read_predictions, resolve_device
from reveal.models.dataset import StimulusImages
from reveal.models.inference import _csv_text, _rows_for_batch, default_batch_size, default_workers
from reveal.models.readout import animal_evidence, format_top5, imagenet_categories
from reveal.core.stimset import read_meta, read_stimulus_set, write_stimulus_set_files


def manifest_of(stimset):
    """The set's manifest, read and checked by the stimulus set's owner (every column a str)."""
    return read_stimulus_set(stimset).manifest


def replicate_set(src, dst, n):
    """A stimulus set of ``n`` stimuli: copies of ``src``'s rows under new ids, PNGs hard-linked."""
    src, dst = Path(src), Path(dst)
    base = manifest_of(src)
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
    write_stimulus_set_files(dst, pd.concat(parts).iloc[:n].to_dict("records"), read_meta(src))
    return dst


def plain_loop(stimset, device, n, observer=None):
    """The reference: one stimulus at a time, the way a short script would do it."""
    from PIL import Image
    from torchvision import transforms

    obs = observer or load_observer("efficientnet_lite0")
    net = obs.module.eval().to(device)
    tf = transforms.Compose([transforms.Resize(obs.resize_size or obs.crop_size), transforms.CenterCrop(obs.crop_size),
                             transforms.ToTensor(), transforms.Normalize([m / 255 for m in obs.mean],
                                                                         [d / 255 for d in obs.std])])
    manifest = manifest_of(stimset).iloc[:n]
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
    net.cpu()
    return n / elapsed, np.array(p_animal)


def decode_only(stimset, batch_size, workers):
    manifest = manifest_of(stimset)
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


def network_only(device, batch_size, batches=None, observer=None, compile=False):
    """Images/s of preprocessing + network + read-out on uint8 batches already on ``device``."""
    obs = observer or load_observer("efficientnet_lite0")
    net = obs.prepare(device)
    if compile:
        net = torch.compile(net)
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
        # the legacy (TorchScript) exporter's DeprecationWarnings; tracing this network warns nothing else
        warnings.simplefilter("ignore", DeprecationWarning)
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


PHOTOS = {"chelsea": "animal", "cat": "animal", "astronaut": "nonanimal", "coffee": "nonanimal",
          "rocket": "nonanimal", "hubble_deep_field": "nonanimal", "immunohistochemistry": "nonanimal",
          "retina": "nonanimal"}


def build_photo_set(dst, n_images, n_sources, workers, size=320, seed=0):
    """A stimulus set built with ``reveal stimuli build`` from ``n_images`` photographs (random
    square crops, mirrored or not, of scikit-image's colour photographs, ``size`` px) and
    ``n_sources`` generated map sources (sums of 1-4 random Gaussian blobs): n_images x
    (11 n_sources + 1) distinct PNGs, n_images x 12 n_sources stimuli. Kept if already built."""
    import skimage.data
    from PIL import Image

    from reveal.cli.main import main as reveal

    dst = Path(dst)
    if (dst / "set" / "manifest.csv").is_file():
        return dst / "set", 0.0
    rng = np.random.default_rng(seed)
    photos = {k: getattr(skimage.data, k)()[..., :3] for k in PHOTOS}
    (dst / "images").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size] / size
    rows = ["image_id,category"]
    for i in range(n_images):
        name = list(PHOTOS)[i % len(PHOTOS)]
        img = photos[name]
        h, w = img.shape[:2]
        s = int(min(h, w) * rng.uniform(0.6, 1.0))
        y0, x0 = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        crop = img[y0:y0 + s, x0:x0 + s][:, ::rng.choice([1, -1])]
        image_id = f"{name}_{i:05d}"
        Image.fromarray(np.ascontiguousarray(crop)).resize((size, size)).save(dst / "images" / f"{image_id}.png")
        rows.append(f"{image_id},{PHOTOS[name]}")
        for k in range(n_sources):
            m = np.zeros((size, size), np.float32)
            for _ in range(rng.integers(1, 5)):
                cy, cx, sd = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.25)
                m += rng.uniform(0.3, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sd ** 2))
            (dst / "maps" / f"gen{k}").mkdir(parents=True, exist_ok=True)
            np.save(dst / "maps" / f"gen{k}" / f"{image_id}.npy", m)
    (dst / "categories.csv").write_text("\n".join(rows) + "\n")
    t0 = time.perf_counter()
    argv = ["stimuli", "build", "--images", str(dst / "images"), "--categories", str(dst / "categories.csv"),
            "--out", str(dst / "set"), "--workers", str(workers), "--no-progress"]
    for k in range(n_sources):
        argv += ["--maps", f"gen{k}={dst / 'maps' / f'gen{k}'}"]
    assert reveal(argv) == 0
    return dst / "set", time.perf_counter() - t0


def subset_set(src, dst, n):
    """The first ``n`` stimuli of ``src`` as a set of their own (PNGs hard-linked)."""
    src, dst = Path(src), Path(dst)
    sub = manifest_of(src).iloc[:n]
    for rel in sub["file"].unique():
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(src / rel, target)
    write_stimulus_set_files(dst, sub.to_dict("records"), read_meta(src))
    return dst


def observer_for(name, tmp, random_weights):
    """The observer ``name``; torchvision models with seeded random weights if asked (speed only)."""
    if random_weights and name != "efficientnet_lite0":
        import torchvision

        torch.manual_seed(0)
        path = Path(tmp) / f"{name}_random.pth"
        torch.save(torchvision.models.get_model(name, weights=None).state_dict(), path)
        return load_observer(name, weights=path)
    return load_observer(name)


class MemoryTrace:
    """Samples host memory (RSS of this process and its children: the decoding workers) and
    GPU memory (allocated, reserved by PyTorch's allocator) every ``every`` s in a thread."""

    def __init__(self, device, every=0.2):
        import psutil  # not a toolkit dependency; installed with PyTorch's usual stacks

        self.proc, self.device, self.every = psutil.Process(), device, every
        self.samples, self._stop = [], threading.Event()

    def _host(self):
        total = 0
        for p in [self.proc] + self.proc.children(recursive=True):
            try:
                total += p.memory_info().rss
            except Exception:  # a worker that just exited
                pass
        return total

    def _loop(self):
        while not self._stop.is_set():
            gpu = (torch.cuda.memory_allocated(self.device), torch.cuda.memory_reserved(self.device)) \
                if self.device.type == "cuda" else (0, 0)
            self.samples.append((time.perf_counter(), self._host(), *gpu))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self):
        """Host and GPU memory (MiB) in the second tenth and the last tenth of the run (after start-up)."""
        a = np.array(self.samples, dtype=float)
        if len(a) < 10:
            return "too short to sample"
        t = (a[:, 0] - a[0, 0]) / (a[-1, 0] - a[0, 0])
        early, late = a[(t >= 0.1) & (t < 0.2)], a[t >= 0.9]
        mib = 2 ** 20
        text = (f"host RSS (main + workers) max {early[:, 1].max() / mib:.0f} MiB at 10-20 % of the run, "
                f"{late[:, 1].max() / mib:.0f} MiB at 90-100 %")
        if self.device.type == "cuda":
            text += (f"; GPU allocated max {early[:, 2].max() / mib:.0f} / {late[:, 2].max() / mib:.0f} MiB, "
                     f"reserved {early[:, 3].max() / mib:.0f} / {late[:, 3].max() / mib:.0f} MiB")
        return text + f" ({len(a)} samples)"


def decoder_rates(stimset, n=400):
    """Images/s of one process decoding the first ``n`` distinct PNGs, per decoder."""
    import cv2
    from PIL import Image
    from torchvision.io import ImageReadMode, decode_png, read_file

    files = [Path(stimset) / f for f in manifest_of(stimset)["file"].unique()[:n]]
    decoders = {
        "cv2.imread + cvtColor (the toolkit's)": lambda f: cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR),
                                                                      cv2.COLOR_BGR2RGB),
        "cv2.imread, BGR as decoded": lambda f: cv2.imread(str(f), cv2.IMREAD_COLOR),
        "torchvision.io.decode_png": lambda f: decode_png(read_file(str(f)), ImageReadMode.RGB),
        "PIL": lambda f: np.asarray(Image.open(f).convert("RGB")),
    }
    out = {}
    for name, dec in decoders.items():
        for f in files[:20]:
            dec(f)
        t0 = time.perf_counter()
        for f in files:
            dec(f)
        out[name] = len(files) / (time.perf_counter() - t0)
    return out


def transfer_only(device, batch_size, batches=30):
    """Images/s of copying pinned uint8 batches (256x256x3) to the device."""
    x = torch.randint(0, 256, (batch_size, 256, 256, 3), dtype=torch.uint8).pin_memory()
    return images_per_s(lambda: x.to(device, non_blocking=True), batches, batch_size, torch.cuda.synchronize)


def bookkeeping_only(stimset, batch_size):
    """Stimuli/s of the per-batch host work of ``predict`` alone: trial rows, top-5 text, CSV text."""
    manifest = manifest_of(stimset)
    categories = imagenet_categories()
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for start in range(0, len(manifest), batch_size):
        pos = np.arange(start, min(start + batch_size, len(manifest)))
        top_idx = rng.integers(0, 1000, (len(pos), 5))
        top_p = rng.random((len(pos), 5)).astype(np.float32)
        _csv_text(_rows_for_batch(pos, rng.random(len(pos)), np.array(format_top5(top_idx, top_p, categories)),
                                  manifest, "bench", "0" * 16, 0.5))
    return len(manifest) / (time.perf_counter() - t0)


def compare(a, b):
    """max |dP(animal)| and the share of same answers between two outputs, matched by stimulus_id."""
    m = a.merge(b, on="stimulus_id", suffixes=("_a", "_b"))
    return (len(m), float((m["p_animal_a"] - m["p_animal_b"]).abs().max()),
            float((m["response_a"] == m["response_b"]).mean()))


def resume_check(stimset, model_args, reference, tmp, device, batch_size, workers):
    """Kill a ``reveal predict`` run (SIGKILL to its process group) a third of the way in, run it
    again, and compare the completed file with an uninterrupted run's (``reference``)."""
    out = Path(tmp) / "resumed.csv"
    cmd = [sys.executable, "-c", "import sys; from reveal.cli.main import main; sys.exit(main(sys.argv[1:]))",
           "predict", "--stimuli", str(stimset), "--out", str(out), "--device", str(device), "--no-progress",
           "--batch-size", str(batch_size), "--workers", str(workers), *model_args]
    n = len(manifest_of(stimset))
    child = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    rows_at_kill = 0
    while child.poll() is None:
        if out.exists():
            with open(out, "rb") as fh:
                rows_at_kill = fh.read().count(b"\n") - 1
            if rows_at_kill > n // 3:
                os.killpg(child.pid, signal.SIGKILL)
                break
        time.sleep(0.05)
    child.wait()
    if child.returncode == 0:
        return f"the run ended before it could be killed ({rows_at_kill} rows seen)"
    with open(out, "rb") as fh:
        kept = fh.read().count(b"\n") - 1
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    again = read_predictions(out)
    same_bytes = out.read_bytes() == Path(reference).read_bytes()
    ref = read_predictions(reference)
    _, dmax, agree = compare(again, ref)
    same_order = again["stimulus_id"].tolist() == ref["stimulus_id"].tolist()
    differ = int((again["p_animal"].to_numpy() != ref["p_animal"].to_numpy()).sum()) if same_order else -1
    return (f"killed (SIGKILL) with {kept} of {n} rows on disk; rerun completed {len(again)} rows, "
            f"{'same' if same_order else 'DIFFERENT'} stimuli in the same order, byte-identical to an uninterrupted "
            f"run: {same_bytes}; p_animal differs in {differ} rows (max |dP| {dmax:.1e}), same answers {agree:.2%}")


def run(args):
    device = resolve_device(args.device)
    bs = args.batch_size or default_batch_size(device)
    workers = default_workers(device) if args.workers is None else args.workers
    cuda = device.type == "cuda"
    print(f"device {device} ({torch.cuda.get_device_name(device) if cuda else 'CPU'}), "
          f"torch {torch.__version__}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    models = args.models.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        if args.build_set:
            stimset, build_s = build_photo_set(args.build_set, args.images, args.sources, args.build_workers)
            n = len(manifest_of(stimset))
            if build_s:
                print(f"built {stimset}: {n} stimuli in {build_s:.1f} s ({n / build_s:.0f} stimuli/s, "
                      f"{args.build_workers} workers)")
            sample = subset_set(stimset, Path(tmp) / "warm-set", 2 * bs)
        else:
            if args.sample_set:  # a set built elsewhere (e.g. where cv2.saliency is missing)
                sample = Path(args.sample_set)
            else:
                from reveal.cli.main import main as reveal

                sample = Path(tmp) / "sample"
                assert reveal(["stimuli", "build", "--sample", "--out", str(sample), "--no-progress"]) == 0
            stimset = replicate_set(sample, Path(tmp) / "set", args.n)
        manifest = manifest_of(stimset)
        n_files = manifest["file"].nunique()
        side = StimulusImages(stimset, manifest["file"][:1]).size
        print(f"stimulus set: {len(manifest)} stimuli ({n_files} distinct PNGs, {side[0]}x{side[1]}), "
              f"batch {bs}, {workers} workers")

        summary, outputs = [], {}
        for model in models:
            observer = observer_for(model, tmp, args.random_weights)
            loop_n = min(args.loop_n, len(manifest))
            predict(sample, observer, Path(tmp) / f"warm-{model}.csv", device=device, batch_size=bs,
                    num_workers=workers, progress=False)  # warm-up: cuDNN autotuning, allocator, page cache
            loop_rates, rates, traces = [], [], []
            for k in range(args.repeats):  # interleaved, so that a noisy neighbour hits both alike
                loop_rate, loop_p = plain_loop(stimset, device, loop_n, observer)
                out = Path(tmp) / f"{model}-{k}.csv"
                with MemoryTrace(device) as trace:
                    t0 = time.perf_counter()
                    df = predict(stimset, observer, out, device=device, batch_size=bs, num_workers=workers,
                                 progress=False)
                    rates.append(len(df) / (time.perf_counter() - t0))
                loop_rates.append(loop_rate)
                traces.append(trace)
                print(f"  {model} repeat {k + 1}: plain loop {loop_rate:8.1f}, reveal predict {rates[-1]:8.1f} "
                      f"stimuli/s ({rates[-1] / loop_rate:.2f}x)")
            outputs[model] = out
            loop_rate, rate = float(np.median(loop_rates)), float(np.median(rates))
            print(f"{model}: plain loop (one image at a time): {loop_rate:9.1f} stimuli/s  (median; {loop_n} stimuli)")
            print(f"{model}: reveal predict (batched, end to end): {rate:9.1f} stimuli/s  (median of "
                  f"{', '.join(f'{r:.1f}' for r in rates)}; {len(df)} stimuli)")
            print(f"  speed-up over the plain loop: {rate / loop_rate:.2f}x (median of the ratios "
                  f"{np.median(np.array(rates) / np.array(loop_rates)):.2f}x)")
            print(f"  memory over the last run: {traces[-1].summary()}")
            diff = np.abs(df["p_animal"].to_numpy()[:loop_n] - loop_p).max()
            agree = (df["response"].to_numpy()[:loop_n] == np.where(loop_p >= 0.5, "animal", "nonanimal")).mean()
            print(f"  agreement with the loop (fp32, unfolded, PIL resize): max |dP(animal)| {diff:.4f}, "
                  f"same answer {agree:.1%}")
            net = network_only(device, bs, observer=observer)
            precision = "fp16" if cuda else "fp32"
            print(f"  network only ({precision}, {device.type}, batch {bs}): {net:9.1f} images/s")
            extra = {}
            if cuda and args.compile:
                t0 = time.perf_counter()
                extra["torch.compile"] = network_only(device, bs, observer=observer, compile=True)
                print(f"  network only, torch.compile (compiled in {time.perf_counter() - t0:.0f} s incl. timing): "
                      f"{extra['torch.compile']:9.1f} images/s")
            if cuda:
                extra[f"batch {2 * bs}"] = network_only(device, 2 * bs, observer=observer)
                print(f"  network only, batch {2 * bs}: {extra[f'batch {2 * bs}']:9.1f} images/s")
            summary.append((model, rate, loop_rate, net, extra))
            if args.cpu_check and cuda:
                sub = subset_set(stimset, Path(tmp) / f"cpu-{args.cpu_check}", args.cpu_check)
                t0 = time.perf_counter()
                ref = predict(sub, observer, device="cpu", batch_size=16, num_workers=4, progress=False)
                cpu_rate = len(ref) / (time.perf_counter() - t0)
                m, dmax, same = compare(read_predictions(out), ref)
                print(f"  GPU (fp16) vs CPU (fp32) on {m} stimuli: max |dP(animal)| {dmax:.2e}, same answers "
                      f"{same:.3%} (CPU path {cpu_rate:.0f} stimuli/s)")

        dec = decode_only(stimset, bs, workers)
        print(f"decode only ({workers} workers, DataLoader, pinned): {dec:9.1f} images/s")
        if cuda:
            for w in sorted({8, os.cpu_count() or 1} - {workers}):
                print(f"decode only ({w} workers): {decode_only(stimset, bs, w):9.1f} images/s")
            for name, r in decoder_rates(stimset).items():
                print(f"  one process, {name}: {r:8.1f} images/s")
            print(f"host->device copy only (pinned uint8): {transfer_only(device, bs):9.1f} images/s")
        print(f"bookkeeping only (rows, top-5 text, CSV; one process): {bookkeeping_only(stimset, bs):9.1f} stimuli/s")
        if cuda:
            for model, rate, loop_rate, net, extra in summary:
                limit = "PNG decoding on the CPU workers" if dec < net else "the network on the GPU"
                print(f"{model}: end to end {rate:.0f} stimuli/s = {rate / min(dec, net):.2f} of min(decode "
                      f"{dec:.0f}, network {net:.0f}); limited by {limit}")
            if args.target:
                print(f"target >= {args.target} stimuli/s ({models[0]}): "
                      f"{'met' if summary[0][1] >= args.target else 'NOT met'}")
        else:
            net = summary[0][3]
            loop_rate = summary[0][2]
            rate = summary[0][1]
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
        if args.resume_check:
            model = models[0]
            model_args = ["--model", model]
            if args.random_weights and model != "efficientnet_lite0":
                model_args += ["--weights", str(Path(tmp) / f"{model}_random.pth")]
            print(f"resume ({model}, {device.type}): "
                  f"{resume_check(stimset, model_args, outputs[model], tmp, device, bs, workers)}")
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
    parser.add_argument("--build-set", metavar="DIR", help="build (or reuse) a photo set here and time it (not --n)")
    parser.add_argument("--images", type=int, default=200, help="photographs in --build-set")
    parser.add_argument("--sources", type=int, default=9, help="generated map sources in --build-set")
    parser.add_argument("--build-workers", type=int, default=max(1, (os.cpu_count() or 1) - 1))
    parser.add_argument("--models", default="efficientnet_lite0", help="comma-separated observer names")
    parser.add_argument("--random-weights", action="store_true",
                        help="torchvision models with seeded random weights (speed only)")
    parser.add_argument("--cpu-check", type=int, default=0, metavar="N",
                        help="CUDA: compare with the CPU path on the first N stimuli")
    parser.add_argument("--resume-check", action="store_true", help="kill a run a third of the way in, resume "
                        "it, compare with an uninterrupted run")
    parser.add_argument("--compile", action="store_true", help="CUDA: also time the network under torch.compile")
    parser.add_argument("--target", type=float, default=2000, help="stimuli/s target printed on CUDA")
    sys.exit(run(parser.parse_args()))
