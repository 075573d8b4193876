"""Trained channel gains (TOAD): one non-negative gain per channel, fitted to a task on cached activations.

Task-oriented ablation design (TOAD; Bickford Smith, Roads, Luo & Love, "Understanding
top-down attention using task-oriented ablation design") multiplies the rectified output
of one layer of a frozen network by one gain per channel, the same at every position, and
trains only the gains for a task: Adam (learning rate 3e-4), cross-entropy, early stopping
on a held-out split. Its *intensity* is the share (here: the weight) of in-task examples in
the loss, which trades hits against false alarms.

Here the task is binary: the network's **animal read-out** (:mod:`reveal.models.readout`,
``p_animal`` = softmax mass of ImageNet classes 0–397). With gains ``g`` and cached
activations ``a`` of the layer (computed once by the caller), the loss of example ``i`` is
the cross-entropy of its correct answer (animal or not)::

    log p_animal     = logsumexp(z[0:398])    − logsumexp(z)      z = tail(a_i · g)
    log p_nonanimal  = logsumexp(z[398:1000]) − logsumexp(z)
    L = Σ_i w_i · nll_i / Σ_i w_i,    w_i = intensity (in-task) or 1 − intensity (the others)

(both log-probabilities are computed from log-sum-exps, so they stay finite however
confident the network). The *in-task* examples are those of the target category (the
animals for ``target="animal"``). Intensity 0.5 weighs every example the same; towards 1
only the target's examples count and the read-out is pushed to answer the target (more
hits, more false alarms); towards 0 the other way round.

The gains start at 1 (the plain network) and stay non-negative: after every Adam step
they are clamped at 0, a projected-gradient method (projection onto ``g ≥ 0``). Only the
gains are trained; the tail is frozen. The gains with the lowest held-out loss are kept
(epoch 0, gains of 1, included), so a fit that finds nothing returns gains of 1.

What a gains file stores is ``values = gains − 1``: the gains at strength β are
``max(0, 1 + β · values)`` (the formula of :func:`reveal.models.cueing.gains` with target
``"animal"``), β = 1 giving the trained gains and β = 0 the plain network.

The held-out split serves early stopping, so the held-out loss of the chosen gains is the
selection criterion, slightly optimistic as an estimate of performance on new images:
evaluate on a third set for that.
"""
from __future__ import annotations

from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch

import math
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from ..core.errors import InputError
from ..core.seeding import as_generator
from .readout import ANIMAL_CLASSES, N_CLASSES, THRESHOLD

__all__ = ["TARGETS", "ToadFit", "fit_toad_gains", "check_enough"]

#: Targets of a fit: the in-task category.
TARGETS = ("animal", "nonanimal")
#: Fewest held-out examples of each category.
MIN_HELD_OUT_PER_CLASS = 5
_CATEGORIES = ("animal", "nonanimal")


