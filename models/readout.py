"""The animal decision: ImageNet-1k class probabilities in, P(animal), answer and top-5 out.

ImageNet-1k classes 0–397 (tench … puffer) are the animal classes (as in
Eberhardt et al. 2016 and the ClickMe paper); P(animal) is the softmax mass summed over
them and the observer answers "animal" when it is at least the threshold (0.5).
"""
from __future__ import annotations

import numpy as np
from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
from numpy.typing import ArrayLike

__all__ = [
    "ANIMAL_CLASSES", "N_CLASSES", "THRESHOLD", "animal_evidence", "decide",
    "format_top5", "parse_top5", "imagenet_categories",
]

#: Number of ImageNet-1k classes the read-out expects.
N_CLASSES = 1000
#: ImageNet-1k indices of the animal classes (0 = tench … 397 = puffer), end exclusive.
ANIMAL_CLASSES = slice(0, 398)
#: Default decision threshold on P(animal).
THRESHOLD = 0.5


def animal_evidence(logits: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """P(animal) and the top-k classes from ImageNet-1k logits.

    Runs on whatever device the logits are on, so only a few numbers per image travel
    back to the host.

    Parameters
    ----------
    logits : torch.Tensor, shape (N, 1000)
        Class scores before the softmax (any float dtype; computed in float32).
    k : int
        Number of top classes to keep.

    Returns
    -------
    p_animal : torch.Tensor of float32, shape (N,)
        Softmax probability summed over the animal classes 0–397.
    top_idx : torch.Tensor of int64, shape (N, k)
        Indices of the k most probable classes, most probable first.
    top_p : torch.Tensor of float32, shape (N, k)
        Their probabilities.

    Examples
    --------
    A confident "tabby" (class 281, an animal) and a less confident "pickup" (717):

    >>> import torch
    >>> logits = torch.zeros(2, 1000)
    >>> logits[0, 281], logits[1, 717] = 10.0, 8.0
    >>> p_animal, top_idx, top_p = animal_evidence(logits, k=1)
    >>> [round(p, 3) for p in p_animal.tolist()], top_idx.tolist()
    ([0.974, 0.1], [[281], [717]])
    >>> [round(p, 3) for p in top_p[:, 0].tolist()]
    [0.957, 0.749]
    """
    if logits.ndim != 2 or logits.shape[1] != N_CLASSES:
        raise ValueError(f"expected logits of shape (N, {N_CLASSES}), got {tuple(logits.shape)}")
    # float32 for the softmax: half-precision logits from autocast would round the sum.
    prob = torch.softmax(logits.float(), dim=1)
    # a sum of probabilities is never negative, but float rounding can take it past 1
    p_animal = prob[:, ANIMAL_CLASSES].sum(dim=1).clamp_(max=1.0)
    top_p, top_idx = prob.topk(k, dim=1)
    return p_animal, top_idx, top_p


def decide(p_animal: ArrayLike, threshold: float = THRESHOLD) -> np.ndarray:
    """Answer from evidence: ``"animal"`` where ``p_animal >= threshold``.

    Parameters
    ----------
    p_animal : array_like of float, shape (N,)
    threshold : float

    Returns
    -------
    response : ndarray of str, shape (N,)
        ``"animal"`` or ``"nonanimal"``.

    Examples
    --------
    >>> decide([0.91, 0.5, 0.2]).tolist()
    ['animal', 'animal', 'nonanimal']
    >>> decide([0.91, 0.5, 0.2], threshold=0.95).tolist()
    ['nonanimal', 'nonanimal', 'nonanimal']
    """
    p = np.asarray(p_animal, dtype=float)
    return np.where(p >= threshold, "animal", "nonanimal")


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1k class names, in index order (from torchvision's metadata, offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def format_top5(top_idx: ArrayLike, top_p: ArrayLike,
                categories: list[str] | None = None) -> list[str]:  # pragma: no mutate (annotations are text)
    """The ``top5`` column: ``"285:Egyptian cat:0.7123;281:tabby:0.1500;..."`` per image.

    Parameters
    ----------
    top_idx : array_like of int, shape (N, k)
    top_p : array_like of float, shape (N, k)
    categories : list of str, optional
        Class names (default: ImageNet-1k's). None of them contains ':' or ';'.

    Returns
    -------
    list of str, length N

    Examples
    --------
    With two made-up classes (by default the names are ImageNet-1k's, e.g. ``285:Egyptian cat``):

    >>> import numpy as np
    >>> format_top5(np.array([[1, 0], [0, 1]]), np.array([[0.71234, 0.28766], [0.6, 0.4]]),
    ...             categories=["cat", "dog"])
    ['1:dog:0.7123;0:cat:0.2877', '0:cat:0.6000;1:dog:0.4000']
    """
    names = imagenet_categories() if categories is None else categories
    idx = np.asarray(top_idx)
    p = np.asarray(top_p, dtype=float)
    return [";".join(f"{i}:{names[i]}:{q:.4f}" for i, q in zip(row_i, row_p))
            for row_i, row_p in zip(idx.tolist(), p.tolist())]


def parse_top5(text: str) -> list[tuple[int, str, float]]:
    """Inverse of :func:`format_top5` for one cell: a list of ``(index, name, probability)``.

    Examples
    --------
    >>> parse_top5("285:Egyptian cat:0.7123;281:tabby:0.1500")
    [(285, 'Egyptian cat', 0.7123), (281, 'tabby', 0.15)]
    """
    out = []
    for item in str(text).split(";"):
        index, _, rest = item.partition(":")
        name, _, prob = rest.rpartition(":")
        out.append((int(index), name, float(prob)))
    return out
