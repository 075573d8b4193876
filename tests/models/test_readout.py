import numpy as np
import pytest
import torch

from reveal.models.readout import ANIMAL_CLASSES, animal_evidence, decide, format_top5, imagenet_categories, parse_top5


def test_animal_mass_is_summed_over_classes_0_to_397():
    logits = torch.full((3, 1000), -30.0)
    logits[0, 285] = 30.0        # Egyptian cat: animal
    logits[1, 504] = 30.0        # coffee mug: not an animal
    logits[2] = 0.0              # uniform: the animal share is 398/1000
    p, idx, prob = animal_evidence(logits)
    assert p.shape == (3,) and idx.shape == (3, 5) and prob.shape == (3, 5)
    np.testing.assert_allclose(p.numpy(), [1.0, 0.0, 0.398], atol=1e-6)
    assert idx[0, 0] == 285 and idx[1, 0] == 504
    assert ANIMAL_CLASSES == slice(0, 398)
    cats = imagenet_categories()
    assert cats[0] == "tench" and cats[397] == "puffer" and cats[398] == "abacus"


def test_half_precision_logits_give_float32_evidence():
    logits = torch.randn(4, 1000).half()
    p, _, prob = animal_evidence(logits)
    assert p.dtype == torch.float32 and prob.dtype == torch.float32
    ref, _, _ = animal_evidence(logits.float())
    torch.testing.assert_close(p, ref)


def test_decision_threshold_is_inclusive():
    assert decide([0.5, 0.4999, 0.9, 0.0]).tolist() == ["animal", "nonanimal", "animal", "nonanimal"]
    assert decide([0.6], threshold=0.7).tolist() == ["nonanimal"]


def test_top5_text_round_trips():
    idx = np.array([[285, 281, 282, 504, 0]])
    p = np.array([[0.71234, 0.2, 0.05, 0.01, 0.001]])
    (text,) = format_top5(idx, p)
    assert text.startswith("285:Egyptian cat:0.7123;281:tabby:0.2000")
    parsed = parse_top5(text)
    assert [i for i, _, _ in parsed] == idx[0].tolist()
    assert parsed[3][1] == "coffee mug"
    np.testing.assert_allclose([q for _, _, q in parsed], p[0], atol=5e-5)


def test_wrong_logit_shape_is_refused():
    with pytest.raises(ValueError, match="1000"):
        animal_evidence(torch.zeros(2, 10))


def test_the_animal_evidence_never_exceeds_one_when_all_mass_is_on_animals():
    g = torch.Generator().manual_seed(0)
    logits = torch.full((256, 1000), -30.0)
    logits[:, ANIMAL_CLASSES] = torch.randn(256, 1000, generator=g)[:, ANIMAL_CLASSES] * 3
    p_animal, _, _ = animal_evidence(logits)  # summed in float32, a third of these round past 1
    assert p_animal.max() <= 1.0 and p_animal.min() > 0.999