@dataclass(frozen=True, eq=False)
class ToadFit:
    """The result of :func:`fit_toad_gains`: trained gains and the statistics of the fit.

    Losses are the weighted cross-entropies of the fit (weights ``intensity`` and
    ``1 − intensity``), in nats per unit weight; accuracies and rates are unweighted, of
    the read-out ``p_animal ≥ 0.5``. "Before" is at gains of 1 (the plain network),
    "after" at the kept gains.

    Attributes
    ----------
    gains : torch.Tensor of float32, shape (C,)
        The trained gains, ≥ 0, on the CPU.
    values : torch.Tensor of float32, shape (C,)
        ``gains − 1``: the gains at strength β are ``max(0, 1 + β · values)``.
    target : str
        The in-task category, ``"animal"`` or ``"nonanimal"``.
    intensity : float
        Weight of the in-task examples (the others weigh ``1 − intensity``).
    lr : float
        Adam's learning rate.
    loss_before, loss_after : float
        Held-out weighted loss at gains of 1 and at the kept gains.
    accuracy_before, accuracy_after : float
        Held-out accuracy of the read-out.
    hit_rate_before, hit_rate_after : float
        Held-out P(read-out says animal | animal).
    false_alarm_rate_before, false_alarm_rate_after : float
        Held-out P(read-out says animal | non-animal).
    train_loss_before, train_loss_after : float
        The same loss over the training examples.
    epochs : int
        Training epochs run.
    best_epoch : int
        The epoch whose gains were kept (0: none beat gains of 1).
    stopped_early : bool
        Whether ``patience`` epochs without improvement ended the fit before ``max_epochs``.
    n_train, n_held_out : int
        Examples in the training and held-out splits.
    n_train_per_class, n_held_out_per_class : dict of str to int
        The same per category (``"animal"``, ``"nonanimal"``).
    held_out_losses : tuple of float
        Held-out loss after each epoch, epoch 0 (gains of 1) first.
    train_losses : tuple of float
        Mean minibatch training loss during each epoch (1, 2, …).
    held_out_index : numpy.ndarray of int64
        Indices (into the activations) of the held-out examples, sorted.

    Examples
    --------
    >>> import torch
    >>> fit = ToadFit(gains=torch.tensor([1.5, 0.0]), values=torch.tensor([0.5, -1.0]), target="animal",
    ...               intensity=0.5, lr=3e-4, loss_before=0.7, loss_after=0.4, accuracy_before=0.5,
    ...               accuracy_after=0.8, hit_rate_before=1.0, hit_rate_after=0.8, false_alarm_rate_before=1.0,
    ...               false_alarm_rate_after=0.2, train_loss_before=0.7, train_loss_after=0.35, epochs=12,
    ...               best_epoch=2, stopped_early=True, n_train=80, n_held_out=20,
    ...               n_train_per_class={"animal": 40, "nonanimal": 40},
    ...               n_held_out_per_class={"animal": 10, "nonanimal": 10})
    >>> fit.gains_at(0.5).tolist()
    [1.25, 0.5]
    >>> d = fit.as_dict()
    >>> d["loss_after"], d["n_train_per_class"], "gains" in d
    (0.4, {'animal': 40, 'nonanimal': 40}, False)
    """

    gains: torch.Tensor
    values: torch.Tensor
    target: str
    intensity: float
    lr: float
    loss_before: float
    loss_after: float
    accuracy_before: float
    accuracy_after: float
    hit_rate_before: float
    hit_rate_after: float
    false_alarm_rate_before: float
    false_alarm_rate_after: float
    train_loss_before: float
    train_loss_after: float
    epochs: int
    best_epoch: int
    stopped_early: bool
    n_train: int
    n_held_out: int
    n_train_per_class: dict
    n_held_out_per_class: dict
    held_out_losses: tuple = ()
    train_losses: tuple = ()
    held_out_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    def gains_at(self, strength: float) -> torch.Tensor:
        """The gains at strength β: ``max(0, 1 + β · values)`` (β = 1: the trained gains).

        Parameters
        ----------
        strength : float
            β ≥ 0.

        Returns
        -------
        torch.Tensor of float32, shape (C,)
        """
        beta = float(strength)
        if not math.isfinite(beta) or beta < 0:
            raise InputError(f"gain strength must be a finite number >= 0, got {strength!r}")
        return (1.0 + beta * self.values).clamp(min=0.0)

    def as_dict(self) -> dict:
        """The statistics as a JSON-ready dict (plain Python numbers; no gains, no indices)."""
        out = {}
        for name in ("target", "intensity", "lr", "loss_before", "loss_after", "accuracy_before",
                     "accuracy_after", "hit_rate_before", "hit_rate_after", "false_alarm_rate_before",
                     "false_alarm_rate_after", "train_loss_before", "train_loss_after", "epochs", "best_epoch",
                     "stopped_early", "n_train", "n_held_out"):
            out[name] = getattr(self, name)
        out["n_train_per_class"] = dict(self.n_train_per_class)
        out["n_held_out_per_class"] = dict(self.n_held_out_per_class)
        out["n_channels"] = int(self.gains.numel())
        out["held_out_losses"] = list(self.held_out_losses)
        out["train_losses"] = list(self.train_losses)
        return out


