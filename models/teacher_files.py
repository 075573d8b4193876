"""The teacher at the edges: photographs and human maps from disk in, teacher and map folders out.

:mod:`reveal.models.teacher` holds the model and its fit on arrays; this module reads a map
source (``SOURCE=PATH`` as ``reveal stimuli build`` reads it: map folders, ClickMe click dumps,
SALICON files) and a folder of photographs, writes the teacher folder, and writes map folders
(:mod:`reveal.core.mapfiles`):

- ``TEACHER/heldout_maps/``: for the test images (never trained on, never used for early
  stopping), the teacher's maps and two references measured in the same run — the
  *centre bias* (the mean of the training images' maps, the baseline a map model must beat)
  and the network's *activation norm* map (:mod:`reveal.models.attention`, no training at
  all) — which the analysis scores against the human maps (``reveal maps teacher fit``
  does it with :func:`reveal.analysis.maps.pipeline.compare`);
- ``MAPS/`` from :func:`predict_folder`: the teacher's maps of new photographs, a map source
  for ``reveal stimuli build --maps teacher=MAPS/`` and ``reveal maps compare``; its index
  records the teacher's fingerprint (SHA-256 of its weights), which a stimulus set built
  from it keeps in ``stimset.json``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import numpy as np
import torch

from ..core.errors import InputError
from ..core.mapfiles import write_maps
from ..core.version import toolkit_version
from ..stimuli.loaders import open_map_source
from ..stimuli.loaders.images import IMAGE_SUFFIXES, files_by_stem, read_image
from .registry import load_observer, resolve_device
from .teacher import (TeacherConfig, centre_bias, fit_teacher, image_features, load_teacher, maps_to_grid,
                      points_to_grid, predict_maps, save_teacher)

__all__ = ["TeacherRun", "fit_teacher_folder", "predict_folder", "sha256_files", "HELDOUT_MAPS", "TEACHER_SOURCE"]

#: The map folder of the test images' maps inside a teacher folder.
HELDOUT_MAPS = "heldout_maps"
#: The map source name the teacher's maps are written under.
TEACHER_SOURCE = "teacher"


@dataclass(frozen=True)
class TeacherRun:
    """What :func:`fit_teacher_folder` did: the fit, the image ids of each fold, the folders."""

    fit: object
    image_ids: dict
    folder: Path
    heldout_maps: Path


def sha256_files(paths) -> str:
    """One digest of several files: their names and bytes, in name order (not their folders)."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _photos(images):
    files = files_by_stem(images, IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"no photographs ({', '.join(IMAGE_SUFFIXES)}) in this folder", images)
    return files


def _check_out(folder: Path, marker: str, what: str):
    """A folder the command may write: missing, empty, or one it wrote before (``marker`` inside)."""
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / marker).exists())):
        raise InputError(f"not empty and not a {what}: give a new folder (nothing of yours is overwritten)", folder)


