"""A small stimulus set in the conventions' format, written by the tests themselves."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

LEVELS = ["1", "1.58", "2.51", "3.98", "6.31", "10", "15.8", "25.1", "39.8", "63.1", "100", "full"]
COLUMNS = ["stimulus_id", "file", "image_id", "category", "map_source", "level", "level_index",
           "revealed_px", "image_frac", "feature_budget", "seed"]


def make_stimulus_set(root, n_images: int = 24, sources=("clickme", "salicon"), size: int = 16,
                      seed: int = 7, n_animal: int | None = None) -> Path:
    """Write ``n_images`` images x sources x 12 conditions of tiny PNGs and a manifest.

    Images ``img00..`` alternate animal / non-animal (or the first ``n_animal`` are animals).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = []
    n_animal = n_images // 2 if n_animal is None else n_animal
    for j in range(n_images):
        image_id = f"img{j:02d}"
        category = "animal" if j < n_animal else "nonanimal"
        full_rel = f"png/{image_id}_full.png"
        (root / "png").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / full_rel)
        for source in sources:
            for k, level in enumerate(LEVELS):
                if level == "full":
                    rel = full_rel
                else:
                    rel = f"png/{image_id}_{source}_{k:02d}.png"
                    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / rel)
                frac = 1.0 if level == "full" else float(level) / 100 * 0.3
                rows.append({
                    "stimulus_id": f"{image_id}_{source}_{level}", "file": rel, "image_id": image_id,
                    "category": category, "map_source": source, "level": level, "level_index": k,
                    "revealed_px": int(frac * size * size), "image_frac": round(frac, 6),
                    "feature_budget": int(0.3 * size * size), "seed": j * 100 + k,
                })
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    (root / "stimset.json").write_text(json.dumps({
        "toolkit_version": "test", "parameters": {"seed": seed}, "levels": LEVELS,
        "sources": list(sources), "inputs": {}, "n_stimuli": len(rows)}))
    return root
