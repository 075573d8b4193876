"""Co-training GALA blocks with human maps (Linsley et al. 2019, eq. 6), on arrays.

``loss = cross-entropy + λ · Σ_layers map_loss(Â_layer, human map)`` (:func:`reveal.models.gala.map_loss`)
over minibatches of training images; images without a human map count in the cross-entropy
only. The labels are ImageNet class indices, or the study's animal / non-animal categories
through the toolkit's read-out: the cross-entropy of the summed animal probability
(:data:`reveal.models.readout.ANIMAL_CLASSES`), so any study's photographs can train a
1000-way network that stays a 1000-way network.

Each photograph goes through the observer's own preprocessing (resize, centre crop), and its
human map through the same resize and crop, so map and activity are aligned.

- ``freeze="backbone"`` (default): only the GALA blocks learn; ``"none"``: everything does.
  The network runs in eval mode either way (batch-norm statistics and dropout as at
  inference: fine-tuning on a few hundred photographs), unless ``train_mode`` (training from
  random weights, the paper's setting: batch statistics, dropout).
- ``maps_as="boxes"``: the targets are the maps' bounding boxes (the paper's control).
- Images are split by image (:func:`reveal.models.teacher.split_by_image`); early stopping on
  the validation loss keeps the best state.
- With the backbone frozen, what runs before the first GALA block's residual block is the
  same in every epoch: it is computed once per training image and cached (at most
  :data:`MAX_PREFIX_BYTES`), and training runs the rest of the network from the cache (the
  same numbers, without the resize and the early, large feature maps every epoch).
- Seeded: the minibatch order of epoch ``e`` is drawn from ``(seed, e)`` alone, so a run
  resumed from its checkpoint (written after every epoch) goes on exactly as an uninterrupted
  one; deterministic on the CPU.
"""
from __future__ import annotations

import copy
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from ..core.errors import InputError
from ..core.outputs import atomic_write
from ..core.seeding import derive_seed
from .gainfit import block_tail
from .gala import attention_maps, gala_blocks, map_loss
from .readout import ANIMAL_CLASSES
from .registry import Observer, resize_shorter_side
from .teacher import split_by_image

__all__ = ["GalaTrainConfig", "GalaFit", "LABEL_KINDS", "MAPS_AS", "BOX_MASS", "classification_loss", "map_box",
           "maps_in_crop", "train_gala", "evaluate_gala"]

#: ``imagenet``: a class index 0–999 per image; ``animal``: 1 animal, 0 non-animal.
LABEL_KINDS = ("imagenet", "animal")
#: Side of the grid the map score (Spearman) is computed on.
SCORE_GRID = 14
#: ``maps``: the human maps are the targets; ``boxes``: each map's bounding box (:func:`map_box`).
MAPS_AS = ("maps", "boxes")
#: The share of a map's mass, along each axis, its bounding box spans.
BOX_MASS = 0.95
#: Largest cache of the frozen prefix's outputs a run keeps in memory (bytes); beyond it, no cache.
MAX_PREFIX_BYTES = 2 * 2**30


@dataclass(frozen=True)
class GalaTrainConfig:
    """How GALA blocks are trained (JSON-able: ``dataclasses.asdict``).

    Parameters
    ----------
    lam : float
        λ, the weight of the map loss (the paper: 6; 0 = GALA without maps).
    epochs : int
        Most epochs (0: no training, the initial network).
    lr : float
        Adam's learning rate.
    batch_size : int
    freeze : {"backbone", "none"}
        Train the GALA blocks only, or every parameter.
    train_mode : bool
        Training steps run the network in training mode (batch statistics in batch-norm,
        dropout): training from random weights (``--from-scratch``) needs it; fine-tuning a
        pretrained network keeps its statistics (False). Needs ``freeze="none"``.
    maps_as : {"maps", "boxes"}
        The map loss's targets: the human maps, or their bounding boxes (:func:`map_box`;
        the paper's control: where the object is, not which of its parts people chose).
    mixed_precision : bool
        Training steps under ``torch.autocast`` in bfloat16 (on a GPU: faster, half the
        activation memory; bfloat16 keeps float32's range, so no loss scaling is needed).
        Validation and the test fold run in float32.
    patience : int
        Stop after this many epochs without a lower validation loss.
    min_train_images : int
        Fewer training images are refused.
    """

    lam: float = 6.0
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 16
    freeze: str = "backbone"
    train_mode: bool = False
    maps_as: str = "maps"
    mixed_precision: bool = False
    patience: int = 5
    min_train_images: int = 10

    def __post_init__(self):
        if not (self.lam >= 0 and math.isfinite(self.lam)):
            raise InputError(f"λ must be a finite number >= 0, got {self.lam}")
        if self.epochs < 0 or self.batch_size < 1 or self.patience < 0 or self.min_train_images < 1:
            raise InputError("epochs and patience must be >= 0, batch_size and min_train_images >= 1")
        if not self.lr > 0:
            raise InputError(f"the learning rate must be positive, got {self.lr}")
        if self.freeze not in ("backbone", "none"):
            raise InputError(f"freeze must be 'backbone' or 'none', got {self.freeze!r}")
        if self.train_mode and self.freeze != "none":
            raise InputError("training mode (batch statistics) with a frozen backbone would change its batch-norm "
                             "statistics: use freeze='none'")
        if self.maps_as not in MAPS_AS:
            raise InputError(f"maps_as must be one of {', '.join(MAPS_AS)}, got {self.maps_as!r}")


