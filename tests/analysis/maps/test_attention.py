"""Attention maps of the bundled network concentrate on the cat of skimage's chelsea."""
import numpy as np
import pytest
import torch
from skimage import data

from reveal.analysis.maps.attention import activation_norm, attention_map, default_layer, full_view
from reveal.models.registry import load_observer

# chelsea is 300x451: the cat's face fills rows 50-280, cols 80-350; the strip right of
# col 395 is out-of-focus background
CAT = (slice(50, 280), slice(80, 350))
BACKGROUND = (slice(0, 300), slice(395, 451))


@pytest.fixture(scope="module")
def observer():
    torch.set_num_threads(2)
    return load_observer("efficientnet_lite0")


@pytest.fixture(scope="module")
def chelsea():
    return data.chelsea()


def _ratio(m):
    return m[CAT].mean() / m[BACKGROUND].mean()


def test_smoothgrad_concentrates_on_the_cat(observer, chelsea):
    m = attention_map(observer, chelsea, "smoothgrad", rng=np.random.default_rng(0), n_samples=4)
    assert m.shape == chelsea.shape[:2]
    assert (m >= 0).all()
    assert _ratio(m) > 1.3


def test_smoothgrad_is_reproducible_and_top_class_works(observer, chelsea):
    small = chelsea[::2, ::2]
    a = attention_map(observer, small, "smoothgrad", rng=np.random.default_rng(5), n_samples=2, target="top")
    b = attention_map(observer, small, "smoothgrad", rng=np.random.default_rng(5), n_samples=2, target="top")
    np.testing.assert_array_equal(a, b)
    assert a.shape == small.shape[:2]


def test_activation_norm_concentrates_on_the_cat(observer, chelsea):
    layer = default_layer(observer.module, full_view(observer))
    assert layer == "_blocks.15"  # the last block, 8x8 on a 256-px input
    m = attention_map(observer, chelsea, "activation")
    assert m.shape == chelsea.shape[:2]
    assert _ratio(m) > 1.5


def test_centre_crop_leaves_the_unseen_border_at_zero(observer, chelsea):
    m = attention_map(observer, chelsea, "activation", crop=True)
    # the observer's 224 crop of the 256-px resize sees columns ~94-357 of 451
    assert (m[:, :80] == 0).all() and (m[:, 370:] == 0).all()
    assert (m[60:240, 120:330] > 0).all()


def test_unknown_layer_and_kind_raise(observer, chelsea):
    with pytest.raises(AttributeError):
        activation_norm(observer.module, full_view(observer), chelsea, layer="no_such_layer")
    with pytest.raises(ValueError, match="unknown attention kind"):
        attention_map(observer, chelsea, "gradcam")
