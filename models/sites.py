"""Cue sites: the layers of a network where a cue's per-channel gains can act.

A *site* is a tensor inside the network whose channels a gain vector scales, the same at
every position: either the **input** of a module (the pooled head features feeding the
classifier, the depthwise-stage output feeding a projection convolution) or the **output**
of one (a ReLU, a pooling layer, a ResNet stage). Feature-similarity gain and TOAD both
assume the response they scale is rectified, so every site is checked to be non-negative
on a probe batch (:func:`check_site`).

Named sites, the papers' layers and the bundled network's:

- every model: ``head``, the pooled features feeding the 1000-way ``nn.Linear``;
- efficientnet_lite0: ``blocks.K.depthwise``, the ReLU6 output of block K's depthwise stage
  (K = 0…15), i.e. the input of its 1×1 projection convolution;
- torchvision VGG (``vgg16`` …): ``features.K`` for every ReLU after a convolution, and
  ``blockB_pool`` for its max-pools (``block4_pool`` = Luo, Roads & Love 2021's layer,
  ``block5_pool`` = TOAD's 7×7×512 layer, Keras' names);
- torchvision ResNets: ``layer1`` … ``layer4``, each stage's output;
- any model: any other module by its ``named_modules()`` name (its output).

Where a site is the input of an ``nn.Linear`` or of a zero-padded, ungrouped ``nn.Conv2d``,
the gains **fold** exactly into that layer's weights (``W' = W · diag(g)`` over input
channels; a zero pad stays zero whatever the gain), so the cued network costs what the
plain one does. Elsewhere a forward hook multiplies the tensor (``benchmarks/bench_cueing.py``
measures both).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
from torch import nn

from ..core.errors import InputError
from .readout import N_CLASSES

__all__ = ["CueSite", "cue_sites", "find_site", "attach_gains", "attach_module", "ChannelGain", "dense_sites",
           "check_site", "site_activations", "classifier_layer"]

#: Name of the submodule a hooked site's gains are kept in (it moves with the module).
GAIN_BUFFER = "cue_gain"


@dataclass(frozen=True)
class CueSite:
    """Where a cue's gains act.

    Attributes
    ----------
    name : str
        The site's name as the command line and observer labels spell it (``head``,
        ``blocks.3.depthwise``, ``block5_pool``, ``layer3``, ``features.29``).
    module : str
        Qualified name of the module in ``named_modules()`` (``""`` is the root).
    where : {"input", "output"}
        The module's (first) input or its output is scaled.
    foldable : bool
        The gains fold exactly into the module's weights (``where == "input"`` of an
        ``nn.Linear`` or a zero-padded ``nn.Conv2d`` with ``groups == 1``).
    description : str
        What the tensor is, for messages and observer descriptions.
    """

    name: str
    module: str
    where: str
    foldable: bool
    description: str


def classifier_layer(module):
    """(qualified name, layer) of the last ``nn.Linear`` with 1000 outputs in ``module``."""
    linears = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]
    heads = [(n, m) for n, m in linears if m.out_features == N_CLASSES]
    if not heads:
        found = ", ".join(f"{n or '<root>'} ({m.in_features}→{m.out_features})" for n, m in linears[:6])
        more = ", …" if len(linears) > 6 else ""
        raise InputError(f"cueing at the head needs the model's {N_CLASSES}-way classifier (an nn.Linear with "
                         f"out_features={N_CLASSES}); found "
                         + (f"only these nn.Linear layers: {found}{more}" if linears else "no nn.Linear layer"))
    return heads[-1]


def _folds(layer) -> bool:
    """Whether gains on ``layer``'s input channels fold exactly into its weights."""
    if isinstance(layer, nn.Linear):
        return True
    return (isinstance(layer, nn.Conv2d) and layer.groups == 1 and layer.padding_mode == "zeros"
            and not isinstance(getattr(layer, "static_padding", None), (nn.ReflectionPad2d, nn.ReplicationPad2d)))


def _head_site(module):
    name, layer = classifier_layer(module)
    return CueSite("head", name, "input", _folds(layer), f"the pooled features feeding the classifier {name!r}")


def _efficientnet_sites(module):
    blocks = getattr(module, "_blocks", None)
    if not (hasattr(module, "_conv_stem") and isinstance(blocks, nn.ModuleList)):
        return []
    return [CueSite(f"blocks.{k}.depthwise", f"_blocks.{k}._project_conv", "input",
                    _folds(block._project_conv), f"block {k}'s depthwise-stage ReLU6 output")
            for k, block in enumerate(blocks)]


