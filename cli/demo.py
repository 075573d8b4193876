"""``reveal demo``: the whole study end to end on the bundled sample.

1. the bundled sample's stimulus set (two map sources);
2. the Builder experiment folder for it (lab script + Pavlovia files), compiled by PsychoPy;
3. the model observer ``efficientnet_lite0`` on every stimulus (GPU if present, else CPU), then a small
   cue-strength sweep of it (feature-similarity gain at the head, :mod:`reveal.models.cueing`): the valid cue
   (animal) at β = 1, 2 and the invalid one (nonanimal) at β = 2, in ``models/efficientnet_lite0_cued.csv``
   (β = 0 is the plain observer; the gains fold into the classifier, so each strength costs one more pass);
4. simulated participants (``observer_kind = simulated``; see :mod:`reveal.experiments.simulated_participants`)
   going through the real trial lists, saved as PsychoPy data files;
5. ``reveal analyze`` on the simulated data and both model files: tables, figures (signal detection and the
   cue-strength sweeps), ``report.html``;
6. ``reveal power`` for the sample set: the groups' curves fitted from the simulated data, the
   power per level for 20–120 participants per group with the sample's 4 images (few simulated
   studies: a quick look).

No display, GPU or network is needed.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InputError
from ..core.outputs import RECORD, OutputFolder

__all__ = ["DemoResult", "run_demo", "register"]

#: The demo's cue-strength sweep: strengths β per cue target (animal: the valid cue for animal images).
# strength 0 is the plain observer, already run: the analysis draws it as the sweeps' 0
DEMO_STRENGTHS = {"animal": (1, 2), "nonanimal": (2,)}

#: The command that owns a demo folder.
COMMAND = "reveal demo"

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """Where the demo put things, and the analysis it ran."""

    out_dir: Path
    stimuli: Path
    experiment: Path
    predictions: Path
    data: Path
    analysis: Path
    report: Path
    result: object  # analysis.pipeline.AnalysisResult
    seconds: dict
    power: object = None  # experiments.power.PowerResult
    power_note: str = ""  # why there is no power result, when there is none
    cued: Path | None = None  # the cued observers' trial data (the cue-strength sweep)


def _step(n, text):
    print(f"[{n}/6] {text}", flush=True)


def run_demo(out_dir="reveal-demo", *, n_observers=240, seed=0, device="auto", n_resamples=10_000,
             progress=True):
    """Run the demo into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    out_dir : path-like
        Created; an earlier demo's files (recorded in ``.reveal-outputs.json``) are replaced,
        anything else there is kept, and a non-empty folder that holds no demo is refused.
    n_observers : int
        Simulated participants. Multiples of 48 complete the design: 24 lists per map
        source (12 Latin-square rows × 2 key mappings). The sample has 4 images, so each
        participant answers 4 test trials; 240 give ~40 trials per level and group.
    seed : int
        Seeds the stimulus set, the trial lists and the simulated observers.
    device : {'auto', 'cpu', 'cuda'}
    n_resamples : int
        Randomization-test resamples.

    Returns
    -------
    DemoResult
    """
    if n_observers < 2:
        raise InputError("the demo needs at least 2 simulated observers (one per map source)")
    out = Path(out_dir)
    # The demo owns its folder as every command does (reveal.core.outputs.OutputFolder): a rerun
    # removes the files the earlier demo recorded and nothing else; a folder of someone else's
    # files is refused, --overwrite or not.
    folder = OutputFolder(out, COMMAND, overwrite=True)
    folder.declare([])  # recorded at once: a demo killed half-way is still recognised as one
    kept = _files_under(out)  # left after the removal: not the demo's, never recorded
    try:
        return _steps(out, n_observers, seed, device, n_resamples, progress)
    finally:  # everything the steps wrote is recorded, also when one of them failed
        folder.declare(sorted(_files_under(out) - kept))


def _files_under(root: Path) -> set:
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    return files - {RECORD}  # the steps' own records (stimuli/, analysis/...) are the demo's files too


def _steps(out, n_observers, seed, device, n_resamples, progress):
    from ..analysis.pipeline import AnalysisSettings, analyze, write_outputs
    from ..core.seeding import derive_rng
    from ..core.stimset import read_stimulus_set
    from ..models import predict
    from ..models.cueing import cue_observers
    from ..models.registry import load_observer
    from ..stimuli import RevealParams, build_stimulus_set
    from ..stimuli.sample import write_sample_inputs

    from ..experiments import design as dsg
    from ..experiments.builder import build_experiment
    from ..experiments.simulated_participants import simulate_participant

    seconds = {}

    t = time.perf_counter()
    _step(1, "stimulus set from the bundled sample")
    inputs = write_sample_inputs(out / "inputs")
    stim_dir = out / "stimuli"
    build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], stim_dir,
                       RevealParams(seed=seed), progress=progress)
    seconds["stimuli"] = time.perf_counter() - t

    t = time.perf_counter()
    _step(2, "PsychoPy Builder experiment (lab script + Pavlovia files)")
    exp_dir = out / "experiment"
    build_experiment(stim_dir, exp_dir, "rapidcat", overwrite=True)  # the demo's own folder
    seconds["experiment"] = time.perf_counter() - t

    t = time.perf_counter()
    _step(3, "model observer efficientnet_lite0")
    pred_path = out / "models" / "efficientnet_lite0.csv"
    pred_path.parent.mkdir(parents=True, exist_ok=True)
    # Decoding in this process: 96 PNGs need no worker processes, and forking after PsychoPy
    # has started its threads can deadlock the DataLoader workers.
    predictions = predict(stim_dir, "efficientnet_lite0", pred_path, device=device, num_workers=0,
                          progress=progress)
    seconds["model"] = time.perf_counter() - t

    # the same network cued toward a category (Lindsay & Miller 2018 feature-similarity gain at the head):
    # the valid cue for animal images (animal) at two strengths, the invalid one (nonanimal) at one; β = 0 is
    # the plain network above, which the analysis takes as every sweep's reference point
    t = time.perf_counter()
    cued_path = out / "models" / "efficientnet_lite0_cued.csv"
    plain = load_observer("efficientnet_lite0")
    cued = (cue_observers(plain, DEMO_STRENGTHS["animal"], "animal")
            + cue_observers(plain, DEMO_STRENGTHS["nonanimal"], "nonanimal"))
    predict(stim_dir, cued, cued_path, device=device, num_workers=0, progress=progress)
    seconds["cued model"] = time.perf_counter() - t

    t = time.perf_counter()
    _step(4, f"{n_observers} simulated participants (labelled observer_kind=simulated)")
    p_animal = dict(zip(predictions["stimulus_id"], predictions["p_animal"].astype(float)))
    stimset = read_stimulus_set(stim_dir)
    dsg.check_design(stimset)
    data_dir = out / "data"
    for i in range(n_observers):
        simulate_participant(stimset, i, p_animal, data_dir, derive_rng(seed, "simulated observer", i))
    seconds["simulation"] = time.perf_counter() - t

    t = time.perf_counter()
    _step(5, "analysis: curves, randomization tests, fits, model vs simulated humans, report")
    settings = AnalysisSettings(n_resamples=n_resamples, seed=seed, n_bootstrap=min(n_resamples, 2000),
                                progress=progress)
    result = analyze([data_dir, pred_path, cued_path], stimuli=stim_dir, settings=settings)
    paths = write_outputs(result, out / "analysis", overwrite=True,
                          command=f"reveal demo --out {out} --observers {n_observers} --seed {seed}")
    seconds["analysis"] = time.perf_counter() - t

    t = time.perf_counter()
    _step(6, "power for this sample set: how many participants would show a group difference")
    power, power_note = None, ""
    try:
        power = _demo_power(stim_dir, data_dir, out / "power", seed=seed, progress=progress,
                            command=f"reveal demo --out {out} --observers {n_observers} --seed {seed}")
    except InputError as err:
        # A handful of simulated observers can leave one group after exclusions; the rest
        # of the demo stands, and the summary says why there is no power table.
        power_note = f"power step skipped: {err.message}"
        log.warning(power_note)
    seconds["power"] = time.perf_counter() - t
    return DemoResult(out, stim_dir, exp_dir, pred_path, data_dir, out / "analysis", paths["report"],
                      result, seconds, power, power_note, cued=cued_path)


def _demo_power(stim_dir, data_dir, out_dir, *, seed, progress, command, n_studies=200, n_resamples=199):
    """``reveal power --pilot data --stimuli stimuli --n 20:120:20`` with few studies (a quick look)."""
    from ..core.seeding import derive_rng
    from ..experiments.power_study import power_study

    return power_study(out_dir, pilot=[data_dir], stimuli=stim_dir, n="20:120:20", studies=n_studies,
                       resamples=n_resamples, rng=derive_rng(seed, "power"), overwrite=True, progress=progress,
                       command=command).result


def summary(res: DemoResult) -> str:
    """A few lines on what the demo found."""
    import pandas as pd

    r = res.result
    lines = [f"report: {res.report}"]
    fits = r.fits
    for _, f in fits[fits["observer"] == "(pooled)"].iterrows():
        thr = f.get("threshold_pct")
        thr = "n/a" if pd.isna(thr) else f"{thr:.1f} % of features"
        lines.append(f"  75 % threshold, {f['label']}: {thr}; ceiling: {f['ceiling_level_empirical']}")
    tests = r.tests
    if len(tests):
        sig = tests[tests["p_fwer"] < 0.05]
        lines.append(f"  group differences (family-wise p < .05) at {len(sig)} of {len(tests)} level(s)"
                     + (": " + ", ".join(str(v) for v in sig["level"]) if len(sig) else ""))
    cons = r.consistency
    if len(cons):
        mh = cons[cons["comparison"].str.startswith("model-")]
        lines.append(f"  error consistency, model vs simulated humans: κ (pooled per level) "
                     f"{mh['kappa_pooled'].min():.2f} to {mh['kappa_pooled'].max():.2f}, "
                     f"mean {mh['kappa_pooled'].mean():.2f}")
    sweeps = getattr(r, "sweeps", None)
    if sweeps is not None and len(sweeps):
        from ..core.levels import FULL

        levels = sorted(set(sweeps["level"]) - {FULL}, key=lambda lv: float(lv))
        shown = [lv for lv in (levels[len(levels) // 2] if levels else None, FULL) if lv is not None]
        pooled = (sweeps[sweeps["level"].isin(shown)]
                  .groupby(["target", "level", "strength"], sort=False)[["hit_rate", "fa_rate", "dprime"]].mean())
        lines.append("  cue-strength sweep (hits / false alarms / d′, mean over map sources; sweeps.png):")
        for (target, level), sub in pooled.groupby(level=[0, 1], sort=False):
            cells = "; ".join(f"β {b:g}: {h:.2f} / {f:.2f} / {d:.2f}"
                              for (_, _, b), (h, f, d) in sub.iterrows())
            lines.append(f"    cue {target}, {'intact' if level == FULL else level + ' %'}: {cells}")
    if res.power is not None:
        table = res.power.table
        family = table[table["level"] == "any"].set_index("n_per_group")["power"]
        best = table[table["level"] != "any"].sort_values("power", kind="stable").groupby("n_per_group").last()
        lines.append(f"  power with this sample's {res.power.settings['n_images']} images "
                     f"({res.power.settings['n_studies']} simulated studies per N; "
                     f"{res.out_dir / 'power' / 'power.html'}):")
        for n, p in family.items():
            lines.append(f"    {n} per group: any level {p:.2f}; best level {best.loc[n, 'level']} "
                         f"{best.loc[n, 'power']:.2f}")
    if res.power_note:
        lines.append("  " + res.power_note)
    lines.append("  time: " + ", ".join(f"{k} {v:.0f} s" for k, v in res.seconds.items()))
    return "\n".join(lines)


def register(subparsers):
    p = subparsers.add_parser("demo", help="the whole study end to end on the bundled sample",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("reveal-demo"), help="output folder (default reveal-demo)")
    p.add_argument("--observers", type=int, default=240, help="simulated participants (default 240)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--resamples", type=int, default=10_000, help="randomization-test resamples")
    # accepted so that scripts written for every other command work here too: an earlier demo
    # in --out is always replaced, and a non-empty folder that is not a demo is always refused
    p.add_argument("--overwrite", action="store_true",
                   help="an earlier demo in --out is always replaced (and a non-empty folder that is not a demo "
                        "is always refused), with or without this option")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=_run)


def _run(args):
    res = run_demo(args.out, n_observers=args.observers, seed=args.seed, device=args.device,
                   n_resamples=args.resamples, progress=args.progress)
    print(summary(res))
    return 0
