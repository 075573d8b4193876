"""TOAD-style trained channel gains on cached activations (reveal.models.toad), on synthetic data."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from reveal.core.errors import InputError
from reveal.models.readout import animal_evidence
from reveal.models.toad import ToadFit, fit_toad_gains

DISTRACTORS = [1, 2, 3, 4]
FAST = dict(lr=0.05, batch_size=64)  # TOAD's lr of 3e-4 needs thousands of steps; these tests need a few hundred


def head_with(c, animal=None, nonanimal=None, animal_bias=0.0):
    """A 1000-way head reading ``c`` channels: ``animal[ch]`` weights on the animal classes 0–397,
    ``nonanimal[ch]`` on classes 398–999, ``animal_bias`` on the animal classes' biases."""
    head = nn.Linear(c, 1000)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        for ch, w in (animal or {}).items():
            head.weight[:398, ch] = w
        for ch, w in (nonanimal or {}).items():
            head.weight[398:, ch] = w
        head.bias[:398] = animal_bias
    return head


def planted(n=600, c=64, seed=0, shift=1.5, animal_bias=-3.0):
    """|noise| activations; channel 0 larger for animals; channels 1–4 pure noise that drive the
    animal classes hard, so that the plain read-out says "animal" to nearly everything."""
    gen = torch.Generator().manual_seed(seed)
    labels = np.arange(n) % 2 == 0
    x = torch.randn(n, c, generator=gen).abs()
    x[torch.as_tensor(labels), 0] += shift
    head = head_with(c, animal={0: 2.0, **{d: 2.0 for d in DISTRACTORS}}, animal_bias=animal_bias)
    return x, labels, head


def says_animal(head, x, gains):
    with torch.no_grad():
        p, _, _ = animal_evidence(head(x * gains))
    return (p >= 0.5).numpy()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These fits multiply a few hundred rows by a (C × 1000) matrix per step: one thread is faster,
    and intra-op threads on a busy machine can make them tens of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def planted_fit(one_thread):
    x, labels, head = planted()
    return x, labels, head, fit_toad_gains(x, labels, head, rng=0, **FAST)


# --------------------------------------------------------------------------- it learns what is there


def test_planted_channel_is_found_and_distractors_are_turned_down(planted_fit):
    x, labels, head, fit = planted_fit
    assert isinstance(fit, ToadFit)
    g = fit.gains
    assert g.shape == (64,) and g.dtype == torch.float32 and g.device.type == "cpu"
    assert bool((g >= 0).all())
    # The plain read-out says "animal" to nearly everything; the fit repairs that.
    assert fit.false_alarm_rate_before > 0.8
    assert fit.loss_after < 0.5 * fit.loss_before
    assert fit.accuracy_after > fit.accuracy_before + 0.3
    assert fit.accuracy_after > 0.9
    assert fit.false_alarm_rate_after < 0.2
    assert fit.train_loss_after < fit.train_loss_before
    # Channel 0 carries the label: its gain grows and is the largest; the pure-noise drivers fall.
    assert int(g.argmax()) == 0 and float(g[0]) > 1.0
    assert float(g[DISTRACTORS].max()) < 0.5
    # Channels the head does not read get no gradient: they stay at exactly 1.
    assert torch.equal(g[5:], torch.ones(59))
    torch.testing.assert_close(fit.values, g - 1)
    torch.testing.assert_close(fit.gains_at(1.0), g)
    assert torch.equal(fit.gains_at(0.0), torch.ones(64))
    # The gains generalise to fresh images from the same source, not only to the held-out split.
    x_new, labels_new, _ = planted(seed=1)
    acc_plain = (says_animal(head, x_new, torch.ones(64)) == labels_new).mean()
    acc_fit = (says_animal(head, x_new, g) == labels_new).mean()
    assert acc_plain < 0.6 < 0.9 < acc_fit