def _vgg_sites(module):
    features = getattr(module, "features", None)
    if not (isinstance(features, nn.Sequential) and hasattr(module, "classifier")
            and any(isinstance(m, nn.MaxPool2d) for m in features)):
        return []
    sites, pools = [], 0
    layers = list(features)
    for k, layer in enumerate(layers):
        after = layers[k + 1] if k + 1 < len(layers) else None
        if isinstance(layer, nn.MaxPool2d):
            pools += 1
            name, what = f"block{pools}_pool", f"block {pools}'s max-pooled output (features.{k})"
        elif isinstance(layer, nn.ReLU) and k and isinstance(layers[k - 1], (nn.Conv2d, nn.BatchNorm2d)):
            name, what = f"features.{k}", f"the ReLU output features.{k}"
        else:
            continue
        if isinstance(after, nn.Conv2d) and _folds(after):  # the next convolution reads it whole
            sites.append(CueSite(name, f"features.{k + 1}", "input", True, what))
        else:
            sites.append(CueSite(name, f"features.{k}", "output", False, what))
    return sites


def _resnet_sites(module):
    stages = [n for n in ("layer1", "layer2", "layer3", "layer4") if isinstance(getattr(module, n, None), nn.Module)]
    if len(stages) < 4 or not hasattr(module, "fc"):
        return []
    return [CueSite(n, n, "output", False, f"stage {n}'s output (after its last ReLU)") for n in stages]


def cue_sites(module: nn.Module) -> list[CueSite]:
    """The named cue sites of a network, shallow to deep, ``head`` last.

    Parameters
    ----------
    module : torch.nn.Module
        An ImageNet classifier ending in a 1000-way ``nn.Linear``.

    Returns
    -------
    list of CueSite

    Examples
    --------
    >>> import torchvision
    >>> [s.name for s in cue_sites(torchvision.models.resnet18())]
    ['layer1', 'layer2', 'layer3', 'layer4', 'head']
    >>> vgg = {s.name: s for s in cue_sites(torchvision.models.vgg11())}
    >>> vgg["block4_pool"].module, vgg["block4_pool"].where, vgg["block4_pool"].foldable
    ('features.16', 'input', True)
    >>> vgg["block5_pool"].module, vgg["block5_pool"].where
    ('features.20', 'output')
    """
    return [*_efficientnet_sites(module), *_vgg_sites(module), *_resnet_sites(module), _head_site(module)]


def find_site(module: nn.Module, name: str) -> CueSite:
    """The site called ``name``: a named site (:func:`cue_sites`) or any module's output.

    Raises
    ------
    InputError
        An unknown name; the message lists the named sites.

    Examples
    --------
    >>> import torchvision
    >>> site = find_site(torchvision.models.resnet18(), "layer4.1.relu")
    >>> site.module, site.where, site.foldable
    ('layer4.1.relu', 'output', False)
    """
    sites = cue_sites(module)
    for site in sites:
        if site.name == name:
            return site
    modules = dict(module.named_modules())
    if name and name in modules:
        return CueSite(name, name, "output", False, f"module {name!r}'s output")
    raise InputError(f"unknown cue layer {name!r}; this model's named layers: {', '.join(s.name for s in sites)} "
                     "(or any module name of model.named_modules() whose output is non-negative)")


def _dense_site(name, module, what):
    return CueSite(name, module, "output", False, what)


def dense_sites(module: nn.Module) -> list[CueSite]:
    """The dense (residual) path of every residual block, before its shortcut is added.

    Where GALA blocks go (Linsley et al.: "on the dense path of a residual block, before
    the shortcut is added"): a torchvision ResNet's ``layerS.K`` blocks (the output of
    ``bn3``, ``bn2`` in a basic block), named ``layerS.K.dense``; efficientnet_lite0's
    ``blocks.K`` (the projection's batch-norm output ``_blocks.K._bn2``), named
    ``blocks.K.dense``. These tensors are signed: a GALA block multiplies them by learned
    maps, not by non-negative gains, so they are not cue sites.

    Examples
    --------
    >>> import torchvision
    >>> [(s.name, s.module) for s in dense_sites(torchvision.models.resnet50())][7:9]
    [('layer3.0.dense', 'layer3.0.bn3'), ('layer3.1.dense', 'layer3.1.bn3')]
    """
    sites = []
    blocks = getattr(module, "_blocks", None)
    if hasattr(module, "_conv_stem") and isinstance(blocks, nn.ModuleList):
        sites += [_dense_site(f"blocks.{k}.dense", f"_blocks.{k}._bn2", f"block {k}'s projection (batch-normed)")
                  for k, block in enumerate(blocks) if hasattr(block, "_bn2")]
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for k, block in enumerate(getattr(module, stage, None) or []):
            last = "bn3" if hasattr(block, "bn3") else "bn2" if hasattr(block, "bn2") else None
            if last is not None:
                sites.append(_dense_site(f"{stage}.{k}.dense", f"{stage}.{k}.{last}",
                                         f"block {stage}.{k}'s dense path before the shortcut"))
    return sites


