"""GALA runs at the edges: photographs, categories and human maps from disk in, a RUN folder out.

:mod:`reveal.models.gala_training` trains on arrays; this module reads the inputs as
``reveal stimuli build`` does (a folder of photographs by file stem, a categories CSV, a map
source ``SOURCE=PATH``), writes the run folder, and reads it back as an observer
(``reveal predict --model RUN/``). A RUN folder holds:

- ``weights.pt``: the whole network's state dict, GALA blocks included (read with
  ``weights_only=True``);
- ``run.json``: what the network is (base model, GALA layers, ``blocks``: GALA or the control's
  activity maps, residual start, ``from_scratch``, reduction) and
  how it was trained (settings, label kind, seed, the image ids of each fold, the SHA-256 of
  the inputs, images without a map, the toolkit version), written last: a folder with it
  is a finished run;
- ``log.csv``: per epoch, cross-entropy and map loss (training and validation), validation
  accuracy and map Spearman;
- ``heldout.csv`` / ``heldout_per_image.csv``: the test fold's accuracy and map score;
- ``checkpoint.pt`` while training (after every epoch; a rerun with the same arguments goes on
  from it; removed when the run is finished).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, replace
from pathlib import Path

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch

from ..core.categories import read_categories, read_imagenet_classes
from ..core.errors import InputError
from ..core.outputs import atomic_write
from ..core.seeding import derive_seed
from ..core.version import toolkit_version
from ..stimuli.loaders import open_map_source
from ..stimuli.loaders.images import IMAGE_SUFFIXES, files_by_stem, read_image
from .gala import BLOCK_KINDS, add_gala, gala_blocks
from .gala_training import GalaTrainConfig, evaluate_gala, maps_in_crop, train_gala
from .registry import Observer, load_observer, random_weights, resolve_device
from .teacher_files import sha256_files

__all__ = ["RUN_FILE", "FIGURE", "LOG_COLUMNS", "train_folder", "load_run", "read_run", "is_run_folder", "read_log",
           "read_heldout"]

#: Written last: its presence marks a finished run.
RUN_FILE = "run.json"
CHECKPOINT = "checkpoint.pt"
#: The run's figure (written by ``reveal train`` from the log and the test fold).
FIGURE = "heldout.png"
OUTPUTS = (RUN_FILE, "weights.pt", "log.csv", "heldout.csv", "heldout_per_image.csv", FIGURE, CHECKPOINT)
#: The per-epoch columns of ``log.csv`` (after ``epoch``), as :class:`~reveal.models.gala_training.GalaFit` logs them.
LOG_COLUMNS = ("train_ce", "train_map", "val_ce", "val_map", "val_accuracy", "val_map_spearman")


def is_run_folder(path) -> bool:
    """Whether ``path`` is a folder written by :func:`train_folder` (it holds ``run.json``)."""
    return Path(path).is_dir() and (Path(path) / RUN_FILE).is_file()


def _check_out(out: Path, overwrite: bool):
    if out.exists() and not out.is_dir():
        raise InputError("not a folder: give a new folder for the run", out)
    if is_run_folder(out) and not overwrite:
        raise InputError("a finished run is here: give --overwrite to train it again (its files are replaced)", out)
    if out.is_dir():
        foreign = [p.name for p in out.iterdir() if p.name not in OUTPUTS]
        if foreign:
            raise InputError(f"not empty and not a run folder ({', '.join(sorted(foreign)[:3])} ...): give a new "
                             "folder (nothing of yours is overwritten)", out)
    if overwrite and is_run_folder(out):
        for name in OUTPUTS:  # only the files a run writes
            (out / name).unlink(missing_ok=True)


def _inputs(images, categories, maps):
    photos = files_by_stem(images, IMAGE_SUFFIXES)
    if not photos:
        raise InputError(f"no photographs ({', '.join(IMAGE_SUFFIXES)}) in this folder", images)
    cats = read_categories(categories)
    missing = [i for i in cats if i not in photos]
    if missing:
        raise InputError(f"{len(missing)} image(s) of the categories file have no photograph in {images}: "
                         f"{', '.join(missing[:5])}", categories)
    classes = read_imagenet_classes(categories)
    name, path = maps
    source = open_map_source(name, path)
    strangers = sorted(set(source.refs) - set(cats))
    if strangers:
        raise InputError(f"maps for {len(strangers)} image(s) that are not in the categories file: "
                         f"{', '.join(strangers[:5])}", path)
    ids = list(cats)
    if classes is None:
        labels, kind = [1 if cats[i] == "animal" else 0 for i in ids], "animal"
    else:
        labels, kind = [classes[i] for i in ids], "imagenet"
    return photos, ids, labels, kind, source


def train_folder(images, categories, maps: tuple[str, str | Path], out, *, model: str = "efficientnet_lite0",
                 layers="auto", reduction: int = 4, config: GalaTrainConfig = GalaTrainConfig(), seed: int = 0,
                 blocks: str = "gala", from_scratch: bool = False, device: str = "auto",
                 progress: bool = False, overwrite: bool = False, on_epoch=None) -> dict:
    """Train a GALA-augmented network on a study's photographs and human maps; write ``out``.

    Parameters
    ----------
    images : path-like
        Folder of photographs (image id = file stem).
    categories : path-like
        ``image_id, category`` CSV (+ an optional ``imagenet_class`` column: then the network
        learns those classes; else the animal / non-animal read-out).
    maps : (str, path-like)
        The human maps (map folder, click dump, SALICON files); images without a map count in
        the cross-entropy only.
    out : path-like
        The run folder (created; a finished run is replaced only with ``overwrite``; an
        unfinished one goes on from its checkpoint).
    model, layers : str
        The base observer (:func:`reveal.models.registry.load_observer`) and the GALA layers
        (``"auto"`` or site names: :func:`reveal.models.gala.add_gala`).
    reduction : int
        The blocks' bottleneck reduction r.
    config : GalaTrainConfig
    seed : int
        The blocks' initial weights, the split, the minibatch orders (and, from scratch, the
        network's initial weights).
    blocks : {"gala", "activity"}
        GALA blocks, or the paper's control without GALA: the map loss on the network's own
        activity at the same layers (:class:`reveal.models.gala.ActivityMap`; needs
        ``config.freeze="none"``).
    from_scratch : bool
        The paper's setting: the network's architecture with random weights
        (:func:`reveal.models.registry.random_weights`) and blocks that apply ``U ⊙ A``;
        needs ``config.freeze="none"`` and, for batch-norm networks, ``config.train_mode``.
    device : str
    progress : bool
    overwrite : bool
    on_epoch : callable, optional
        Passed to :func:`train_gala`.

    Returns
    -------
    dict
        The run's record (``run.json``), with ``heldout`` (the test fold's scores).
    """
    out = Path(out)
    _check_out(out, overwrite)
    photos, ids, labels, kind, source = _inputs(images, categories, maps)
    pictures = [read_image(photos[i]) for i in ids]
    human = [source.refs[i].load() if i in source.refs else None for i in ids]
    if from_scratch and config.freeze != "none":
        raise InputError("training from scratch trains every layer: it needs freeze='none' (--freeze none)")
    base = load_observer(model)
    if from_scratch:
        base = random_weights(base, seed=derive_seed(seed, "from-scratch"))
    gala = add_gala(base, layers, reduction=reduction, seed=seed, kind=blocks, residual=not from_scratch)
    names = list(gala_blocks(gala.module))
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        fit = train_gala(gala, pictures, labels, kind, human, config, seed=seed, checkpoint=out / CHECKPOINT,
                         device=resolve_device(device), progress=progress, on_epoch=on_epoch)
    except InputError:
        if created and not any(out.iterdir()):  # refused before any epoch: leave nothing behind
            out.rmdir()
        raise
    shapes = [p.shape[:2] for p in pictures]
    crop_maps, has = maps_in_crop(gala, human, shapes)
    test = evaluate_gala(fit.observer, pictures, torch.as_tensor(labels), kind, crop_maps, has, fit.split["test"],
                         lam=config.lam)
    heldout = {"n_images": len(fit.split["test"]), "n_with_maps": int(has[fit.split["test"]].sum()),
               "accuracy": test["accuracy"], "map_spearman": test["map_spearman"], "ce": test["ce"],
               "map_loss": test["map"]}
    buf = io.BytesIO()
    torch.save(fit.observer.module.state_dict(), buf)
    atomic_write(out / "weights.pt", buf.getvalue())
    _write_csv(out / "log.csv", ["epoch", *LOG_COLUMNS], [[e + 1, *(fit.log[k][e] for k in LOG_COLUMNS)]
                                                      for e in range(fit.epochs)])
    _write_csv(out / "heldout.csv", list(heldout), [list(heldout.values())])
    _write_csv(out / "heldout_per_image.csv", ["image_id", "label", "correct", "map_spearman"],
               [[ids[i], labels[i], int(c), rho] for i, c, rho in test["per_image"]])
    map_files = sorted({r.path for r in source.refs.values() if r.per_image} | set(source.shared_files))
    record = {"model": model, "gala_layers": names, "blocks": blocks, "residual": not from_scratch,
              "from_scratch": from_scratch, "reduction": reduction,
              "config": asdict(config), "label_kind": kind, "seed": seed, "best_epoch": fit.best_epoch,
              "epochs": fit.epochs, "image_ids": {k: [ids[int(j)] for j in v] for k, v in fit.split.items()},
              "n_images": len(ids), "n_without_maps": int((~has).sum()),
              "inputs": {"images_sha256": sha256_files(photos[i] for i in ids),
                         "categories_sha256": sha256_files([categories]),
                         "maps": {"source": maps[0], "format": source.format, "sha256": sha256_files(map_files)}},
              "heldout": heldout, "toolkit_version": toolkit_version()}
    atomic_write(out / RUN_FILE, json.dumps(record, indent=2) + "\n")
    (out / CHECKPOINT).unlink(missing_ok=True)
    return record


def _write_csv(path, header, rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[repr(float(v)) if isinstance(v, float) else v for v in row] for row in rows])
    atomic_write(path, text.getvalue())


def read_run(folder) -> dict:
    """A finished run's record (``run.json``), checked for what :func:`load_run` needs.

    Raises
    ------
    InputError
        Not a finished run, or a damaged record (naming the file).
    """
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        raise InputError(f"not a finished GALA run (no {RUN_FILE}: reveal train writes it last)", folder)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        str(record["model"]), list(record["gala_layers"]), bool(record["residual"]), int(record["reduction"])
        if record.get("blocks", "gala") not in BLOCK_KINDS:
            raise ValueError(f"blocks must be one of {', '.join(BLOCK_KINDS)}, got {record['blocks']!r}")
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise InputError(f"not a readable run record ({type(e).__name__}: {e})", path) from None
    return record


def load_run(folder, *, name: str | None = None) -> Observer:
    """A RUN folder's trained network as an observer (``reveal predict --model RUN/``).

    Raises
    ------
    InputError
        Not a finished run, a damaged ``run.json`` or ``weights.pt``, or weights of another
        network (each naming the file).
    """
    folder = Path(folder)
    record = read_run(folder)
    model, layers, residual, reduction = (record["model"], list(record["gala_layers"]), bool(record["residual"]),
                                          int(record["reduction"]))
    blocks = record.get("blocks", "gala")
    base = load_observer(model)
    observer = add_gala(base, layers, residual=residual, reduction=reduction, kind=blocks,
                        name=name or f"{base.name}+{blocks}({folder.resolve().name})")
    weights = folder / "weights.pt"
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError("missing: the run's weights", weights) from None
    except Exception as e:  # truncated, not a torch file, or objects weights_only refuses
        raise InputError(f"damaged weights file, cannot be read ({type(e).__name__})", weights) from None
    try:
        observer.module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise InputError(f"these weights are not of {model} with GALA at {', '.join(layers)} "
                         f"({str(e).splitlines()[0]})", weights) from None
    return replace(observer, module=observer.module.eval(),
                   description=f"{observer.description}; trained: {folder} (λ={record.get('config', {}).get('lam')})")


def _read_table(folder, name, what, columns, **read_csv):
    import pandas as pd

    folder = Path(folder)
    if not is_run_folder(folder):
        raise InputError(f"not a finished GALA run (no {RUN_FILE}: reveal train writes it last)", folder)
    path = folder / name
    try:
        table = pd.read_csv(path, **read_csv)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the run's {what} ({type(e).__name__})", path) from None
    missing = set(columns) - set(table.columns)
    if missing:
        raise InputError(f"not a run's {what}: missing column(s) {sorted(missing)}", path)
    return table, path


def read_log(folder):
    """A finished run's per-epoch log (``log.csv``) as a table (no rows for 0 epochs).

    Raises
    ------
    InputError
        Not a finished run, or a damaged file (naming it).
    """
    return _read_table(folder, "log.csv", "log", ("epoch", *LOG_COLUMNS))[0]


def read_heldout(folder):
    """A finished run's test-fold results per image (``heldout_per_image.csv``).

    Returns
    -------
    pandas.DataFrame
        ``image_id`` (str), ``label``, ``correct`` (0/1), ``map_spearman`` (NaN without a map).

    Raises
    ------
    InputError
        Not a finished run, or a damaged file (naming it).
    """
    table, path = _read_table(folder, "heldout_per_image.csv", "test results",
                              ("image_id", "label", "correct", "map_spearman"), dtype={"image_id": str})
    if not table["correct"].isin([0, 1]).all() or table["image_id"].duplicated().any():
        raise InputError("not a run's test results: 'correct' must be 0 or 1, one row per image", path)
    test = set(map(str, read_run(folder).get("image_ids", {}).get("test", table["image_id"])))
    if set(table["image_id"]) != test:  # cut short or edited: run.json lists the test fold
        raise InputError(f"holds {len(set(table['image_id']) & test)} of the run's {len(test)} test images "
                         f"(and {len(set(table['image_id']) - test)} others): cut short or edited", path)
    return table
