"""``reveal maps teacher fit | predict``: a teacher network for importance maps (thin layers).

``fit`` calls :func:`reveal.models.teacher_files.fit_teacher_folder` (the network, the fit, the
test images' maps) and then scores those maps against the human ones with
:func:`reveal.analysis.maps.pipeline.compare`, as ``reveal maps compare`` does; ``predict``
calls :func:`reveal.models.teacher_files.predict_folder`.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from .arguments import source_path
from .predict import DEFAULT_MODEL

#: TeacherConfig.loss's values (reveal.models.teacher.LOSSES; not imported: the command line loads torch
#: only when a command runs)
LOSSES = ("auto", "kld-nss", "log-likelihood")

__all__ = ["register_teacher"]


def register_teacher(sub) -> None:
    t = sub.add_parser("teacher", help="a teacher network: learn human importance maps, predict them for new photos",
                       description="A small read-out over a frozen network's features, a learned blur and centre "
                                   "bias, a softmax over pixels (the DeepGaze II recipe), fitted to a map source's "
                                   "maps (loss λ·KLD − β·NSS); it predicts maps for photographs nobody mapped.")
    tsub = t.add_subparsers(dest="teacher_command", metavar="ACTION")
    tsub.required = True
    f = tsub.add_parser("fit", help="fit a teacher to human maps; score it on held-out images",
                        description="Fit a teacher to the maps of SOURCE=PATH (map folder, ClickMe click dump, "
                                    "SALICON files) of the photographs in --images; images are split into "
                                    "training, validation (early stopping) and test folds. Writes TEACHER/ "
                                    "(weights.pt, config.json, log.csv, provenance.json), the test images' maps "
                                    "(heldout_maps/) and their scores against the human maps beside a centre-bias "
                                    "map and the network's activation-norm map (heldout.csv, heldout/report.html; "
                                    "a click dump adds the human split-half ceiling).")
    f.add_argument("--maps", required=True, metavar="SOURCE=PATH", help="the human maps")
    f.add_argument("--images", required=True, metavar="DIR", help="the photographs (image id = file stem)")
    f.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME", help="the frozen network (default: bundled)")
    f.add_argument("--max-epochs", type=int, help="most training epochs (default: the config's)")
    f.add_argument("--loss", choices=LOSSES, default="auto",
                   help="kld-nss: λ·KLD − β·NSS against the maps; log-likelihood: of the clicks or fixations; "
                        "auto (default): log-likelihood for a click dump or fixations, else kld-nss")
    f.add_argument("--device", default="auto", help="auto (default: CUDA when present), cpu, cuda or cuda:N")
    f.add_argument("--seed", type=int, default=0, help="seed of the split and the fit (default 0)")
    f.add_argument("--resamples", type=int, default=999, help="randomization resamples of the scores (default 999)")
    f.add_argument("--out", required=True, metavar="TEACHER", help="the teacher folder (created)")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.set_defaults(func=run_fit)
    p = tsub.add_parser("predict", help="a teacher's maps of photographs → a map folder",
                        description="The teacher's maps of every photograph in --images, written as a map folder "
                                    "(maps.json + teacher/<image_id>.npy) for 'reveal stimuli build --maps "
                                    "teacher=OUT' and 'reveal maps compare'. The index records the teacher's "
                                    "fingerprint; a stimulus set built from it keeps it in stimset.json.")
    p.add_argument("--teacher", required=True, metavar="TEACHER", help="a folder written by 'reveal maps teacher fit'")
    p.add_argument("--images", required=True, metavar="DIR", help="the photographs (image id = file stem)")
    p.add_argument("--out", required=True, metavar="MAPS", help="map folder (created or added to)")
    p.add_argument("--device", default="auto", help="auto (default: CUDA when present), cpu, cuda or cuda:N")
    p.set_defaults(func=run_predict)


def run_fit(args) -> int:
    import math
    from dataclasses import replace

    from ..analysis.maps.pipeline import compare
    from ..core.outputs import atomic_write
    from ..models.teacher import TeacherConfig
    from ..models.teacher_files import fit_teacher_folder

    name, path = source_path(args.maps, "--maps")
    config = TeacherConfig(model=args.model, loss=args.loss)
    if args.max_epochs is not None:
        config = replace(config, max_epochs=args.max_epochs)
    run = fit_teacher_folder((name, path), args.images, args.out, config=config, seed=args.seed, device=args.device)
    report = compare((name, path), out=Path(args.out) / "heldout", attention=[run.heldout_maps], images=args.images,
                     resamples=args.resamples, seed=args.seed, progress=not args.no_progress,
                     command=shlex.join(["reveal", *sys.argv[1:]]), overwrite=True)
    summary = report.summary
    atomic_write(Path(args.out) / "heldout.csv", summary.to_csv(index=False))
    folds = {k: len(v) for k, v in run.image_ids.items()}
    fit = run.fit
    best = fit.log["val_loss"][fit.best_epoch - 1]
    if fit.config.loss == "log-likelihood":
        uniform = math.log(fit.config.grid ** 2)
        loss = (f"loss: log-likelihood of the points, validation {best:.3f} nats/point = "
                f"{(uniform - best) / math.log(2):.2f} bits/point over a uniform map")
    else:
        loss = f"loss: {fit.config.lam:g}·KLD − {fit.config.beta:g}·NSS against the maps, validation {best:.3f}"
    print(f"teacher fitted on {folds['train']} images (validation {folds['val']}, test {folds['test']}), "
          f"best epoch {fit.best_epoch} of {fit.epochs}; {loss}")
    print(f"held-out scores against {name} ({folds['test']} test images):")
    metrics = [m for m in ("spearman", "cc", "sim", "kld", "nss", "auc_judd") if m in summary]
    for row in summary.to_dict("records"):
        cells = "  ".join(f"{m} {row[m]:.3f}" for m in metrics)
        frac = row.get("fraction_of_ceiling", math.nan)
        print(f"  {row['source']:34s} {cells}" + (f"  ({frac:.0%} of the ceiling)" if math.isfinite(frac) else ""))
    if "nss" not in summary:
        print("  (NSS and AUC need points: they are computed against fixations or a click dump's clicks, "
              "not against a folder of maps)")
    if math.isfinite(report.ceiling):
        print(f"  human split-half ceiling (spearman): {report.ceiling:.3f} ({report.ceiling_note})")
    print(f"-> {args.out} (scores: {Path(args.out) / 'heldout.csv'}, report: {Path(args.out) / 'heldout'})")
    return 0


def run_predict(args) -> int:
    from ..models.teacher_files import predict_folder

    out = predict_folder(args.teacher, args.images, args.out, device=args.device)
    print(f"-> {out} (map source 'teacher': reveal stimuli build --maps teacher={out})")
    return 0
