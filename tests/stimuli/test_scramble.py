import numpy as np
import pytest
from skimage import data

from reveal.stimuli.scramble import phase_scramble, random_phase_field


def _amplitude(img):
    return np.abs(np.fft.fft2(np.asarray(img, dtype=np.float64), axes=(0, 1)))


def test_amplitude_spectrum_per_channel_is_kept_exactly_without_clipping():
    image = data.chelsea().astype(np.float64) / 255
    out = phase_scramble(image, np.random.default_rng(0), clip=False)
    a, b = _amplitude(image), _amplitude(out)
    assert np.allclose(a, b, rtol=1e-9, atol=1e-9 * a.max())
    assert np.allclose(out.mean(axis=(0, 1)), image.mean(axis=(0, 1)))  # DC kept
    assert not np.allclose(out, image)


def test_uint8_scramble_keeps_shape_dtype_range_mean_and_nearly_the_spectrum():
    image = data.chelsea()
    out = phase_scramble(image, np.random.default_rng(1))
    assert out.shape == image.shape and out.dtype == np.uint8
    # clipping at 0 and 255 moves the mean of a dark channel a little 
    assert np.abs(out.mean(axis=(0, 1)) - image.mean(axis=(0, 1))).max() < 3.0
    a, b = _amplitude(image), _amplitude(out)
    rel = np.abs(a - b).sum() / a.sum()
    assert rel < 0.05  # only clipping and rounding change it


def test_channels_share_one_phase_field():
    # A grey image in three identical channels stays grey: same phases in every channel.
    grey = data.camera()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    out = phase_scramble(rgb, np.random.default_rng(2))
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_phase_field_is_hermitian_with_zero_dc():
    theta = random_phase_field((9, 12), np.random.default_rng(0))
    flipped = np.roll(theta[::-1, ::-1], 1, axis=(0, 1))  # theta(-f)
    assert np.allclose(np.exp(1j * theta), np.exp(-1j * flipped))
    assert theta[0, 0] == 0


def test_seeded_and_grey_images_work():
    img = data.camera()
    a = phase_scramble(img, np.random.default_rng(5))
    b = phase_scramble(img, np.random.default_rng(5))
    assert a.shape == img.shape and np.array_equal(a, b)


def test_float_images_are_clipped_to_unit_range():
    img = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    out = phase_scramble(img, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        phase_scramble(np.zeros((2, 2, 2, 2)), np.random.default_rng(0))