@dataclass
class GalaFit:
    """A training run's result.

    Attributes
    ----------
    observer : Observer
        The trained network (best validation state, eval mode, on the CPU).
    split : dict
        ``train``, ``val``, ``test``: image indices.
    log : dict of str -> list of float
        Per epoch: ``train_ce``, ``train_map``, ``val_ce``, ``val_map``, ``val_accuracy``,
        ``val_map_spearman``.
    best_epoch, epochs : int
        0 when nothing was trained.
    resumed_from : int
        The epoch the run went on from (0: a fresh start).
    """

    observer: Observer
    split: dict
    log: dict = field(default_factory=dict)
    best_epoch: int = 0
    epochs: int = 0
    resumed_from: int = 0


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Cross-entropy of ImageNet classes, or of the read-out's animal probability, batch mean.

    For ``kind="animal"``, ``log P(animal) = logsumexp(animal logits) − logsumexp(all)``
    (:data:`ANIMAL_CLASSES`, as :func:`reveal.models.readout.animal_evidence` sums the
    probabilities), and the loss is the binary cross-entropy of the label (1 = animal).

    Examples
    --------
    >>> import torch
    >>> logits = torch.zeros(1, 1000)
    >>> round(float(classification_loss(logits, torch.tensor([1]), "animal")), 4)  # -log(398/1000)
    0.9213
    >>> round(float(classification_loss(logits, torch.tensor([3]), "imagenet")), 4)  # log(1000)
    6.9078
    """
    if kind == "imagenet":
        return F.cross_entropy(logits, labels)
    if kind != "animal":
        raise InputError(f"label kind must be one of {', '.join(LABEL_KINDS)}, got {kind!r}")
    total = torch.logsumexp(logits, dim=1)
    log_animal = torch.logsumexp(logits[:, ANIMAL_CLASSES], dim=1) - total
    log_other = torch.logsumexp(logits[:, ANIMAL_CLASSES.stop:], dim=1) - total
    y = labels.to(logits.dtype)
    return -(y * log_animal + (1 - y) * log_other).mean()


def _accuracy(logits, labels, kind):
    if kind == "imagenet":
        return (logits.argmax(dim=1) == labels).double()
    p_animal = torch.softmax(logits.float(), dim=1)[:, ANIMAL_CLASSES].sum(dim=1)
    return ((p_animal > 0.5).long() == labels).double()


def map_box(human: np.ndarray, mass: float = BOX_MASS) -> np.ndarray:
    """The bounding box of a map: 1 inside, 0 outside, as large as the map.

    The box spans the central ``mass`` of the map's marginal distribution along each axis
    (rows from the ``(1 − mass) / 2`` to the ``(1 + mass) / 2`` quantile, columns alike), so a
    blurred map's faint tails do not stretch it over the whole photograph. Written here
    because no library call takes a weighted map's quantile box (``skimage.measure.regionprops``
    boxes a binary region's every pixel).

    Parameters
    ----------
    human : ndarray, shape (H, W)
        Non-negative, not all zero.
    mass : float
        In (0, 1].

    Returns
    -------
    ndarray of float32, shape (H, W)

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((5, 6)); m[1, 2] = 1.0; m[3, 4] = 1.0
    >>> map_box(m).astype(int)
    array([[0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 1, 0],
           [0, 0, 1, 1, 1, 0],
           [0, 0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0]])
    """
    a = np.asarray(human, dtype=np.float64)
    if a.ndim != 2 or not np.isfinite(a).all() or (a < 0).any() or not a.sum() > 0:
        raise InputError(f"a bounding box needs a non-negative, non-zero 2-D map, got shape {a.shape}")
    if not 0 < mass <= 1:
        raise InputError(f"the box's mass must be in (0, 1], got {mass}")
    spans = []
    for axis in (1, 0):
        cdf = np.cumsum(a.sum(axis=axis))
        cdf /= cdf[-1]
        lo = int(np.searchsorted(cdf, (1 - mass) / 2, side="right"))
        hi = int(np.searchsorted(cdf, (1 + mass) / 2 - 1e-12, side="left"))
        spans.append(slice(min(lo, hi), hi + 1))
    box = np.zeros(a.shape, dtype=np.float32)
    box[spans[0], spans[1]] = 1.0
    return box


def maps_in_crop(observer: Observer, maps: Sequence[np.ndarray | None],
                 shapes: Sequence[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Human maps brought to the network's input as their photographs are.

    Each map is resized to its photograph's (H, W) (bilinear), then resized and centre-cropped
    as :meth:`Observer.preprocess` does the photograph.

    Returns
    -------
    maps : torch.Tensor of float32, shape (N, crop, crop)
        Zeros where there is no map.
    has_map : torch.Tensor of bool, shape (N,)

    Examples
    --------
    A 300 × 400 photograph: resized to a shorter side of 256 (341 wide), centre-cropped to 224;
    its map (any size) follows:

    >>> import numpy as np
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> obs = Observer.from_module(nn.Identity(), "any")
    >>> m = np.zeros((30, 40)); m[:, 20:] = 1.0  # the right half of the photograph
    >>> maps, has = maps_in_crop(obs, [m, None], [(300, 400), (256, 256)])
    >>> tuple(maps.shape), has.tolist()
    ((2, 224, 224), [True, False])
    >>> bool(maps[0, :, :100].max() == 0), bool(maps[0, :, 125:].min() > 0.99)
    (True, True)
    """
    c = observer.crop_size
    out = torch.zeros(len(maps), c, c)
    has = torch.zeros(len(maps), dtype=torch.bool)
    for i, (m, (h, w)) in enumerate(zip(maps, shapes)):
        if m is None:
            continue
        a = np.asarray(m, dtype=np.float32)
        if a.ndim != 2 or not np.isfinite(a).all() or (a < 0).any() or not a.sum() > 0:
            raise InputError(f"human map {i}: expected a non-negative, non-zero 2-D map, got shape {a.shape}")
        x = F.interpolate(torch.from_numpy(a)[None, None], size=(int(h), int(w)), mode="bilinear",
                          align_corners=False)
        target = observer.resize_size
        if target is None and min(h, w) < c:
            target = c
        if target is not None:
            x = resize_shorter_side(x, target, observer.interpolation)
        hh, ww = x.shape[-2:]
        top, left = int(round((hh - c) / 2.0)), int(round((ww - c) / 2.0))
        out[i] = x[0, 0, top:top + c, left:left + c].clamp_min(0)
        has[i] = bool(out[i].sum() > 0)
    return out, has


