"""The game's partner exported to ONNX agrees with PyTorch on top-5, in Python and in onnxruntime-web.

Saved cases: three photographs, each seen through five bubble masks of random strokes (21-px
partner bubbles) and through no bubble and every bubble. PyTorch's top 5 (the lab's partner)
must be the ONNX graph's top 5 in onnxruntime (Python) and in onnxruntime-web (its wasm backend,
the browser's, run by node with ``tests/browser/partner_top.mjs`` and the export's own
``game_partner.js``). The node half needs node and ``npm ci --prefix tests/browser``: outside CI
a missing piece skips it (the reason names it); with ``CI`` set it fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from reveal.experiments.bubbles import PARTNER_BUBBLE, bubble_mask, stroke_points
from reveal.models.partner import PartnerNet, export_onnx, partner_top

pytestmark = pytest.mark.slow  # the export and three runtimes over 21 cases: ~20 s

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"


@pytest.fixture(scope="module")
def cases(lite0, tmp_path_factory):
    from skimage import data

    from reveal.stimuli.geometry import fit_image

    folder = tmp_path_factory.mktemp("partner_onnx")
    net = PartnerNet(lite0)
    model = export_onnx(net, folder / "partner.onnx")
    rng = np.random.default_rng(29)
    photos, masks = [], []
    for name in ("chelsea", "rocket", "coffee"):
        photo = fit_image(getattr(data, name)(), 256)
        strokes = [bubble_mask(stroke_points(rng.uniform(0, 256, (4, 2))), diameter=PARTNER_BUBBLE) for _ in range(5)]
        for mask in [np.zeros((256, 256), bool), np.ones((256, 256), bool), *strokes]:
            (folder / f"photo_{len(photos)}.rgb").write_bytes(photo.tobytes())
            (folder / f"mask_{len(photos)}.u8").write_bytes(mask.astype(np.uint8).tobytes())
            photos.append(photo)
            masks.append(mask)
    torch_top = [partner_top(net, p, m)[0].tolist() for p, m in zip(photos, masks)]
    return {"folder": folder, "model": model, "photos": photos, "masks": masks, "torch": torch_top}


def test_onnxruntime_gives_pytorchs_top_5(cases):
    import onnxruntime as ort

    session = ort.InferenceSession(str(cases["model"]), providers=["CPUExecutionProvider"])
    for photo, mask, expected in zip(cases["photos"], cases["masks"], cases["torch"]):
        logits = session.run(None, {"photo": photo.transpose(2, 0, 1)[None].astype(np.float32),
                                    "mask": mask[None, None].astype(np.float32)})[0][0]
        assert np.argsort(-logits, kind="stable")[:5].tolist() == expected


def test_onnxruntime_web_gives_pytorchs_top_5(cases):
    missing = []
    if shutil.which("node") is None:
        missing.append("node (Node.js 20+) on PATH")
    if not (BROWSER_DIR / "node_modules" / "onnxruntime-web" / "package.json").is_file():
        missing.append("onnxruntime-web in tests/browser/node_modules (npm ci --prefix tests/browser)")
    if missing:
        reason = "the onnxruntime-web check needs " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    partner_js = resources.files("reveal.experiments").joinpath("templates", "game_partner.js")
    run = subprocess.run(["node", str(BROWSER_DIR / "partner_top.mjs"), str(cases["model"]), str(cases["folder"]),
                          str(len(cases["photos"]))], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, REVEAL_PARTNER_JS=Path(str(partner_js)).as_uri()), cwd=BROWSER_DIR)
    assert run.returncode == 0, run.stderr[-2000:]
    web = json.loads(run.stdout.strip().splitlines()[-1])
    assert web == cases["torch"]
