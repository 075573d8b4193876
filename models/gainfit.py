"""Cue values fitted on a labelled photo set: tuning values, gradient values, TOAD gains.

Three ways to say which channels of a layer a cue toward "animal" should turn up:

- **tuning values** (Lindsay & Miller 2018, eLife 7:e38105): how a channel's mean response
  (over positions) differs between the categories. Here ``t_c = (μ_animal,c − μ_c) / σ_c``,
  ``μ_c`` and ``σ_c`` the mean and standard deviation of the channel's per-image mean over
  all photos (0 for a channel that never varies), then ``f = t / max|t|``.
- **gradient values** (Lindsay & Miller 2018): how the animal score ``mean(logits[0:398])
  − mean(logits[398:])`` depends on the channel: its gradient with respect to the layer,
  averaged over positions and over the photos of the attended category (animal), then
  ``f = d / max|d|``. At the head it is the exact, input-free value of
  :func:`reveal.models.cueing.head_gradient_values` (a test checks they agree).
- **TOAD gains** (Bickford Smith, Roads, Luo & Love): gains trained with the network frozen,
  on the layer's activations computed once (:func:`reveal.models.toad.fit_toad_gains`); the
  file stores ``gains − 1``, so strength β = 1 is the trained gains.

Feature-similarity gains at strength β are ``max(0, 1 + β f)`` for all three
(:func:`reveal.models.cueing.gains`). The result goes to a gains file
(:mod:`reveal.core.gainsfile`) that ``reveal predict --gains`` reads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import numpy as np
import torch
from torch import nn

from ..core.categories import read_categories
from ..core.errors import InputError
from ..core.gainsfile import Gains, hash_inputs
from ..stimuli.loaders.images import listed_images, read_image
from .readout import ANIMAL_CLASSES
from .sites import CueSite, check_site, classifier_layer, find_site, site_activations

__all__ = ["PhotoSet", "read_photo_set", "tuning_values", "gradient_values", "site_tail", "block_tail", "fit_gains",
           "FIT_METHODS"]

FIT_METHODS = ("tuning", "gradient", "toad")


@dataclass(frozen=True)
class PhotoSet:
    """Labelled photographs: ``paths[i]`` is an animal when ``labels[i]``."""

    image_ids: tuple
    paths: tuple
    labels: np.ndarray
    images_dir: Path
    categories_file: Path

    def __len__(self):
        return len(self.paths)


def read_photo_set(images, categories) -> PhotoSet:
    """The photos of ``images`` listed in ``categories`` (the inputs of ``reveal stimuli build``).

    Raises
    ------
    InputError
        A listed image without a file, or a set without both categories.
    """
    images, categories = Path(images), Path(categories)
    cats = read_categories(categories)
    files = listed_images(images, cats, categories)
    labels = np.array([c == "animal" for c in cats.values()], dtype=bool)
    if labels.all() or not labels.any():
        raise InputError("cue values need photos of both categories (animal and nonanimal); this file lists "
                         f"{'only animals' if labels.all() else 'no animal'}", categories)
    return PhotoSet(tuple(cats), tuple(files[i] for i in cats), labels, images, categories)


def _batches(observer, photos: PhotoSet, batch_size):
    """Preprocessed float batches of the photos (each resized and cropped on its own: sizes differ)."""
    for start in range(0, len(photos), batch_size):
        chunk = photos.paths[start:start + batch_size]
        xs = [observer.preprocess(torch.from_numpy(np.array(read_image(p))).permute(2, 0, 1)[None])
              for p in chunk]
        yield start, torch.cat(xs).contiguous()


def _capture(module, site, store, copy=False):
    # copy: an in-place operation after the layer would change the tensor seen (kept for
    # gradients, where the tensor must be the graph's own; sites are checked not to be)
    take = (lambda t: t.detach().clone()) if copy else (lambda t: t)
    layer = dict(module.named_modules())[site.module]
    if site.where == "input":
        return layer.register_forward_pre_hook(lambda m, args: store.append(take(args[0])))
    return layer.register_forward_hook(lambda m, args, out: store.append(take(out)))


def layer_activations(observer, site: CueSite, photos: PhotoSet, *, batch_size=16, reduce=True) -> torch.Tensor:
    """The site's activations for every photo, ``(N, C)`` means over positions (``reduce``) or whole."""
    module = observer.module.eval()
    out = []
    for _, x in _batches(observer, photos, batch_size):
        seen: list = []
        handle = _capture(module, site, seen, copy=True)
        try:
            with torch.inference_mode():
                module(x)
        finally:
            handle.remove()
        a = seen[0].float()
        out.append(a.flatten(2).mean(2) if reduce and a.ndim > 2 else a.clone())
    return torch.cat(out)