def _batch(observer, images, idx, device):
    return torch.cat([observer.preprocess(torch.from_numpy(np.require(images[int(i)], requirements=["C", "W"]))
                                          .permute(2, 0, 1)[None].to(device)) for i in idx])


def _losses(module, x, labels, kind, human, has, lam, forward=None):
    logits, maps = attention_maps(module, x, forward)
    ce = classification_loss(logits, labels, kind)
    if has.any():
        ml = sum(map_loss(a[has], human[has]) for a in maps.values())
    else:
        ml = torch.zeros((), device=logits.device)
    return logits, maps, ce, ml


def _map_spearman(maps, human, has):
    """Spearman of each image's mean Â (over the blocks, on a 14 × 14 grid) with its human map."""
    if not has.any():
        return []
    mean = sum(F.interpolate(a[:, None].float(), size=(SCORE_GRID, SCORE_GRID), mode="bilinear",
                             align_corners=False) for a in maps.values())[:, 0]
    ref = F.adaptive_avg_pool2d(human[:, None].float(), SCORE_GRID)[:, 0]
    out = []
    for k in torch.nonzero(has).flatten().tolist():
        a, r = mean[k].flatten().double().cpu().numpy(), ref[k].flatten().double().cpu().numpy()
        constant = np.ptp(a) == 0 or np.ptp(r) == 0  # a block at its start: a uniform map, no ranks
        out.append(math.nan if constant else float(stats.spearmanr(a, r).statistic))
    return out