def test_statistics_and_bookkeeping(planted_fit):
    x, labels, head, fit = planted_fit
    assert fit.n_train + fit.n_held_out == 600
    assert fit.n_held_out_per_class == {"animal": 60, "nonanimal": 60}
    assert fit.n_train_per_class == {"animal": 240, "nonanimal": 240}
    held = fit.held_out_index
    assert len(held) == 120 and labels[held].sum() == 60 and np.all(np.diff(held) > 0)
    assert fit.epochs == len(fit.train_losses) == len(fit.held_out_losses) - 1
    assert fit.held_out_losses[0] == pytest.approx(fit.loss_before)
    assert fit.held_out_losses[fit.best_epoch] == pytest.approx(fit.loss_after)
    assert min(fit.held_out_losses) == pytest.approx(fit.loss_after)
    assert fit.stopped_early and fit.epochs == fit.best_epoch + 10
    assert (fit.target, fit.intensity, fit.lr) == ("animal", 0.5, 0.05)
    # The held-out statistics are those of the kept gains on the held-out examples.
    says = says_animal(head, x[held], fit.gains)
    assert fit.accuracy_after == pytest.approx((says == labels[held]).mean())
    assert fit.hit_rate_after == pytest.approx(says[labels[held]].mean())
    assert fit.false_alarm_rate_after == pytest.approx(says[~labels[held]].mean())
    d = fit.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["n_channels"] == 64 and "gains" not in d and "held_out_index" not in d
    # The tail is frozen (and left so).
    assert not any(p.requires_grad for p in head.parameters()) and not head.training


@pytest.mark.slow  # (3.5 s) fits on shuffled labels; the fitting itself is tested in the everyday loop
def test_labels_carry_no_information_then_nothing_is_fitted():
    """Labels independent of the activations, a read-out calibrated at p ≈ 0.5: the training loss
    can fall only by fitting noise, and early stopping on the held-out split refuses that."""
    n, c = 1000, 64
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, generator=gen).abs()
    labels = np.random.default_rng(0).permutation(np.arange(n) % 2 == 0)
    head = head_with(c, animal={ch: 0.05 * float(w) for ch, w in enumerate(torch.randn(c, generator=gen))})
    with torch.no_grad():  # centre the animal score: the plain read-out is calibrated on average
        z = head(x)
        head.bias[:398] -= (torch.logsumexp(z[:, :398], 1) - torch.logsumexp(z[:, 398:], 1)).mean()
    fit = fit_toad_gains(x, labels, head, rng=0, **FAST)
    assert fit.loss_before < 0.72  # near log 2: nothing to gain by calibration
    assert fit.loss_before - fit.loss_after < 0.005
    assert fit.stopped_early and fit.best_epoch <= 5 and fit.epochs == fit.best_epoch + 10
    # Left to run, the same optimiser does fit the training labels, while the held-out loss rises.
    long = fit_toad_gains(x, labels, head, rng=0, patience=40, max_epochs=40, **FAST)
    train_drop = long.train_losses[0] - long.train_losses[-1]
    held_drop = long.held_out_losses[0] - long.held_out_losses[-1]
    assert train_drop > 0.02
    assert held_drop < -0.01
    assert train_drop > 4 * (fit.loss_before - fit.loss_after)
    assert long.best_epoch == fit.best_epoch  # same seed, same path: the kept gains are the same
    assert torch.equal(long.gains, fit.gains)


# --------------------------------------------------------------------------- constraints and determinism


