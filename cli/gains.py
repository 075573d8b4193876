"""``reveal gains``: cue values fitted on a labelled photo set, and the layers a cue can act on.

A thin layer over :mod:`reveal.models.gainfit` (the fit) and :mod:`reveal.core.gainsfile`
(the file ``reveal predict --gains`` reads).
"""
from __future__ import annotations

from pathlib import Path

from .predict import DEFAULT_MODEL

METHODS = ("tuning", "gradient", "toad")  # as reveal.models.gainfit.FIT_METHODS, without importing torch


def register(subparsers):
    p = subparsers.add_parser("gains", help="fit a cue's per-channel gains on labelled photos; list cue layers",
                              description="Per-channel values for cued observers (reveal predict --gains).")
    sub = p.add_subparsers(dest="gains_command", metavar="ACTION")
    sub.required = True

    f = sub.add_parser(
        "fit", help="fit tuning values, gradient values or TOAD gains at a layer",
        description="Fit a gains file: feature-similarity tuning or gradient values (Lindsay & Miller 2018) or "
                    "TOAD-style trained channel gains (Bickford Smith et al.; the network frozen, Adam 3e-4, "
                    "early stopping on a held-out split) at one layer, from a folder of photographs and a "
                    "categories CSV (the inputs of reveal stimuli build).")
    f.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME", help="as in reveal predict")
    f.add_argument("--weights", metavar="PATH", help="local weights file instead of the bundled/published ones")
    f.add_argument("--layer", default="head", metavar="LAYER",
                   help="cue layer (reveal gains layers --model NAME lists them; default head)")
    f.add_argument("--method", required=True, choices=METHODS)
    f.add_argument("--images", required=True, type=Path, metavar="DIR", help="folder of photographs (id = file stem)")
    f.add_argument("--categories", required=True, type=Path, metavar="CSV",
                   help="CSV image_id,category (animal|nonanimal)")
    f.add_argument("--target", default="animal", choices=("animal", "nonanimal"),
                   help="toad: the in-task category the gains are trained toward (default animal)")
    f.add_argument("--intensity", type=float, default=0.5,
                   help="toad: weight of in-task examples in the loss, in (0, 1); 0.5 = all weigh the same")
    f.add_argument("--seed", type=int, default=0, help="toad: seed of the held-out split and minibatches")
    f.add_argument("--max-epochs", type=int, default=200, help="toad: most epochs (early stopping: usually fewer)")
    f.add_argument("--out", required=True, type=Path, metavar="FILE.json", help="the gains file to write")
    f.set_defaults(func=_fit)

    ls = sub.add_parser("layers", help="the layers of a model a cue can act on",
                        description="The named cue layers of a model, shallow to deep, and whether the gains fold "
                                    "exactly into the next layer's weights or act through a hook.")
    ls.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME")
    ls.add_argument("--weights", metavar="PATH")
    ls.set_defaults(func=_layers)


def _fit(args):
    from ..core.errors import InputError

    if not 0 < args.intensity < 1:
        raise InputError(f"--intensity must be between 0 and 1 (exclusive), got {args.intensity}")
    from ..core.gainsfile import write_gains
    from ..models.gainfit import fit_gains, read_photo_set
    from ..models.registry import load_observer

    photos = read_photo_set(args.images, args.categories)
    observer = load_observer(args.model, weights=args.weights)
    fitted = fit_gains(observer, args.layer, args.method, photos, target=args.target, intensity=args.intensity,
                       rng=args.seed, max_epochs=args.max_epochs, model_name=args.model)
    write_gains(args.out, fitted)
    stats = fitted.training
    line = (f"{args.out}: {args.method} values toward {fitted.target} at {fitted.layer} of {args.model}, "
            f"{fitted.channels} channels, from {stats['n_animal']} animal and {stats['n_nonanimal']} non-animal photos")
    if args.method == "toad":
        line += (f"; held-out loss {stats['loss_before']:.4f} → {stats['loss_after']:.4f}, accuracy "
                 f"{stats['accuracy_before']:.3f} → {stats['accuracy_after']:.3f} ({stats['epochs']} epochs)")
    print(line)
    return 0


def _layers(args):
    from ..models.registry import load_observer
    from ..models.sites import cue_sites

    observer = load_observer(args.model, weights=args.weights)
    for site in cue_sites(observer.module):
        how = "folds into" if site.foldable else ("hook before" if site.where == "input" else "hook after")
        print(f"{site.name:24s} {how} {site.module}: {site.description}")
    print("(or any module name of the model whose output is non-negative, through a hook)")
    return 0
