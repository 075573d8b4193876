"""Model attention maps, at the size of the image, for any observer of the model registry.

Two kinds:

* **SmoothGrad** (Smilkov et al. 2017): the gradient of a class score with respect to the
  image pixels, averaged over ``n_samples`` copies of the image with Gaussian noise
  (σ = ``noise`` × the 0–255 range), then the absolute values summed over the colour
  channels (as PAIR's ``saliency`` library shows gradients in grey). The score is either
  the **animal evidence** — the log-odds of P(animal), ``logsumexp`` of the animal logits
  (ImageNet 0–397) minus that of the others: a monotone function of P(animal) whose
  gradient does not vanish when P(animal) saturates near 1 — or the **top-class logit**
  (the class the network picks on the clean image), or a given class index.
* **Activation norm**: the channel-wise L2 norm of one layer's activations,
  ``sqrt(sum_c a_c(y, x)^2)``, a (h, w) map on the layer's grid, upsampled bilinearly to
  the network's input.

By default the network sees the **whole** image (:func:`full_view`): the observer's
resize (shorter side to its ``resize_size``) and normalisation, but no centre crop —
ImageNet classifiers end in a global average pool, so they take any input size, and a
crop would leave the image border (where human maps also have mass) without attention.
``crop=True`` keeps the observer's own preprocessing instead (for networks with a fixed
input size).

Both are brought back to the image's own pixels through the preprocessing, which is
differentiated rather than inverted by hand: SmoothGrad
takes the gradient with respect to the *raw* pixels, so it is at image size already; the
activation map on the network input is pulled back with the transpose of the
preprocessing (a vector–Jacobian product) normalised by the pull-back of ones, i.e. each
image pixel gets the weighted mean of the network-input pixels it feeds. Pixels the
network never sees (outside the centre crop) get 0.

:func:`write_attention_maps` (``reveal maps attention``) computes them for a folder of
photographs and writes them as a map folder (:mod:`reveal.core.mapfiles`), which
``reveal maps compare --attention`` reads: the analysis itself runs no network.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
import torch.nn.functional as F

from ..core.seeding import as_generator
from ..core.mapfiles import check_map_folder, write_maps
from ..core.errors import InputError
from .readout import ANIMAL_CLASSES
from .registry import Observer, resize_shorter_side

__all__ = ["ANIMAL_CLASSES", "KINDS", "ALL_KINDS", "full_view", "smoothgrad", "activation_norm", "gala_attention",
           "default_layer", "attention_map", "write_attention_maps"]

#: The attention kinds of every network, in the order they are written (the default).
KINDS = ("smoothgrad", "activation")
#: With ``gala``: the attention maps of a network's GALA blocks (:mod:`reveal.models.gala`).
ALL_KINDS = (*KINDS, "gala")


def full_view(observer: Observer) -> Callable[[torch.Tensor], torch.Tensor]:
    """The observer's preprocessing without its centre crop.

    Parameters
    ----------
    observer : models.registry.Observer
        Uses its ``mean``, ``std``, ``resize_size`` (or ``crop_size`` when None) and
        ``interpolation``.

    Returns
    -------
    callable
        Float batch (N, 3, H, W) on the 0–255 scale -> normalised batch whose shorter
        side is ``resize_size``; differentiable.

    Examples
    --------
    >>> import torch
    >>> from reveal.models.registry import Observer
    >>> observer = Observer.from_module(torch.nn.Identity(), "id", resize_size=32, crop_size=32)
    >>> tuple(full_view(observer)(torch.zeros(1, 3, 24, 36)).shape)  # no crop
    (1, 3, 32, 48)
    >>> tuple(observer.preprocess(torch.zeros(1, 3, 24, 36, dtype=torch.uint8)).shape)
    (1, 3, 32, 32)
    """
    target = observer.resize_size or observer.crop_size
    mode = observer.interpolation

    def preprocess(batch):
        x = resize_shorter_side(batch.float(), target, mode)
        mean = torch.tensor(observer.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(observer.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    return preprocess


def _as_batch(image):
    # (H, W, 3) uint8 -> float tensor (1, 3, H, W) on the 0–255 scale
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()[None]


def _module_device(module):
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _score(logits, target, top_class):
    if target == "animal":
        animal = logits[:, ANIMAL_CLASSES]
        rest = torch.cat([logits[:, :ANIMAL_CLASSES.start], logits[:, ANIMAL_CLASSES.stop:]], dim=1)
        return torch.logsumexp(animal, dim=1) - torch.logsumexp(rest, dim=1)
    return logits[:, top_class]


def smoothgrad(module: torch.nn.Module, preprocess: Callable[[torch.Tensor], torch.Tensor], image: np.ndarray,
               rng: np.random.Generator | int | None = None, target: str | int = "animal", n_samples: int = 25,
               noise: float = 0.15, batch_size: int = 8) -> np.ndarray:
    """SmoothGrad map of one image.

    Parameters
    ----------
    module : torch.nn.Module
        Classifier: preprocessed batch (N, 3, h, w) -> ImageNet-1k logits (N, 1000).
    preprocess : callable
        Float batch (N, 3, H, W) on the 0–255 scale -> network input; must be
        differentiable (e.g. :meth:`reveal.models.registry.Observer.preprocess`).
    image : ndarray of uint8, shape (H, W, 3)
    rng : None, int or numpy.random.Generator
        Draws the noise (via a seed for a torch generator).
    target : {'animal', 'top'} or int
        Score to differentiate: log-odds of P(animal), the top-class logit, or the logit
        of a class index.
    n_samples : int
        Noisy copies averaged.
    noise : float
        σ of the noise as a fraction of the 0–255 pixel range (Smilkov et al.: 10–20 %).
    batch_size : int
        Noisy copies per forward pass.

    Returns
    -------
    saliency : ndarray of float64, shape (H, W)
        Non-negative.

    Examples
    --------
    A tiny untrained network (any ``nn.Module`` with 1000 outputs) on a 24 × 36 image:

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    >>> observer = Observer.from_module(net, "tiny", resize_size=32, crop_size=32)
    >>> image = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    >>> saliency = smoothgrad(net, full_view(observer), image, rng=0, n_samples=4)
    >>> saliency.shape, saliency.dtype, bool((saliency >= 0).all() and saliency.max() > 0)
    ((24, 36), dtype('float64'), True)
    """
    rng = as_generator(rng)
    device = _module_device(module)
    x = _as_batch(image).to(device)
    module.eval()
    top_class = None
    if target == "top":
        with torch.no_grad():
            top_class = int(module(preprocess(x)).argmax(dim=1)[0])
    elif not (target == "animal" or isinstance(target, (int, np.integer))):
        raise ValueError(f"target must be 'animal', 'top' or a class index, got {target!r}")
    elif target != "animal":
        top_class = int(target)
    gen = torch.Generator(device="cpu").manual_seed(int(rng.integers(2 ** 63)))
    sigma = noise * 255.0
    total = torch.zeros_like(x)
    done = 0
    while done < n_samples:
        k = min(batch_size, n_samples - done)
        eps = torch.randn((k, *x.shape[1:]), generator=gen).to(device)
        noisy = (x + sigma * eps).requires_grad_(True)
        score = _score(module(preprocess(noisy)), "animal" if target == "animal" else "class", top_class)
        (grad,) = torch.autograd.grad(score.sum(), noisy)
        total += grad.sum(dim=0, keepdim=True)
        done += k
    mean_grad = total / n_samples
    return mean_grad.abs().sum(dim=1)[0].detach().cpu().double().numpy()


def _feature_maps(module, preprocess, x, layers):
    """Outputs of named submodules for input ``x``, in the order they ran (dict name -> tensor)."""
    got, handles = {}, []
    for name in layers:
        sub = module.get_submodule(name)
        handles.append(sub.register_forward_hook(lambda _m, _i, out, name=name: got.__setitem__(name, out)))
    try:
        with torch.no_grad():
            module(preprocess(x))
    finally:
        for h in handles:
            h.remove()
    return got


def default_layer(module: torch.nn.Module, preprocess: Callable[[torch.Tensor], torch.Tensor],
                  image_shape: tuple[int, int] = (256, 256), min_size: int = 7) -> str:
    """The last layer to run whose output is still at least ``min_size`` × ``min_size``.

    Deeper layers are more selective for objects (on ``chelsea``, efficientnet-lite0's
    last block puts 2.1 times more activation on the cat than on the background, a
    stride-16 block 1.2 times); 7 px cells of a 256-px input (stride 32, the last stage
    of most ImageNet networks) are about as coarse as the ClickMe blur. Padding
    modules are skipped (their output has a border of zeros). Whole blocks (modules with
    parts: a residual block, a ``Sequential`` stage) are preferred to single layers.

    Returns
    -------
    str
        A name for :meth:`torch.nn.Module.get_submodule`.

    Examples
    --------
    The network input is 32 × 48: the second convolution's 7 × 11 output is the last at
    least 7 px on a side (its ReLU, which runs after it, is taken):

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    >>> observer = Observer.from_module(net, "tiny", resize_size=32, crop_size=32)
    >>> image = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    >>> default_layer(net, full_view(observer), image_shape=(24, 36))
    '3'
    """
    pads = (torch.nn.ZeroPad2d, torch.nn.ConstantPad2d, torch.nn.ReflectionPad2d, torch.nn.ReplicationPad2d)
    names = [n for n, m in module.named_modules() if n and not isinstance(m, pads)
             and "padding" not in type(m).__name__.lower() and "padding" not in n.rsplit(".", 1)[-1]]
    x = torch.zeros((1, 3, *image_shape), device=_module_device(module))
    outs = _feature_maps(module, preprocess, x, names)  # dict insertion order = execution order
    big = [n for n, out in outs.items()
           if isinstance(out, torch.Tensor) and out.ndim == 4 and min(out.shape[-2:]) >= min_size]
    # whole blocks (modules with parts) first: a part inside a block (an expansion, a
    # batch norm before the block's downsampling conv) is not what the block computes
    blocks = [n for n in big if list(module.get_submodule(n).children())]
    best = (blocks or big or [None])[-1]
    if best is None:
        raise ValueError(f"no layer with a 4-D output of at least {min_size}x{min_size}")
    return best


def _pull_back(preprocess, input_map, x_shape, device):
    """Bring a map on the network input back to image pixels through ``preprocess``."""
    x = torch.zeros(x_shape, device=device, requires_grad=True)
    out = preprocess(x)
    weights = input_map.to(out.dtype).expand_as(out)
    (num,) = torch.autograd.grad(out, x, grad_outputs=weights, retain_graph=True)
    (den,) = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out))
    num, den = num.sum(dim=1)[0], den.sum(dim=1)[0]
    seen = den.abs() > 1e-12 * den.abs().max()
    return torch.where(seen, num / torch.where(seen, den, torch.ones_like(den)), torch.zeros_like(num))


def activation_norm(module: torch.nn.Module, preprocess: Callable[[torch.Tensor], torch.Tensor], image: np.ndarray,
                    layer: str | None = None) -> np.ndarray:
    """Channel-wise L2 norm of a layer's activations, at image size.

    Parameters
    ----------
    module : torch.nn.Module
    preprocess : callable
        Float batch (N, 3, H, W) on the 0–255 scale -> network input (differentiable).
    image : ndarray of uint8, shape (H, W, 3)
    layer : str, optional
        Submodule name (``module.get_submodule``); default :func:`default_layer`.

    Returns
    -------
    saliency : ndarray of float64, shape (H, W)
        Non-negative; 0 outside the region the network sees.

    Examples
    --------
    With the observer's own preprocessing (centre crop), the image's left and right edges
    are not seen:

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    >>> observer = Observer.from_module(net, "tiny", resize_size=32, crop_size=32)
    >>> image = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    >>> act = activation_norm(net, observer.preprocess, image, layer="2")
    >>> act.shape, bool((act[:, :2] == 0).all()), bool((act[:, 8:-8] > 0).all())
    ((24, 36), True, True)
    """
    device = _module_device(module)
    x = _as_batch(image).to(device)
    module.eval()
    layer = layer or default_layer(module, preprocess)
    out = _feature_maps(module, preprocess, x, [layer])[layer]
    if not (isinstance(out, torch.Tensor) and out.ndim == 4):
        raise ValueError(f"layer {layer!r} does not output a (N, C, h, w) tensor")
    norm = out.float().pow(2).sum(dim=1, keepdim=True).sqrt()
    with torch.no_grad():
        net_in_shape = preprocess(x).shape[-2:]
    up = F.interpolate(norm, size=tuple(net_in_shape), mode="bilinear", align_corners=False)
    return _pull_back(preprocess, up, x.shape, device).detach().cpu().double().numpy()


def gala_attention(module: torch.nn.Module, preprocess: Callable[[torch.Tensor], torch.Tensor], image: np.ndarray,
                   layer: str | None = None) -> np.ndarray:
    """The attention map ``Â`` of a network's GALA blocks, at image size.

    Each block's map (the column norm of the gate it applies: :mod:`reveal.models.gala`) is
    upsampled bilinearly to the network input; the maps of all blocks are averaged (or one
    block's is taken, ``layer`` = its site name, e.g. ``blocks.7.dense``), then brought back to
    the image's pixels as the activation-norm map is.

    Raises
    ------
    InputError
        A network without GALA blocks, or an unknown block.

    Examples
    --------
    >>> import numpy as np, torch, torchvision
    >>> from reveal.models.gala import add_gala
    >>> from reveal.models.registry import Observer
    >>> plain = Observer.from_module(torchvision.models.resnet18().eval(), "r18")
    >>> gala = add_gala(plain, ["layer3.0.dense", "layer3.1.dense"])
    >>> image = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    >>> m = gala_attention(gala.module, full_view(gala), image)
    >>> m.shape, bool(np.allclose(m, m.mean()))  # at the start every block's map is uniform
    ((200, 300), True)
    """
    from .gala import attention_maps

    device = _module_device(module)
    x = _as_batch(image).to(device)
    module.eval()
    with torch.no_grad():
        net_in = preprocess(x)
        _, maps = attention_maps(module, net_in)
    if layer is not None:
        if layer not in maps:
            raise InputError(f"no GALA block at {layer!r}; the blocks: {', '.join(maps)}")
        maps = {layer: maps[layer]}
    size = tuple(net_in.shape[-2:])
    up = sum(F.interpolate(m[:, None].float(), size=size, mode="bilinear", align_corners=False)
             for m in maps.values()) / len(maps)
    return _pull_back(preprocess, up, x.shape, device).detach().cpu().double().numpy()


def attention_map(observer: Observer, image: np.ndarray, kind: str = "smoothgrad",
                  rng: np.random.Generator | int | None = None, crop: bool = False, **kwargs) -> np.ndarray:
    """Attention map of an observer of the model registry (:func:`reveal.models.registry.load_observer`).

    Parameters
    ----------
    observer : models.registry.Observer
        Anything with ``module`` and a differentiable ``preprocess``.
    image : ndarray of uint8, shape (H, W, 3)
    kind : {'smoothgrad', 'activation', 'gala'}
    rng : None, int or numpy.random.Generator
        Needed for ``smoothgrad``.
    crop : bool
        Use the observer's own preprocessing (centre crop) instead of :func:`full_view`.
    **kwargs
        Passed to :func:`smoothgrad` or :func:`activation_norm`.

    Returns
    -------
    ndarray of float64, shape (H, W)

    Examples
    --------
    A tiny untrained network (any ``nn.Module`` with 1000 outputs) on a 24 × 36 image:

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    >>> observer = Observer.from_module(net, "tiny", resize_size=32, crop_size=32)
    >>> image = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    >>> attention_map(observer, image, "smoothgrad", rng=0, n_samples=2).shape
    (24, 36)
    >>> attention_map(observer, image, "activation", layer="2").shape
    (24, 36)
    """
    preprocess = observer.preprocess if crop else full_view(observer)
    if kind == "smoothgrad":
        if rng is None:
            raise ValueError("smoothgrad needs an rng (numpy.random.Generator)")
        return smoothgrad(observer.module, preprocess, image, rng, **kwargs)
    if kind == "activation":
        return activation_norm(observer.module, preprocess, image, **kwargs)
    if kind == "gala":
        return gala_attention(observer.module, preprocess, image, **kwargs)
    raise ValueError(f"unknown attention kind {kind!r}: use 'smoothgrad', 'activation' or 'gala'")


def _read_photos(images):
    from ..stimuli.loaders import read_image
    from ..stimuli.loaders.images import IMAGE_SUFFIXES, files_by_stem

    if isinstance(images, (str, Path)):
        files = files_by_stem(images, IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"no photographs ({', '.join(IMAGE_SUFFIXES)})", Path(images))
        return {i: read_image(p) for i, p in files.items()}
    return dict(images)


def write_attention_maps(model: str | Observer, images: str | os.PathLike | Mapping[str, np.ndarray],
                         out: str | os.PathLike, kinds=KINDS, *, weights: str | os.PathLike | None = None,
                         target: str | int = "animal", n_samples: int = 25, noise: float = 0.15,
                         layer: str | None = None, crop: bool = False, seed: int = 0,
                         progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """Attention maps of a registry observer for every photograph, written as a map folder.

    Parameters
    ----------
    model : str or models.registry.Observer
        A model registry name (:func:`reveal.models.registry.load_observer`) or an observer.
    images : path-like or mapping of str to ndarray
        A folder of photographs (image id = file stem) or image id -> (H, W, 3) uint8.
    out : path-like
        Map folder (created or added to): ``<out>/<model>_<kind>/<image_id>.npy`` and the
        index ``<out>/maps.json`` (:mod:`reveal.core.mapfiles`); each map has the
        photograph's (H, W).
    kinds : sequence of {'smoothgrad', 'activation', 'gala'}
        ``gala`` only for a network with GALA blocks (``reveal train``); ``layer`` then names
        one block (default: the mean over the blocks).
    weights : path-like, optional
        Weights file for ``model`` given by name.
    target : {'animal', 'top'} or int
        SmoothGrad score (:func:`smoothgrad`).
    n_samples : int
        SmoothGrad noisy samples.
    noise : float
        SmoothGrad noise σ as a fraction of the 0–255 range.
    layer : str, optional
        Layer of the activation-norm map (default :func:`default_layer`).
    crop : bool
        The observer's own preprocessing (centre crop) instead of :func:`full_view`.
    seed : int
        SmoothGrad noise of each image comes from ``derive_rng(seed, image_id, 'smoothgrad')``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        Source name (``<observer>:<kind>``) -> {image id -> float64 map}, in ``kinds`` order.

    Raises
    ------
    InputError
        Unknown kind, target or layer, an unknown model, an unreadable photograph (the
        message names the file).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    >>> observer = Observer.from_module(net, "tiny", resize_size=32, crop_size=32)
    >>> image = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     maps = write_attention_maps(observer, {"cat": image}, os.path.join(tmp, "maps"), n_samples=2, layer="2")
    ...     written = sorted(os.listdir(os.path.join(tmp, "maps")))
    >>> {source: {i: m.shape for i, m in by_image.items()} for source, by_image in maps.items()}
    {'tiny:smoothgrad': {'cat': (24, 36)}, 'tiny:activation': {'cat': (24, 36)}}
    >>> written
    ['maps.json', 'tiny_activation', 'tiny_smoothgrad']
    """
    from tqdm.auto import tqdm

    from ..core.seeding import derive_rng
    from .registry import load_observer

    kinds = list(kinds)
    bad = sorted(set(kinds) - set(ALL_KINDS))
    if bad or not kinds:
        raise InputError(f"attention kinds are {', '.join(ALL_KINDS)}, got {', '.join(kinds) or 'none'}")
    if not (target in ("animal", "top") or (isinstance(target, (int, np.integer)) and 0 <= target < 1000)):
        raise InputError(f"target must be animal, top or an ImageNet class index 0-999, got {target!r}")
    if n_samples < 1:
        raise InputError(f"SmoothGrad needs at least 1 sample, got {n_samples}")
    photos = _read_photos(images)
    observer = load_observer(model, weights=weights) if isinstance(model, str) else model
    observer.module.eval()
    # the map folder is checked before minutes of work: it must hold no one else's files
    check_map_folder(out, [f"{observer.name}:{kind}" for kind in kinds])
    if "gala" in kinds:
        from .gala import gala_blocks

        if not gala_blocks(observer.module):
            raise InputError(f"{observer.name!r} has no GALA blocks: the gala kind is for networks trained by "
                             "reveal train (--model RUN/)")
    if "activation" in kinds and layer is not None:
        try:
            observer.module.get_submodule(layer)
        except AttributeError as err:
            raise InputError(f"model {observer.name!r} has no layer {layer!r}: {err}") from None
    out_maps = {}
    for kind in kinds:
        source = f"{observer.name}:{kind}"
        maps = {}
        for image_id, image in tqdm(photos.items(), desc=source, disable=not progress):
            if kind == "smoothgrad":
                maps[image_id] = attention_map(observer, image, kind, rng=derive_rng(seed, image_id, kind),
                                               crop=crop, target=target, n_samples=n_samples, noise=noise)
            else:
                maps[image_id] = attention_map(observer, image, kind, crop=crop, layer=layer)
        params = {"model": observer.name, "kind": kind, "crop": crop}
        if kind == "smoothgrad":
            params.update({"target": target if isinstance(target, str) else int(target), "n_samples": n_samples,
                           "noise": noise, "seed": seed})
        elif kind == "gala":
            params["layer"] = layer or "mean of the GALA blocks"
        else:
            params["layer"] = layer or default_layer(observer.module, observer.preprocess if crop
                                                     else full_view(observer))
        write_maps(out, source, maps, params)
        out_maps[source] = maps
    return out_maps
