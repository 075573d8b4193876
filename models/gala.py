"""GALA: global-and-local attention learned from people (Linsley, Shiebler, Eberhardt & Serre 2019).

The block (the paper's section 3, for one layer's activity ``U`` of shape (C, H, W)):

- **global**: ``p = mean_{h,w} U`` per channel; ``g = W_expand · ReLU(W_shrink · p)``, a
  C → C/r → C bottleneck (reduction ``r = 4``);
- **local**: ``S = V_collapse * ReLU(V_shrink * U)``, two 1 × 1 convolutions C → C/r → 1;
- **integration**: ``A = tanh(a ⊙ (G* + S*) + m ⊙ (G* · S*))``, with ``G*`` (``g`` tiled over
  H × W) and ``S*`` (``S`` tiled over the channels), ``a`` and ``m`` learned per channel;
- **application**: ``U' = U ⊙ A`` (the paper's, ``residual=False``), on the dense path of a
  residual block before the shortcut is added (:func:`reveal.models.sites.dense_sites`).

**Starting from a pretrained network** (``residual=True``, the toolkit's default) the block
applies ``U' = U ⊙ (1 + A)`` with ``a = m = 0`` at the start: ``A = tanh(0) = 0`` exactly, so
the augmented network predicts exactly as the plain one and fine-tuning starts from the
pretrained observer (the paper trains from random weights, where ``U ⊙ A`` costs nothing; on a
pretrained network it would halve or zero every activity of the dense path and destroy what
was learned).

The **attention map** of a block, ``Â``: the gate it applies (``A``, or ``1 + A`` for a
residual block) reduced to one channel by the L2 norm of each column over the channels,
``Â[h, w] = ‖A[:, h, w]‖₂`` (computed as ``sqrt(Σ A² + ε²)``: the norm's gradient is
undefined at 0). For a residual block this is the norm of ``1 + A``, not of ``A``: at the
start ``A = 0``, where the norm of ``A`` has no gradient and the map loss could not move the
block; ``‖1 + A‖`` is uniform there and grows where the block amplifies. The **map loss**
(the paper's eq. 6) of a layer is ``‖ R/‖R‖₂ − Â/‖Â‖₂ ‖₂`` with ``R`` the human map
resized (bicubic) to the layer's H × W; training adds ``λ · Σ_layers`` of it to the cross-entropy (:func:`map_loss`).

**The paper's control without GALA** (the map loss on a plain network's activity): an
:class:`ActivityMap` at the same sites changes nothing in the forward pass and offers the
column norm of the activity itself, ``Â[h, w] = ‖U[:, h, w]‖₂``, to the same loss; training
then moves the network's own weights (``add_gala(..., kind="activity")``).
"""
from __future__ import annotations

import copy
from dataclasses import replace

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError
from .registry import Observer
from .sites import CueSite, attach_module, dense_sites, find_site, site_activations

__all__ = ["GalaBlock", "ActivityMap", "BLOCK_KINDS", "GALA_NAME", "gala_sites", "auto_gala_layers", "add_gala",
           "gala_blocks", "attention_maps", "map_loss"]

#: The submodule name a GALA block gets inside the layer it follows (``<layer>.gala.*`` in a state dict).
GALA_NAME = "gala"
#: Side of the feature maps the automatic placement looks for (the paper's ResNet-50 third stage).
AUTO_SIDE = 14
#: ε of the column norm (the attention map's gradient at A = 0).
NORM_EPS = 1e-6
#: What :func:`add_gala` attaches: GALA blocks, or :class:`ActivityMap` (the control without GALA).
BLOCK_KINDS = ("gala", "activity")