def fit_teacher_folder(maps: tuple[str, str | Path], images, out, *, config: TeacherConfig | None = None,
                       seed: int = 0, device: str = "auto") -> TeacherRun:
    """Fit a teacher to a map source's maps of the photographs in ``images``; write ``out``.

    Parameters
    ----------
    maps : (str, path-like)
        ``(source name, path)``: the human maps (folder of maps, click dump, SALICON files).
    images : path-like
        Folder of photographs, image id = file stem; the images with a map are used.
    out : path-like
        The teacher folder (created; an earlier teacher folder is replaced file by file).
    config : TeacherConfig, optional
        Network, layers, grid, training settings (default :class:`TeacherConfig`).
    seed : int
        Seed of the split and the fit.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda[:N]"``: where the network and the
        fit run (a fit is deterministic on the CPU only).

    Returns
    -------
    TeacherRun

    Notes
    -----
    With ``config.loss == "auto"`` the loss follows the data: the log-likelihood of the
    points for a click dump or fixation files (clicks pooled over participants), else
    ``lam · KLD − beta · NSS`` against the maps; ``config.json`` records the choice.
    The centre-bias reference is the mean of the training images' human maps either way.
    """
    config = replace(config or TeacherConfig(), seed=seed)
    out = Path(out)
    _check_out(out, "config.json", "teacher folder")
    name, path = maps
    source = open_map_source(name, path)
    photos = _photos(images)
    ids = sorted(set(source.refs) & set(photos))
    if not ids:
        raise InputError(f"no photograph in {images} has a map in source {name!r}", path)
    pictures = [read_image(photos[i]) for i in ids]
    human = [source.refs[i].load() for i in ids]
    if config.loss == "auto":
        points = all(source.refs[i].has_points for i in ids)
        config = replace(config, loss="log-likelihood" if points else "kld-nss")
    if config.loss == "log-likelihood":
        if not all(source.refs[i].has_points for i in ids):
            raise InputError(f"the log-likelihood loss needs points (a click dump or fixations); source {name!r} "
                             f"is {source.format}: use loss 'kld-nss'", path)
        targets = points_to_grid(*zip(*(source.refs[i].points_rc() for i in ids)), config.grid)
    else:
        targets = maps_to_grid(human, config.grid)
    device = resolve_device(device)
    observer = load_observer(config.model)
    features = image_features(observer, pictures, config, device=device)
    fit = fit_teacher(features, targets, config, rng=seed, device=device)
    fold_ids = {k: [ids[j] for j in v] for k, v in fit.split.items()}
    map_files = sorted({source.refs[i].path for i in ids if source.refs[i].per_image} | set(source.shared_files))
    provenance = {"toolkit_version": toolkit_version(), "network": config.model, "layers": list(config.layers),
                  "seed": seed, "maps": {"source": name, "format": source.format, "n_images": len(ids),
                                         "sha256": sha256_files(map_files)},
                  "images": {"n_images": len(ids), "sha256": sha256_files(photos[i] for i in ids)},
                  "image_ids": fold_ids}
    save_teacher(out, fit, provenance)

    # the test images' maps: the teacher's and the two references, for the held-out scores
    test = [int(j) for j in fit.split["test"]]
    sizes = [pictures[j].shape[:2] for j in test]  # maps at each photograph's own size
    taught = predict_maps(fit.teacher, features[test], sizes)
    prior = centre_bias(maps_to_grid([human[j] for j in fit.split["train"]], config.grid))
    centre = predict_maps(_Constant(prior), features[test], sizes)
    from .attention import attention_map

    norm = [attention_map(observer, pictures[j], kind="activation") for j in test]
    heldout = out / HELDOUT_MAPS
    params = {"teacher_sha256": _weights_sha256(out), "network": config.model, "fold": "test"}
    for source_name, made in ((TEACHER_SOURCE, taught), ("centre_bias", centre),
                              (f"{config.model}:activation_norm", norm)):
        write_maps(heldout, source_name, {ids[j]: np.asarray(m, dtype=np.float32) for j, m in zip(test, made)},
                   parameters=params)
    return TeacherRun(fit, fold_ids, out, heldout)


class _Constant(torch.nn.Module):
    """The same log-probability map for every image (the centre-bias reference through predict_maps)."""

    def __init__(self, prob):
        super().__init__()
        self.log_p = torch.log(prob.clamp_min(1e-30)).float()

    def forward(self, features):
        return self.log_p.expand(len(features), *self.log_p.shape)


def _weights_sha256(folder) -> str:
    return hashlib.sha256((Path(folder) / "weights.pt").read_bytes()).hexdigest()


def predict_folder(teacher, images, out, *, source: str = TEACHER_SOURCE, batch_size: int = 16,
                   device: str = "auto") -> Path:
    """The teacher's maps of the photographs in ``images``, written as a map folder.

    Parameters
    ----------
    teacher : path-like
        A teacher folder (:func:`fit_teacher_folder`).
    images : path-like
        Folder of photographs (image id = file stem).
    out : path-like
        The map folder (created; a map folder written before gets the source replaced).
    source : str
        The map source name in the index.
    device : str
        Where the network runs: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda[:N]"``.

    Returns
    -------
    pathlib.Path
        ``out``, ready for ``reveal stimuli build --maps teacher=OUT`` and ``reveal maps compare``.
    """
    model, config, provenance = load_teacher(teacher)
    photos = _photos(images)
    ids = sorted(photos)
    pictures = [read_image(photos[i]) for i in ids]
    observer = load_observer(config.model)
    features = image_features(observer, pictures, config, batch_size=batch_size, device=resolve_device(device))
    made = predict_maps(model, features, [p.shape[:2] for p in pictures])
    params = {"teacher": Path(teacher).name, "teacher_sha256": _weights_sha256(teacher), "network": config.model,
              "layers": list(config.layers), "trained_on": provenance.get("maps", {})}
    write_maps(out, source, {i: np.asarray(m, dtype=np.float32) for i, m in zip(ids, made)}, parameters=params)
    return Path(out)
