from __future__ import annotations

from pathlib import Path
import csv
import json
import io

import numpy as np
from PIL import Image
import pandas as pd
import pytest

from reveal.analysis.synthetic import simulate_trials
from reveal.analysis.synthetic import DEFAULT_LEVELS


@pytest.fixture(scope="session")
def human_trials():
    """24 simulated participants per group (two full Latin-square rotations) with a known ClickMe advantage,
    as if they were humans."""
    rng = np.random.default_rng(20260301)
    t = simulate_trials({"clickme": 0.55, "salicon": 0.85}, 24, rng=rng, timeout_rate=0.03, kind="human")
    return t


@pytest.fixture()
def stimulus_dir(tmp_path, human_trials):
    folder = tmp_path / "stimset"
    folder.mkdir()
    manifest_for(human_trials).to_csv(folder / "manifest.csv", index=False)
    return folder


# ---- fixture writers (formerly a helper module on sys.path)


EXPERIMENT_COLUMNS = [
    "participant", "session", "group", "key_animal", "key_nonanimal", "phase", "block", "trial", "stimulus_id",
    "image_id", "category", "map_source", "level", "resp_key", "response", "correct", "rt_s", "timed_out",
    "fixation_frames", "stim_frames", "refresh_hz", "dropped_frames",
]
PSYCHOPY_EXTRA = ["trials.thisRepN", "trials.thisTrialN", "trials.thisN", "trials.thisIndex", "key_resp.keys",
                  "key_resp.rt", "date", "expName", "psychopyVersion", "frameRate"]


def manifest_for(trials: pd.DataFrame) -> pd.DataFrame:
    """A manifest.csv table (conventions' columns) covering the stimuli of simulated trials."""
    stim = trials.drop_duplicates("stimulus_id")[["stimulus_id", "image_id", "category", "map_source", "level",
                                                 "image_frac"]].copy()
    stim["file"] = "img/" + stim["stimulus_id"] + ".png"
    stim["level_index"] = stim["level"].map({lv: i for i, lv in enumerate(DEFAULT_LEVELS)})
    stim["revealed_px"] = (stim["image_frac"] * 65536).round().astype(int)
    stim["feature_budget"] = 20000
    stim["seed"] = 7
    return stim[["stimulus_id", "file", "image_id", "category", "map_source", "level", "level_index",
                 "revealed_px", "image_frac", "feature_budget", "seed"]]


def _experiment_rows(trials: pd.DataFrame, js: bool, n_training: int = 4):
    """Rows (dicts of str) for one participant's file, in PsychoPy's order."""
    t = trials.reset_index(drop=True)
    pid, group = t["observer"].iloc[0], t["group"].iloc[0]
    key_animal, key_nonanimal = ("s", "l") if sum(map(ord, pid)) % 2 else ("l", "s")  # counterbalanced
    missing = "undefined" if js else ""
    true, false = ("true", "false") if js else ("True", "False")
    common = {"participant": pid, "session": "001", "group": group, "key_animal": key_animal,
              "key_nonanimal": key_nonanimal, "date": "2026-03-01_10h00.00.000", "expName": "reveal",
              "psychopyVersion": "2026.2.5", "frameRate": "60.0"}
    rows = [dict(common, phase=missing if js else "")]  # the instructions routine
    for i in range(n_training):  # training trials (not analysed)
        rows.append(dict(common, phase="training", block="0", trial=str(i + 1), stimulus_id=f"train{i}",
                         image_id=f"train{i}", category="animal", map_source=group, level="full",
                         resp_key=key_animal, response="animal", correct="1", rt_s="0.41", timed_out=false))
    for i, r in t.iterrows():
        pressed = {"animal": key_animal, "nonanimal": key_nonanimal}.get(r["response"], "")
        rt = "" if not np.isfinite(r["rt_s"]) else f"{r['rt_s']:.4f}"
        rows.append(dict(common, **{
            "phase": "test", "block": str(r["block"]), "trial": str(r["trial"]), "stimulus_id": r["stimulus_id"],
            "image_id": r["image_id"], "category": r["category"], "map_source": r["map_source"],
            "level": r["level"], "resp_key": pressed or missing, "response": r["response"],
            "correct": str(int(r["correct"])), "rt_s": rt or missing,
            "timed_out": true if r["timed_out"] else false, "fixation_frames": "78", "stim_frames": "24",
            "refresh_hz": "60.0", "dropped_frames": "0", "trials.thisRepN": "0", "trials.thisTrialN": str(i),
            "trials.thisN": str(i), "trials.thisIndex": str(i),
            "key_resp.keys": pressed or ("undefined" if js else "None"), "key_resp.rt": rt or missing}))
        if (i + 1) % 16 == 0:  # the block feedback routine
            rows.append(dict(common, phase=missing if js else ""))
    return rows


