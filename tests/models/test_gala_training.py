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
