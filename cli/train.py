"""``reveal train``: GALA blocks co-trained with human maps (a thin layer over :mod:`reveal.models.gala_files`);
``reveal train compare``: two runs' test folds, image by image (:mod:`reveal.analysis.runs`)."""
from __future__ import annotations

import math
from pathlib import Path

from .arguments import source_path
from .predict import DEFAULT_MODEL


def register(subparsers):
    p = subparsers.add_parser(
        "train", help="co-train GALA attention with human maps (the ClickMe paper's model)",
        description="Add global-and-local attention (GALA) blocks to a network and train them on a study's "
                    "photographs, categories and human maps: cross-entropy + λ · the distance between each "
                    "block's attention map and the human map (Linsley et al. 2019). Starts from the pretrained "
                    "network (the blocks start as the identity). Writes RUN/ (weights.pt, run.json, log.csv, "
                    "heldout.csv); reveal predict --model RUN/ runs the trained network.")
    p.add_argument("--images", type=Path, metavar="DIR", help="photographs (image id = file stem)")
    p.add_argument("--categories", type=Path, metavar="CSV",
                   help="image_id,category (animal|nonanimal); an imagenet_class column trains those classes instead")
    p.add_argument("--maps", metavar="SOURCE=PATH",
                   help="the human maps (map folder, ClickMe click dump, SALICON files)")
    p.add_argument("--out", type=Path, metavar="RUN", help="the run folder (a λ sweep: one lambda-<v>/ per value)")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME", help="the network (default: bundled)")
    p.add_argument("--gala", default="auto", metavar="auto|LAYER,...",
                   help="where the blocks go: auto (the residual blocks at 14x14, the paper's placement) or "
                        "layer names (blocks.7.dense, layer3.2.dense, any module)")
    p.add_argument("--lambda", dest="lam", default="6", metavar="λ[,λ...]",
                   help="weight of the map loss (default 6; 0: none); several values: a sweep, one run each, and "
                        "lambda_sweep.csv/.png (accuracy and map score against λ)")
    p.add_argument("--epochs", type=int, default=20, help="most epochs (early stopping; 0: the initial network)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--freeze", choices=("backbone", "none"), default=None,
                   help="train the blocks only (default) or the whole network (the default with --no-gala or "
                        "--from-scratch, which need it)")
    p.add_argument("--maps-as", choices=("maps", "boxes"), default="maps",
                   help="the map loss's targets: the human maps (default) or each map's bounding box (the "
                        "paper's control; held-out scores are against the human maps either way)")
    p.add_argument("--no-gala", action="store_true",
                   help="the paper's control: no GALA blocks, the map loss on the network's own activity at the "
                        "same layers (trains the whole network)")
    p.add_argument("--from-scratch", action="store_true",
                   help="the paper's setting: random weights, blocks that apply U ⊙ A, batch statistics while "
                        "training; for a GPU and a large set (default: fine-tune the pretrained network)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (default: CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="training steps in float32 or under bfloat16 autocast (auto: bfloat16 on a GPU, float32 on "
                        "the CPU)")
    p.add_argument("--overwrite", action="store_true", help="train a finished run's folder again")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)
    sub = p.add_subparsers(dest="train_command", metavar="[compare|example]")
    c = sub.add_parser("compare", help="two runs' test folds, image by image: a paired randomization test",
                       description="Held-out accuracy and map Spearman of two runs trained on the same photographs "
                                   "with the same seed (so the same test images), and a paired sign-flip "
                                   "randomization test of the per-image differences (B − A), as the ClickMe paper "
                                   "compared GALA with and without maps.")
    c.add_argument("run_a", type=Path, metavar="RUN_A")
    c.add_argument("run_b", type=Path, metavar="RUN_B")
    c.add_argument("--resamples", type=int, default=9999)
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=run_compare)
    e = sub.add_parser("example", help="write the worked example's study (made from the bundled sample)",
                       description="Write a study to train on, made from the bundled sample's photographs: "
                                   "phase-scrambled backgrounds with one small object at a random place (the cat: "
                                   "animal; the cup: non-animal) and a map on it (made by that rule, not by "
                                   "people). Prints the commands of the worked example.")
    e.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new folder")
    e.add_argument("--pictures", type=int, default=80, help="how many, half of each category (default 80)")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=run_example)


def _lambdas(text):
    from ..core.errors import InputError

    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--lambda takes numbers separated by commas, got {text!r}") from None
    if not values or len(set(values)) != len(values) or any(not (v >= 0) for v in values):
        raise InputError(f"--lambda takes distinct numbers >= 0, got {text!r}")
    return values


