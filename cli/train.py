"""``reveal train``: GALA blocks co-trained with human maps (a thin layer over :mod:`reveal.models.gala_files`)."""
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
    p.add_argument("--images", required=True, type=Path, metavar="DIR", help="photographs (image id = file stem)")
    p.add_argument("--categories", required=True, type=Path, metavar="CSV",
                   help="image_id,category (animal|nonanimal); an imagenet_class column trains those classes instead")
    p.add_argument("--maps", required=True, metavar="SOURCE=PATH",
                   help="the human maps (map folder, ClickMe click dump, SALICON files)")
    p.add_argument("--out", required=True, type=Path, metavar="RUN", help="the run folder")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME", help="the network (default: bundled)")
    p.add_argument("--gala", default="auto", metavar="auto|LAYER,...",
                   help="where the blocks go: auto (the residual blocks at 14x14, the paper's placement) or "
                        "layer names (blocks.7.dense, layer3.2.dense, any module)")
    p.add_argument("--lambda", dest="lam", type=float, default=6.0, help="weight of the map loss (default 6; 0: none)")
    p.add_argument("--epochs", type=int, default=20, help="most epochs (early stopping; 0: the initial network)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--freeze", choices=("backbone", "none"), default="backbone",
                   help="train the blocks only (default) or the whole network")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (default: CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--overwrite", action="store_true", help="train a finished run's folder again")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..models.gala_files import train_folder
    from ..models.gala_training import GalaTrainConfig

    layers = "auto" if args.gala.strip() == "auto" else [x for x in args.gala.split(",") if x.strip()]
    config = GalaTrainConfig(lam=args.lam, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                             freeze=args.freeze)
    record = train_folder(args.images, args.categories, source_path(args.maps, "--maps"), args.out,
                          model=args.model, layers=layers, config=config, seed=args.seed, device=args.device,
                          progress=not args.no_progress, overwrite=args.overwrite)
    folds = {k: len(v) for k, v in record["image_ids"].items()}
    held = record["heldout"]
    rho = held["map_spearman"]
    print(f"GALA at {', '.join(record['gala_layers'])} of {record['model']}, λ = {args.lam:g}: "
          f"{record['epochs']} epoch(s), best {record['best_epoch']}; images {folds['train']} train, "
          f"{folds['val']} validation, {folds['test']} test ({record['n_without_maps']} without a map)")
    print(f"held-out: accuracy {held['accuracy']:.3f}"
          + (f", map Spearman {rho:.3f} ({held['n_with_maps']} images with maps)" if math.isfinite(rho) else ""))
    print(f"-> {args.out} (reveal predict --model {args.out} runs it)")
    return 0