def evaluate_gala(observer: Observer, images, labels, kind, human, has, indices, *, lam=0.0, batch_size=32,
                  device="cpu") -> dict:
    """Cross-entropy, map loss, accuracy and map Spearman of ``indices`` (no gradients, eval mode).

    Returns
    -------
    dict
        ``ce``, ``map`` (means over the images; the map loss over those with a map),
        ``accuracy``, ``map_spearman`` (mean over images with a map; NaN without),
        ``per_image`` (a list of ``(index, correct, spearman)``).
    """
    module = observer.module.eval()
    ce_sum, map_sum, n_map = 0.0, 0.0, 0
    per_image = []
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            idx = [int(i) for i in indices[start:start + batch_size]]
            x = _batch(observer, images, idx, device)
            y, h, m = labels[idx].to(device), human[idx].to(device), has[idx].to(device)
            logits, maps, ce, ml = _losses(module, x, y, kind, h, m, lam)
            ce_sum += float(ce) * len(idx)
            map_sum += float(ml) * int(m.sum())
            n_map += int(m.sum())
            correct = _accuracy(logits, y, kind).cpu().tolist()
            rho = iter(_map_spearman(maps, h, m))
            per_image += [(i, c, next(rho) if bool(has[i]) else math.nan) for i, c in zip(idx, correct)]
    n = max(1, len(indices))
    rhos = [r for _, _, r in per_image if math.isfinite(r)]
    return {"ce": ce_sum / n, "map": map_sum / n_map if n_map else math.nan,
            "accuracy": float(np.mean([c for _, c, _ in per_image])) if per_image else math.nan,
            "map_spearman": float(np.mean(rhos)) if rhos else math.nan, "per_image": per_image}


class _Stop(Exception):
    pass


def _prefix_block(module):
    """The residual block (``_blocks.K``, ``layerS.K``) of the first GALA block, when the network
    after its input is a known chain (:func:`reveal.models.gainfit.block_tail`); else None."""
    from .sites import dense_sites

    dense = {s.name: s.module for s in dense_sites(module)}
    first = next(iter(gala_blocks(module)))
    if first not in dense:
        return None, None
    block = ".".join(dense[first].split(".")[:2])
    tail = block_tail(module, block)
    return (block, tail) if tail is not None else (None, None)


def _prefix_cache(observer, module, block, images, indices, device, batch_size):
    """The input of ``block`` for each image of ``indices`` (no gradients), or None past the memory cap."""
    seen = []

    def grab(_m, args):
        seen.append(args[0].detach())
        raise _Stop

    handle = module.get_submodule(block).register_forward_pre_hook(grab)
    out, total = [], 0
    try:
        with torch.no_grad():
            for start in range(0, len(indices), batch_size):
                seen.clear()
                try:
                    module(_batch(observer, images, indices[start:start + batch_size], device))
                except _Stop:
                    pass
                out.append(seen[0])
                total += seen[0].numel() * seen[0].element_size()
                if total * len(indices) / (start + len(seen[0])) > MAX_PREFIX_BYTES:
                    return None
    finally:
        handle.remove()
    return torch.cat(out)


def _images_needed(n_train):
    """The fewest images whose default split (:func:`split_by_image`) trains on ``n_train``."""
    n = n_train
    while len(split_by_image(n, 0)[0]) < n_train:
        n += 1
    return n


def _fingerprint(observer, config, n, kind, seed, split):
    blocks = sorted(f"{name}:{type(b).__name__}:{getattr(b, 'residual', '')}"
                    for name, b in gala_blocks(observer.module).items())
    return {"model": observer.name, "blocks": blocks, "config": asdict(config), "n_images": int(n), "kind": kind,
            "seed": int(seed), "split": {k: [int(i) for i in v] for k, v in split.items()}}


def _save_checkpoint(path, state):
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, buf.getvalue())


def _load_checkpoint(path, fingerprint):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated by a kill mid-write cannot happen (atomic), but a foreign file can
        raise InputError(f"damaged checkpoint, cannot be read ({type(e).__name__}): delete it to start over",
                         path) from e
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        raise InputError("this checkpoint is of another run (other network, settings, images or seed): "
                         "give a new folder, or delete it to start over", path)
    return state


