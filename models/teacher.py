"""A teacher network: learns a study's importance maps and predicts them for new photographs.

The recipe is DeepGaze II's (Kümmerer, Wallis & Bethge 2016, "DeepGaze II: reading fixations
from deep features trained on object recognition"; Kümmerer et al. 2017, ICCV): the deep
features of an ImageNet network stay **frozen**; what is learned is small:

1. a **read-out**: 1 × 1 convolutions over the feature channels (widths ``hidden``, ReLU
   between) down to one channel, applied at every cell of a ``grid`` × ``grid`` map;
2. a **Gaussian blur** of that map with a learned isotropic σ (in grid cells);
3. a **centre-bias prior**: a learned log-prior map on the grid, added to the blurred map;
4. a **softmax over all grid cells**: the output is a probability map (a distribution over
   where attention goes), returned as log-probabilities.

Features (:func:`image_features`) are computed once per image and cached: each photograph is
resized to an ``input_size`` × ``input_size`` square (aspect ratio not kept — simple, fast,
and the same for every image; the predicted map is resized back to the photograph's own
shape by :func:`predict_maps`), normalised as the observer declares, and run once through the
network with forward hooks on the named ``layers``. Each layer's output is brought to the
grid (area average when it is larger, bilinear when smaller) and the layers are concatenated
over channels. The features are *not* standardised there: the :class:`Teacher` holds the
per-channel mean and standard deviation of its **training** images (buffers set by
:func:`fit_teacher`, saved with the weights), so a feature cache does not depend on a split.

The loss (:func:`fit_teacher`) is ``lam · KLD − beta · NSS`` between predicted and human
maps, with the MIT saliency benchmark's definitions (:func:`kld_loss`, :func:`nss_loss`;
they agree with :mod:`reveal.analysis.maps.metrics`, tested) — or, where the human data are
points (ClickMe clicks, SALICON fixations), the **log-likelihood of the points** under the
predicted map (:func:`nll_loss` over :func:`points_to_grid`; DeepGaze's loss), which needs
no blur of the points into a map. Training images are split from
validation and test images **by image** (:func:`split_by_image`); Adam, minibatches of
training images, early stopping on the validation loss (the best state is kept). On the
CPU a fit is deterministic for a given seed.

:func:`save_teacher` / :func:`load_teacher` write and read a folder: ``weights.pt`` (the
state dict), ``config.json``, ``log.csv`` and ``provenance.json``.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import math
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError
from ..core.outputs import atomic_write
from ..core.seeding import as_generator
from .registry import Observer

__all__ = ["TeacherConfig", "Teacher", "TeacherFit", "image_features", "maps_to_grid", "points_to_grid",
           "kld_loss", "nss_loss", "nll_loss", "LOSSES",
           "split_by_image", "fit_teacher", "centre_bias", "save_teacher", "load_teacher", "predict_maps",
           "MATLAB_EPS", "FILES"]

#: MATLAB's ``eps``: the KLD regulariser of the MIT benchmark code.
MATLAB_EPS = 2.220446049250313e-16
#: The files of a teacher folder.
FILES = ("weights.pt", "config.json", "log.csv", "provenance.json")
#: ``TeacherConfig.loss``: against maps, against points, or chosen by the data ("auto").
LOSSES = ("auto", "kld-nss", "log-likelihood")


@dataclass(frozen=True)
class TeacherConfig:
    """What a teacher is fitted on and how (JSON-able: ``dataclasses.asdict``).

    Parameters
    ----------
    model : str
        The observer whose features the teacher reads (``load_observer`` name).
    layers : tuple of str
        Submodules (``get_submodule`` names) whose outputs are the features; the default
        spans efficientnet_lite0 from early blocks (colour, texture; stride 4 and 8) to
        the last (objects; stride 32): 24 + 80 + 112 + 320 = 536 channels.
    grid : int
        Side of the square grid the features and maps live on.
    input_size : int
        Each photograph is resized to ``input_size`` × ``input_size`` for the network.
    hidden : tuple of int
        Widths of the 1 × 1 read-out convolutions (ReLU between and after), then one
        channel.
    blur_sigma : float
        Initial σ of the Gaussian blur, in grid cells (learned).
    lr : float
        Adam's learning rate.
    max_epochs, patience : int
        Training stops after ``max_epochs`` or ``patience`` epochs without a lower
        validation loss.
    batch_size : int
        Training images per step (minibatches, reshuffled every epoch).
    lam, beta : float
        Weights of KLD and NSS in the loss ``lam · KLD − beta · NSS``.
    loss : {"auto", "kld-nss", "log-likelihood"}
        ``"kld-nss"``: ``lam · KLD − beta · NSS`` against human maps; ``"log-likelihood"``:
        the mean negative log-likelihood of human points (:func:`nll_loss`; the targets are
        point counts on the grid, :func:`points_to_grid`). ``"auto"``: the data decide —
        :func:`fit_teacher` takes it as ``"kld-nss"``; the folder fit
        (:func:`reveal.models.teacher_files.fit_teacher_folder`) picks ``"log-likelihood"``
        for click dumps and fixation files and records what it chose.
    seed : int
        Seed used when :func:`fit_teacher` is given no ``rng``.
    min_train_images : int
        Fewer training images are refused.
    """

    model: str = "efficientnet_lite0"
    layers: tuple = ("_blocks.2", "_blocks.5", "_blocks.10", "_blocks.15")
    grid: int = 32
    input_size: int = 224
    hidden: tuple = (16, 8)
    blur_sigma: float = 1.5
    lr: float = 0.01
    max_epochs: int = 300
    patience: int = 20
    batch_size: int = 32
    lam: float = 1.0
    beta: float = 1.0
    seed: int = 0
    min_train_images: int = 20
    loss: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(str(x) for x in self.layers))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if not self.layers:
            raise InputError("TeacherConfig.layers is empty: name at least one layer")
        if any(h < 1 for h in self.hidden):
            raise InputError(f"TeacherConfig.hidden must hold positive widths, got {self.hidden}")
        for name in ("grid", "input_size", "max_epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"TeacherConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.grid < 2:
            raise InputError(f"TeacherConfig.grid must be at least 2, got {self.grid}")
        for name in ("blur_sigma", "lr"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"TeacherConfig.{name} must be positive, got {getattr(self, name)}")
        if self.lam < 0 or self.beta < 0 or self.lam + self.beta == 0:
            raise InputError(f"TeacherConfig.lam and beta must be >= 0 and not both 0, got {self.lam}, {self.beta}")
        if self.loss not in LOSSES:
            raise InputError(f"TeacherConfig.loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.patience < 0 or self.min_train_images < 1:
            raise InputError("TeacherConfig.patience must be >= 0 and min_train_images >= 1")


# --------------------------------------------------------------------------- features and maps

class _Collected(Exception):
    """Raised by the last hook: every feature is in, the rest of the network need not run."""


def _as_image(image, i):
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8 or min(a.shape[:2]) < 1:
        raise InputError(f"image {i}: expected a uint8 RGB array (H, W, 3), got {a.dtype} of shape {a.shape}")
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float()


#: Prepared networks (batch norms folded: seconds of work), per observer module and device; an
#: entry is reused only while the module's parameters are the same tensors at the same version
#: (an in-place change of a weight bumps its version).
_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _prepared(observer, device):
    stamp = (str(device), tuple((p.data_ptr(), p._version) for p in observer.module.parameters()))
    cached = _PREPARED.get(observer.module)
    if cached is None or cached[0] != stamp:
        cached = (stamp, observer.prepare(device))
        _PREPARED[observer.module] = cached
    return cached[1]


def _to_grid(x, grid):
    # larger than the grid: area average; smaller: bilinear
    if x.shape[-2] >= grid and x.shape[-1] >= grid:
        return F.adaptive_avg_pool2d(x, grid)
    return F.interpolate(x, size=(grid, grid), mode="bilinear", align_corners=False)


def image_features(observer: Observer, images: Sequence[np.ndarray], config: TeacherConfig = TeacherConfig(), *,
                   batch_size: int = 16, device: str | torch.device = "cpu") -> torch.Tensor:
    """Frozen deep features of photographs on the teacher's grid.

    Parameters
    ----------
    observer : models.registry.Observer
        The network (its ``name`` must be ``config.model``) and its normalisation
        (``mean``, ``std`` on the 0–255 scale).
    images : sequence of ndarray of uint8, shape (H, W, 3)
        Photographs of any sizes; each is resized to ``config.input_size`` squared
        (bilinear, antialiased; the aspect ratio is not kept).
    config : TeacherConfig
        ``model``, ``layers``, ``grid``, ``input_size``.
    batch_size : int
        Images per forward pass.
    device : str or torch.device
        Where the network runs (in inference mode, batch norms folded: the folded copy is
        kept for the next call while the observer's weights are unchanged).

    Returns
    -------
    torch.Tensor of float32, shape (N, F, grid, grid), on the CPU
        The layers' outputs, each brought to the grid (area average when larger, bilinear
        when smaller), concatenated over channels in the order of ``config.layers``; not
        standardised (the :class:`Teacher` does that with its training statistics).
        Channels-last in memory (the read-out's matrix products over channels are several
        times faster on such a tensor than on a copy made later).

    Raises
    ------
    InputError
        For an unknown layer (with a few valid names), another observer than
        ``config.model``, or an image that is not uint8 RGB.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2))
    >>> observer = Observer.from_module(net, "tiny")
    >>> config = TeacherConfig(model="tiny", layers=("1", "2"), grid=8, input_size=32)
    >>> images = [np.zeros((20, 30, 3), np.uint8), np.full((40, 40, 3), 200, np.uint8)]
    >>> tuple(image_features(observer, images, config).shape)
    (2, 10, 8, 8)
    """
    if not isinstance(observer, Observer):
        raise InputError(f"expected an Observer (reveal.models.load_observer), got {type(observer).__name__}")
    if observer.name != config.model:
        raise InputError(f"the observer is {observer.name!r} but the config reads features of {config.model!r}: "
                         f"use TeacherConfig(model={observer.name!r}, ...)")
    names = dict(observer.module.named_modules())
    unknown = [name for name in config.layers if name not in names or name == ""]
    if unknown:
        valid = [n for n in names if n and n.count(".") <= 1][:8]
        raise InputError(f"unknown layer(s) {', '.join(map(repr, unknown))} in {config.model}; "
                         f"valid names include {', '.join(valid)}")
    images = list(images)
    if not images:
        raise InputError("no images given")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    device = torch.device(device)
    module = _prepared(observer, device)
    size = (config.input_size, config.input_size)
    mean = torch.tensor(observer.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(observer.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    got, handles = {}, []

    def hook(_m, _i, out, name):
        got[name] = out
        if len(got) == len(config.layers):
            raise _Collected

    for name in config.layers:
        handles.append(module.get_submodule(name).register_forward_hook(
            lambda m, i, out, name=name: hook(m, i, out, name)))
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                chunk = images[start:start + batch_size]
                x = torch.cat([F.interpolate(_as_image(im, start + k), size=size, mode="bilinear",
                                             antialias=True, align_corners=False)
                               for k, im in enumerate(chunk)]).to(device)
                x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
                got.clear()
                try:
                    module(x)
                except _Collected:
                    pass
                missing = [n for n in config.layers if n not in got]
                if missing:
                    raise InputError(f"layer(s) {', '.join(missing)} of {config.model} did not run in a forward pass")
                out.append(torch.cat([_to_grid(got[n].float(), config.grid) for n in config.layers], dim=1)
                           .contiguous(memory_format=torch.channels_last).cpu())
    finally:
        for h in handles:
            h.remove()
    return torch.cat(out)


def maps_to_grid(maps: Sequence[np.ndarray], grid: int) -> torch.Tensor:
    """Human importance maps as probability distributions on the grid.

    Parameters
    ----------
    maps : sequence of ndarray, shape (H, W)
        Non-negative maps of any sizes.
    grid : int

    Returns
    -------
    torch.Tensor of float32, shape (N, grid, grid)
        Each map area-resized (``interpolate(mode="area")``: averages when shrinking,
        repeats cells when growing) and divided by its sum.

    Raises
    ------
    InputError
        For a map that is not 2-D, has NaN, negative values or no mass (naming its index).

    Examples
    --------
    >>> import numpy as np
    >>> q = maps_to_grid([np.array([[0, 1], [1, 2.0]]), np.ones((6, 4))], 2)
    >>> q[0].tolist(), float(q[1].sum())
    ([[0.0, 0.25], [0.25, 0.5]], 1.0)
    """
    out = []
    for i, m in enumerate(maps):
        a = np.asarray(m, dtype=np.float64)
        if a.ndim != 2 or a.size == 0:
            raise InputError(f"map {i}: expected a 2-D array (H, W), got shape {a.shape}")
        if not np.isfinite(a).all():
            raise InputError(f"map {i} has NaN or infinite values")
        if (a < 0).any():
            raise InputError(f"map {i} has negative values: an importance map must be non-negative")
        t = F.interpolate(torch.from_numpy(a)[None, None], size=(grid, grid), mode="area")[0, 0]
        total = float(t.sum())
        if not total > 0:
            raise InputError(f"map {i} is all zeros: it says nothing about where attention goes")
        out.append((t / total).float())
    if not out:
        raise InputError("no maps given")
    return torch.stack(out)


def points_to_grid(points: Sequence[np.ndarray], shapes: Sequence[tuple[int, int]], grid: int) -> torch.Tensor:
    """Human points (clicks, fixations) as their share in each grid cell.

    Parameters
    ----------
    points : sequence of ndarray, shape (K, 2)
        0-based ``[row, col]`` pixel indices of one image's points, pooled over people
        (repeats count each time).
    shapes : sequence of (H, W)
        The size of the image each set of points refers to.
    grid : int

    Returns
    -------
    torch.Tensor of float32, shape (N, grid, grid)
        Counts of points per cell (cell ``floor(row · grid / H)``, ``floor(col · grid / W)``)
        divided by the number of points: the targets of :func:`nll_loss`.

    Raises
    ------
    InputError
        For an image with no points, or points outside its shape (naming its index).

    Examples
    --------
    >>> import numpy as np
    >>> q = points_to_grid([np.array([[0, 0], [0, 1], [3, 3]])], [(4, 4)], 2)
    >>> q[0].mul(3).round().tolist()  # two points in the first cell, one in the last
    [[2.0, 0.0], [0.0, 1.0]]
    """
    if len(points) != len(shapes):
        raise InputError(f"{len(points)} point sets but {len(shapes)} shapes")
    out = torch.zeros(len(points), grid, grid)
    for i, (pts, shape) in enumerate(zip(points, shapes)):
        a = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        h, w = (int(s) for s in shape)
        if len(a) == 0:
            raise InputError(f"image {i} has no points: it says nothing about where attention goes")
        if not np.isfinite(a).all() or (a < 0).any() or (a[:, 0] >= h).any() or (a[:, 1] >= w).any():
            raise InputError(f"image {i}: points must be 0-based [row, col] inside its {h}x{w} pixels")
        rows = np.floor(a[:, 0] * grid / h).astype(np.int64)
        cols = np.floor(a[:, 1] * grid / w).astype(np.int64)
        counts = np.bincount(rows * grid + cols, minlength=grid * grid)
        out[i] = torch.from_numpy(counts / len(a)).float().view(grid, grid)
    if not len(out):
        raise InputError("no points given")
    return out


# --------------------------------------------------------------------------- the network

def _gaussian_kernel(sigma, radius):
    x = torch.arange(-radius, radius + 1, dtype=sigma.dtype, device=sigma.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


class Teacher(nn.Module):
    """Read-out, learned blur and centre-bias prior over frozen features: log-probability maps.

    Parameters
    ----------
    n_features : int
        Feature channels F (``image_features(...).shape[1]``).
    config : TeacherConfig
        ``grid``, ``hidden`` and ``blur_sigma``.

    Notes
    -----
    ``forward(features)`` with features (N, F, grid, grid) returns (N, grid, grid)
    log-probabilities (``logsumexp`` over the grid is 0):

    * the features are standardised per channel with the buffers ``feature_mean`` and
      ``feature_std`` (0 and 1 until :func:`fit_teacher` sets them from its training
      images);
    * read-out: 1 × 1 convolutions F → hidden[0] → … → 1, ReLU after each hidden one;
    * blur: separable Gaussian, σ = ``exp(log_sigma)`` grid cells (starts at
      ``blur_sigma``), kernel radius ``ceil(3σ)`` (at most grid − 1), rebuilt every
      forward; the border is padded by **replicating** the edge cells (a zero padding would
      darken the border, where human maps also have mass);
    * prior: a learned ``log_prior`` map on the grid, added before the softmax, which
      starts as the log-density of a centred isotropic Gaussian of σ = grid / 4
      (a generic centre bias; the fit adapts it);
    * ``log_softmax`` over all grid cells.
    """

    def __init__(self, n_features: int, config: TeacherConfig = TeacherConfig()):
        super().__init__()
        if int(n_features) < 1:
            raise InputError(f"n_features must be at least 1, got {n_features}")
        self.grid = int(config.grid)
        widths = (int(n_features), *config.hidden)
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 1), nn.ReLU()]
        layers.append(nn.Conv2d(widths[-1], 1, 1))
        self.readout = nn.Sequential(*layers)
        self.register_buffer("feature_mean", torch.zeros(int(n_features)))
        self.register_buffer("feature_std", torch.ones(int(n_features)))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(config.blur_sigma)))
        g = torch.arange(self.grid, dtype=torch.float32) - (self.grid - 1) / 2
        r2 = g[:, None] ** 2 + g[None, :] ** 2
        prior = -0.5 * r2 / (self.grid / 4) ** 2
        self.log_prior = nn.Parameter(prior - torch.logsumexp(prior.flatten(), 0))

    @property
    def sigma(self) -> float:
        """The blur's σ in grid cells."""
        return float(self.log_sigma.detach().exp())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.ndim != 4 or features.shape[1] != self.feature_mean.numel() or \
                tuple(features.shape[-2:]) != (self.grid, self.grid):
            raise InputError(f"expected features of shape (N, {self.feature_mean.numel()}, {self.grid}, "
                             f"{self.grid}), got {tuple(features.shape)}")
        # the standardisation folded into the first 1 x 1 convolution (exact; no full-size copy
        # of the features): W (x - m) / s + b = (W / s) x + (b - (W / s) m)
        first = self.readout[0]
        w = first.weight / self.feature_std.view(1, -1, 1, 1)
        b = first.bias - (w.flatten(1) * self.feature_mean).sum(dim=1)
        # a matrix product over the channels, on (N, grid, grid, F): on a CPU about twice as fast as
        # a 1 x 1 conv2d when the features are channels-last in memory (fit_teacher's copies)
        x = F.linear(features.permute(0, 2, 3, 1), w.flatten(1), b)
        for layer in self.readout[1:]:  # the other 1 x 1 convolutions and ReLUs, on (N, grid, grid, C) too
            x = F.linear(x, layer.weight.flatten(1), layer.bias) if isinstance(layer, nn.Conv2d) else layer(x)
        x = x.permute(0, 3, 1, 2).contiguous()
        sigma = self.log_sigma.exp()
        radius = int(min(self.grid - 1, max(1, math.ceil(3 * float(sigma.detach())))))
        k = _gaussian_kernel(sigma, radius).to(x.dtype)
        x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
        x = F.conv2d(x, k.view(1, 1, 1, -1))
        x = F.conv2d(x, k.view(1, 1, -1, 1))
        x = x[:, 0] + self.log_prior
        n = x.shape[0]
        return F.log_softmax(x.reshape(n, -1), dim=1).reshape(n, self.grid, self.grid)


