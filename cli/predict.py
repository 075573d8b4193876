"""``reveal predict``: a thin layer over :func:`reveal.models.inference.predict`.

It writes trial data (CSV, :mod:`reveal.core.trialdata`), which the analysis reads; the analysis
runs no network.
"""
from __future__ import annotations

import math
from pathlib import Path

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
                    "resumed. With --attend, one cued observer per --strength (feature-similarity gain at the "
                    "pooled head features), all in one output; resuming refuses a file holding another "
                    "strength.")
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
    p.add_argument("--attend", choices=("animal", "nonanimal"), metavar="TARGET",
                   help="cued observers: feature-similarity gain (Lindsay & Miller 2018) on the pooled head "
                        "features toward animal (or nonanimal, the invalid cue for animal images); one observer "
                        "per --strength, labelled MODEL+fsg(TARGET,head,STRENGTH), all in --out")
    p.add_argument("--gain-layer", metavar="LAYER",
                   help="the layer --attend cues (default head; reveal gains layers lists a model's layers; layers "
                        "other than the head need --gains)")
    p.add_argument("--gains", type=Path, metavar="FILE.json",
                   help="cue with the values of a gains file (reveal gains fit): tuning or gradient values, or TOAD "
                        "gains; its layer; --attend defaults to its target")
    p.add_argument("--strength", metavar="B[,B...]",
                   help="cue strengths >= 0 for --attend, comma-separated, e.g. 0,0.5,1,2 (default 1; "
                        "0 = the plain network's answers)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="output trial-data CSV")
    p.set_defaults(func=_predict)


def parse_strengths(text):
    """``--strength`` text → list of floats: comma-separated numbers >= 0, each once.

    Examples
    --------
    >>> parse_strengths("0, 0.5,1,2")
    [0.0, 0.5, 1.0, 2.0]
    >>> parse_strengths("1,-2")
    Traceback (most recent call last):
    ...
    reveal.core.errors.InputError: --strength: -2 is negative; cue strengths are >= 0 (0 = no cue)
    """
    from ..core.errors import InputError

    hint = "give comma-separated numbers >= 0, e.g. --strength 0,0.5,1,2"
    items = [t.strip() for t in str(text).split(",")]
    if not any(items):
        raise InputError(f"--strength is empty; {hint}")
    out, seen = [], {}
    for item in items:
        if not item:
            raise InputError(f"--strength {text!r} has an empty entry; {hint}")
        try:
            value = float(item) + 0.0  # + 0.0: -0 → 0
        except ValueError:
            raise InputError(f"--strength: {item!r} is not a number; {hint}") from None
        if not math.isfinite(value):
            raise InputError(f"--strength: {item!r} is not a finite number; {hint}")
        if value < 0:
            raise InputError(f"--strength: {item} is negative; cue strengths are >= 0 (0 = no cue)")
        label = format(value, ".12g")  # as in the observer label (reveal.models.cueing.format_strength)
        if label in seen:
            raise InputError(f"--strength: {item!r} repeats {seen[label]!r}; each strength is one observer")
        seen[label] = item
        out.append(value)
    return out


def _predict(args):
    from ..core.errors import InputError

    cued = args.attend is not None or args.gains is not None
    if not cued:
        for option, value in (("--strength", args.strength), ("--gain-layer", args.gain_layer)):
            if value is not None:
                raise InputError(f"{option} sets the cue of --attend; add --attend animal (or nonanimal)")
    strengths = parse_strengths("1" if args.strength is None else args.strength) if cued else None
    fitted = None
    if args.gains is not None:
        from ..core.gainsfile import read_gains

        fitted = read_gains(args.gains, model=args.model, layer=args.gain_layer)

    from ..models.inference import predict  # torch is imported only when the command runs

    model, weights, name = args.model, args.weights, args.name
    if cued:
        from ..models.cueing import cue_observers, observers_from_gains
        from ..models.registry import load_observer

        base = load_observer(args.model, weights=args.weights)
        if fitted is not None:
            try:
                model = observers_from_gains(base, fitted, strengths, args.attend, model=args.model)
            except InputError as err:
                raise InputError(err.message, args.gains) from None
        else:
            model = cue_observers(base, strengths, args.attend, layer=args.gain_layer or "head")
        if args.name:  # the cue's suffix stays: it is how a resumed run tells strengths apart
            model = [o.renamed(args.name + o.name[len(base.name):]) for o in model]
        weights, name = None, None
    df = predict(args.stimuli, model, args.out, weights=weights, device=args.device,
                 batch_size=args.batch_size, num_workers=args.workers, threshold=args.threshold,
                 name=name, progress=not args.no_progress)
    for observer, rows in df.groupby("observer", sort=False):
        print(f"{args.out}: {len(rows)} stimuli, observer {observer}, accuracy {rows['correct'].mean():.3f}")
    return 0