class ChannelGain(nn.Module):
    """Multiplies a tensor's channels (dimension 1) by fixed gains, kept as the buffer ``gain``."""

    def __init__(self, gains: torch.Tensor):
        super().__init__()
        self.register_buffer("gain", torch.as_tensor(gains).detach().float())

    def forward(self, x):
        return x * self.gain.to(x.dtype).view(1, -1, *([1] * (x.ndim - 2)))


def _through_input(module, args):
    return (getattr(module, module._site_block)(args[0]),) + tuple(args[1:])


def _through_output(module, args, output):
    return getattr(module, module._site_block)(output)


def attach_module(module: nn.Module, site: CueSite, block: nn.Module, name: str) -> str:
    """Send ``site``'s tensor through ``block`` (in place); returns how.

    The one mechanism by which the toolkit changes what flows through a named layer:
    ``block`` becomes a submodule of the site's layer under ``name`` (so its parameters and
    buffers are in ``state_dict()`` as ``<layer>.<name>.*`` and move with the network between
    devices), and a forward pre-hook (site ``where == "input"``) or forward hook
    (``"output"``) replaces the tensor by ``block(tensor)``. Cue gains (:func:`attach_gains`)
    and GALA blocks (:mod:`reveal.models.gala`) both go in this way.

    Notes
    -----
    ``torch.fx`` does not run hooks of the ``torch.nn`` layers it treats as leaves, so a
    network with blocks on such layers must not be traced (an observer declares it with
    ``batchnorm_folding=False``).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    >>> site = CueSite("0", "0", "output", False, "the linear layer's output")
    >>> attach_module(net, site, ChannelGain(torch.tensor([1.0, 0.0])), "mask")
    "hooked after '0'"
    >>> sorted(net.state_dict())
    ['0.bias', '0.mask.gain', '0.weight']
    >>> net(torch.ones(1, 2)).detach()[0, 1].item() == 0  # the second channel is masked
    True
    """
    layer = dict(module.named_modules())[site.module]
    if hasattr(layer, "_site_block"):
        raise InputError(f"{site.name!r} ({site.module}) already sends its tensor through "
                         f"{layer._site_block!r}: one block per layer")
    ref = next(module.parameters(), None)
    if ref is not None:
        block = block.to(device=ref.device)
    layer.add_module(name, block)
    layer._site_block = name
    if site.where == "input":
        layer.register_forward_pre_hook(_through_input)
        return f"hooked before {site.module!r}"
    layer.register_forward_hook(_through_output)
    return f"hooked after {site.module!r}"


def attach_gains(module: nn.Module, site: CueSite, gains: torch.Tensor, *, fold: bool = True) -> str:
    """Make ``module`` scale ``site``'s channels by ``gains`` (in place); returns how.

    Folded (``fold`` and ``site.foldable``) the gains multiply the input-channel weights of
    the layer reading the site: exact, nothing is added at run time. Otherwise the tensor
    goes through a :class:`ChannelGain` attached as ``cue_gain`` (:func:`attach_module`).

    Parameters
    ----------
    module : torch.nn.Module
        The network (changed in place: pass a copy).
    site : CueSite
    gains : torch.Tensor, shape (C,)
        Non-negative gains, one per channel of the site.
    fold : bool
        Fold where exact (True) or always hook.

    Returns
    -------
    str
        ``"folded into 'name'"``, ``"hooked before 'name'"`` or ``"hooked after 'name'"``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.ReLU(), nn.Linear(2, 1000))
    >>> site = find_site(net, "head")
    >>> x = torch.rand(3, 2)
    >>> folded, hooked = __import__("copy").deepcopy(net), __import__("copy").deepcopy(net)
    >>> attach_gains(folded, site, torch.tensor([2.0, 0.0]))
    "folded into '1'"
    >>> attach_gains(hooked, site, torch.tensor([2.0, 0.0]), fold=False)
    "hooked before '1'"
    >>> torch.allclose(folded(x), hooked(x), atol=1e-6)
    True
    """
    layer = dict(module.named_modules())[site.module]
    gains = torch.as_tensor(gains).detach()
    param = next(layer.parameters(), None) if site.where == "input" else None
    if fold and site.foldable and param is not None:
        weight = layer.weight
        if weight.shape[1] != len(gains):
            raise InputError(f"{len(gains)} gains for {site.name!r}, which has {weight.shape[1]} channels")
        with torch.no_grad():
            weight.mul_(gains.to(weight).view(1, -1, *([1] * (weight.ndim - 2))))
        return f"folded into {site.module!r}"
    return attach_module(module, site, ChannelGain(gains), GAIN_BUFFER)


