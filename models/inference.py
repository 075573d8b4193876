"""Model observers take part in the experiment: every stimulus once, trial data out.

The output is the trial-data format of docs/conventions.md (``observer_kind = model``,
``group = map_source``, one row per stimulus, ``trial`` = the stimulus's 1-based manifest
row) plus the evidence: ``p_animal``, ``top5`` and ``stimset`` (the fingerprint of the
stimulus set the rows belong to).

Resumable: rows are appended to the output per batch (each batch one write, flushed; the
file is fsynced every 2 s and at the end), so an interrupted run loses at most the batch
in flight. A restarted run keeps
the rows already there, cuts a half-written last line, skips their stimulus ids and
refuses a file that belongs to another stimulus set or observer. When every stimulus is
in, the file is rewritten in manifest order through a temporary file and a rename.

Several observers (e.g. one cued observer per cue strength, :mod:`reveal.models.cueing`)
can share one file: each stimulus image is decoded once and goes through every observer,
and the file holds one row per (observer, stimulus), ordered by observer (in the order
given) then manifest row. Resuming is per observer: every observer already in the file must
be one of those asked for (a file with rows of another cue strength is refused, not
mixed), and each observer's missing stimuli are added. Observers asked for that are not in
the file yet are added too, so a finished file can be extended with another observer.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..core.errors import InputError
from ..core.outputs import atomic_write
from ..core.stimset import read_stimulus_set
from ..core.trialdata import MODEL_COLUMNS, model_header, read_model_rows, typed_model_rows

from .dataset import StimulusImages
from .readout import N_CLASSES, THRESHOLD, animal_evidence, decide, format_top5, imagenet_categories
from .registry import DEFAULT_MODEL, Observer, load_observer, resolve_device

__all__ = ["predict", "read_predictions", "default_batch_size", "default_workers"]

log = logging.getLogger(__name__)


def default_batch_size(device):
    """256 on CUDA; 4 on CPU, where the network is memory-bound and larger batches only
    spill the caches (measured with ``benchmarks/bench_predict.py``)."""
    return 256 if torch.device(device).type == "cuda" else 4


def default_workers(device):
    """PNG-decoding worker processes.

    On CUDA all cores but one (up to 16): decoding is the CPU's whole job there. On the
    CPU a quarter of the cores, and none with 4 cores or fewer: there the network needs
    every core, and a decoding process only takes time from its threads (measured with
    ``benchmarks/bench_predict.py``).
    """
    cores = os.cpu_count() or 1
    if torch.device(device).type == "cuda":
        return max(1, min(16, cores - 1))
    return 0 if cores <= 4 else cores // 4


def read_predictions(path):
    """A model's trial-data CSV with typed columns (``trial``, ``correct`` int, ``p_animal`` float)."""
    return typed_model_rows(read_model_rows(path), path)


# --------------------------------------------------------------------------- the output file