def test_gains_are_clamped_at_zero_where_the_unconstrained_optimum_is_negative():
    # The read-out is biased toward "animal" even with the distractors off, and no channel can pull
    # it back: the loss keeps falling as the distractors' gains go below 0, which the clamp forbids.
    x, labels, head = planted(animal_bias=3.0)
    fit = fit_toad_gains(x, labels, head, rng=0, **FAST)
    g = fit.gains
    assert bool((g >= 0).all())
    assert g[DISTRACTORS].tolist() == [0.0] * len(DISTRACTORS)
    g_var = g.clone().requires_grad_(True)
    z = head(x * g_var)
    total = torch.logsumexp(z, dim=1)
    log_pa, log_pn = torch.logsumexp(z[:, :398], dim=1) - total, torch.logsumexp(z[:, 398:], dim=1) - total
    loss = -torch.where(torch.as_tensor(labels), log_pa, log_pn).mean()
    (grad,) = torch.autograd.grad(loss, g_var)
    assert bool((grad[DISTRACTORS] > 0).all())  # descent would take them negative


def test_same_seed_same_gains_other_seed_other_split():
    x, labels, head = planted(n=300)
    a = fit_toad_gains(x, labels, head, rng=7, max_epochs=15, **FAST)
    b = fit_toad_gains(x, labels, head, rng=7, max_epochs=15, **FAST)
    c = fit_toad_gains(x, labels, head, rng=np.random.default_rng(7), max_epochs=15, **FAST)
    assert torch.equal(a.gains, b.gains) and torch.equal(a.gains, c.gains)
    assert np.array_equal(a.held_out_index, b.held_out_index)
    assert a.held_out_losses == b.held_out_losses
    d = fit_toad_gains(x, labels, head, rng=8, max_epochs=15, **FAST)
    assert not np.array_equal(a.held_out_index, d.held_out_index)
    assert not torch.equal(a.gains, d.gains)


def test_pooled_and_spatial_activations_give_the_same_gains():
    # A gain per channel, the same at every position, commutes with the average pool.
    gen = torch.Generator().manual_seed(3)
    n, c = 200, 8
    labels = np.arange(n) % 2 == 0
    maps = torch.rand(n, c, 3, 3, generator=gen)
    maps[torch.as_tensor(labels), 0] += 0.8
    head = head_with(c, animal={0: 2.0, 1: 3.0}, animal_bias=-2.0)
    tail = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    spatial = fit_toad_gains(maps, labels, tail, rng=0, max_epochs=30, **FAST)
    pooled = fit_toad_gains(maps.mean(dim=(2, 3)), labels, head, rng=0, max_epochs=30, **FAST)
    assert spatial.loss_after < spatial.loss_before
    assert spatial.best_epoch > 0
    torch.testing.assert_close(spatial.gains, pooled.gains, atol=1e-4, rtol=1e-4)


def test_activations_cached_under_inference_mode_are_accepted():
    x, labels, head = planted(n=200)
    with torch.inference_mode():
        cached = x.clone()
    fit = fit_toad_gains(cached, labels, head, rng=0, max_epochs=3, **FAST)
    assert torch.equal(fit.gains, fit_toad_gains(x, labels, head, rng=0, max_epochs=3, **FAST).gains)


# --------------------------------------------------------------------------- intensity


def intensity_setting(n=800, seed=0):
    """Channel 0 separates the categories with overlap; channels 1 and 2 are near-constant inputs
    to the animal and the non-animal classes, so the gains can move the read-out's criterion."""
    gen = torch.Generator().manual_seed(seed)
    labels = np.arange(n) % 2 == 0
    x = torch.randn(n, 8, generator=gen).abs()
    x[torch.as_tensor(labels), 0] += 1.0
    x[:, 1:3] = 1.0 + 0.05 * x[:, 1:3]
    head = head_with(8, animal={0: 2.0, 1: 1.0}, nonanimal={2: 1.0}, animal_bias=-2.2)
    return x, labels, head