# --------------------------------------------------------------------------- checks


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _open_unit(value, name):
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number strictly between 0 and 1, got {value!r}") from None
    if not 0.0 < x < 1.0:
        raise InputError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return x


def _check_activations(activations):
    if not isinstance(activations, torch.Tensor):
        raise InputError(f"activations must be a torch.Tensor of shape (N, C) or (N, C, H, W), got "
                         f"{type(activations).__name__}")
    if activations.ndim not in (2, 4):
        raise InputError(f"activations must have shape (N, C) or (N, C, H, W), got shape {tuple(activations.shape)}")
    if not activations.is_floating_point():
        raise InputError(f"activations must be floating point, got {activations.dtype}")
    if activations.shape[0] == 0 or activations.shape[1] == 0:
        raise InputError(f"activations are empty (shape {tuple(activations.shape)})")
    x = activations.detach().to(torch.float32)
    if x.is_inference():  # cached under torch.inference_mode: a normal tensor, so autograd may save it
        with torch.inference_mode(False):
            x = x.clone()
    if not bool(torch.isfinite(x).all()):
        raise InputError("activations contain NaN or infinite values")
    lowest = float(x.amin())
    if lowest < 0:
        raise InputError(f"activations take negative values (minimum {lowest:.3g}): TOAD gains scale a rectified, "
                         "non-negative response; cache the layer's output after its ReLU")
    return x


def _check_labels(labels, n):
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        raise InputError(f"labels must be one per example, shape ({n},), got shape {y.shape}")
    if y.dtype != bool:
        if y.dtype.kind not in "iuf" or not np.isin(y, (0, 1)).all():
            raise InputError("labels must be booleans (True = animal) or 0/1")
        y = y.astype(bool)
    return y


def _split(y, held_out, gen, min_per_class):
    """Stratified split: per category, a share ``held_out`` (rounded) of its examples held out."""
    train, held, counts = [], [], {}
    for name, value in zip(_CATEGORIES, (True, False)):
        idx = gen.permutation(np.flatnonzero(y == value))
        k = int(round(held_out * len(idx)))
        held.append(idx[:k])
        train.append(idx[k:])
        counts[name] = (len(idx), len(idx) - k, k)
    short = [name for name, (_, n_tr, n_ho) in counts.items()
             if n_tr < min_per_class or n_ho < MIN_HELD_OUT_PER_CLASS]
    if short:
        need = _needed(held_out, min_per_class)
        given = "; ".join(f"{n_all} {name} ({n_tr} training, {n_ho} held-out)"
                          for name, (n_all, n_tr, n_ho) in counts.items())
        raise InputError(f"too few examples to fit TOAD gains: each category needs at least {min_per_class} training "
                         f"and {MIN_HELD_OUT_PER_CLASS} held-out examples (with held_out={held_out:g}: at least "
                         f"{need} of each); given {given}")
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held)), counts


def check_enough(labels, *, held_out: float = 0.2, min_per_class: int = 20) -> None:
    """Refuse, before any activation is computed, labels too few for :func:`fit_toad_gains`.

    Raises
    ------
    InputError
        Saying how many examples of each category are needed and how many were given.

    Examples
    --------
    >>> check_enough([True] * 30 + [False] * 30)
    >>> try:
    ...     check_enough([True] * 30 + [False] * 3)
    ... except ValueError as err:
    ...     print(str(err)[:60])
    too few examples to fit TOAD gains: each category needs at l
    """
    y = np.asarray(labels, dtype=bool)
    _split(y, _open_unit(held_out, "held_out"), np.random.default_rng(0), _positive_int(min_per_class, "min_per_class"))