def _repair_tail(path):
    """Cut a half-written last line (a run killed inside a write) and return the file size."""
    with open(path, "rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)
            log.warning("%s: cut a half-written last line", path)
        return fh.seek(0, os.SEEK_END)


def _existing_rows(out, manifest, fingerprint):
    """The rows already in ``out`` (None for a new or empty file), after checking that the
    file is model trial data of this stimulus set."""
    if not out.exists() or out.stat().st_size == 0:
        return None
    header = model_header().encode()
    with open(out, "rb") as fh:
        head = fh.read(len(header))
    if head != header:  # checked first: the tail repair below must never touch a foreign file
        raise InputError("exists and is not a model trial-data file (its header differs); choose another --out",
                         path=out, row=0)
    _repair_tail(out)
    old = read_model_rows(out)
    other = old["stimset"] != fingerprint
    if other.any():
        i = int(np.flatnonzero(other.to_numpy())[0])
        raise InputError(f"belongs to another stimulus set (fingerprint {old['stimset'].iat[i]}, this set's is "
                         f"{fingerprint}); choose another --out or delete it", path=out, row=i + 1)
    typed_model_rows(old, out)  # a row that is not model trial data is named here, not met later
    unknown = ~old["stimulus_id"].isin(manifest["stimulus_id"])
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(f"stimulus {old['stimulus_id'].iat[i]!r} is not in this stimulus set; choose another "
                         "--out", path=out, row=i + 1)
    return old


def _check_observer(old, out, observers):
    """Every row of ``old`` belongs to one of the ``observers`` (labels)."""
    foreign = ~old["observer"].isin(observers)
    if foreign.any():
        i = int(np.flatnonzero(foreign.to_numpy())[0])
        wanted = repr(observers[0]) if len(observers) == 1 else "any of " + ", ".join(map(repr, observers))
        raise InputError(f"holds predictions of observer {old['observer'].iat[i]!r}, not {wanted}; "
                         "choose another --out (or --name)", path=out, row=i + 1)


def _csv_text(rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _row_order(df, observers):
    """Sort key of model rows: observer (in the order given), then manifest row."""
    rank = df["observer"].map({name: k for k, name in enumerate(observers)}).to_numpy(dtype=np.int64)
    return rank * (1 << 40) + df["trial"].astype(np.int64).to_numpy()


def _finalise(out, manifest, observers):
    """Check one row per observer and stimulus; rewrite in order (atomically) if needed."""
    raw = read_model_rows(out)
    df = raw.drop_duplicates(["observer", "stimulus_id"], keep="first")
    for name in observers:
        lacking = set(manifest["stimulus_id"]) - set(df.loc[df["observer"] == name, "stimulus_id"])
        if lacking:  # cannot happen unless the file was edited during the run
            raise RuntimeError(f"{out}: {len(lacking)} stimuli have no row of observer {name!r} after the run")
    order = _row_order(df, observers)
    if len(df) != len(raw) or np.any(np.diff(order) < 0):
        df = df.iloc[np.argsort(order, kind="stable")]
        atomic_write(out, df.to_csv(index=False, lineterminator="\n"))
    return df


# --------------------------------------------------------------------------- inference

def _rows_for_batch(positions, p_animal, top5, manifest, observer, fingerprint, threshold):
    """Trial-data rows (lists of str) for the manifest positions of one batch."""
    sub = manifest.iloc[positions]
    response = decide(p_animal, threshold)
    correct = (response == sub["category"].to_numpy()).astype(int)
    rows = []
    for k, (pos, rec) in enumerate(zip(positions, sub.itertuples(index=False))):
        rows.append([observer, "model", rec.map_source, 1, 1, int(pos) + 1, rec.stimulus_id, rec.image_id,
                     rec.category, rec.map_source, rec.level, response[k], int(correct[k]), "", 0,
                     f"{p_animal[k]:.6f}", top5[k], fingerprint])
    return rows


def _prep_key(observer):
    """Observers with equal keys preprocess a batch identically (computed once per batch)."""
    return (observer.mean, observer.std, observer.resize_size, observer.crop_size, observer.interpolation)


def predict(stimuli, model=DEFAULT_MODEL, out=None, *, weights=None, device="auto", batch_size=None,
            num_workers=None, threshold=THRESHOLD, name=None, progress=True):
    """Categorise every stimulus of a set with a network; write and return its trial data.

    Parameters
    ----------
    stimuli : str or os.PathLike
        Stimulus-set folder (``manifest.csv`` + PNGs).
    model : str, Observer or sequence of Observer
        Observer name (see :func:`reveal.models.registry.load_observer`), an :class:`Observer`,
        or several observers with distinct names (e.g. :func:`reveal.models.cueing.cue_observers`):
        each stimulus image is decoded once and categorised by each, all rows in one file.
    out : str or os.PathLike, optional
        Output CSV; if it exists with rows of this set and of these observers, the run
        resumes (rows of any other observer: refused). None: nothing is written.
    weights : str or os.PathLike, optional
        Local weights file (only with a model name).
    device : {"auto", "cpu", "cuda", "cuda:N"}
    batch_size, num_workers : int, optional
        Defaults from :func:`default_batch_size` and :func:`default_workers`.
    threshold : float
        Answer "animal" when P(animal) >= threshold.
    name : str, optional
        Observer label for the ``observer`` column (default: the model's name; one observer only).
    progress : bool
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    pandas.DataFrame
        One row per stimulus (per observer, observers in the order given) in manifest order, columns
        :data:`reveal.core.trialdata.MODEL_COLUMNS`, typed as by :func:`read_predictions`.
    """
    root = Path(stimuli)
    stimset = read_stimulus_set(root)
    manifest = stimset.manifest
    if batch_size is not None and int(batch_size) < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    if num_workers is not None and int(num_workers) < 0:
        raise InputError(f"number of workers must be at least 0, got {num_workers}")
    several = not isinstance(model, (str, Observer))
    if several:
        model = list(model)
        if not model or not all(isinstance(m, Observer) for m in model):
            raise ValueError("model must be a name, an Observer or a non-empty sequence of Observers")
        if weights is not None or name:
            raise ValueError("weights and name apply to one model, not to a sequence of Observers")
    dev = resolve_device(device)
    fingerprint = stimset.fingerprint
    old = None
    if out is not None:  # checked before loading a network: a wrong --out fails fast
        out = Path(out)
        if not out.parent.is_dir():
            raise InputError("output folder does not exist", path=out.parent)
        if out.is_dir():
            raise InputError("is a folder; --out takes the name of a CSV file", path=out)
        old = _existing_rows(out, manifest, fingerprint)
    if several:
        observers = model
    elif isinstance(model, Observer):
        if weights is not None:
            raise ValueError("weights apply to a model name, not to an Observer instance")
        observers = [model]
    else:
        observers = [load_observer(model, weights=weights)]
    if name:
        observers = [observers[0].renamed(name)]
    names = [o.name for o in observers]
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError(f"observer label {twice!r} is given more than once: each observer needs its own label")

    ids = manifest["stimulus_id"].to_numpy()
    need = np.ones((len(observers), len(manifest)), dtype=bool)  # need[k, i]: observer k lacks stimulus i
    if old is not None:
        _check_observer(old, out, names)
        for k, label in enumerate(names):
            need[k] = ~np.isin(ids, old.loc[old["observer"] == label, "stimulus_id"].to_numpy())
        if len(old):
            log.info("%s: resuming, %d of %d rows already there", out, len(old), need.size)
    elif out is not None:
        atomic_write(out, model_header())
    pending = np.flatnonzero(need.any(axis=0))

    # Stimuli sharing a PNG (the `full` rows of one image) are classified once.
    by_file = pd.Series(pending).groupby(manifest["file"].to_numpy()[pending], sort=False).apply(list)
    files = list(by_file.index)
    groups = list(by_file.to_numpy())

    bs = int(batch_size or default_batch_size(dev))
    nw = default_workers(dev) if num_workers is None else int(num_workers)
    use_cuda = dev.type == "cuda"
    collected = []
    if files:
        dataset = StimulusImages(root, [stimset.resolve(f, int(g[0]) + 1) for f, g in zip(files, groups)])
        loader = DataLoader(dataset, batch_size=bs, shuffle=False, num_workers=nw, pin_memory=use_cuda,
                            prefetch_factor=4 if nw else None,
                            timeout=300 if nw else 0)  # a hung worker becomes an error, not a hang
        if use_cuda:
            torch.backends.cudnn.benchmark = True  # one input shape all run long: let cuDNN pick kernels
        nets = [o.prepare(dev) for o in observers]
        categories = imagenet_categories()
        fh = open(out, "a", newline="", encoding="utf-8") if out is not None else None
        synced = time.monotonic()
        desc = names[0] if len(names) == 1 else f"{len(names)} observers"
        bar = tqdm(total=int(need.sum()), unit="stim", desc=desc, disable=not progress, leave=progress)
        try:
            with torch.inference_mode():
                for idx, images, ok in loader:
                    if not bool(ok.all()):
                        j = int(idx[~ok][0])
                        raise InputError(f"cannot decode stimulus image {files[j]!r}",
                                         path=stimset.manifest_path, row=int(groups[j][0]) + 1)
                    # (N, H, W, 3) → (N, 3, H, W) is a view, already channels-last.
                    batch = images.to(dev, non_blocking=True).permute(0, 3, 1, 2)
                    batch_groups = [groups[j] for j in idx.tolist()]
                    inputs, rows = {}, []
                    for k, (observer, net) in enumerate(zip(observers, nets)):
                        # The manifest positions of each image this observer still lacks.
                        wanted = [[p for p in g if need[k, p]] for g in batch_groups]
                        sel = [i for i, w in enumerate(wanted) if w]
                        if not sel:
                            continue
                        key = _prep_key(observer)
                        if key not in inputs:
                            inputs[key] = observer.preprocess(batch)
                        x = inputs[key]
                        if len(sel) < len(wanted):
                            x = x[torch.tensor(sel, device=x.device)]
                        # Mixed precision on CUDA only: this CPU kind (AVX2, no AVX-512/AMX) has no
                        # fast half-precision kernels.
                        with torch.autocast(dev.type, dtype=torch.float16, enabled=use_cuda):
                            logits = net(x)
                        if logits.ndim != 2 or logits.shape[1] != N_CLASSES:
                            raise InputError(f"model {observer.name!r} gives outputs of shape "
                                             f"{tuple(logits.shape)}; the animal read-out needs {N_CLASSES} "
                                             "ImageNet-1k logits")
                        p, top_idx, top_p = (t.cpu().numpy() for t in animal_evidence(logits))
                        reps = [len(wanted[i]) for i in sel]
                        positions = np.concatenate([wanted[i] for i in sel])
                        rows += _rows_for_batch(positions, np.repeat(p, reps),
                                                np.repeat(format_top5(top_idx, top_p, categories), reps),
                                                manifest, observer.name, fingerprint, threshold)
                    if fh is not None:
                        fh.write(_csv_text(rows))  # one write per batch: whole lines or a cut tail
                        fh.flush()  # in the OS's hands: a killed run keeps every finished batch
                        if time.monotonic() - synced > 2.0:  # on disk every 2 s, not per batch
                            os.fsync(fh.fileno())
                            synced = time.monotonic()
                    else:
                        collected.extend(rows)
                    bar.update(len(rows))
        finally:
            bar.close()
            if fh is not None:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()

    if out is not None:
        return typed_model_rows(_finalise(out, manifest, names).reset_index(drop=True), out)
    df = pd.DataFrame(collected, columns=list(MODEL_COLUMNS)).astype(str)
    df = typed_model_rows(df)
    return df.iloc[np.argsort(_row_order(df, names), kind="stable")].reset_index(drop=True)
