"""Cued observers: per-channel gains on one layer, toward "animal" (or the invalid cue).

Feature-similarity gain (Lindsay & Miller 2018, "How biological attention mechanisms
improve task performance in a large-scale visual system model", eLife 7:e38105)
multiplies the rectified output of a layer by one gain per channel, the same at every
position::

    g_c = max(0, 1 + β · f_c),    f_c in [-1, 1]

where ``f_c`` says how much channel ``c`` favours the attended category and ``β ≥ 0`` is
the cue strength (β = 0: no cue). The layer is a *cue site* (:mod:`reveal.models.sites`);
by default the **head**: the pooled features that feed a classifier's final 1000-way
``nn.Linear`` (efficientnet_lite0's 1,280 features after the head convolution, its batch
norm, ReLU6, the global average pool and dropout; a torchvision ResNet's pooled features
before ``fc``). Deeper sites take values fitted on a labelled photo set (tuning or
image-averaged gradient values) or TOAD's trained gains (Bickford Smith et al.), read from a
gains file (:mod:`reveal.models.gainfit`, :mod:`reveal.core.gainsfile`).

The values ``f`` are "gradient values" in Lindsay & Miller's sense, and at the head they
are exact and need no data: the animal score ``s = mean(logits[0:398]) −
mean(logits[398:1000])`` (ImageNet classes 0–397 are the animals,
:mod:`reveal.models.readout`) is linear in the pooled features ``h``, so its gradient
``∂s/∂h = d = mean(W[0:398], axis=0) − mean(W[398:], axis=0)`` (``W`` the classifier's
1000 × C weight) is the same for every input, and ``f = d / max|d|``. The cue
``"animal"`` uses ``f``; ``"nonanimal"`` (an invalid cue for animal images) uses ``−f``.

At the head the gains act on the input of a linear layer, so they fold into its weights,
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
import numpy as np
import torch
from torch import nn

from ..core.errors import InputError
from .readout import ANIMAL_CLASSES
from .registry import Observer
from .sites import attach_gains, check_site, classifier_layer, find_site

__all__ = ["TARGETS", "METHODS", "head_gradient_values", "gains", "cue_observer", "cue_observers",
           "observers_from_gains", "format_strength"]

#: Cue targets: the attended category ("nonanimal" scales the channels by −f).
TARGETS = ("animal", "nonanimal")
#: Where a cue's values come from, as the observer label spells it: ``fsg`` the exact head
#: gradient values (no data); ``fsg-tuning`` / ``fsg-gradient`` values fitted on a photo set
#: and ``toad`` trained gains, both from a gains file (:mod:`reveal.models.gainfit`).
METHODS = ("fsg", "fsg-tuning", "fsg-gradient", "toad")


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
    _, linear = classifier_layer(_module_of(observer))
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
        Feature-similarity values ``f`` in [-1, 1] (:func:`head_gradient_values`), or
        TOAD's trained gains minus one (β = 1 gives the trained gains).
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


def _label(method, target, layer, beta):
    return f"+{method}({target},{layer},{beta})"


def cue_observer(observer: Observer, strength: float, target: str = "animal", values=None, *,
                 layer: str = "head", fold: bool = True, check: bool = True, method: str = "fsg") -> Observer:
    """The observer with a cue: per-channel gains on one layer's rectified output.

    The site's channels are multiplied by ``g = max(0, 1 + β · (±f))`` (:func:`gains`),
    the same at every position. Folded (default, where the site is the input of a linear
    layer or convolution: :mod:`reveal.models.sites`) the gains become part of that layer's
    weights, ``W' = W · diag(g)``: exact, and no slower than the plain observer. Hooked
    (``fold=False``, or a site that does not fold) a forward hook multiplies the tensor by
    ``g`` (kept in a ``cue_gain`` submodule of the layer, so it moves with the module).

    Parameters
    ----------
    observer : Observer
        The plain observer; left as it is (its module is deep-copied).
    strength : float
        Cue strength β ≥ 0 (0: the plain observer's logits, bit for bit when folded).
    target : {"animal", "nonanimal"}
        The cued category; "nonanimal" is the invalid cue for animal images (−f). For
        ``method="toad"`` the values are the gains trained toward ``target`` and are used
        as they are.
    values : torch.Tensor, shape (C,), optional
        The values ``f`` (default at the head: :func:`head_gradient_values`; other layers
        need values from a photo set, :mod:`reveal.models.gainfit`).
    layer : str
        The cue site (:func:`reveal.models.sites.cue_sites`): ``head`` (default), e.g.
        ``blocks.10.depthwise``, ``block5_pool``, ``layer3``, or any module name.
    fold : bool
        Fold the gains into the next layer's weights where that is exact (True) or hook.
    check : bool
        Run the probe batch that checks the site is non-negative (one forward pass of four
        images; :func:`cue_observers` runs it once for all strengths).
    method : {"fsg", "fsg-tuning", "fsg-gradient", "toad"}
        Where the values came from, for the label.

    Returns
    -------
    Observer
        Labelled ``<name>+<method>(<target>,<layer>,<strength>)``, e.g.
        ``efficientnet_lite0+fsg(animal,head,1)``; the label goes to the ``observer``
        column, so a resumed ``reveal predict`` refuses a file of another strength.

    Raises
    ------
    InputError
        Unknown layer, target or method, negative strength, no 1000-way ``nn.Linear``,
        values of the wrong length, no values for a layer other than the head, or a site
        that takes negative values on a probe batch (a gain on a rectified response needs
        non-negative features).

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
    if method not in METHODS:
        raise InputError(f"unknown cue method {method!r}; known: {', '.join(METHODS)}")
    _check_target(target)
    site = find_site(observer.module, layer)
    if values is None:
        if site.name != "head":
            raise InputError(f"the values at {layer!r} come from a labelled photo set: fit them with reveal gains "
                             f"fit --layer {layer} --method tuning|gradient|toad, then pass --gains FILE (only the "
                             "head's gradient values are exact without data)")
        values = head_gradient_values(observer)
    f = torch.as_tensor(values).detach()
    g = gains(f, strength, "animal" if method == "toad" else target)
    channels = check_site(observer, site) if check else None
    if channels is not None and g.shape != (channels,):
        raise InputError(f"{len(g)} gain values for {layer!r} ({site.description}), which has {channels} channels")
    module = copy.deepcopy(observer.module)
    try:
        how = attach_gains(module, site, g, fold=fold)
    except InputError as err:  # the channel count, when the probe was skipped
        raise InputError(f"{err.message} ({site.description})") from None
    beta = format_strength(_check_strength(strength))
    mechanism = ("TOAD-style trained channel gains (Bickford Smith et al.)" if method == "toad"
                 else "feature-similarity gain (Lindsay & Miller 2018)")
    description = (f"{observer.description}; {mechanism} toward {target!r}, β = {beta}, on {site.description} "
                   f"({how})")
    return replace(observer, name=observer.name + _label(method, target, site.name, beta), module=module,
                   description=description.lstrip("; "), _norm={})


def cue_observers(observer: Observer, strengths: Sequence[float], target: str = "animal", *,
                  layer: str = "head", fold: bool = True, values=None, method: str = "fsg") -> list[Observer]:
    """One cued observer per strength (:func:`cue_observer`), the values and the probe computed once.

    Parameters
    ----------
    observer : Observer
    strengths : sequence of float
        Distinct cue strengths β ≥ 0 (distinct as labels: see :func:`format_strength`).
    target : {"animal", "nonanimal"}
    layer : str
    fold : bool
    values : torch.Tensor, shape (C,), optional
        Default: the head's exact gradient values (``layer="head"`` only).
    method : {"fsg", "fsg-tuning", "fsg-gradient", "toad"}

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
    if values is None and layer == "head":
        values = head_gradient_values(observer)
    return [cue_observer(observer, b, target, values, layer=layer, fold=fold, check=i == 0, method=method)
            for i, b in enumerate(strengths)]


def observers_from_gains(observer: Observer, fitted, strengths: Sequence[float], target: str | None = None, *,
                         model: str | None = None, fold: bool = True) -> list[Observer]:
    """Cued observers from a gains file's contents (:func:`reveal.core.gainsfile.read_gains`).

    Parameters
    ----------
    observer : Observer
        The plain observer the gains were fitted for.
    fitted : reveal.core.gainsfile.Gains
        Model, layer, method (``tuning``, ``gradient``, ``toad``), target and values.
    strengths : sequence of float
    target : {"animal", "nonanimal"}, optional
        The cued category (default: the file's). Feature-similarity values serve either
        target (the other one is the invalid cue, −f); TOAD's gains were trained toward one.
    model : str, optional
        The model name the file must name (default: the observer's name).

    Raises
    ------
    InputError
        Gains of another model, TOAD gains used for the other target.
    """
    expected = model or observer.name
    if fitted.model != expected:
        raise InputError(f"these gains were fitted for model {fitted.model!r}, not {expected!r}")
    target = fitted.target if target is None else _check_target(target)
    if fitted.method == "toad" and target != fitted.target:
        raise InputError(f"these TOAD gains were trained toward {fitted.target!r}; to cue {target!r}, fit gains "
                         f"with reveal gains fit --method toad --target {target}")
    values = torch.tensor(np.array(fitted.values), dtype=torch.float32)  # a copy: the file's array is read-only
    if fitted.method != "toad" and fitted.target != "animal":
        values = -values  # values toward "nonanimal" are the animal values negated
    method = "toad" if fitted.method == "toad" else f"fsg-{fitted.method}"
    return cue_observers(observer, strengths, target, layer=fitted.layer, fold=fold, values=values, method=method)
