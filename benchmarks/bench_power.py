"""Benchmark: ``reveal power`` — simulated studies of 120 participants × 12 levels, 1,000 resamples.

Prints, in the same run:

* the time per simulated study (median over repeats of a batch) against one full
  ``reveal.analysis.pipeline.analyze`` of a study of the same size (its trials written as a
  tidy file; 1,000 randomization and 1,000 bootstrap resamples, no psignifit fits), and the ratio;
* the wall time of 1,000 simulated studies (issue 15's target: under a minute on 2 cores).

Run: ``python benchmarks/bench_power.py [--studies 1000] [--per-group 60]``
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from reveal.analysis.pipeline import AnalysisSettings, analyze
from reveal.experiments.power import PowerDesign, _latin_rows, draw_counts, reveal_power, stated_effect

RESAMPLES, REPEATS = 1000, 5


def _study_trials(design, effects, n, rng):
    """One simulated study as tidy trial rows (what ``reveal analyze`` would read)."""
    rows = _latin_rows([e.name for e in effects], n)
    frames = []
    for effect in effects:
        counts, timed, correct = draw_counts(design, effect, rows[effect.name], rng)
        for i in range(n):
            for j, level in enumerate(design.levels):
                k = counts[i, j]
                if not k:
                    continue
                t = np.arange(k)
                frames.append(pd.DataFrame({
                    "observer": f"{effect.name}{i:03d}", "observer_kind": "simulated", "group": effect.name,
                    "session": 1, "block": 1, "trial": t + 1,
                    "stimulus_id": [f"{effect.name}{i}_{level}_{x}" for x in t],
                    "image_id": [f"img{x}" for x in t], "category": "animal", "map_source": effect.name,
                    "level": level, "response": "animal",
                    "correct": ((t >= timed[i, j]) & (t - timed[i, j] < correct[i, j])).astype(int),
                    "rt_s": 0.4, "timed_out": (t < timed[i, j]).astype(int)}))
    return pd.concat(frames, ignore_index=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--per-group", type=int, default=60, help="participants per group (default 60: 120 in all)")
    args = parser.parse_args()
    n = args.per_group
    effects = [stated_effect("clickme", 4, timeout_rate=0.02), stated_effect("salicon", 6, timeout_rate=0.02)]
    design = PowerDesign(n_images=80)

    per_study = []
    for r in range(REPEATS):
        t0 = time.perf_counter()
        reveal_power(effects, [n], design=design, n_studies=20, n_resamples=RESAMPLES, rng=r)
        per_study.append((time.perf_counter() - t0) / 20)
    full = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.csv"
        _study_trials(design, effects, n, np.random.default_rng(0)).to_csv(path, index=False)
        settings = AnalysisSettings(n_resamples=RESAMPLES, n_bootstrap=RESAMPLES, fit=False)
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            analyze([path], settings=settings)
            full.append(time.perf_counter() - t0)
    t_study, t_full = statistics.median(per_study), statistics.median(full)
    print(f"one simulated study ({2 * n} participants x 12 levels, {RESAMPLES} resamples): {t_study * 1e3:.1f} ms "
          f"(median of {REPEATS} batches of 20)")
    print(f"one full analyze() of a study of that size (no fits): {t_full * 1e3:.1f} ms (median of {REPEATS})")
    print(f"ratio analyze / simulated study: {t_full / t_study:.0f}x")
    t0 = time.perf_counter()
    reveal_power(effects, [n], design=design, n_studies=args.studies, n_resamples=RESAMPLES, rng=99)
    wall = time.perf_counter() - t0
    print(f"{args.studies} simulated studies: {wall:.1f} s (target for 1,000: under 60 s on 2 cores)")


if __name__ == "__main__":
    main()