def _column_norm(x: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((x * x).sum(dim=1) + NORM_EPS ** 2)


class GalaBlock(nn.Module):
    """Global-and-local attention over a (N, C, H, W) activity (see the module docstring).

    Parameters
    ----------
    channels : int
        C.
    reduction : int
        r: the bottlenecks have ``max(1, C // r)`` units.
    residual : bool
        ``U ⊙ (1 + A)`` with ``a = m = 0`` at the start (exactly the identity: fine-tuning a
        pretrained network) or the paper's ``U ⊙ A`` with ``a = m = 1`` (from scratch).

    Attributes
    ----------
    keep_attention : bool
        When True, every forward keeps the attention map ``Â`` (N, H, W) in ``attention``
        (with its graph, for the map loss); False (the default) keeps nothing.

    Examples
    --------
    >>> import torch
    >>> block = GalaBlock(8)
    >>> u = torch.randn(2, 8, 5, 5)
    >>> torch.equal(block(u), u)  # residual, a = m = 0: exactly the identity
    True
    >>> block.keep_attention = True
    >>> tuple(block(u).shape), tuple(block.attention.shape)
    ((2, 8, 5, 5), (2, 5, 5))
    """

    def __init__(self, channels: int, reduction: int = 4, residual: bool = True):
        super().__init__()
        channels, reduction = int(channels), int(reduction)
        if channels < 1 or reduction < 1:
            raise InputError(f"a GALA block needs channels >= 1 and reduction >= 1, got {channels}, {reduction}")
        hidden = max(1, channels // reduction)
        self.residual = bool(residual)
        self.shrink = nn.Linear(channels, hidden)
        self.expand = nn.Linear(hidden, channels)
        self.local_shrink = nn.Conv2d(channels, hidden, 1)
        self.collapse = nn.Conv2d(hidden, 1, 1)
        start = 0.0 if self.residual else 1.0
        self.a = nn.Parameter(torch.full((channels,), start))
        self.m = nn.Parameter(torch.full((channels,), start))
        self.keep_attention = False
        self.attention = None

    def extra_repr(self) -> str:
        return f"channels={self.a.numel()}, hidden={self.shrink.out_features}, residual={self.residual}"

    def gate(self, u: torch.Tensor) -> torch.Tensor:
        """``A`` (N, C, H, W) for an activity ``u`` (N, C, H, W)."""
        g = self.expand(F.relu(self.shrink(u.mean(dim=(2, 3)))))[:, :, None, None]
        s = self.collapse(F.relu(self.local_shrink(u)))
        a, m = self.a.view(1, -1, 1, 1), self.m.view(1, -1, 1, 1)
        return torch.tanh(a * (g + s) + m * (g * s))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if u.ndim != 4 or u.shape[1] != self.a.numel():
            raise InputError(f"a GALA block of {self.a.numel()} channels got a tensor of shape {tuple(u.shape)}")
        applied = 1 + self.gate(u) if self.residual else self.gate(u)
        if self.keep_attention:
            self.attention = _column_norm(applied)
        return u * applied


class ActivityMap(nn.Module):
    """The identity that offers its input's column norm as the attention map (no GALA).

    The ClickMe paper's control "the map loss on a plain network's activity":
    ``Â[h, w] = ‖U[:, h, w]‖₂`` over the channels, so the map loss trains the network's own
    layers (there is nothing else to train). No parameters; the forward pass is unchanged.

    Examples
    --------
    >>> import torch
    >>> probe = ActivityMap()
    >>> u = torch.zeros(1, 2, 1, 2); u[0, :, 0, 1] = torch.tensor([3.0, 4.0])
    >>> probe.keep_attention = True
    >>> torch.equal(probe(u), u), probe.attention.round(decimals=4).tolist()
    (True, [[[0.0, 5.0]]])
    """

    def __init__(self):
        super().__init__()
        self.keep_attention = False
        self.attention = None

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if u.ndim != 4:
            raise InputError(f"an activity map needs a (N, C, H, W) tensor, got shape {tuple(u.shape)}")
        if self.keep_attention:
            self.attention = _column_norm(u)
        return u


def gala_sites(module: nn.Module, names) -> list[CueSite]:
    """The sites named ``names``: residual blocks' dense paths (``layer3.0.dense``,
    ``blocks.7.dense``: :func:`reveal.models.sites.dense_sites`) or any module's output.

    Raises
    ------
    InputError
        An unknown name (the message lists the dense-path sites), or a name given twice.
    """
    names = [str(n).strip() for n in names]
    if len(set(names)) != len(names):
        raise InputError(f"a GALA layer is named twice: {', '.join(names)}")
    dense = {s.name: s for s in dense_sites(module)}
    out = []
    for name in names:
        if name in dense:
            out.append(dense[name])
            continue
        try:
            out.append(find_site(module, name))
        except InputError:
            raise InputError(f"unknown GALA layer {name!r}; this model's residual blocks: "
                             f"{', '.join(dense) or 'none'} (or any module name of model.named_modules())") from None
    return out


def _probe(observer):
    return torch.randint(0, 256, (1, 3, observer.crop_size, observer.crop_size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def auto_gala_layers(observer: Observer) -> list[str]:
    """The paper's placement: the dense paths of the residual blocks at 14 × 14.

    For a torchvision ResNet-50 the six blocks of its third stage (``layer3.0.dense`` …
    ``layer3.5.dense``); for efficientnet_lite0 its blocks 5–10. Found by a probe forward
    at the observer's crop size.

    Raises
    ------
    InputError
        For a network without residual blocks at 14 × 14 (name the layers instead).
    """
    x = observer.preprocess(_probe(observer))
    sizes, handles = {}, []
    layers = dict(observer.module.named_modules())
    sites = dense_sites(observer.module)
    def seen(name, out):
        sizes.setdefault(name, tuple(out.shape[-2:]))  # returns None: the output is left as it is

    for site in sites:
        handles.append(layers[site.module].register_forward_hook(
            lambda m, i, out, name=site.name: seen(name, out)))
    training = observer.module.training
    try:
        observer.module.eval()
        with torch.inference_mode():
            observer.module(x)
    finally:
        for h in handles:
            h.remove()
        observer.module.train(training)
    chosen = [s.name for s in sites if sizes.get(s.name) == (AUTO_SIDE, AUTO_SIDE)]
    if not chosen:
        found = ", ".join(f"{n} {h}x{w}" for n, (h, w) in sizes.items()) or "no residual blocks"
        raise InputError(f"{observer.name!r} has no residual block at {AUTO_SIDE}x{AUTO_SIDE} for the automatic "
                         f"GALA placement ({found}): name the layers")
    return chosen


def add_gala(observer: Observer, layers="auto", *, residual: bool = True, reduction: int = 4,
             seed: int = 0, name: str | None = None, kind: str = "gala") -> Observer:
    """A copy of ``observer`` with a GALA block after each of ``layers``.

    Parameters
    ----------
    observer : Observer
        Left unchanged (its network is copied).
    layers : "auto" or sequence of str
        :func:`auto_gala_layers`, or site names (:func:`gala_sites`).
    residual : bool
        Start as the identity (fine-tuning; default) or as the paper's ``U ⊙ A``.
    reduction : int
    seed : int
        Seed of the blocks' initial weights (drawn in a forked generator: the caller's
        random state is left alone).
    name : str, optional
        The new observer's label (default ``<name>+gala``, ``<name>+activity``).
    kind : {"gala", "activity"}
        GALA blocks, or :class:`ActivityMap` probes (the paper's control without GALA).

    Returns
    -------
    Observer
        Its network holds the blocks as ``<layer>.gala`` submodules (:func:`gala_blocks`);
        ``batchnorm_folding`` is off (folding would bypass blocks on batch-norm layers).

    Examples
    --------
    >>> import torch, torchvision
    >>> from reveal.models.registry import Observer
    >>> plain = Observer.from_module(torchvision.models.resnet18(num_classes=1000).eval(), "r18")
    >>> gala = add_gala(plain, "auto")
    >>> sorted(gala_blocks(gala.module))
    ['layer3.0.dense', 'layer3.1.dense']
    >>> x = plain.preprocess(torch.randint(0, 256, (1, 3, 224, 224), dtype=torch.uint8))
    >>> torch.allclose(plain.module(x), gala.module.eval()(x))
    True
    """
    if kind not in BLOCK_KINDS:
        raise InputError(f"block kind must be one of {', '.join(BLOCK_KINDS)}, got {kind!r}")
    names = auto_gala_layers(observer) if layers == "auto" else list(layers)
    if not names:
        raise InputError("no GALA layers given")
    module = copy.deepcopy(observer.module)
    sites = gala_sites(module, names)
    copy_observer = replace(observer, module=module, _norm={})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for site in sites:
            x = site_activations(copy_observer, site, _probe(observer))
            if x.ndim != 4:
                raise InputError(f"GALA needs a (N, C, H, W) feature map; {site.name!r} of {observer.name!r} has "
                                 f"shape {tuple(x.shape)}")
            block = GalaBlock(x.shape[1], reduction, residual) if kind == "gala" else ActivityMap()
            attach_module(module, site, block, GALA_NAME)
    what = "GALA" if kind == "gala" else "activity maps (no GALA)"
    return replace(observer, name=name or f"{observer.name}+{kind}", module=module, batchnorm_folding=False, _norm={},
                   description=f"{observer.description}; {what} at {', '.join(s.name for s in sites)}")


def gala_blocks(module: nn.Module) -> dict[str, GalaBlock | ActivityMap]:
    """The GALA blocks (or :class:`ActivityMap` probes) of a network, by site name
    (``layer3.0.dense``, …), in forward order."""
    names = {s.module: s.name for s in dense_sites(module)}
    out = {}
    for qualified, sub in module.named_modules():
        if isinstance(sub, (GalaBlock, ActivityMap)):
            layer = qualified.rsplit(".", 1)[0]
            out[names.get(layer, layer)] = sub
    return out


def attention_maps(module: nn.Module, x: torch.Tensor, forward=None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logits and each GALA block's attention map ``Â`` for a preprocessed batch.

    ``forward`` (default ``module``) runs ``x`` to the logits: a tail of ``module`` that
    starts after its frozen prefix, with ``x`` the prefix's cached output.

    Returns
    -------
    logits : torch.Tensor, shape (N, 1000)
    maps : dict of str -> torch.Tensor, shape (N, H_l, W_l)
        Keyed by site name; with the graph when gradients are on (the map loss's input).

    Examples
    --------
    >>> import torch, torchvision
    >>> from reveal.models.registry import Observer
    >>> gala = add_gala(Observer.from_module(torchvision.models.resnet18().eval(), "r18"), ["layer3.1.dense"])
    >>> logits, maps = attention_maps(gala.module, torch.zeros(1, 3, 224, 224))
    >>> tuple(logits.shape), {name: tuple(m.shape) for name, m in maps.items()}
    ((1, 1000), {'layer3.1.dense': (1, 14, 14)})
    """
    blocks = gala_blocks(module)
    if not blocks:
        raise InputError("this network has no GALA blocks (reveal.models.gala.add_gala)")
    for b in blocks.values():
        b.keep_attention, b.attention = True, None
    try:
        logits = (forward or module)(x)
        maps = {name: b.attention for name, b in blocks.items()}
    finally:
        for b in blocks.values():
            b.keep_attention, b.attention = False, None
    missing = [n for n, m in maps.items() if m is None]
    if missing:
        raise InputError(f"GALA block(s) {', '.join(missing)} did not run in a forward pass")
    return logits, maps


def map_loss(attention: torch.Tensor, human: torch.Tensor) -> torch.Tensor:
    """The paper's map loss of one layer, batch mean: ``‖ R/‖R‖₂ − Â/‖Â‖₂ ‖₂``.

    Parameters
    ----------
    attention : torch.Tensor, shape (N, h, w)
        ``Â`` of a block.
    human : torch.Tensor, shape (N, H, W)
        Human maps (non-negative; any size): resized bicubic to (h, w), negatives of the
        bicubic overshoot clipped to 0.

    Returns
    -------
    torch.Tensor, scalar: 0 when the maps are proportional, at most 2 (at most √2 for
    non-negative maps).

    Examples
    --------
    >>> import torch
    >>> r = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    >>> float(map_loss(2 * r, r)) < 1e-6
    True
    >>> round(float(map_loss(torch.tensor([[[1.0, 0.0], [0.0, 0.0]]]), torch.tensor([[[0.0, 1.0], [0.0, 0.0]]]))), 4)
    1.4142
    """
    if attention.ndim != 3 or human.ndim != 3 or len(attention) != len(human):
        raise InputError(f"map_loss takes (N, h, w) attention and (N, H, W) human maps, got "
                         f"{tuple(attention.shape)} and {tuple(human.shape)}")
    r = human.to(attention.dtype)
    if r.shape[-2:] != attention.shape[-2:]:
        r = F.interpolate(r[:, None], size=attention.shape[-2:], mode="bicubic", align_corners=False)[:, 0]
    r = r.clamp_min(0).flatten(1)
    a = attention.flatten(1)
    r = r / r.norm(dim=1, keepdim=True).clamp_min(1e-12)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (r - a).norm(dim=1).mean()
