"""Co-training GALA blocks with human maps (reveal.models.gala_training) on a set with a known rule.

The set: textured grey photographs, each with one small disc at a random place — red in an
"animal" photograph, blue in a "non-animal" one — and "human" maps that put a blob on the disc
(the feature that decides the category), plus a weak centre bias. Where the category is decided
by a small feature placed at random, a network's attention can only match people's by learning
from their maps.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reveal.core.errors import InputError
from reveal.models.gala import add_gala
from reveal.models.gala_training import (GalaTrainConfig, classification_loss, evaluate_gala, maps_in_crop,
                                         train_gala)

# real training of the bundled network's GALA blocks (a minute or two on 2 cores): the full suite only
pytestmark = pytest.mark.slow

SIZE = 256


def make_set(n, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    images, labels, maps = [], [], []
    for i in range(n):
        coarse = rng.normal(0, 25, (SIZE // 16 + 1, SIZE // 16 + 1, 1))
        texture = np.repeat(np.repeat(coarse, 16, 0), 16, 1)[:SIZE, :SIZE] + rng.normal(0, 10, (SIZE, SIZE, 1))
        img = np.clip(128 + texture, 0, 255).repeat(3, axis=2)
        animal = i % 2
        r = rng.uniform(10, 16)
        cy, cx = rng.uniform(40, SIZE - 40, 2)  # inside the 224-px centre crop
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (220, 30, 30) if animal else (30, 30, 220)
        human = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (1.5 * r) ** 2))
        human += 0.05 * np.exp(-((yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2) / (2 * (SIZE / 3) ** 2))
        images.append(img.round().astype(np.uint8))
        labels.append(animal)
        maps.append(human)
    return images, labels, maps


@pytest.fixture(scope="module")
def study():
    return make_set(60, seed=1)


@pytest.fixture(scope="module")
def runs(lite0, study):
    images, labels, maps = study
    gala = add_gala(lite0, seed=0)
    fits = {lam: train_gala(gala, images, labels, "animal", maps,
                            GalaTrainConfig(lam=lam, epochs=12, lr=1e-2, batch_size=12, patience=12), seed=0)
            for lam in (0.0, 2.0)}
    return gala, fits


def test_human_maps_teach_the_blocks_where_people_look(lite0, study, runs):
    images, labels, maps = study
    gala, fits = runs
    human, has = maps_in_crop(lite0, maps, [im.shape[:2] for im in images])
    test = fits[2.0].split["test"]
    assert list(test) == list(fits[0.0].split["test"]) and len(test) == 9
    scores = {lam: evaluate_gala(fit.observer, images, torch.tensor(labels), "animal", human, has, test)
              for lam, fit in fits.items()}
    untrained = evaluate_gala(gala, images, torch.tensor(labels), "animal", human, has, test)
    # measured (seed 0, 12 epochs): held-out map Spearman 0.46 with maps (λ = 2) against 0.31 without (λ = 0);
    # accuracy 0.89 against 1.00 (9 test images: the maps pull the blocks away from the cross-entropy a little)
    assert scores[2.0]["map_spearman"] > scores[0.0]["map_spearman"] + 0.1
    assert scores[2.0]["accuracy"] >= scores[0.0]["accuracy"] - 0.25
    assert np.isnan(untrained["map_spearman"])  # at the start A = 0: a uniform map, no ranks
    log = fits[2.0].log
    assert len(log["train_map"]) == fits[2.0].epochs and log["train_map"][-1] < log["train_map"][0]


def test_same_seed_same_weights_and_a_killed_run_resumes_to_the_same_weights(lite0, study, tmp_path):
    images, labels, maps = study
    images, labels, maps = images[:30], labels[:30], maps[:30]
    maps[3] = None  # an image without a map counts in the cross-entropy only
    gala = add_gala(lite0, seed=0)
    config = GalaTrainConfig(epochs=3, lr=3e-3, batch_size=8, min_train_images=5)
    whole = train_gala(gala, images, labels, "animal", maps, config, seed=0, checkpoint=tmp_path / "a.pt")
    again = train_gala(gala, images, labels, "animal", maps, config, seed=0)

    class Killed(Exception):
        pass

    def kill(epoch, row):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        train_gala(gala, images, labels, "animal", maps, config, seed=0, checkpoint=tmp_path / "b.pt", on_epoch=kill)
    resumed = train_gala(gala, images, labels, "animal", maps, config, seed=0, checkpoint=tmp_path / "b.pt")
    assert resumed.resumed_from == 2 and resumed.epochs == whole.epochs == 3
    for fit in (again, resumed):
        for (name, a), b in zip(whole.observer.module.state_dict().items(), fit.observer.module.state_dict().values()):
            assert torch.equal(a, b), name
    assert resumed.log == whole.log
    # the checkpoint of another run is refused, not silently continued
    with pytest.raises(InputError, match="another run"):
        train_gala(gala, images, labels, "animal", maps, GalaTrainConfig(epochs=3, lam=1.0, min_train_images=5),
                   seed=0, checkpoint=tmp_path / "b.pt")


def test_the_cached_frozen_prefix_trains_as_the_whole_network_does(lite0, study):
    images, labels, maps = study
    gala = add_gala(lite0, seed=0)
    config = GalaTrainConfig(epochs=2, lr=3e-3, batch_size=8, min_train_images=5)
    cached = train_gala(gala, images[:24], labels[:24], "animal", maps[:24], config, seed=0)
    whole = train_gala(gala, images[:24], labels[:24], "animal", maps[:24], config, seed=0, cache_prefix=False)
    for (name, a), b in zip(cached.observer.module.state_dict().items(), whole.observer.module.state_dict().values()):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4, msg=name)
    np.testing.assert_allclose(cached.log["train_ce"], whole.log["train_ce"], rtol=1e-4)


def test_bad_training_input_is_named(lite0, study):
    images, labels, maps = study
    gala = add_gala(lite0, seed=0)
    with pytest.raises(InputError, match="no GALA blocks"):
        train_gala(lite0, images, labels, "animal", maps)
    with pytest.raises(InputError, match="too few training images: 10 needed, 6 given.*at least 14"):
        train_gala(gala, images[:8], labels[:8], "animal", maps[:8])
    with pytest.raises(InputError, match="animal labels must be 1"):
        train_gala(gala, images[:20], [2] * 20, "animal", maps[:20])
    with pytest.raises(InputError, match="20 images but 19 labels"):
        train_gala(gala, images[:20], labels[:19], "animal", maps[:20])
    logits = torch.zeros(2, 1000)
    with pytest.raises(InputError, match="label kind"):
        classification_loss(logits, torch.tensor([0, 1]), "dog")


def test_the_papers_controls_train_what_they_say(lite0, study):
    """Without GALA the map loss moves the network's own weights; boxes are the maps' boxes as targets;
    from scratch the network trains from random weights with batch statistics."""
    from reveal.models.gala_training import map_box
    from reveal.models.registry import random_weights

    images, labels, maps = (v[:20] for v in study)
    x = lite0.preprocess(torch.from_numpy(images[0]).permute(2, 0, 1)[None])
    probe = add_gala(lite0, kind="activity")
    assert torch.equal(probe.module.eval()(x), lite0.module.eval()(x))  # the probes change nothing
    assert not list(p for n, p in probe.module.named_parameters() if ".gala." in n)
    with pytest.raises(InputError, match="nothing to train"):
        train_gala(probe, images, labels, "animal", maps, GalaTrainConfig(epochs=1, min_train_images=5))
    fit = train_gala(probe, images, labels, "animal", maps,
                     GalaTrainConfig(epochs=1, lam=2.0, lr=1e-4, freeze="none", min_train_images=5, patience=1), seed=0)
    before, after = lite0.module.state_dict(), fit.observer.module.state_dict()
    moved = [k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])]
    assert fit.best_epoch == 1 and len(moved) > 10 and np.isfinite(fit.log["train_map"]).all()

    gala = add_gala(lite0, seed=0)
    config = dict(epochs=1, lam=2.0, lr=1e-2, batch_size=8, min_train_images=5)
    as_boxes = train_gala(gala, images, labels, "animal", maps, GalaTrainConfig(maps_as="boxes", **config), seed=0)
    given_boxes = train_gala(gala, images, labels, "animal", [map_box(m) for m in maps], GalaTrainConfig(**config),
                             seed=0)
    as_maps = train_gala(gala, images, labels, "animal", maps, GalaTrainConfig(**config), seed=0)
    assert as_boxes.log["train_map"] == given_boxes.log["train_map"] != as_maps.log["train_map"]

    with pytest.raises(InputError, match="frozen backbone would change its batch-norm"):
        GalaTrainConfig(train_mode=True)
    scratch = add_gala(random_weights(lite0, seed=1), residual=False, seed=0)
    fit = train_gala(scratch, images, labels, "animal", maps,
                     GalaTrainConfig(freeze="none", train_mode=True, **{**config, "lr": 1e-3}), seed=0)
    bn = dict(fit.observer.module.named_buffers())["_bn0.running_mean"]
    assert not fit.observer.module.training and bn.abs().max() > 0  # batch statistics were gathered


def test_mixed_precision_trains_as_float32_does(lite0, study):
    # bfloat16 autocast, the GPU's default; torch runs the same autocast on the CPU (slower there),
    # so the path is tested without a GPU
    images, labels, maps = (v[:20] for v in study)
    gala = add_gala(lite0, seed=0)
    fits = {mp: train_gala(gala, images, labels, "animal", maps,
                           GalaTrainConfig(epochs=2, lam=2.0, lr=1e-2, batch_size=8, min_train_images=5,
                                           mixed_precision=mp), seed=0) for mp in (False, True)}
    np.testing.assert_allclose(fits[True].log["train_ce"], fits[False].log["train_ce"], rtol=0.02)
    np.testing.assert_allclose(fits[True].log["train_map"], fits[False].log["train_map"], rtol=0.01)
    assert fits[True].log["train_ce"] != fits[False].log["train_ce"]  # autocast did run in bfloat16
    assert all(t.dtype == torch.float32 for t in fits[True].observer.module.state_dict().values()
               if t.is_floating_point())
