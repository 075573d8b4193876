"""Cued observers: feature-similarity gain at the pooled head features, toward "animal".

Feature-similarity gain (Lindsay & Miller 2018, "How biological attention mechanisms
improve task performance in a large-scale visual system model", eLife 7:e38105)
multiplies the rectified output of a layer by one gain per channel, the same at every
position::

    g_c = max(0, 1 + β · f_c),    f_c in [-1, 1]

where ``f_c`` says how much channel ``c`` favours the attended category and ``β ≥ 0`` is
the cue strength (β = 0: no cue). Here the layer is the **head**: the pooled features
that feed a classifier's final 1000-way ``nn.Linear`` (efficientnet_lite0's 1,280
features after the head convolution, its batch norm, ReLU6, the global average pool and
dropout; a torchvision ResNet's pooled features before ``fc``).

The values ``f`` are "gradient values" in Lindsay & Miller's sense, and at the head they
are exact and need no data: the animal score ``s = mean(logits[0:398]) −
mean(logits[398:1000])`` (ImageNet classes 0–397 are the animals,
:mod:`reveal.models.readout`) is linear in the pooled features ``h``, so its gradient
``∂s/∂h = d = mean(W[0:398], axis=0) − mean(W[398:], axis=0)`` (``W`` the classifier's
1000 × C weight) is the same for every input, and ``f = d / max|d|``. The cue
``"animal"`` uses ``f``; ``"nonanimal"`` (an invalid cue for animal images) uses ``−f``.

Because the gains act on the input of a linear layer, they fold into its weights,
``W' = W · diag(g)``, exactly (``Linear(g ⊙ h) = (W diag g) h + b`` for any ``h``): the cued
observer costs nothing at inference (``benchmarks/bench_cueing.py``). What makes it a
*gain on a rectified response* — and the animal score non-decreasing in β for every
image (``∂s/∂β = Σ_c d_c f_c h_c ≥ 0`` on unclamped channels when ``h ≥ 0``) — is that
the features are non-negative: :func:`cue_observer` checks that on a probe batch and
refuses a model whose classifier reads signed features.

These are *cued observers*, not attention maps (:mod:`reveal.models.attention`): the cue
changes the network's responses; nothing is mapped.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import replace

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
from torch import nn

from ..core.errors import InputError
from .readout import ANIMAL_CLASSES, N_CLASSES
from .registry import Observer

__all__ = ["LAYERS", "TARGETS", "head_gradient_values", "gains", "cue_observer", "cue_observers",
           "format_strength"]

#: Layers a cue can act on: the pooled features feeding the 1000-way classifier.
LAYERS = ("head",)
#: Cue targets: the attended category ("nonanimal" scales the channels by −f).
TARGETS = ("animal", "nonanimal")
#: Name of the gain buffer the hooked variant adds to the classifier.
_GAIN_BUFFER = "fsg_gain"


def format_strength(strength: float) -> str:
    """A cue strength as it appears in an observer label: shortest exact-enough decimal.

    Examples
    --------
    >>> [format_strength(b) for b in (0, 0.5, 1.0, 2, 1e-3)]
    ['0', '0.5', '1', '2', '0.001']
    """
    return format(float(strength) + 0.0, ".12g")  # + 0.0: -0.0 → 0.0


def _module_of(observer):
    if isinstance(observer, Observer):
        return observer.module
    if isinstance(observer, nn.Module):
        return observer
    raise TypeError(f"expected an Observer or a torch.nn.Module, got {type(observer).__name__}")


def _classifier(module):
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


def _check_strength(strength):
    try:
        beta = float(strength)
    except (TypeError, ValueError):
        raise InputError(f"cue strength must be a number >= 0, got {strength!r}") from None
    if not math.isfinite(beta) or beta < 0:
        raise InputError(f"cue strength must be a finite number >= 0 (0 = no cue), got {strength!r}")
    return beta + 0.0


def _check_target(target):
    if target not in TARGETS:
        raise InputError(f"unknown cue target {target!r}; use one of: {', '.join(TARGETS)}")
    return target


def _check_layer(layer):
    if layer not in LAYERS:
        raise InputError(f"unknown cueing layer {layer!r}; known: head (the pooled features feeding the "
                         f"{N_CLASSES}-way classifier)")
    return layer


def head_gradient_values(observer) -> torch.Tensor:
    """The feature-similarity values ``f`` of the head features for the animal score.

    ``d = mean(W[0:398], axis=0) − mean(W[398:1000], axis=0)`` is the gradient of the
    animal score ``mean(logits[0:398]) − mean(logits[398:])`` with respect to the pooled
    features feeding the classifier (``W`` its weight): the same for every input, so the
    values are exact and need no data (Lindsay & Miller 2018, eLife 7:e38105, "gradient
    values"). ``f = d / max|d|``.

    Parameters
    ----------
    observer : Observer or torch.nn.Module
        A network ending in an ``nn.Linear`` with 1000 outputs (the last one is used).

    Returns
    -------
    torch.Tensor of float32, shape (C,)
        One value per input channel of the classifier, in [-1, 1], ``max|f| == 1``; on the CPU.

    Raises
    ------
    InputError
        If the model has no 1000-way ``nn.Linear`` (the message lists those it has) or
        its animal and non-animal weights do not differ.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> head = nn.Linear(4, 1000)
    >>> with torch.no_grad():
    ...     _ = head.weight.zero_()
    ...     _ = head.weight[:398, 0].fill_(2.0)   # channel 0 feeds the animal classes
    ...     _ = head.weight[398:, 1].fill_(1.0)   # channel 1 the others
    >>> head_gradient_values(nn.Sequential(nn.ReLU(), head)).tolist()
    [1.0, -0.5, 0.0, 0.0]
    """
    _, linear = _classifier(_module_of(observer))
    w = linear.weight.detach().to("cpu", torch.float64)
    d = w[ANIMAL_CLASSES].mean(dim=0) - w[ANIMAL_CLASSES.stop:].mean(dim=0)
    scale = d.abs().max()
    if not bool(scale > 0):
        raise InputError("the classifier's animal and non-animal weights are the same: no feature favours "
                         "either category, so there is nothing to cue")
    return (d / scale).to(torch.float32)


def gains(values, strength: float, target: str = "animal") -> torch.Tensor:
    """Feature-similarity gains ``g = max(0, 1 + β · (±f))`` (Lindsay & Miller 2018).

    Parameters
    ----------
    values : torch.Tensor, shape (C,)
        Feature-similarity values ``f`` in [-1, 1] (:func:`head_gradient_values`).
    strength : float
        Cue strength β ≥ 0; 0 gives gains of exactly 1.
    target : {"animal", "nonanimal"}
        ``"animal"`` scales by ``1 + β f``, ``"nonanimal"`` by ``1 − β f``.

    Returns
    -------
    torch.Tensor, shape (C,)
        Non-negative gains, same dtype and device as ``values``.

    Raises
    ------
    InputError
        For a negative or non-finite strength or an unknown target.

    Examples
    --------
    >>> import torch
    >>> f = torch.tensor([1.0, 0.25, -0.5, -1.0])
    >>> gains(f, 2.0).tolist()
    [3.0, 1.5, 0.0, 0.0]
    >>> gains(f, 2.0, target="nonanimal").tolist()
    [0.0, 0.5, 2.0, 3.0]
    >>> gains(f, 0.0).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    beta = _check_strength(strength)
    sign = 1.0 if _check_target(target) == "animal" else -1.0
    values = torch.as_tensor(values)
    if values.ndim != 1:
        raise InputError(f"feature-similarity values must be one per channel (shape (C,)), got shape "
                         f"{tuple(values.shape)}")
    return (1.0 + (beta * sign) * values).clamp(min=0.0)


def _apply_gain(module, args):
    """Forward pre-hook of the hooked variant: the classifier's input times its gain buffer."""
    return (args[0] * getattr(module, _GAIN_BUFFER),) + tuple(args[1:])


def _probe_min(observer, module, linear):
    """The smallest input value of ``linear`` over a probe batch (black, white, two noise images)."""
    c = observer.crop_size
    noise = torch.randint(0, 256, (2, 3, c, c), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    probe = torch.cat([torch.zeros(1, 3, c, c, dtype=torch.uint8), torch.full((1, 3, c, c), 255, dtype=torch.uint8),
                       noise])
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    seen = []
    handle = linear.register_forward_pre_hook(lambda m, args: seen.append(float(args[0].detach().amin())))
    training = module.training
    try:
        module.eval()
        with torch.inference_mode():
            module(observer.preprocess(probe.to(device)))
    finally:
        handle.remove()
        module.train(training)
    if not seen:
        raise InputError(f"{observer.name!r}'s classifier was not called on a probe batch: its forward does not "
                         "end in the 1000-way nn.Linear, so a gain on its input would change nothing")
    return min(seen)


def cue_observer(observer: Observer, strength: float, target: str = "animal", values=None, *,
                 layer: str = "head", fold: bool = True, check: bool = True) -> Observer:
    """The observer with a feature-similarity-gain cue at its head (Lindsay & Miller 2018).

    The pooled features feeding the 1000-way classifier are multiplied by
    ``g = max(0, 1 + β · (±f))`` (:func:`gains`), one gain per channel. Folded (default)
    the gains become part of the classifier's weights, ``W' = W · diag(g)``: exact, and no
    slower than the plain observer. Hooked (``fold=False``) a forward pre-hook multiplies
    the classifier's input by ``g`` (kept as a buffer ``fsg_gain`` on the layer, so it moves
    with the module): the same numbers, a reference for the folded form.

    Parameters
    ----------
    observer : Observer
        The plain observer; left as it is (its module is deep-copied).
    strength : float
        Cue strength β ≥ 0 (0: the plain observer's logits, bit for bit when folded).
    target : {"animal", "nonanimal"}
        The cued category; "nonanimal" is the invalid cue for animal images.
    values : torch.Tensor, shape (C,), optional
        Feature-similarity values ``f`` (default :func:`head_gradient_values`; pass them to
        cue one observer at several strengths without recomputing).
    layer : {"head"}
        Where the gains act: the pooled features feeding the classifier.
    fold : bool
        Fold the gains into the classifier's weights (True) or apply them with a hook.
    check : bool
        Run the probe batch that checks the classifier reads non-negative features (one
        forward pass of four images; :func:`cue_observers` runs it once for all strengths).

    Returns
    -------
    Observer
        Labelled ``<name>+fsg(<target>,<layer>,<strength>)``, e.g.
        ``efficientnet_lite0+fsg(animal,head,1)``; the label goes to the ``observer``
        column, so a resumed ``reveal predict`` refuses a file of another strength.

    Raises
    ------
    InputError
        Unknown layer or target, negative strength, no 1000-way ``nn.Linear``, values of
        the wrong length, or classifier input features that take negative values on a probe
        batch (a gain on a rectified response needs non-negative features).

    Examples
    --------
    A tiny network whose classifier reads rectified pooled colour:

    >>> import torch
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.ReLU(), nn.Linear(3, 1000))
    >>> plain = Observer.from_module(net, "tiny")
    >>> cued = cue_observer(plain, 2.0)
    >>> cued.name
    'tiny+fsg(animal,head,2)'
    >>> x = plain.preprocess(torch.randint(0, 256, (4, 3, 256, 256), dtype=torch.uint8))
    >>> def score(logits):
    ...     return logits[:, :398].mean(1) - logits[:, 398:].mean(1)
    >>> with torch.no_grad():
    ...     bool((score(cued.module(x)) >= score(net(x))).all())
    True
    >>> hooked = cue_observer(plain, 2.0, fold=False)
    >>> with torch.no_grad():
    ...     torch.allclose(hooked.module(x), cued.module(x), atol=1e-6)
    True
    >>> with torch.no_grad():
    ...     torch.equal(cue_observer(plain, 0).module(x), net(x))
    True
    """
    if not isinstance(observer, Observer):
        raise TypeError(f"expected an Observer, got {type(observer).__name__} (nn.Module: Observer.from_module)")
    _check_layer(layer)
    f = head_gradient_values(observer) if values is None else torch.as_tensor(values).detach()
    g = gains(f, strength, target)
    module = copy.deepcopy(observer.module)
    lname, linear = _classifier(module)
    if g.shape != (linear.in_features,):
        raise InputError(f"{len(g)} feature-similarity values for a classifier ({lname!r}) with "
                         f"{linear.in_features} input features")
    lowest = _probe_min(observer, module, linear) if check else 0.0
    if lowest < 0:
        raise InputError(f"the {linear.in_features} features feeding {observer.name!r}'s classifier ({lname!r}) "
                         f"are signed (minimum {lowest:.3g} on a probe batch): feature-similarity gain scales a "
                         "rectified, non-negative response, so this model cannot be cued at the head")
    g = g.to(device=linear.weight.device, dtype=linear.weight.dtype)
    if fold:
        with torch.no_grad():
            linear.weight.mul_(g.unsqueeze(0))
    else:
        linear.register_buffer(_GAIN_BUFFER, g)
        linear.register_forward_pre_hook(_apply_gain)
    beta = format_strength(_check_strength(strength))
    how = "folded into" if fold else "hooked before"
    description = (f"{observer.description}; feature-similarity gain toward {target!r}, β = {beta}, on the "
                   f"pooled head features ({how} {lname!r}; Lindsay & Miller 2018)")
    return replace(observer, name=f"{observer.name}+fsg({target},{layer},{beta})", module=module,
                   description=description.lstrip("; "), _norm={})


def cue_observers(observer: Observer, strengths: Sequence[float], target: str = "animal", *,
                  layer: str = "head", fold: bool = True) -> list[Observer]:
    """One cued observer per strength (:func:`cue_observer`), the values computed once.

    Parameters
    ----------
    observer : Observer
    strengths : sequence of float
        Distinct cue strengths β ≥ 0 (distinct as labels: see :func:`format_strength`).
    target : {"animal", "nonanimal"}
    layer : {"head"}
    fold : bool

    Returns
    -------
    list of Observer, in the order of ``strengths``

    Examples
    --------
    >>> from torch import nn
    >>> from reveal.models.registry import Observer
    >>> net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.ReLU(), nn.Linear(3, 1000))
    >>> [o.name for o in cue_observers(Observer.from_module(net, "tiny"), [0, 0.5], "nonanimal")]
    ['tiny+fsg(nonanimal,head,0)', 'tiny+fsg(nonanimal,head,0.5)']
    """
    labels = [format_strength(_check_strength(b)) for b in strengths]
    if not labels:
        raise InputError("no cue strength given")
    repeated = sorted({b for b in labels if labels.count(b) > 1})
    if repeated:
        raise InputError(f"cue strength {repeated[0]} is given more than once")
    values = head_gradient_values(observer)
    return [cue_observer(observer, b, target, values, layer=layer, fold=fold, check=i == 0)
            for i, b in enumerate(strengths)]
