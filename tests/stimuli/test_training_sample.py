"""The worked example's study (reveal train example): made from the bundled sample, one object per picture,
its map on the object."""
from __future__ import annotations

import numpy as np
from PIL import Image

from reveal.cli.main import main
from reveal.core.categories import read_categories
from reveal.stimuli.training_sample import OBJECTS, training_sample


def test_each_picture_has_its_category_object_under_the_maps_peak():
    images, categories, maps = training_sample(12, size=128, rng=3)
    again, _, _ = training_sample(12, size=128, rng=3)
    assert all(np.array_equal(a, b) for a, b in zip(images, again))  # seeded
    assert categories.count("animal") == categories.count("nonanimal") == 6
    for img, category, m in zip(images, categories, maps):
        r, c = np.unravel_index(np.argmax(m), m.shape)
        assert 8 <= r < 120 and 8 <= c < 120  # inside the network's centre crop
        assert m[r, c] > 5 * np.median(m)  # a blob, not the centre bias alone
    load, (rows, cols) = OBJECTS["nonanimal"]
    assert load()[rows, cols].shape[:2] == (380, 420)


def test_the_example_command_writes_a_study_reveal_train_reads(tmp_path, capsys):
    out = tmp_path / "example"
    assert main(["train", "example", "--out", str(out), "--pictures", "16", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"reveal train --images {out / 'images'}" in printed and "reveal train compare" in printed
    cats = read_categories(out / "categories.csv")
    assert len(cats) == 16 and sorted(set(cats.values())) == ["animal", "nonanimal"]
    for image_id in cats:
        img = np.asarray(Image.open(out / "images" / f"{image_id}.png"))
        m = np.asarray(Image.open(out / "maps" / f"{image_id}.png"))
        assert img.shape == (256, 256, 3) and m.shape == (256, 256) and m.max() == 255
    assert main(["train", "example", "--out", str(out)]) == 2
    assert "give a new or empty folder" in capsys.readouterr().err
    assert main(["train", "example", "--out", str(tmp_path / "few"), "--pictures", "8"]) == 2
    assert "--pictures: at least 14" in capsys.readouterr().err and not (tmp_path / "few").exists()