def _capture(layer, site, store):
    # a copy: an in-place ReLU after the module (torchvision's ResNet blocks) would rectify what was seen
    if site.where == "input":
        return layer.register_forward_pre_hook(lambda m, args: store.append(args[0].detach().clone()))
    return layer.register_forward_hook(lambda m, args, out: store.append(out.detach().clone()))


def site_activations(observer, site: CueSite, images: torch.Tensor, *, device=None) -> torch.Tensor:
    """The site's tensor for a uint8 batch (the observer's preprocessing, eval mode, no grad).

    Parameters
    ----------
    observer : Observer
    site : CueSite
    images : torch.Tensor of uint8, shape (N, 3, H, W)

    Returns
    -------
    torch.Tensor of float32, shape (N, C, ...) (``(N, C)`` at the head)

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    >>> obs = Observer.from_module(net, "tiny")
    >>> images = torch.randint(0, 256, (2, 3, 256, 256), dtype=torch.uint8)
    >>> tuple(site_activations(obs, find_site(net, "1"), images).shape)
    (2, 8, 222, 222)
    >>> tuple(site_activations(obs, find_site(net, "head"), images).shape)
    (2, 8)
    """
    module = observer.module
    param = next(module.parameters(), None)
    device = device or (param.device if param is not None else torch.device("cpu"))
    layer = dict(module.named_modules())[site.module]
    seen: list = []
    handle = _capture(layer, site, seen)
    training = module.training
    try:
        module.eval()
        with torch.inference_mode():
            module(observer.preprocess(images.to(device)))
    finally:
        handle.remove()
        module.train(training)
    if not seen:
        raise InputError(f"{observer.name!r} did not compute {site.name!r} ({site.description}) on a probe batch: "
                         "a gain there would change nothing")
    if len(seen) > 1:
        raise InputError(f"{site.name!r} ({site.module}) runs {len(seen)} times per forward pass in "
                         f"{observer.name!r}: a gain there is not one place in the network; name another layer")
    return seen[0].float()


def _probe(crop):
    noise = torch.randint(0, 256, (2, 3, crop, crop), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return torch.cat([torch.zeros(1, 3, crop, crop, dtype=torch.uint8),
                      torch.full((1, 3, crop, crop), 255, dtype=torch.uint8), noise])


def check_site(observer, site: CueSite) -> int:
    """Check on a probe batch (black, white, two noise images) that a site is a rectified,
    channel-first tensor computed once per pass; returns its number of channels.

    Raises
    ------
    InputError
        If the site takes negative values (feature-similarity gain and TOAD scale a
        rectified response), runs more than once per pass, or is not computed; the message
        lists the model's named sites.
    """
    x = site_activations(observer, site, _probe(observer.crop_size))
    if x.ndim < 2:
        raise InputError(f"{site.name!r} of {observer.name!r} is not a batch of channels (shape {tuple(x.shape)})")
    lowest = float(x.amin())
    if lowest < 0:
        valid = ", ".join(s.name for s in cue_sites(observer.module))
        raise InputError(f"{site.name!r} ({site.description}) of {observer.name!r} is signed (minimum {lowest:.3g} "
                         f"on a probe batch): a gain scales a rectified, non-negative response; this model's named "
                         f"layers: {valid}")
    return int(x.shape[1])


def is_site_label(text: str) -> bool:
    """Whether ``text`` can stand in an observer label as a layer name (letters, digits, ``_``, ``.``).

    Examples
    --------
    >>> is_site_label("blocks.3.depthwise"), is_site_label("a,b")
    (True, False)
    """
    return re.fullmatch(r"[\w.]+", text) is not None