def run(args) -> int:
    from ..core.errors import InputError

    missing = [f"--{n}" for n in ("images", "categories", "maps", "out") if getattr(args, n) is None]
    if missing:
        raise InputError(f"reveal train needs {', '.join(missing)} (or: reveal train compare RUN_A RUN_B)")
    lambdas = _lambdas(args.lam)
    if len(lambdas) == 1:
        _train_one(args, lambdas[0], args.out)
        return 0
    import pandas as pd

    from ..analysis.figures import save_figure
    from ..analysis.runs import lambda_sweep_figure
    from ..core.outputs import atomic_write

    sweep = ("lambda_sweep.csv", "lambda_sweep.png")
    if args.out.is_dir():
        foreign = [p.name for p in args.out.iterdir() if not (p.name.startswith("lambda-") or p.name in sweep)]
        if foreign:
            raise InputError(f"not empty and not a λ sweep ({', '.join(sorted(foreign)[:3])}): give a new folder",
                             args.out)
    from dataclasses import asdict

    from ..models.gala_files import is_run_folder, read_run

    rows = []
    for lam in lambdas:
        sub = args.out / f"lambda-{lam:g}"
        done = read_run(sub) if is_run_folder(sub) and not args.overwrite else None
        if done is not None and done["config"] == asdict(_config(args, lam)) and done["seed"] == args.seed:
            record = done  # a rerun of an interrupted sweep keeps the values already trained
            if not (sub / "heldout.png").is_file():  # killed between run.json and the figure
                _figure(sub, record)
            print(f"λ = {lam:g}: kept the finished run {sub}")
        else:
            record = _train_one(args, lam, sub)
        rows.append({"lambda": lam, **{k: record["heldout"][k] for k in ("accuracy", "map_spearman", "n_images")},
                     "best_epoch": record["best_epoch"], "run": f"lambda-{lam:g}"})
    table = pd.DataFrame(rows)
    atomic_write(args.out / sweep[0], table.to_csv(index=False))
    save_figure(lambda_sweep_figure(table), args.out / sweep[1], dpi=150)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"-> {args.out / sweep[0]}, {args.out / sweep[1]}")
    return 0


def run_compare(args) -> int:
    from ..analysis.runs import compare_runs
    from ..models.gala_files import read_heldout

    res = compare_runs(read_heldout(args.run_a), read_heldout(args.run_b), rng=args.seed,
                       n_resamples=args.resamples)
    print(f"{res.n_images} test images; A = {args.run_a}, B = {args.run_b}")
    for k, what in enumerate(res.means.index):
        row = res.means.loc[what]
        p = res.test.pvalue[k]
        print(f"  {what:13s} A {row['a']:.3f}  B {row['b']:.3f}  B − A {row['difference']:+.3f}  "
              + (f"p = {p:.4f} (paired sign-flip test, {res.test.n_resamples} resamples)" if math.isfinite(p)
                 else "no test (the same on every image)"))
    return 0


def run_example(args) -> int:
    from ..core.errors import InputError
    from ..stimuli.training_sample import write_training_sample

    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise InputError("give a new or empty folder for the example study", args.out)
    if args.pictures < 14:
        raise InputError(f"--pictures: at least 14 (10 to train, validation and test folds), got {args.pictures}")
    paths = write_training_sample(args.out, args.pictures, rng=args.seed)
    study = ' '.join(f"--{k} {v}" for k, v in (("images", paths["images"]), ("categories", paths["categories"])))
    print(f"{args.pictures} pictures -> {args.out}. The worked example (about 2 minutes on 2 CPU cores):")
    print(f"  reveal train {study} --maps human={paths['maps']} --lambda 0,6 --epochs 8 --lr 1e-2 "
          f"--out {args.out / 'runs'}")
    print(f"  reveal train compare {args.out / 'runs' / 'lambda-0'} {args.out / 'runs' / 'lambda-6'}")
    return 0


def _config(args, lam):
    from ..models.gala_training import GalaTrainConfig

    from ..core.errors import InputError

    freeze = args.freeze or ("none" if args.no_gala or args.from_scratch else "backbone")
    if freeze == "backbone" and (args.no_gala or args.from_scratch):
        raise InputError(f"{'--no-gala' if args.no_gala else '--from-scratch'} trains the network's own layers: "
                         "drop --freeze backbone")
    from ..models.registry import resolve_device

    mixed = (args.precision == "bfloat16"
             or (args.precision == "auto" and resolve_device(args.device).type == "cuda"))
    return GalaTrainConfig(lam=lam, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, freeze=freeze,
                           train_mode=args.from_scratch, maps_as=args.maps_as, mixed_precision=mixed)


def _train_one(args, lam, out):
    from ..models.gala_files import train_folder

    layers = "auto" if args.gala.strip() == "auto" else [x for x in args.gala.split(",") if x.strip()]
    config = _config(args, lam)
    record = train_folder(args.images, args.categories, source_path(args.maps, "--maps"), out,
                          model=args.model, layers=layers, config=config, seed=args.seed,
                          blocks="activity" if args.no_gala else "gala", from_scratch=args.from_scratch,
                          device=args.device,
                          progress=not args.no_progress, overwrite=args.overwrite)
    folds = {k: len(v) for k, v in record["image_ids"].items()}
    held = record["heldout"]
    rho = held["map_spearman"]
    what = "GALA" if record["blocks"] == "gala" else "activity maps (no GALA)"
    start = "random weights" if record["from_scratch"] else "pretrained"
    print(f"{what} at {', '.join(record['gala_layers'])} of {record['model']} ({start}), λ = {lam:g}, "
          f"targets: {config.maps_as}: "
          f"{record['epochs']} epoch(s), best {record['best_epoch']}; images {folds['train']} train, "
          f"{folds['val']} validation, {folds['test']} test ({record['n_without_maps']} without a map)")
    print(f"held-out: accuracy {held['accuracy']:.3f}"
          + (f", map Spearman {rho:.3f} ({held['n_with_maps']} images with maps)" if math.isfinite(rho) else ""))
    _figure(out, record)
    print(f"-> {out} (reveal predict --model {out} runs it; {out / 'heldout.png'})")
    return record


def _figure(out, record):
    from ..analysis.figures import save_figure
    from ..analysis.runs import run_figure
    from ..models.gala_files import FIGURE, read_heldout, read_log

    lam = record["config"]["lam"]
    what = "GALA" if record["blocks"] == "gala" else "no GALA (activity)"
    save_figure(run_figure(read_log(out), read_heldout(out), record["best_epoch"],
                           title=f"{out.name}: {record['model']}, {what}, λ = {lam:g}"), out / FIGURE, dpi=150)