def _needed(held_out, min_per_class):
    """Fewest examples of one category that give enough training and held-out ones."""
    n = min_per_class
    while True:
        k = int(round(held_out * n))
        if n - k >= min_per_class and k >= MIN_HELD_OUT_PER_CLASS:
            return n
        n += 1


# --------------------------------------------------------------------------- the fit


def _nll(logits, y):
    """Cross-entropy of the correct answer (animal / non-animal) and ``p_animal``, from 1000 logits."""
    logits = logits.float()
    total = torch.logsumexp(logits, dim=1)
    log_pa = torch.logsumexp(logits[:, ANIMAL_CLASSES], dim=1) - total
    log_pn = torch.logsumexp(logits[:, ANIMAL_CLASSES.stop:], dim=1) - total
    return -torch.where(y, log_pa, log_pn), log_pa.exp()


def _gate(x, g):
    return x * (g.view(1, -1, 1, 1) if x.ndim == 4 else g.view(1, -1))


def _run(tail, gated, context, index):
    """The tail on gated activations, with the cached context rows they need (if any)."""
    return tail(gated) if context is None else tail(gated, context[index])


def _evaluate(tail, x, y, w, g, chunk, context=None):
    """Weighted loss, accuracy, hit and false-alarm rate over the examples (no gradient)."""
    loss = 0.0
    says_animal = []
    with torch.no_grad():
        for start in range(0, len(y), chunk):
            sl = slice(start, start + chunk)
            nll, p = _nll(_run(tail, _gate(x[sl], g), context, sl), y[sl])
            loss += float((w[sl] * nll).sum())
            says_animal.append(p >= THRESHOLD)
    says = torch.cat(says_animal)
    n_animal = int(y.sum())

    def share(hits, of):
        return int(hits) / of

    return (loss / float(w.sum()), share((says == y).sum(), len(y)), share(says[y].sum(), n_animal),
            share(says[~y].sum(), len(y) - n_animal))


