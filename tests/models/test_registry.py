import copy

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from reveal.models import Observer, known_models, load_observer, resolve_device
from reveal.models.readout import animal_evidence
from reveal.models.registry import _absorb_asymmetric_pad
from reveal.core.errors import InputError


def classify(observer, rgb):
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
    with torch.inference_mode():
        logits = observer.prepare("cpu")(observer.preprocess(x))
    p, idx, _ = animal_evidence(logits)
    return float(p[0]), int(idx[0, 0])


def test_bundled_network_sees_a_cat_in_chelsea(lite0, photo):
    import skimage.data

    # The raw 300×451 photo: exercises the resize-then-crop path as well.
    p, top1 = classify(lite0, skimage.data.chelsea())
    assert 281 <= top1 <= 285          # tabby … Egyptian cat
    assert p > 0.9
    p256, top1 = classify(lite0, photo("chelsea"))
    assert 281 <= top1 <= 285 and p256 > 0.9


def test_bundled_network_sees_no_animal_in_coffee(lite0):
    import skimage.data

    p, _ = classify(lite0, skimage.data.coffee())
    assert p < 0.5


def test_bundled_preprocessing_is_minus127_over128(lite0):
    assert lite0.mean == (127.0,) * 3 and lite0.std == (128.0,) * 3
    assert (lite0.resize_size, lite0.crop_size) == (256, 224)
    x = torch.full((2, 3, 256, 256), 255, dtype=torch.uint8)
    y = lite0.preprocess(x)
    assert y.shape == (2, 3, 224, 224) and y.dtype == torch.float32
    torch.testing.assert_close(y, torch.full_like(y, 1.0))


def test_preprocess_resizes_shorter_side_then_centre_crops():
    obs = Observer.from_module(nn.Identity(), "id", mean=(0, 0, 0), std=(1, 1, 1), resize_size=256, crop_size=224)
    x = torch.zeros((1, 3, 300, 600), dtype=torch.uint8)
    x[..., 150, 300] = 255
    y = obs.preprocess(x)
    assert y.shape == (1, 3, 224, 224)
    # The bright pixel at the centre stays at the centre after the 300→256 resize and the crop.
    peak = np.unravel_index(int(y[0, 0].argmax()), (224, 224))
    assert abs(peak[0] - 112) <= 1 and abs(peak[1] - 112) <= 1


@pytest.mark.parametrize("name", ["efficientnet_lite0", "mobilenet_v3_small"])
def test_folding_batchnorm_keeps_the_outputs(name, lite0):
    torch.manual_seed(1)
    obs = lite0 if name == "efficientnet_lite0" else Observer.from_module(
        torchvision.models.mobilenet_v3_small().eval(), name)
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        plain = obs.module.eval()(x)
        folded_net = obs.prepare("cpu", fold=True)
        folded = folded_net(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded_net.modules())
    # EfficientNet's "same" pads, symmetric or not, moved into the convolutions.
    assert not any(isinstance(m, nn.ZeroPad2d) for m in folded_net.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in obs.module.modules())  # the original is untouched
    torch.testing.assert_close(folded, plain, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("kernel, stride, pads, groups", [
    (3, 2, (0, 1, 0, 1), 1),  # efficientnet's stride-2 3×3 "same" pad on an even size
    (5, 2, (1, 2, 1, 2), 8),  # its depthwise 5×5
    (3, 2, (0, 2, 1, 1), 8),  # different on the two axes
])
def test_asymmetric_pad_absorbed_into_a_wider_kernel(kernel, stride, pads, groups):
    torch.manual_seed(2)
    conv = nn.Conv2d(8, 16 if groups == 1 else 8, kernel, stride, groups=groups).eval()
    x = torch.randn(2, 8, 28, 30)
    with torch.inference_mode():
        expected = conv(nn.functional.pad(x, pads))
        wide = copy.deepcopy(conv)
        _absorb_asymmetric_pad(wide, *pads)
        got = nn.functional.conv2d(x, wide.weight, wide.bias, wide.stride, wide.padding, groups=groups)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(InputError) as err:
        load_observer("resnet5000")
    assert "resnet5000" in str(err.value)
    assert "efficientnet_lite0" in str(err.value) and "resnet50" in str(err.value)
    names = known_models()
    assert names[0] == "efficientnet_lite0" and "vgg16" in names and "resnet50" in names


def test_torchvision_model_with_a_local_weights_file(tmp_path):
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v3_small()
    path = tmp_path / "mnv3.pth"
    # DataParallel-style prefixed keys inside a checkpoint dict are accepted.
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    obs = load_observer("mobilenet_v3_small", weights=path)
    assert obs.name == "mobilenet_v3_small"
    assert obs.crop_size == 224 and obs.resize_size == 256
    np.testing.assert_allclose(obs.mean, (0.485 * 255, 0.456 * 255, 0.406 * 255))
    for k, v in net.state_dict().items():
        torch.testing.assert_close(obs.module.state_dict()[k], v)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    with pytest.raises(InputError) as err:
        load_observer("efficientnet_lite0", weights=path)
    assert err.value.path == str(path)
    assert "do not fit the efficientnet_lite0 architecture" in str(err.value)
    assert "missing" in str(err.value) and "unexpected" in str(err.value)


def test_weights_with_the_wrong_shapes(tmp_path):
    net = torchvision.models.mobilenet_v3_small(num_classes=10)
    path = tmp_path / "ten_classes.pth"
    torch.save(net.state_dict(), path)
    with pytest.raises(InputError, match="wrong shape"):
        load_observer("mobilenet_v3_small", weights=path)


def test_a_file_that_is_not_weights(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a tensor file")
    with pytest.raises(InputError) as err:
        load_observer("efficientnet_lite0", weights=path)
    assert err.value.path == str(path)
    with pytest.raises(InputError, match="not found"):
        load_observer("efficientnet_lite0", weights=tmp_path / "absent.pth")


def test_any_module_factory_by_import_path():
    obs = load_observer("torchvision.models:mobilenet_v3_small")
    assert isinstance(obs.module, torchvision.models.MobileNetV3)
    with pytest.raises(InputError, match="cannot import"):
        load_observer("torchvision.models:no_such_net")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_for_but_absent():
    with pytest.raises(InputError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_unknown_device():
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("gpu please")