def train_gala(observer: Observer, images: Sequence[np.ndarray], labels: Sequence[int], kind: str,
               maps: Sequence[np.ndarray | None], config: GalaTrainConfig = GalaTrainConfig(), *, seed: int = 0,
               split=None, checkpoint: str | Path | None = None, device: str | torch.device = "cpu",
               progress: bool = False, on_epoch: Callable[[int, dict], None] | None = None,
               cache_prefix: bool = True) -> GalaFit:
    """Train a GALA-augmented observer's blocks (and, unfrozen, the rest) on photographs and human maps.

    Parameters
    ----------
    observer : Observer
        With GALA blocks (:func:`reveal.models.gala.add_gala`); not changed (a copy trains).
    images : sequence of ndarray of uint8, shape (H, W, 3)
    labels : sequence of int
        ImageNet class indices (``kind="imagenet"``) or 1 = animal, 0 = non-animal.
    kind : {"imagenet", "animal"}
    maps : sequence of ndarray (H', W') or None
        Each image's human map (any size: resized to the photograph's), None where there is none.
    config : GalaTrainConfig
    seed : int
        The split and the minibatch orders.
    split : dict, optional
        ``train``, ``val``, ``test`` index arrays (default: 70 / 15 / 15 % by image).
    checkpoint : path-like, optional
        Written after every epoch; when it exists (same network, settings, images, seed and
        split) training goes on from it.
    device : str or torch.device
    progress : bool
        A tqdm bar over epochs with the losses.
    on_epoch : callable, optional
        ``on_epoch(epoch, log_row)`` after each epoch's checkpoint (tests interrupt there).
    cache_prefix : bool
        With the backbone frozen, cache what runs before the first block (the same result,
        faster); False runs the whole network every step.

    Returns
    -------
    GalaFit

    Raises
    ------
    InputError
        No GALA blocks, labels or maps that do not match the images, too few training
        images (saying how many are needed), no validation image, a checkpoint of another run.

    Examples
    --------
    A tiny network with one GALA block, two epochs on 20 random images:

    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from reveal.models.gala import add_gala
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4), nn.BatchNorm2d(8), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000)).eval()
    >>> obs = add_gala(Observer.from_module(net, "tiny", resize_size=None, crop_size=32), ["1"])
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(20)]
    >>> fit = train_gala(obs, images, [i % 2 for i in range(20)], "animal", [rng.random((8, 8)) for _ in range(20)],
    ...                  GalaTrainConfig(epochs=2, lam=1.0, min_train_images=5), seed=0)
    >>> fit.epochs, sorted(fit.log), len(fit.split["test"])
    (2, ['train_ce', 'train_map', 'val_accuracy', 'val_ce', 'val_map', 'val_map_spearman'], 3)
    """
    from tqdm.auto import tqdm

    if kind not in LABEL_KINDS:
        raise InputError(f"label kind must be one of {', '.join(LABEL_KINDS)}, got {kind!r}")
    if not gala_blocks(observer.module):
        raise InputError(f"{observer.name!r} has no GALA blocks (reveal.models.gala.add_gala)")
    n = len(images)
    if len(labels) != n or len(maps) != n:
        raise InputError(f"{n} images but {len(labels)} labels and {len(maps)} maps")
    labels_t = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if kind == "animal" and not set(labels_t.tolist()) <= {0, 1}:
        raise InputError("animal labels must be 1 (animal) or 0 (non-animal)")
    if kind == "imagenet" and len(labels_t) and not (0 <= int(labels_t.min()) and int(labels_t.max()) < 1000):
        raise InputError("ImageNet labels must be class indices 0-999")
    if split is None:
        tr, va, te = split_by_image(n, np.random.default_rng(derive_seed(seed, "gala-split")))
        split = {"train": tr, "val": va, "test": te}
    split = {k: np.asarray(split[k], dtype=np.int64) for k in ("train", "val", "test")}
    if len(split["train"]) < config.min_train_images:
        raise InputError(f"too few training images: {config.min_train_images} needed, {len(split['train'])} given "
                         f"({n} images in all; give at least {_images_needed(config.min_train_images)})")
    if len(split["val"]) == 0:
        raise InputError("no validation images: early stopping needs at least one")
    device = torch.device(device)
    if config.maps_as == "boxes":
        maps = [None if m is None else map_box(m) for m in maps]
    human, has = maps_in_crop(observer, maps, [im.shape[:2] for im in images])
    module = copy.deepcopy(observer.module).to(device).eval()
    trained = replace(observer, module=module, _norm={})
    gala_params = {id(p) for b in gala_blocks(module).values() for p in b.parameters()}
    params = [p for p in module.parameters() if config.freeze == "none" or id(p) in gala_params]
    if not params:
        raise InputError(f"nothing to train in {observer.name!r} with the backbone frozen (activity maps have no "
                         "parameters: train the network's own layers, freeze='none')")
    for p in module.parameters():
        p.requires_grad_(config.freeze == "none" or id(p) in gala_params)
    opt = torch.optim.Adam(params, lr=config.lr)
    fingerprint = _fingerprint(observer, config, n, kind, seed, split)
    log = {k: [] for k in ("train_ce", "train_map", "val_ce", "val_map", "val_accuracy", "val_map_spearman")}
    best, best_state, best_epoch, since, start = math.inf, copy.deepcopy(module.state_dict()), 0, 0, 0
    if checkpoint is not None and Path(checkpoint).is_file():
        state = _load_checkpoint(checkpoint, fingerprint)
        module.load_state_dict(state["module"])
        opt.load_state_dict(state["optimizer"])
        log, best, best_epoch, since, start = (state["log"], state["best"], state["best_epoch"], state["since"],
                                               state["epoch"])
        best_state = state["best_state"]
    train = split["train"]
    block, tail = _prefix_block(module) if cache_prefix and config.freeze == "backbone" else (None, None)
    cache = None
    if tail is not None and start < config.epochs:
        cache = _prefix_cache(trained, module, block, images, [int(i) for i in train], device, config.batch_size)
    bar = tqdm(range(start + 1, config.epochs + 1), disable=not progress, unit="epoch", desc="GALA",
               initial=start, total=config.epochs)
    for epoch in bar:
        if since > config.patience:
            break
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(derive_seed(seed, "order", epoch)))
        ce_sum = map_sum = 0.0
        module.train(config.train_mode)  # evaluate_gala leaves it in eval mode
        for s in range(0, len(train), config.batch_size):
            positions = order[s:s + config.batch_size]
            idx = [int(train[j]) for j in positions]
            if cache is not None:  # the frozen prefix's output, computed once
                x, forward = cache[positions], tail
            else:
                x, forward = _batch(trained, images, idx, device), None
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.mixed_precision):
                _, _, ce, ml = _losses(module, x, labels_t[idx].to(device), kind, human[idx].to(device),
                                       has[idx].to(device), config.lam, forward)
            loss = ce + config.lam * ml if config.lam > 0 else ce
            opt.zero_grad()
            loss.backward()
            opt.step()
            ce_sum += float(ce.detach()) * len(idx)
            map_sum += float(ml.detach()) * len(idx)
        val = evaluate_gala(trained, images, labels_t, kind, human, has, split["val"], device=device)
        row = {"train_ce": ce_sum / len(train), "train_map": map_sum / len(train), "val_ce": val["ce"],
               "val_map": val["map"], "val_accuracy": val["accuracy"], "val_map_spearman": val["map_spearman"]}
        for k, v in row.items():
            log[k].append(float(v))
        val_loss = val["ce"] + (config.lam * val["map"] if config.lam > 0 and math.isfinite(val["map"]) else 0.0)
        if val_loss < best:
            best, best_state, best_epoch, since = val_loss, copy.deepcopy(module.state_dict()), epoch, 0
        else:
            since += 1
        if checkpoint is not None:
            _save_checkpoint(checkpoint, {"fingerprint": fingerprint, "epoch": epoch, "module": module.state_dict(),
                                          "optimizer": opt.state_dict(), "log": log, "best": best,
                                          "best_state": best_state, "best_epoch": best_epoch, "since": since})
        bar.set_postfix(ce=f"{row['train_ce']:.3f}", map=f"{row['train_map']:.3f}", val_acc=f"{val['accuracy']:.2f}")
        if on_epoch is not None:
            on_epoch(epoch, row)
    bar.close()
    module.eval()
    module.load_state_dict(best_state)
    for p in module.parameters():
        p.requires_grad_(False)
    trained = replace(trained, module=module.cpu().eval(), _norm={})
    return GalaFit(trained, split, log, best_epoch, len(log["val_ce"]), start)