def tuning_values(means, labels) -> np.ndarray:
    """Feature-similarity tuning values from per-image channel means.

    Parameters
    ----------
    means : array-like, shape (N, C)
        Each photo's mean response per channel.
    labels : array-like of bool, shape (N,)
        True for the animals.

    Returns
    -------
    numpy.ndarray of float64, shape (C,)
        ``t / max|t|`` with ``t_c = (mean over animals − mean over all) / std over all``
        (0 where a channel does not vary).

    Examples
    --------
    >>> means = [[1.0, 5.0, 2.0], [3.0, 5.0, 1.0], [0.0, 5.0, 2.0], [0.0, 5.0, 1.0]]
    >>> tuning_values(means, [True, True, False, False]).round(3).tolist()
    [1.0, 0.0, 0.0]
    """
    m = np.asarray(means, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    sd = m.std(axis=0)
    t = np.divide(m[y].mean(axis=0) - m.mean(axis=0), sd, out=np.zeros(m.shape[1]), where=sd > 0)
    top = np.abs(t).max()
    if not top > 0:
        raise InputError("no channel's mean response differs between the categories on these photos: the tuning "
                         "values are all 0")
    return t / top


def gradient_values(observer, site: CueSite, photos: PhotoSet, *, batch_size=8) -> np.ndarray:
    """Image-averaged gradient values of the animal score at ``site`` (over the animal photos).

    Returns
    -------
    numpy.ndarray of float64, shape (C,)
        ``d / max|d|``, ``d_c`` the gradient of ``mean(logits[0:398]) − mean(logits[398:])``
        with respect to channel ``c`` of the site, averaged over positions and animal photos.
    """
    module = observer.module.eval()
    keep = np.flatnonzero(photos.labels)
    animals = PhotoSet(tuple(photos.image_ids[i] for i in keep), tuple(photos.paths[i] for i in keep),
                       photos.labels[keep], photos.images_dir, photos.categories_file)
    total, n = None, 0
    for _, x in _batches(observer, animals, batch_size):
        seen: list = []
        handle = _capture(module, site, seen)
        try:
            logits = module(x)
        finally:
            handle.remove()
        score = logits[:, ANIMAL_CLASSES].mean(1) - logits[:, ANIMAL_CLASSES.stop:].mean(1)
        (grad,) = torch.autograd.grad(score.sum(), seen[0])
        g = grad.double().flatten(2).mean(2) if grad.ndim > 2 else grad.double()
        total = g.sum(0) if total is None else total + g.sum(0)
        n += len(x)
    d = (total / n).numpy()
    top = np.abs(d).max()
    if not top > 0:
        raise InputError(f"the animal score does not depend on {site.name!r} on these photos: the gradient values "
                         "are all 0")
    return d / top


class _EfficientNetTail(nn.Module):
    """EfficientNet(-Lite) after block K's depthwise stage: the projection (+ the skip from the
    block's input, passed as the context), the later blocks and the head, as the package runs them."""

    def __init__(self, net, k):
        super().__init__()
        self.net, self.k = net, k
        block = net._blocks[k]
        args = block._block_args
        # the condition of efficientnet_lite_pytorch's MBConvBlock.forward, copied
        self.skip = bool(block.id_skip and args.stride == 1 and args.input_filters == args.output_filters)
        self.context_of = f"_blocks.{k}" if self.skip else None

    def forward(self, x, block_input=None):
        net, block = self.net, self.net._blocks[self.k]
        x = block._bn2(block._project_conv(x))
        if self.skip:
            x = x + block_input
        return _efficientnet_rest(net, self.k + 1, x)


def _efficientnet_rest(net, k, x):
    """EfficientNet(-Lite) from block ``k``'s input to the logits, as the package runs it in eval mode."""
    for later in net._blocks[k:]:
        x = later(x)  # eval mode: no drop connect
    x = net._swish(net._bn1(net._conv_head(x)))
    return net._fc(net._dropout(net._avg_pooling(x).flatten(1)))


class _BlockTail(nn.Module):
    """The network from a residual block's input to the logits (:func:`block_tail`)."""

    def __init__(self, net, block):
        super().__init__()
        self.net, self.block = net, block
        parts = block.split(".")
        if parts[0] == "_blocks":
            self.k = int(parts[1])
        else:
            stage, k = parts[0], int(parts[1])
            after = [getattr(net, n) for n in _STAGES[_STAGES.index(stage) + 1:]]
            self.rest = nn.Sequential(*list(getattr(net, stage))[k:], *after, net.avgpool, nn.Flatten(1), net.fc)

    def forward(self, x):
        if hasattr(self, "k"):
            return _efficientnet_rest(self.net, self.k, x)
        return self.rest(x)


def block_tail(module: nn.Module, block: str) -> nn.Module | None:
    """The network from the input of residual block ``block`` (``_blocks.K`` of EfficientNet(-Lite),
    ``layerS.K`` of a torchvision ResNet) to the logits, or None for other networks.

    With the network frozen, what comes before the block can be computed once per image and
    cached; training then runs this tail (:mod:`reveal.models.gala_training`).
    """
    parts = block.split(".")
    if len(parts) != 2 or not parts[1].isdigit():
        return None
    if parts[0] == "_blocks" and hasattr(module, "_blocks") and hasattr(module, "_conv_head"):
        return _BlockTail(module, block) if int(parts[1]) < len(module._blocks) else None
    if parts[0] in _STAGES and hasattr(module, "fc") and hasattr(module, "avgpool"):
        return _BlockTail(module, block) if int(parts[1]) < len(getattr(module, parts[0])) else None
    return None


def site_tail(observer, site: CueSite) -> nn.Module:
    """The network after ``site`` as one module (site tensor in, logits out), for TOAD's training.

    Built for the head (the classifier), EfficientNet's ``blocks.K.depthwise`` (its
    ``context_of`` attribute names the module whose input the tail also needs: the block's
    input, for the skip connection), torchvision VGG's ``features.K`` and ``blockB_pool``
    sites and ResNet stages. Every other tail has ``context_of = None``.

    Raises
    ------
    InputError
        For a site whose remainder is not one of these: the message lists the sites TOAD
        can train at.
    """
    module = observer.module
    tail = None
    if site.name == "head":
        tail = classifier_layer(module)[1]
    elif (m := re.fullmatch(r"blocks\.(\d+)\.depthwise", site.name)) and hasattr(module, "_blocks"):
        return _EfficientNetTail(module, int(m[1]))
    elif site.module.startswith("features.") and isinstance(getattr(module, "features", None), nn.Sequential):
        k = int(site.module.split(".")[1]) + (site.where == "output")
        tail = nn.Sequential(*list(module.features)[k:], module.avgpool, nn.Flatten(1), module.classifier)
    elif site.name in _STAGES and site.module == site.name and hasattr(module, "fc"):
        after = [getattr(module, n) for n in _STAGES[_STAGES.index(site.name) + 1:]]
        tail = nn.Sequential(*after, module.avgpool, nn.Flatten(1), module.fc)
    if tail is None:
        able = [s.name for s in _toad_sites(module)]
        raise InputError(f"TOAD gains are trained on {site.name!r}'s cached activations through the rest of the "
                         f"network, which is not a chain of modules this toolkit knows there; TOAD trains at: "
                         f"{', '.join(able)} (tuning and gradient values work at any layer)")
    tail.context_of = None
    return tail


_STAGES = ("layer1", "layer2", "layer3", "layer4")


def _toad_sites(module):
    from .sites import cue_sites

    return [s for s in cue_sites(module) if s.name == "head" or s.module.startswith("features.")
            or s.name in _STAGES or s.name.endswith(".depthwise")]


#: Largest cache of activations a TOAD fit holds in memory (bytes).
MAX_CACHE_BYTES = 4 * 2**30


def fit_gains(observer, layer: str, method: str, photos: PhotoSet, *, target="animal", intensity=0.5, rng=None,
              max_epochs=200, batch_size=16, model_name=None) -> Gains:
    """Fit a gains file's contents for ``observer`` at ``layer`` with ``method`` on ``photos``.

    Parameters
    ----------
    observer : Observer
    layer : str
        A cue site (:func:`reveal.models.sites.find_site`).
    method : {"tuning", "gradient", "toad"}
    photos : PhotoSet
    target : {"animal", "nonanimal"}
        TOAD's in-task category; the values of the other methods are toward "animal" (the
        file says so, and ``--attend nonanimal`` uses −f).
    intensity : float
        TOAD's weight of in-task examples, in (0, 1).
    rng : None, int or numpy.random.Generator
        TOAD's held-out split and minibatch order.
    max_epochs : int
        TOAD's most passes over the training photos (early stopping usually ends it sooner).

    Returns
    -------
    reveal.core.gainsfile.Gains
    """
    if method not in FIT_METHODS:
        raise InputError(f"unknown gains method {method!r}; use one of: {', '.join(FIT_METHODS)}")
    site = find_site(observer.module, layer)
    channels = check_site(observer, site)
    training: dict = {"n_photos": len(photos), "n_animal": int(photos.labels.sum()),
                      "n_nonanimal": int((~photos.labels).sum())}
    if method == "tuning":
        values = tuning_values(layer_activations(observer, site, photos, batch_size=batch_size), photos.labels)
        target = "animal"
    elif method == "gradient":
        values = gradient_values(observer, site, photos, batch_size=max(1, batch_size // 2))
        target = "animal"
    else:
        from .toad import check_enough, fit_toad_gains

        check_enough(photos.labels)  # before minutes of caching
        tail = site_tail(observer, site)
        context = None if tail.context_of is None else CueSite("context", tail.context_of, "input", False, "")
        one = [site_activations(observer, s, torch.zeros(1, 3, observer.crop_size, observer.crop_size,
                                                         dtype=torch.uint8)) for s in (site, context) if s]
        need = len(photos) * sum(t.numel() * 4 for t in one)
        if need > MAX_CACHE_BYTES:
            raise InputError(f"TOAD at {site.name!r} would cache {need / 2**30:.1f} GiB of activations for "
                             f"{len(photos)} photos (at most {MAX_CACHE_BYTES / 2**30:.0f} GiB): train at a deeper "
                             "layer or on fewer photos")
        acts = layer_activations(observer, site, photos, batch_size=batch_size, reduce=False)
        ctx = None if context is None else layer_activations(observer, context, photos, batch_size=batch_size,
                                                             reduce=False)
        fit = fit_toad_gains(acts, photos.labels, tail, target=target, intensity=intensity, rng=rng, context=ctx,
                             max_epochs=max_epochs)
        values = fit.values.double().numpy()
        training.update(fit.as_dict())
    if len(values) != channels:  # pragma: no cover (the probe and the photos see the same layer)
        raise InputError(f"{len(values)} values for a layer of {channels} channels")
    return Gains(model=model_name or observer.name, layer=site.name, method=method, target=target,
                 values=np.asarray(values, dtype=np.float64),
                 inputs=hash_inputs(list(photos.paths), photos.categories_file), training=training)