def test_intensity_trades_hits_against_false_alarms():
    x, labels, head = intensity_setting()
    high = fit_toad_gains(x, labels, head, rng=0, intensity=0.9, **FAST)
    low = fit_toad_gains(x, labels, head, rng=0, intensity=0.1, **FAST)
    assert np.array_equal(high.held_out_index, low.held_out_index)  # intensity draws nothing
    assert high.hit_rate_after > low.hit_rate_after + 0.1
    assert high.false_alarm_rate_after > low.false_alarm_rate_after + 0.1
    # Toward the plain read-out's criterion: hits up with 0.9, false alarms down with 0.1.
    assert high.hit_rate_after > high.hit_rate_before and low.false_alarm_rate_after < low.false_alarm_rate_before
    # The same on fresh images.
    x_new, labels_new, _ = intensity_setting(seed=1)
    says_high, says_low = says_animal(head, x_new, high.gains), says_animal(head, x_new, low.gains)
    assert says_high[labels_new].mean() > says_low[labels_new].mean() + 0.1
    assert says_high[~labels_new].mean() > says_low[~labels_new].mean() + 0.1
    # Target "nonanimal" at intensity 0.9 weighs the examples exactly as target "animal" at 0.1.
    flipped = fit_toad_gains(x, labels, head, rng=0, target="nonanimal", intensity=0.9, **FAST)
    assert torch.equal(flipped.gains, low.gains) and flipped.target == "nonanimal"


# --------------------------------------------------------------------------- refusals


def test_too_few_examples_are_refused_with_the_numbers():
    x, labels, head = planted(n=600)
    keep = np.r_[np.flatnonzero(labels)[:18], np.flatnonzero(~labels)[:100]]
    with pytest.raises(InputError) as err:
        fit_toad_gains(x[keep], labels[keep], head, rng=0)
    msg = str(err.value)
    assert "at least 20 training and 5 held-out" in msg and "at least 25 of each" in msg
    assert "18 animal (14 training, 4 held-out)" in msg and "100 nonanimal (80 training, 20 held-out)" in msg
    # Enough training but too few held out: min_per_class lowered, the held-out floor stays.
    with pytest.raises(InputError, match=r"at least 5 training and 5 held-out .* given 18 animal \(14 training, 4"):
        fit_toad_gains(x[keep], labels[keep], head, rng=0, min_per_class=5)
    with pytest.raises(InputError, match="0 animal"):
        fit_toad_gains(x[~labels], labels[~labels], head, rng=0)


@pytest.mark.parametrize("intensity", [0, 1, 0.0, 1.0, -0.2, 1.5, float("nan"), "high"])
def test_intensity_must_be_strictly_between_0_and_1(intensity):
    x, labels, head = planted(n=100)
    with pytest.raises(InputError, match="intensity"):
        fit_toad_gains(x, labels, head, intensity=intensity)


def test_bad_inputs_are_refused():
    x, labels, head = planted(n=100)
    with pytest.raises(InputError, match=r"shape \(100,\)"):
        fit_toad_gains(x, labels[:99], head)
    with pytest.raises(InputError, match="negative"):
        fit_toad_gains(x - 0.5, labels, head)
    with pytest.raises(InputError, match="NaN"):
        fit_toad_gains(torch.where(x > 2.5, float("nan"), x), labels, head)
    with pytest.raises(InputError, match="shape"):
        fit_toad_gains(x[:, :, None], labels, head)
    with pytest.raises(InputError, match="torch.Tensor"):
        fit_toad_gains(x.numpy(), labels, head)
    with pytest.raises(InputError, match="booleans"):
        fit_toad_gains(x, np.where(labels, "animal", "nonanimal"), head)
    with pytest.raises(InputError, match="target"):
        fit_toad_gains(x, labels, head, target="cat")
    with pytest.raises(InputError, match="held_out"):
        fit_toad_gains(x, labels, head, held_out=1.0)
    with pytest.raises(InputError, match=r"\(n, 1000\)"):
        fit_toad_gains(x, labels, nn.Linear(64, 10))
    for name, value in (("lr", 0), ("batch_size", 0), ("max_epochs", 1.5), ("patience", True)):
        with pytest.raises(InputError, match=name):
            fit_toad_gains(x, labels, head, **{name: value})
