"""``reveal predict``: a thin layer over :func:`reveal.models.inference.predict`.

It writes trial data (CSV, :mod:`reveal.core.trialdata`), which the analysis reads; the analysis
runs no network.
"""
from __future__ import annotations

# Kept here rather than imported, so that building the parser does not import torch
# (reveal.cli.maps uses them too).
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
                   help="efficientnet_lite0 (bundled, default), a torchvision classification model "
                        "(resnet50, vgg16, ...) or package.module:factory")
    p.add_argument("--weights", metavar="PATH", help="local weights file instead of the bundled/published ones")
    p.add_argument("--name", metavar="LABEL", help="observer label in the output (default: the model name)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per batch (default: 256 on CUDA, 4 on CPU)")
    p.add_argument("--workers", type=int, metavar="N", help="PNG-decoding worker processes")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="P(animal) threshold (default 0.5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="output trial-data CSV")
    p.set_defaults(func=_predict)


def _predict(args):
    from ..models.inference import predict  # torch is imported only when the command runs

    df = predict(args.stimuli, args.model, args.out, weights=args.weights, device=args.device,
                 batch_size=args.batch_size, num_workers=args.workers, threshold=args.threshold,
                 name=args.name, progress=not args.no_progress)
    acc = df["correct"].mean()
    print(f"{args.out}: {len(df)} stimuli, observer {df['observer'].iat[0]}, accuracy {acc:.3f}")
    return 0
