"""The game's network partner: the bundled network, seeing a photograph only through the bubbles."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from reveal.core.errors import InputError
from reveal.experiments.bubbles import PARTNER_BUBBLE, bubble_mask, stroke_points
from reveal.models.partner import PartnerNet, PartnerThread, check_classes, partner_top

CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
FULL = np.ones((256, 256), bool)


@pytest.fixture(scope="module")
def net(lite0):
    return PartnerNet(lite0)


def test_through_a_full_mask_the_partner_sees_what_reveal_predict_sees(net, lite0, photo):
    chelsea = photo("chelsea")
    top_idx, top_p = partner_top(net, chelsea, FULL)
    x = torch.from_numpy(chelsea.transpose(2, 0, 1).copy())[None]
    with torch.inference_mode():
        logits = lite0.prepare("cpu")(lite0.preprocess(x))  # the path of reveal predict
    expected = torch.softmax(logits, 1).topk(5)
    assert top_idx.tolist() == expected.indices[0].tolist()
    np.testing.assert_allclose(top_p, expected.values[0].numpy(), rtol=1e-5)
    assert top_idx[0] in CATS


def test_pixels_outside_the_bubbles_never_reach_the_network(net, photo):
    mask = bubble_mask(stroke_points([[60, 100], [200, 100]]), diameter=PARTNER_BUBBLE)
    cat, rocket = photo("chelsea"), photo("rocket")
    collage = np.where(mask[..., None], cat, rocket)  # the cat under the bubbles, a rocket elsewhere
    x = torch.from_numpy(np.stack([cat, collage]).transpose(0, 3, 1, 2).astype(np.float32))
    m = torch.from_numpy(np.stack([mask, mask]).astype(np.float32))[:, None]
    with torch.inference_mode():
        logits = net(x, m)
    torch.testing.assert_close(logits[0], logits[1], rtol=0, atol=1e-5)
    # and with no bubble at all, every photograph is the same grey
    empty = np.zeros((256, 256), bool)
    assert partner_top(net, cat, empty)[0].tolist() == partner_top(net, rocket, empty)[0].tolist()


def test_a_stroke_across_the_cats_head_is_recognised_as_a_cat(net, photo):
    mask = bubble_mask(stroke_points([[60, 60], [200, 60]]), diameter=PARTNER_BUBBLE)
    assert mask.mean() < 0.06  # 5 % of the photograph
    assert set(partner_top(net, photo("chelsea"), mask)[0].tolist()) & set(CATS)


def test_the_partner_thread_answers_the_newest_mask_of_the_current_round(net, photo):
    partner = PartnerThread(net, threads=1)
    try:
        chelsea = photo("chelsea")
        round_one = partner.start_round(chelsea, target_class=282)
        assert partner.latest() is None
        stroke = stroke_points([[60, 60], [200, 60]])
        for n in (10, 40, len(stroke)):  # faster than it evaluates: the older masks are replaced
            partner.submit(bubble_mask(stroke[:n], diameter=PARTNER_BUBBLE), n_bubbles=n)
        answer = partner.wait()
        assert answer.round_id == round_one and answer.n_bubbles == len(stroke)
        assert answer.recognised == (282 in answer.top_idx) and answer.recognised
        assert answer.latency > 0 and len(partner.latencies) <= 3
        if hasattr(os, "getpriority"):  # the drawing comes first: the partner's thread at the lowest priority
            assert os.getpriority(os.PRIO_PROCESS, partner._thread.native_id) == 19

        # a new round forgets the old answer, and an answer to a mask of the old round is dropped
        partner.submit(FULL, n_bubbles=999)
        round_two = partner.start_round(photo("coffee"), target_class=967)
        partner.wait()
        assert round_two == round_one + 1 and partner.latest() is None
        partner.submit(FULL, n_bubbles=1)
        answer = partner.wait()
        assert answer.round_id == round_two and answer.recognised and answer.top_idx[0] == 967  # espresso
    finally:
        partner.close()
    assert not partner._thread.is_alive()


def test_a_failing_partner_is_reported_to_the_drawing_thread_not_lost(net, photo):
    partner = PartnerThread(net, threads=1)
    try:
        partner.start_round(photo("chelsea"), target_class=282)
        partner.submit(np.ones((10, 10), bool), n_bubbles=1)  # a mask of the wrong size
        with pytest.raises(RuntimeError, match="network partner failed"):
            partner.wait()
        with pytest.raises(RuntimeError, match="network partner failed"):
            partner.latest()
    finally:
        partner.close()


def test_a_class_the_network_does_not_have_is_refused_naming_the_image_and_row(net, tmp_path):
    assert check_classes(net, {"cat01": 281, "cup01": 967}) == 1000
    with pytest.raises(InputError, match=r"'boat02' has class 1000.*0-999") as err:
        check_classes(net, {"cat01": 281, "boat02": 1000}, tmp_path / "labels.csv")
    assert "labels.csv" in str(err.value) and "row 2" in str(err.value)