# --------------------------------------------------------------------------- losses

def kld_loss(log_p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """MIT KLD of the human map from the prediction, averaged over the batch.

    ``sum(Q * log(eps + Q / (P + eps)))`` per map, ``P = exp(log_p)``, ``Q = q / sum(q)``,
    ``eps`` = MATLAB's eps (as :func:`reveal.analysis.maps.metrics.kld`, which also divides
    ``P`` by its sum: a log-softmax output already sums to 1).

    Parameters
    ----------
    log_p : torch.Tensor, shape (N, h, w)
        Predicted log-probabilities.
    q : torch.Tensor, shape (N, h, w)
        Human maps (non-negative; normalised here).

    Returns
    -------
    torch.Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> q = torch.tensor([[[0.0, 1.0], [1.0, 2.0]]])
    >>> float(kld_loss(torch.log(q / 4 + 1e-30), q)) < 1e-6
    True
    >>> round(float(kld_loss(torch.full((1, 2, 2), 0.25).log(), q)), 4)
    0.3466
    """
    p = log_p.exp()
    q = q / q.sum(dim=(-2, -1), keepdim=True)
    return (q * torch.log(MATLAB_EPS + q / (p + MATLAB_EPS))).sum(dim=(-2, -1)).mean()


def nss_loss(log_p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """NSS of the predicted map at fixations distributed as the human map, batch mean.

    The predicted probability map ``P = exp(log_p)`` is standardised over its pixels
    (mean 0, sample standard deviation 1, ``ddof=1`` as MIT's ``std``) and averaged with
    the human map ``q`` (divided by its sum) as weights: the expected MIT NSS of a fixation
    drawn from ``q``. For ``q`` uniform over a set of pixels it is MIT NSS with that binary
    fixation map (:func:`reveal.analysis.maps.metrics.nss`, tested). Higher is better.

    Parameters
    ----------
    log_p : torch.Tensor, shape (N, h, w)
    q : torch.Tensor, shape (N, h, w)

    Returns
    -------
    torch.Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[0.0, 1.0], [1.0, 2.0]]]) / 4
    >>> q = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]])
    >>> round(float(nss_loss(torch.log(p + 1e-30), q)), 4)  # the standardised value at the peak
    1.2247
    """
    p = log_p.exp().flatten(-2)
    z = (p - p.mean(dim=-1, keepdim=True)) / p.std(dim=-1, keepdim=True)
    q = q.flatten(-2)
    return ((q / q.sum(dim=-1, keepdim=True)) * z).sum(dim=-1).mean()


def nll_loss(log_p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of human points under the predicted map, batch mean.

    ``−Σ q · log p`` per image with ``q`` the share of the image's points in each cell
    (:func:`points_to_grid`; normalised here): the mean over points of ``−log p(point)``
    in nats. A uniform prediction scores ``log(grid²)``; the information gain over it,
    in bits per point, is ``(log(grid²) − loss) / log 2`` (Kümmerer, Wallis & Bethge 2015).

    Parameters
    ----------
    log_p : torch.Tensor, shape (N, h, w)
        Predicted log-probabilities (a log-softmax over the grid).
    q : torch.Tensor, shape (N, h, w)
        Each image's share of points per cell (or counts).

    Returns
    -------
    torch.Tensor, scalar: nats per point.

    Examples
    --------
    >>> import math, torch
    >>> q = torch.tensor([[[0.0, 0.0], [1.0, 3.0]]])
    >>> round(float(nll_loss(torch.full((1, 2, 2), 0.25).log(), q)) - math.log(4), 6)  # uniform
    0.0
    >>> round(float(nll_loss(torch.tensor([[[0.0, 0.0], [0.25, 0.75]]]).clamp_min(1e-30).log(), q)), 4)
    0.5623
    """
    q = q / q.sum(dim=(-2, -1), keepdim=True)
    return -(q * log_p).sum(dim=(-2, -1)).mean()


# --------------------------------------------------------------------------- fitting

def split_by_image(n: int, rng=None, val: float = 0.15, test: float = 0.15):
    """Image indices split into training, validation and test sets.

    Parameters
    ----------
    n : int
        Number of images.
    rng : None, int or numpy.random.Generator
        Draws the permutation.
    val, test : float
        Fractions (rounded; at least one image each when ``n >= 3`` and the fraction is
        above 0).

    Returns
    -------
    train, val, test : ndarray of int
        Disjoint, each sorted, together ``range(n)``.

    Examples
    --------
    >>> tr, va, te = split_by_image(10, rng=0)
    >>> len(tr), len(va), len(te), sorted([*tr, *va, *te]) == list(range(10))
    (6, 2, 2, True)
    """
    n = int(n)
    if n < 1:
        raise InputError(f"need at least 1 image to split, got {n}")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise InputError(f"val and test must be fractions in [0, 1) with val + test < 1, got {val}, {test}")
    rng = as_generator(rng)
    n_val, n_test = round(val * n), round(test * n)
    if n >= 3:
        n_val, n_test = max(n_val, int(val > 0)), max(n_test, int(test > 0))
    n_val = min(n_val, max(0, n - 1 - n_test))
    perm = rng.permutation(n)
    return (np.sort(perm[n_val + n_test:]), np.sort(perm[:n_val]), np.sort(perm[n_val:n_val + n_test]))


@dataclass
class TeacherFit:
    """A fitted teacher and how it was fitted.

    Attributes
    ----------
    teacher : Teacher
        In its best state (lowest validation loss), eval mode.
    config : TeacherConfig
    split : dict
        ``train``, ``val``, ``test``: image index arrays.
    log : dict
        ``train_loss`` and ``val_loss``: one value per epoch (the training loss is the mean
        over the epoch's minibatches, before their steps).
    best_epoch : int
        1-based epoch of the kept state.
    epochs : int
        Epochs run.
    """

    teacher: Teacher
    config: TeacherConfig
    split: dict
    log: dict = field(default_factory=dict)
    best_epoch: int = 0
    epochs: int = 0


def _loss(config, log_p, q):
    if config.loss == "log-likelihood":
        return nll_loss(log_p, q)
    return config.lam * kld_loss(log_p, q) - config.beta * nss_loss(log_p, q)


def _check_split(split, n):
    try:
        parts = {k: np.asarray(split[k], dtype=np.int64).ravel() for k in ("train", "val", "test")}
    except (KeyError, TypeError, ValueError, IndexError) as e:
        if isinstance(split, (tuple, list)) and len(split) == 3:
            return _check_split(dict(zip(("train", "val", "test"), split)), n)
        raise InputError("split must be (train, val, test) index arrays or a dict with those keys") from e
    every = np.concatenate(list(parts.values()))
    if every.size and (every.min() < 0 or every.max() >= n):
        raise InputError(f"split indices must lie in 0..{n - 1}")
    if len(np.unique(every)) != len(every):
        raise InputError("split sets overlap: an image is in two of train, val, test (or twice in one)")
    return parts


def fit_teacher(features: torch.Tensor, maps, config: TeacherConfig = TeacherConfig(), *, rng=None,
                split=None, device: str | torch.device = "cpu") -> TeacherFit:
    """Fit a :class:`Teacher` to human maps, with early stopping on held-out images.

    Parameters
    ----------
    features : torch.Tensor, shape (N, F, grid, grid)
        From :func:`image_features`.
    maps : torch.Tensor, shape (N, grid, grid), or sequence of ndarray
        Human maps: on the grid already (:func:`maps_to_grid`) or any-size 2-D arrays;
        with ``config.loss == "log-likelihood"``, the points' shares per cell
        (:func:`points_to_grid`).
    config : TeacherConfig
    rng : None, int or numpy.random.Generator
        Draws the split (unless given) and the seed of torch's initialisation and
        minibatch order; None uses ``config.seed``.
    split : tuple or dict, optional
        ``(train, val, test)`` index arrays (or a dict with those keys); default
        :func:`split_by_image` with 15 % validation and 15 % test images.
    device : str or torch.device
        Where the read-out trains (the features and maps are copied there); the fitted
        teacher is returned on the CPU. Deterministic on the CPU only.

    Returns
    -------
    TeacherFit

    Notes
    -----
    The features of the training images are copied once (channels-last, for the read-out's
    matrix products). On a CPU shared with other work, ``torch.set_num_threads(1)`` can be
    several times faster than more threads (``benchmarks/bench_teacher.py --threads``).

    Raises
    ------
    InputError
        For fewer than ``config.min_train_images`` training images (saying how many are
        needed and given), no validation image, or features and maps that do not match.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> feats = torch.rand(12, 3, 4, 4, generator=g)
    >>> maps = feats[:, 0] + 0.1
    >>> cfg = TeacherConfig(model="toy", grid=4, hidden=(4,), max_epochs=5, min_train_images=5)
    >>> fit = fit_teacher(feats, maps, cfg, rng=0)
    >>> fit.epochs, len(fit.log["val_loss"]), sorted(fit.split)
    (5, 5, ['test', 'train', 'val'])
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        raise InputError("features must be a torch.Tensor (N, F, grid, grid) from image_features")
    n, n_feat, gh, gw = features.shape
    if (gh, gw) != (config.grid, config.grid):
        raise InputError(f"features are on a {gh}x{gw} grid but config.grid is {config.grid}")
    if not isinstance(maps, torch.Tensor):
        maps = maps_to_grid(maps, config.grid)
    if tuple(maps.shape) != (n, config.grid, config.grid):
        raise InputError(f"maps must have shape ({n}, {config.grid}, {config.grid}) to match the features, "
                         f"got {tuple(maps.shape)}")
    features = features.float()
    maps = maps.float()
    maps = maps / maps.sum(dim=(-2, -1), keepdim=True)
    rng = as_generator(config.seed if rng is None else rng)
    if split is None:
        tr, va, te = split_by_image(n, rng)
        parts = {"train": tr, "val": va, "test": te}
    else:
        parts = _check_split(split, n)
    n_train = len(parts["train"])
    if n_train < config.min_train_images:
        raise InputError(f"too few training images: {config.min_train_images} needed, {n_train} given "
                         f"({n} images in all)")
    if len(parts["val"]) == 0:
        raise InputError("no validation images: early stopping needs at least one")
    seed = int(rng.integers(2 ** 63))
    # channels-last copies (N, grid, grid, F) viewed as (N, F, grid, grid): the 1 x 1
    # convolutions run about twice as fast on them on a CPU
    device = torch.device(device)
    train_nhwc = features[parts["train"]].permute(0, 2, 3, 1).contiguous().to(device)
    val_x = features[parts["val"]].permute(0, 2, 3, 1).contiguous().to(device).permute(0, 3, 1, 2)
    train_q, val_q = maps[parts["train"]].to(device), maps[parts["val"]].to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        teacher = Teacher(n_feat, config).to(device)
        order_gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        flat = train_nhwc.reshape(-1, n_feat)
        teacher.feature_mean.copy_(flat.mean(dim=0))
        teacher.feature_std.copy_(flat.std(dim=0).clamp_min(1e-6))
    opt = torch.optim.Adam(teacher.parameters(), lr=config.lr)
    log = {"train_loss": [], "val_loss": []}
    best, best_state, best_epoch, since = math.inf, copy.deepcopy(teacher.state_dict()), 0, 0
    for epoch in range(1, config.max_epochs + 1):
        teacher.train()
        order = torch.randperm(n_train, generator=order_gen)
        total = 0.0
        for start in range(0, n_train, config.batch_size):
            idx = order[start:start + config.batch_size]
            loss = _loss(config, teacher(train_nhwc[idx].permute(0, 3, 1, 2)), train_q[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        teacher.eval()
        with torch.no_grad():
            val_loss = float(_loss(config, teacher(val_x), val_q))
        log["train_loss"].append(total / n_train)
        log["val_loss"].append(val_loss)
        if val_loss < best:
            best, best_state, best_epoch, since = val_loss, copy.deepcopy(teacher.state_dict()), epoch, 0
        else:
            since += 1
            if since > config.patience:
                break
    teacher.load_state_dict(best_state)
    teacher = teacher.cpu().eval()
    return TeacherFit(teacher=teacher, config=config, split=parts, log=log, best_epoch=best_epoch,
                      epochs=len(log["val_loss"]))


def centre_bias(maps_grid_train: torch.Tensor) -> torch.Tensor:
    """The centre-bias baseline: the mean of the training maps, a probability map.

    Parameters
    ----------
    maps_grid_train : torch.Tensor, shape (N, grid, grid)
        Training maps on the grid (each normalised to sum 1 here).

    Returns
    -------
    torch.Tensor, shape (grid, grid), summing to 1

    Examples
    --------
    >>> import torch
    >>> centre_bias(torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])).tolist()
    [[0.75, 0.25]]
    """
    m = torch.as_tensor(maps_grid_train).double()
    if m.ndim != 3 or len(m) == 0:
        raise InputError(f"expected training maps (N, grid, grid), got shape {tuple(m.shape)}")
    m = (m / m.sum(dim=(-2, -1), keepdim=True)).mean(dim=0)
    return (m / m.sum()).to(torch.as_tensor(maps_grid_train).dtype)


def predict_maps(teacher: Teacher, features: torch.Tensor, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """The teacher's probability maps at each photograph's own size.

    Parameters
    ----------
    teacher : Teacher
    features : torch.Tensor, shape (N, F, grid, grid)
    shapes : sequence of (H, W)
        One per image.

    Returns
    -------
    list of ndarray of float32, shape (H, W)
        Bilinear upsampling of the grid's probabilities, divided by its sum (each sums to 1).

    Examples
    --------
    >>> import torch
    >>> cfg = TeacherConfig(model="toy", grid=4, hidden=(2,))
    >>> _ = torch.manual_seed(0)
    >>> maps = predict_maps(Teacher(3, cfg).eval(), torch.rand(2, 3, 4, 4), [(8, 6), (5, 5)])
    >>> [m.shape for m in maps], [round(float(m.sum()), 5) for m in maps]
    ([(8, 6), (5, 5)], [1.0, 1.0])
    """
    shapes = [tuple(int(s) for s in shape) for shape in shapes]
    if len(shapes) != len(features):
        raise InputError(f"{len(features)} feature maps but {len(shapes)} shapes")
    if any(h < 1 or w < 1 for h, w in shapes):
        raise InputError(f"image shapes must be positive, got {shapes}")
    teacher.eval()
    with torch.no_grad():
        p = teacher(features.float().contiguous(memory_format=torch.channels_last)).exp()
        out = []
        for i, (h, w) in enumerate(shapes):
            m = F.interpolate(p[i][None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
            out.append((m / m.sum(dtype=torch.float64)).float().numpy())
    return out


# --------------------------------------------------------------------------- files

def save_teacher(folder, fit: TeacherFit, provenance: dict | None = None) -> Path:
    """Write a fitted teacher to a folder (created if missing).

    Files (each written atomically): ``weights.pt`` (the state dict, ``torch.save``),
    ``config.json`` (``asdict(config)``), ``log.csv`` (``epoch, train_loss, val_loss``,
    epochs from 1) and ``provenance.json`` (``provenance`` as given — where the maps and
    images came from — plus ``n_features``, ``best_epoch``, ``epochs`` and the split).

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(fit.teacher.state_dict(), buf)
    atomic_write(folder / "weights.pt", buf.getvalue())
    atomic_write(folder / "config.json", json.dumps(asdict(fit.config), indent=2) + "\n")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["epoch", "train_loss", "val_loss"])
    for i, (a, b) in enumerate(zip(fit.log["train_loss"], fit.log["val_loss"]), start=1):
        writer.writerow([i, repr(float(a)), repr(float(b))])
    atomic_write(folder / "log.csv", text.getvalue())
    prov = dict(provenance or {})
    prov.update(n_features=int(fit.teacher.feature_mean.numel()), best_epoch=int(fit.best_epoch),
                epochs=int(fit.epochs), split={k: [int(i) for i in v] for k, v in fit.split.items()})
    atomic_write(folder / "provenance.json", json.dumps(prov, indent=2) + "\n")
    return folder


def _read_json(path):
    if not path.is_file():
        raise InputError("missing: not a teacher folder (save_teacher writes " + ", ".join(FILES) + ")", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"not valid JSON ({e})", path) from e


def load_teacher(folder, *, model: str | Observer | None = None):
    """Read a teacher folder written by :func:`save_teacher`.

    Parameters
    ----------
    folder : path-like
    model : str or Observer, optional
        The network whose features will be fed: refused unless it is the one the teacher
        was fitted on.

    Returns
    -------
    teacher : Teacher
        In eval mode.
    config : TeacherConfig
    provenance : dict

    Raises
    ------
    InputError
        For a missing or damaged file (named), or another model.
    """
    folder = Path(folder)
    cfg_path, w_path = folder / "config.json", folder / "weights.pt"
    raw = _read_json(cfg_path)
    known = {f.name for f in fields(TeacherConfig)}
    if not isinstance(raw, dict) or set(raw) - known:
        extra = sorted(set(raw) - known) if isinstance(raw, dict) else []
        raise InputError(f"not a teacher config (unknown keys: {', '.join(extra) or 'not an object'})", cfg_path)
    try:
        config = TeacherConfig(**raw)
    except (TypeError, ValueError) as e:
        raise InputError(f"not a valid teacher config: {e}", cfg_path) from e
    name = model.name if isinstance(model, Observer) else model
    if name is not None and name != config.model:
        raise InputError(f"this teacher was fitted on features of {config.model}, not {name}", folder)
    provenance = _read_json(folder / "provenance.json")
    if not w_path.is_file():
        raise InputError("missing: the teacher's weights", w_path)
    try:
        state = torch.load(w_path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, not a torch file, or objects weights_only refuses
        raise InputError(f"damaged weights file, cannot be read ({type(e).__name__}: {e})", w_path) from e
    if not isinstance(state, dict) or not isinstance(state.get("feature_mean"), torch.Tensor):
        raise InputError("not a teacher's state dict (no feature_mean tensor)", w_path)
    teacher = Teacher(state["feature_mean"].numel(), config)
    try:
        teacher.load_state_dict(state)
    except RuntimeError as e:
        raise InputError(f"weights do not fit the config in config.json: {e}", w_path) from e
    return teacher.eval(), config, provenance