def fit_toad_gains(activations: torch.Tensor, labels, tail: nn.Module, *, target: str = "animal",
                   intensity: float = 0.5, rng=None, held_out: float = 0.2, lr: float = 3e-4,
                   batch_size: int = 256, max_epochs: int = 200, patience: int = 10,
                   min_per_class: int = 20, context: torch.Tensor | None = None) -> ToadFit:
    """Train one non-negative gain per channel for the animal read-out (TOAD), on cached activations.

    The gains ``g`` (one per channel ``C``, initially 1) multiply the activations at every
    position (``a · g.view(1, C, 1, 1)``, or ``(1, C)`` for pooled features), the frozen
    ``tail`` maps them to 1000 ImageNet logits, and Adam minimises the weighted
    cross-entropy of the correct answer (animal or not; see the module's docstring), with
    ``g`` clamped at 0 after every step (projected gradient). The gains with the lowest
    held-out loss are kept; training stops after ``patience`` epochs without improvement.

    Parameters
    ----------
    activations : torch.Tensor, shape (N, C) or (N, C, H, W)
        The layer's cached, non-negative (rectified) activations, float (used as float32,
        on their device).
    labels : array_like of bool, shape (N,)
        True for an animal image (0/1 accepted).
    tail : torch.nn.Module
        Maps gated activations (the same shape) to logits ``(n, 1000)``: for the pooled
        head features, the classifier's ``nn.Linear``. Frozen by the fit: it is put in eval
        mode and its parameters get ``requires_grad=False`` (left so). On the activations'
        device.
    target : {"animal", "nonanimal"}
        The in-task category.
    intensity : float
        Weight of the in-task examples in the loss, strictly between 0 and 1 (the others
        weigh ``1 − intensity``); 0.5 weighs every example the same.
    rng : None, int or numpy.random.Generator
        Draws the stratified held-out split and the minibatch order (through a
        ``torch.Generator`` seeded from it): a given seed gives the same gains.
    held_out : float
        Share of each category held out for early stopping, strictly between 0 and 1.
    lr : float
        Adam's learning rate (TOAD: 3e-4).
    batch_size : int
        Training examples per step.
    max_epochs : int
        Most passes over the training examples.
    patience : int
        Epochs without a lower held-out loss before stopping.
    min_per_class : int
        Fewest training examples of each category (the held-out split needs at least 5 of each).
    context : torch.Tensor, shape (N, ...), optional
        Cached tensors the tail needs besides the gated activations, one row per example
        (e.g. an EfficientNet block's input, for its skip connection): the tail is then
        called as ``tail(gated, context_rows)``. Not gated, not trained.

    Returns
    -------
    ToadFit
        The kept gains (float32, CPU), ``values = gains − 1`` and the fit's statistics.

    Raises
    ------
    InputError
        Activations of the wrong shape, not finite or negative; labels not one boolean per
        example; too few examples of a category (the message says how many are needed and
        how many were given); intensity or held_out not strictly between 0 and 1; an
        unknown target; a tail not giving ``(n, 1000)`` logits or on another device.

    Examples
    --------
    Pooled features of 4 channels: channel 0 is larger for animals, channel 1 is noise
    that drives the animal classes and makes the plain read-out say "animal" too often.

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> gen = torch.Generator().manual_seed(0)
    >>> labels = np.arange(200) % 2 == 0
    >>> acts = torch.rand(200, 4, generator=gen)
    >>> acts[labels, 0] += 1.0
    >>> head = nn.Linear(4, 1000)
    >>> with torch.no_grad():
    ...     _ = head.weight.zero_(); _ = head.bias.zero_()
    ...     _ = head.weight[:398, 0].fill_(2.0)
    ...     _ = head.weight[:398, 1].fill_(3.0)
    ...     _ = head.bias[:398].fill_(-2.0)
    >>> fit = fit_toad_gains(acts, labels, head, rng=0, lr=0.05, batch_size=32)
    >>> fit.loss_after < fit.loss_before, fit.accuracy_after > fit.accuracy_before
    (True, True)
    >>> g = fit.gains.tolist()
    >>> g[0] > 1 > g[1] >= 0, g[2:] == [1.0, 1.0]
    (True, True)
    >>> torch.equal(fit.gains, fit_toad_gains(acts, labels, head, rng=0, lr=0.05, batch_size=32).gains)
    True
    """
    x = _check_activations(activations)
    n, c = x.shape[:2]
    y_np = _check_labels(labels, n)
    if target not in TARGETS:
        raise InputError(f"unknown TOAD target {target!r}; use one of: {', '.join(TARGETS)}")
    intensity = _open_unit(intensity, "intensity")
    held_out = _open_unit(held_out, "held_out")
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise InputError(f"lr must be a positive number, got {lr!r}") from None
    if not math.isfinite(lr) or lr <= 0:
        raise InputError(f"lr must be a positive number, got {lr!r}")
    batch_size = _positive_int(batch_size, "batch_size")
    max_epochs = _positive_int(max_epochs, "max_epochs")
    patience = _positive_int(patience, "patience")
    min_per_class = _positive_int(min_per_class, "min_per_class")
    if not isinstance(tail, nn.Module):
        raise InputError(f"tail must be a torch.nn.Module, got {type(tail).__name__}")

    gen = as_generator(rng)
    train_idx, held_idx, counts = _split(y_np, held_out, gen, min_per_class)
    torch_gen = torch.Generator().manual_seed(int(gen.integers(2**63 - 1)))

    dev = x.device
    for p in tail.parameters():
        if p.device != dev:
            raise InputError(f"the tail's parameters are on {p.device}, the activations on {dev}: move one of them")
        p.requires_grad_(False)
    tail.eval()

    y = torch.as_tensor(y_np, device=dev)
    in_task = y if target == "animal" else ~y
    w = torch.where(in_task, torch.tensor(intensity, device=dev), torch.tensor(1.0 - intensity, device=dev))
    tr = torch.as_tensor(train_idx, device=dev)
    ho = torch.as_tensor(held_idx, device=dev)
    x_tr, y_tr, w_tr = x[tr], y[tr], w[tr]
    x_ho, y_ho, w_ho = x[ho], y[ho], w[ho]
    if context is not None and len(context) != n:
        raise InputError(f"{len(context)} context rows for {n} examples")
    c_tr, c_ho = (None, None) if context is None else (context[tr], context[ho])
    chunk = max(batch_size, 1024)

    with torch.inference_mode(False), torch.enable_grad():
        g = torch.ones(c, device=dev, dtype=torch.float32, requires_grad=True)
        with torch.no_grad():
            probe = _run(tail, _gate(x_ho[:2], g), c_ho, slice(0, 2))
        if not isinstance(probe, torch.Tensor) or probe.ndim != 2 or probe.shape[1] != N_CLASSES:
            shape = tuple(probe.shape) if isinstance(probe, torch.Tensor) else type(probe).__name__
            raise InputError(f"the tail must map the gated activations to logits of shape (n, {N_CLASSES}), "
                             f"got {shape}")
        before = _evaluate(tail, x_ho, y_ho, w_ho, g, chunk, c_ho)
        train_before = _evaluate(tail, x_tr, y_tr, w_tr, g, chunk, c_tr)[0]
        opt = torch.optim.Adam([g], lr=lr)
        best_loss, best_g, best_epoch = before[0], g.detach().clone(), 0
        held_losses, train_losses = [before[0]], []
        epoch = since = 0
        for epoch in range(1, max_epochs + 1):
            order = torch.randperm(len(tr), generator=torch_gen).to(dev)
            total, steps = 0.0, 0
            for start in range(0, len(order), batch_size):
                b = order[start:start + batch_size]
                nll, _ = _nll(_run(tail, _gate(x_tr[b], g), c_tr, b), y_tr[b])
                loss = (w_tr[b] * nll).sum() / w_tr[b].sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    g.clamp_(min=0.0)  # projection onto g >= 0
                total += float(loss.detach())
                steps += 1
            train_losses.append(total / steps)
            held_loss = _evaluate(tail, x_ho, y_ho, w_ho, g, chunk, c_ho)[0]
            held_losses.append(held_loss)
            if held_loss < best_loss:
                best_loss, best_g, best_epoch, since = held_loss, g.detach().clone(), epoch, 0
            else:
                since += 1
                if since >= patience:
                    break
        after = _evaluate(tail, x_ho, y_ho, w_ho, best_g, chunk, c_ho)
        train_after = _evaluate(tail, x_tr, y_tr, w_tr, best_g, chunk, c_tr)[0]

    gains = best_g.to("cpu", torch.float32)
    held_index = held_idx.astype(np.int64)
    return ToadFit(
        gains=gains, values=gains - 1.0, target=target, intensity=intensity, lr=lr,
        loss_before=before[0], loss_after=after[0], accuracy_before=before[1], accuracy_after=after[1],
        hit_rate_before=before[2], hit_rate_after=after[2], false_alarm_rate_before=before[3],
        false_alarm_rate_after=after[3], train_loss_before=train_before, train_loss_after=train_after,
        epochs=epoch, best_epoch=best_epoch, stopped_early=since >= patience, n_train=len(train_idx),
        n_held_out=len(held_idx), n_train_per_class={k: v[1] for k, v in counts.items()},
        n_held_out_per_class={k: v[2] for k, v in counts.items()}, held_out_losses=tuple(held_losses),
        train_losses=tuple(train_losses), held_out_index=held_index)
