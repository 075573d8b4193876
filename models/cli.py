"""``reveal predict`` and ``reveal maps attention``: thin layers over models.predict and models.attention.

``reveal predict`` writes trial data (CSV), ``reveal maps attention`` a map folder
(:mod:`reveal.analysis.maps.mapfiles`); the analysis reads both and runs no network.
"""
from __future__ import annotations

# Kept here rather than imported, so that building the parser does not import torch.
DEFAULT_MODEL = "efficientnet_lite0"
THRESHOLD = 0.5


def register(subparsers):
    p = subparsers.add_parser(
        "predict",
        help="categorise every stimulus of a set with a network (model trial data out)",
        description="Categorise every stimulus of a stimulus set with an ImageNet network (animal = summed "
                    "softmax over ImageNet classes 0-397 >= threshold) and write trial data in the human "
                    "format plus p_animal and top5. An existing output of the same set and observer is "
                    "resumed.")
    p.add_argument("--stimuli", required=True, metavar="DIR", help="stimulus-set folder (with manifest.csv)")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME",
                   help=f"efficientnet_lite0 (bundled, default), a torchvision classification model "
                        f"(resnet50, vgg16, ...) or package.module:factory")
    p.add_argument("--weights", metavar="PATH", help="local weights file instead of the bundled/published ones")
    p.add_argument("--name", metavar="LABEL", help="observer label in the output (default: the model name)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per batch (default: 256 on CUDA, 4 on CPU)")
    p.add_argument("--workers", type=int, metavar="N", help="PNG-decoding worker processes")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="P(animal) threshold (default 0.5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="output trial-data CSV")
    p.set_defaults(func=_predict)
    _register_attention(subparsers)


def _register_attention(subparsers):
    from ..analysis.maps.cli import maps_subcommands

    a = maps_subcommands(subparsers).add_parser(
        "attention", help="a network's attention maps of photographs → a map folder (.npy + maps.json)",
        description="SmoothGrad and/or activation-norm maps of an ImageNet network for every photograph of a "
                    "folder, at the photograph's size, written as <out>/<model>_<kind>/<image_id>.npy with the "
                    "index <out>/maps.json (docs/conventions.md). Give the folder to 'reveal maps compare "
                    "--attention'. Writing into an existing map folder adds the sources to it.")
    a.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME",
                   help="model registry name (default efficientnet_lite0, bundled) or package.module:factory")
    a.add_argument("--weights", metavar="FILE", help="weights file for --model")
    a.add_argument("--images", required=True, metavar="DIR", help="the photographs (image id = file stem)")
    a.add_argument("--out", required=True, metavar="DIR", help="map folder (created or added to)")
    a.add_argument("--kinds", default="smoothgrad,activation",
                   help="attention kinds: smoothgrad, activation (comma-separated; default both)")
    a.add_argument("--target", default="animal", help="SmoothGrad score: animal (log-odds of P(animal)), top "
                                                      "(top-class logit) or a class index (default animal)")
    a.add_argument("--samples", type=int, default=25, help="SmoothGrad noisy samples (default 25)")
    a.add_argument("--layer", help="layer for the activation-norm map (default: the last block at >= 7x7)")
    a.add_argument("--crop", action="store_true",
                   help="the network's own centre crop instead of the whole image (unseen pixels get 0)")
    a.add_argument("--seed", type=int, default=0, help="seed of the SmoothGrad noise (default 0)")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    a.set_defaults(func=_attention)


def _predict(args):
    from .inference import predict  # torch is imported only when the command runs

    df = predict(args.stimuli, args.model, args.out, weights=args.weights, device=args.device,
                 batch_size=args.batch_size, num_workers=args.workers, threshold=args.threshold,
                 name=args.name, progress=not args.no_progress)
    acc = df["correct"].mean()
    print(f"{args.out}: {len(df)} stimuli, observer {df['observer'].iat[0]}, accuracy {acc:.3f}")
    return 0


def _attention(args):
    from ..stimuli.errors import InputError
    from .attention import write_attention_maps  # torch is imported only when the command runs

    target = args.target
    if target not in ("animal", "top"):
        try:
            target = int(target)
        except ValueError:
            raise InputError(f"--target must be animal, top or a class index, got {args.target!r}") from None
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    maps = write_attention_maps(args.model, args.images, args.out, kinds, weights=args.weights, target=target,
                                n_samples=args.samples, layer=args.layer, crop=args.crop, seed=args.seed,
                                progress=not args.no_progress)
    for source, by_image in maps.items():
        print(f"{source}: {len(by_image)} maps")
    print(f"-> {args.out} (index {args.out}/maps.json)")
    return 0