def experiment_csv_text(trials: pd.DataFrame, *, js: bool, drop_columns=(), extra_columns=None) -> str:
    """One participant's experiment file as text.

    ``extra_columns``: column -> a string written on every row (as the online experiment writes the
    panel ids), or a sequence of strings, one per test trial in the order of ``trials`` (other rows
    get the missing spelling).
    """
    extra_columns = {c: v if isinstance(v, str) else list(v) for c, v in (extra_columns or {}).items()}
    columns = [c for c in EXPERIMENT_COLUMNS + PSYCHOPY_EXTRA if c not in drop_columns] + list(extra_columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    missing = "undefined" if js else ""
    n_test = 0
    for row in _experiment_rows(trials, js):
        for column, values in extra_columns.items():
            if isinstance(values, str):
                row[column] = values
            elif row.get("phase") == "test":
                row[column] = str(values[n_test])
        n_test += row.get("phase") == "test"
        writer.writerow({c: row.get(c, missing if js else "") for c in columns})
    return buf.getvalue()


def write_lab_csv(trials: pd.DataFrame, path, **kw) -> None:
    """PsychoPy (lab) layout: plain UTF-8."""
    path.write_text(experiment_csv_text(trials, js=False, **kw), encoding="utf-8")


def write_pavlovia_csv(trials: pd.DataFrame, path, **kw) -> None:
    """PsychoJS (Pavlovia) layout: UTF-8 with BOM, ``undefined``, ``true``/``false``."""
    path.write_bytes(b"\xef\xbb\xbf" + experiment_csv_text(trials, js=True, **kw).encode("utf-8"))


def write_experiment_folder(trials: pd.DataFrame, folder) -> dict:
    """Half the participants as lab files, half as Pavlovia files; returns observer → path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, (pid, sub) in enumerate(trials.groupby("observer", sort=True)):
        if i % 2:
            path = folder / f"{pid}_reveal_2026-03-01_10h00.00.000.csv"
            write_pavlovia_csv(sub, path)
        else:
            path = folder / f"{pid}_reveal_2026-03-01_10h00.csv"
            write_lab_csv(sub, path)
        out[pid] = path
    return out


def model_csv(trials: pd.DataFrame, rng, name="toynet", noise=0.15) -> pd.DataFrame:
    """A model prediction file (tidy, observer_kind=model, p_animal, top5) for every stimulus."""
    stim = trials.drop_duplicates("stimulus_id").reset_index(drop=True)
    x = stim["level"].map(lambda lv: 2.0 if lv == "full" else np.log10(float(lv))).to_numpy()
    p_correct = np.clip(0.5 + 0.25 * (1 + np.tanh(3 * (x - 0.7))) + rng.normal(0, noise, len(stim)), 0, 1)
    p_animal = np.where(stim["category"] == "animal", p_correct, 1 - p_correct)
    response = np.where(p_animal >= 0.5, "animal", "nonanimal")
    return pd.DataFrame({
        "observer": name, "observer_kind": "model", "group": stim["map_source"], "session": "", "block": "",
        "trial": np.arange(1, len(stim) + 1), "stimulus_id": stim["stimulus_id"], "image_id": stim["image_id"],
        "category": stim["category"], "map_source": stim["map_source"], "level": stim["level"],
        "response": response, "correct": (response == stim["category"]).astype(int), "rt_s": "",
        "timed_out": 0, "p_animal": p_animal, "top5": "tench|goldfish|jay|magpie|robin"})


def _writer_fixture(fn):
    # the writers are handed to tests as fixtures (no helper module on sys.path)
    return pytest.fixture(name=fn.__name__, scope="session")(lambda: fn)


for _fn in (manifest_for, experiment_csv_text, write_lab_csv, write_pavlovia_csv, write_experiment_folder,
            model_csv):
    globals()[f"_{_fn.__name__}_fixture"] = _writer_fixture(_fn)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


LEVELS = ["1", "1.58", "2.51", "3.98", "6.31", "10", "15.8", "25.1", "39.8", "63.1", "100", "full"]
COLUMNS = ["stimulus_id", "file", "image_id", "category", "map_source", "level", "level_index",
           "revealed_px", "image_frac", "feature_budget", "seed"]


def make_stimulus_set(root, n_images: int = 24, sources=("clickme", "salicon"), size: int = 16,
                      seed: int = 7, n_animal: int | None = None, levels=None) -> Path:
    """Write ``n_images`` images x sources x 12 conditions of tiny PNGs and a manifest.

    Images ``img00..`` alternate animal / non-animal (or the first ``n_animal`` are animals).
    ``levels``: the set's reveal levels (numbers, e.g. ``(1, 10, 100)``) instead of the default
    11; the set then has ``len(levels) + 1`` conditions, as ``stimset.json`` says.
    """
    root = Path(root)
    conditions = LEVELS if levels is None else [f"{float(v):.3g}" for v in levels] + ["full"]
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
            for k, level in enumerate(conditions):
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
        "toolkit_version": "test", "parameters": {"seed": seed}, "levels": conditions,
        "sources": list(sources), "inputs": {}, "n_stimuli": len(rows)}))
    return root


@pytest.fixture(name="make_stimulus_set", scope="session")
def _make_stimulus_set_fixture():
    return make_stimulus_set
