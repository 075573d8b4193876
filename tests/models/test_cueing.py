"""Cued observers: feature-similarity gain at the pooled head features (reveal.models.cueing)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reveal.cli.main import main
from reveal.core.errors import InputError
from reveal.models import Observer, cue_observer, cue_observers, head_gradient_values, predict
from reveal.models.cueing import gains
from reveal.models.readout import animal_evidence

STRENGTHS = (0.0, 0.5, 1.0, 2.0, 4.0)


def animal_score(logits):
    """The score whose head gradient the values are: mean animal logit − mean other logit."""
    return logits[:, :398].mean(dim=1) - logits[:, 398:].mean(dim=1)


def random_images(n, seed, size=256):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def lite0_batch(lite0):
    """Six random uint8 images, preprocessed as efficientnet_lite0 wants them."""
    return lite0.preprocess(random_images(6, seed=1))


@pytest.fixture(scope="module")
def lite0_values(lite0):
    return head_gradient_values(lite0)


def _logits(observer, x):
    with torch.inference_mode():
        return observer.prepare("cpu")(x)


class RectNet(nn.Module):
    """A fast stand-in with a rectified head: pooled colour, ReLU, a 1000-way read-out."""

    def __init__(self, n_out=1000, rectify=True):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.act = nn.ReLU() if rectify else nn.Identity()
        self.fc = nn.Linear(3 * 16, n_out)

    def forward(self, x):
        return self.fc(self.act(self.pool(x).flatten(1)))


def rect_observer(seed=0, **kw):
    torch.manual_seed(seed)
    return Observer.from_module(RectNet(**kw), "rect")


# --------------------------------------------------------------------------- values and gains

def test_values_are_the_exact_head_gradient_of_the_animal_score(lite0, lite0_values):
    f = lite0_values
    fc = lite0.module._fc
    assert f.shape == (fc.in_features,) == (1280,) and f.dtype == torch.float32
    assert float(f.abs().max()) == 1.0 and bool((f.abs() <= 1).all())
    assert torch.equal(head_gradient_values(lite0), f)  # deterministic
    # Autograd through the real classifier at arbitrary pooled features: the same direction everywhere.
    h = torch.rand(3, fc.in_features, generator=torch.Generator().manual_seed(2), requires_grad=True)
    (grad,) = torch.autograd.grad(animal_score(fc(h)).sum(), h)
    d = grad[0]
    assert torch.allclose(grad, d.expand_as(grad))
    torch.testing.assert_close(d / d.abs().max(), f, atol=1e-6, rtol=1e-5)


def test_gains_are_non_negative_and_one_at_strength_zero(lite0_values):
    f = lite0_values
    assert torch.equal(gains(f, 0), torch.ones_like(f))
    assert torch.equal(gains(f, 0, "nonanimal"), torch.ones_like(f))
    for beta in STRENGTHS:
        for target in ("animal", "nonanimal"):
            g = gains(f, beta, target)
            assert bool((g >= 0).all())
            assert torch.equal(g, gains(f, beta, target))
    g = gains(f, 2.0)
    assert float(g.max()) == pytest.approx(3.0) and float(g.min()) == 0.0  # 1 + 2·1 and the clamp
    torch.testing.assert_close(gains(f, 0.5, "nonanimal"), (1 - 0.5 * f).clamp(min=0))
    for bad in (-0.5, float("nan"), float("inf"), "strong"):
        with pytest.raises(InputError, match="cue strength"):
            gains(f, bad)
    with pytest.raises(InputError, match="unknown cue target 'cat'"):
        gains(f, 1.0, "cat")


# --------------------------------------------------------------------------- the real network

def test_features_feeding_lite0s_classifier_are_non_negative(lite0, photo):
    # efficientnet-lite-pytorch: head conv → BN → ReLU6 → global average pool → dropout → _fc.
    assert isinstance(lite0.module._swish, nn.ReLU6)
    seen = []
    handle = lite0.module._fc.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        imgs = torch.from_numpy(np.stack([photo(n) for n in ("chelsea", "coffee", "astronaut")])).permute(0, 3, 1, 2)
        _logits(lite0, torch.cat([lite0.preprocess(imgs.contiguous()), lite0.preprocess(random_images(2, 3))]))
    finally:
        handle.remove()
    assert float(seen[0].min()) >= 0 and float(seen[0].max()) <= 6  # ReLU6, then averages of it


def test_strength_zero_gives_the_plain_observers_logits(lite0, lite0_batch, lite0_values):
    plain = _logits(lite0, lite0_batch)
    for fold in (True, False):
        cued = cue_observer(lite0, 0, values=lite0_values, fold=fold, check=False)
        assert torch.equal(_logits(cued, lite0_batch), plain)
        assert torch.equal(_logits(cue_observer(lite0, 0, "nonanimal", values=lite0_values, fold=fold,
                                                check=False), lite0_batch), plain)


def test_cueing_leaves_the_observer_alone(lite0, lite0_values):
    before = {k: v.clone() for k, v in lite0.module.state_dict().items()}
    hooks = len(lite0.module._fc._forward_pre_hooks)
    cue_observer(lite0, 2.0, values=lite0_values, check=False)
    cue_observer(lite0, 2.0, values=lite0_values, fold=False, check=False)
    after = lite0.module.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert len(lite0.module._fc._forward_pre_hooks) == hooks and lite0.name == "efficientnet_lite0"


@pytest.mark.slow  # the bundled network over a photo set at several strengths (10 s): the full suite only
def test_animal_score_rises_with_strength_for_the_animal_cue_and_falls_for_the_invalid_cue(
        lite0, lite0_batch, lite0_values):
    for target, sign in (("animal", 1), ("nonanimal", -1)):
        observers = cue_observers(lite0, STRENGTHS, target)
        assert [o.name for o in observers] == [f"efficientnet_lite0+fsg({target},head,{b})"
                                               for b in ("0", "0.5", "1", "2", "4")]
        scores = torch.stack([animal_score(_logits(o, lite0_batch)) for o in observers])  # (β, image)
        steps = sign * scores.diff(dim=0)
        assert bool((steps >= -1e-4).all()), steps  # monotone for every image, up to rounding
        assert bool((sign * (scores[-1] - scores[0]) > 0.1).all())
        if target == "animal":  # the evidence the observer answers from moves the same way
            p = torch.stack([animal_evidence(_logits(o, lite0_batch))[0] for o in observers[::2]])
            assert bool((p[-1] > p[0]).all())


@pytest.mark.slow  # head cues folded vs hooked, both targets (11 s); test_sites checks a folded vs hooked site fast
def test_folded_and_hooked_agree(lite0, lite0_batch, lite0_values):
    for target in ("animal", "nonanimal"):
        folded = cue_observer(lite0, 2.0, target, values=lite0_values, check=False)
        hooked = cue_observer(lite0, 2.0, target, values=lite0_values, fold=False, check=False)
        assert folded.name == hooked.name == f"efficientnet_lite0+fsg({target},head,2)"
        a, b = _logits(folded, lite0_batch), _logits(hooked, lite0_batch)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)
        assert not torch.allclose(a, _logits(lite0, lite0_batch), atol=1e-2)  # and both differ from the plain one
        # The unprepared modules agree too (the hook's gain is a buffer: it travels with deep copies).
        with torch.inference_mode():
            torch.testing.assert_close(folded.module.eval()(lite0_batch[:2]), hooked.module.eval()(lite0_batch[:2]),
                                       atol=1e-4, rtol=1e-5)


def test_torchvision_resnet_is_cued_before_fc():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    plain = Observer.from_module(torchvision.models.resnet18(weights=None), "resnet18")
    f = head_gradient_values(plain)
    assert f.shape == (512,)
    folded = cue_observer(plain, 1.0)  # the probe passes: fc reads ReLU'd, pooled features
    hooked = cue_observer(plain, 1.0, values=f, fold=False, check=False)
    x = plain.preprocess(random_images(2, seed=4, size=224))[..., :96, :96]  # fully convolutional: small is fine
    a, b, c = _logits(folded, x), _logits(hooked, x), _logits(plain, x)  # prepare() fuses with torch.fx here
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)
    assert bool((animal_score(a) >= animal_score(c) - 1e-5).all())


# --------------------------------------------------------------------------- what is refused

def test_unknown_layer_signed_features_and_no_1000_way_linear_are_named_input_errors():
    obs = rect_observer()
    with pytest.raises(InputError, match="unknown cue layer 'block7'; this model's named layers: head"):
        cue_observer(obs, 1.0, layer="block7")
    with pytest.raises(InputError, match="signed"):  # the read-out sees un-rectified (signed) colour
        cue_observer(rect_observer(rectify=False), 1.0)
    ten = Observer.from_module(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 16), nn.ReLU(),
                                             nn.Linear(16, 10)), "ten")
    with pytest.raises(InputError, match=r"1000-way classifier.*only these nn.Linear layers: 2 \(3→16\), 4 \(16→10\)"):
        head_gradient_values(ten)
    with pytest.raises(InputError, match="no nn.Linear layer"):
        cue_observer(Observer.from_module(nn.Conv2d(3, 1000, 1), "conv"), 1.0)
    with pytest.raises(InputError, match="cue strength"):
        cue_observer(obs, -1.0)
    with pytest.raises(InputError, match="more than once"):
        cue_observers(obs, [1, 1.0])
    with pytest.raises(InputError, match="47 gain values for 'head'.*which has 48 channels"):
        cue_observer(obs, 1.0, values=torch.ones(47))


@pytest.mark.parametrize("text, message", [
    ("", "--strength is empty"), ("1,,2", "empty entry"), ("1,-0.5", "-0.5 is negative"),
    ("0,strong", "'strong' is not a number"), ("nan", "not a finite number"), ("1,1.0", "'1.0' repeats '1'")])
def test_bad_strength_text_exits_2(tiny_set, tmp_path, capsys, text, message):
    out = tmp_path / "x.csv"
    code = main(["predict", "--stimuli", str(tiny_set), "--out", str(out), "--attend", "animal", "--strength", text])
    assert code == 2
    err = capsys.readouterr().err
    assert "reveal: error: " in err and message in err
    assert not out.exists()


def test_strength_without_attend_exits_2(tiny_set, tmp_path, capsys):
    assert main(["predict", "--stimuli", str(tiny_set), "--out", str(tmp_path / "x.csv"), "--strength", "1"]) == 2
    assert "add --attend" in capsys.readouterr().err


# --------------------------------------------------------------------------- several observers, one file

def test_cued_observers_share_one_file_and_resume_per_observer(tiny_set, tmp_path):
    obs = rect_observer()
    out = tmp_path / "cued.csv"
    run = dict(device="cpu", batch_size=4, num_workers=0, progress=False)
    df = predict(tiny_set, cue_observers(obs, [0, 1]), out, **run)
    names = ["rect+fsg(animal,head,0)", "rect+fsg(animal,head,1)"]
    assert df["observer"].tolist() == [names[0]] * 12 + [names[1]] * 12
    assert df["trial"].tolist() == list(range(1, 13)) * 2 and len(set(zip(df["observer"], df["stimulus_id"]))) == 24
    plain = predict(tiny_set, obs, **run)
    np.testing.assert_array_equal(df["p_animal"].to_numpy()[:12], plain["p_animal"].to_numpy())
    complete = out.read_bytes()

    # Another strength list: refused, the file left as it is (not mixed).
    with pytest.raises(InputError, match=r"observer 'rect\+fsg\(animal,head,1\)', not any of"):
        predict(tiny_set, cue_observers(obs, [0, 2]), out, **run)
    with pytest.raises(InputError, match=r"not 'rect'"):
        predict(tiny_set, obs, out, **run)
    assert out.read_bytes() == complete
    # The same list: nothing to do, the file untouched.
    predict(tiny_set, cue_observers(obs, [0, 1]), out, **run)
    assert out.read_bytes() == complete

    # A run killed mid-write: the cut line goes, each observer's missing rows come back.
    lines = complete.decode().splitlines(keepends=True)
    out.write_text("".join(lines[:1 + 17]) + lines[18][:20])
    resumed = predict(tiny_set, cue_observers(obs, [0, 1]), out, **run)
    assert resumed["stimulus_id"].tolist() == df["stimulus_id"].tolist()
    assert resumed["observer"].tolist() == df["observer"].tolist()
    np.testing.assert_allclose(resumed["p_animal"], df["p_animal"], atol=1e-5)

    # A longer list extends a finished file with the new observer.
    extended = predict(tiny_set, cue_observers(obs, [0, 1, 2]), out, **run)
    assert extended["observer"].value_counts().to_dict() == {n: 12 for n in names + ["rect+fsg(animal,head,2)"]}


def test_a_sequence_of_observers_needs_distinct_labels(tiny_set):
    obs = rect_observer()
    with pytest.raises(InputError, match="'rect' is given more than once"):
        predict(tiny_set, [obs, obs], device="cpu", progress=False)
    with pytest.raises(ValueError, match="one model"):
        predict(tiny_set, [obs], device="cpu", name="other", progress=False)


@pytest.mark.slow
def test_cli_attend_writes_one_observer_per_strength(tiny_set, lite0, tmp_path, capsys):
    out = tmp_path / "cued.csv"
    args = ["predict", "--stimuli", str(tiny_set), "--out", str(out), "--device", "cpu", "--batch-size", "4",
            "--workers", "0", "--no-progress", "--attend", "animal"]
    assert main(args + ["--strength", "0,1"]) == 0
    printed = capsys.readouterr().out
    assert "observer efficientnet_lite0+fsg(animal,head,0)," in printed and "fsg(animal,head,1)" in printed
    from reveal.models import read_predictions

    df = read_predictions(out)
    assert df["observer"].unique().tolist() == ["efficientnet_lite0+fsg(animal,head,0)",
                                                "efficientnet_lite0+fsg(animal,head,1)"]
    assert (df.groupby("observer")["stimulus_id"].nunique() == 12).all() and len(df) == 24
    plain = predict(tiny_set, lite0, device="cpu", batch_size=4, num_workers=0, progress=False)
    zero = df[df["observer"].str.endswith(",0)")].reset_index(drop=True)
    assert zero["stimulus_id"].tolist() == plain["stimulus_id"].tolist()
    np.testing.assert_array_equal(zero["p_animal"], plain["p_animal"])
    assert zero["response"].tolist() == plain["response"].tolist()
    one = df[df["observer"].str.endswith(",1)")].reset_index(drop=True)
    assert (one["p_animal"] >= zero["p_animal"] - 0.05).mean() > 0.8  # mostly up (P is not the linear score)
    before = out.read_bytes()
    assert main(args + ["--strength", "0,2"]) == 2  # a resumed run with another strength list
    assert "fsg(animal,head,1)" in capsys.readouterr().err
    assert out.read_bytes() == before
