"""The ClickMe game's network partner: it sees the photograph only through the bubbles and names 5 classes.

In the game (Linsley et al. 2019, section 2) a network tries to recognise the photograph while
the player paints: it sees only the bubbled parts (each bubble about 21 px across), and the
round ends when the photograph's class is among its 5 most probable. Here that view is part of
the network: :class:`PartnerNet` takes the photograph and the bubble mask and composes the
view itself, so the lab (PyTorch) and the browser (the same module exported to ONNX) apply the
very same pre-processing. Hidden pixels are the network's mean colour, which its normalisation
maps to 0: no evidence, and no edge of a grey or black card for the network to read.

The lab game paints on its drawing thread; :class:`PartnerThread` evaluates the newest mask
on a thread of its own (PyTorch's kernels release the GIL), so a slow evaluation never holds
up a frame: masks that arrive while it is busy are replaced by newer ones, never queued.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time

import numpy as np
from . import _requires  # noqa: F401  (first: without torch, the models extra's message)
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError
from .readout import animal_evidence

__all__ = ["GAME_FRAME", "TOP_K", "PartnerNet", "Evaluation", "PartnerThread", "check_classes", "export_onnx",
           "partner_top"]

#: The photograph's frame in the game (ClickMe's 256 × 256).
GAME_FRAME = 256
#: A round ends when the photograph's class is among the network's TOP_K most probable.
TOP_K = 5


class PartnerNet(nn.Module):
    """An observer's network behind the game's view: photograph and bubble mask in, logits out.

    Parameters
    ----------
    observer : reveal.models.Observer
        The network and the pre-processing it declares (resize, centre crop, normalisation).

    Notes
    -----
    ``forward(photo, mask)``: ``photo`` float32 (N, 3, 256, 256) on the 0–255 scale, ``mask``
    float32 (N, 1, 256, 256) of 0/1 (1 = under a bubble); returns logits (N, n_classes). The
    view is ``photo · mask + mean · (1 − mask)``, then the observer's own pre-processing.
    """

    def __init__(self, observer):
        super().__init__()
        self.observer = observer
        # folded batch norms (as reveal predict runs it): the same numbers, faster, and a smaller ONNX graph
        self.net = observer.prepare("cpu")
        self.register_buffer("mean", torch.tensor(observer.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("inv_std", 1.0 / torch.tensor(observer.std, dtype=torch.float32).view(1, 3, 1, 1))
        # Observer.preprocess for a GAME_FRAME-square input, its geometry worked out here once: the
        # exported graph (ONNX) then holds constants, not shape arithmetic
        target = observer.resize_size
        if target is None and GAME_FRAME < observer.crop_size:
            target = observer.crop_size
        self.resize = None if target in (None, GAME_FRAME) else int(target)
        side = self.resize or GAME_FRAME
        self.crop = (int(round((side - observer.crop_size) / 2.0)), int(observer.crop_size))

    def forward(self, photo, mask):
        view = photo * mask + self.mean * (1.0 - mask)
        if self.resize is not None:
            view = F.interpolate(view, size=(self.resize, self.resize), mode=self.observer.interpolation,
                                 antialias=True, align_corners=False)
        top, c = self.crop
        view = view[..., top:top + c, top:top + c]
        return self.net((view - self.mean) * self.inv_std)


def _as_inputs(photo, mask):
    photo = np.asarray(photo)
    mask = np.asarray(mask)
    if photo.shape != (GAME_FRAME, GAME_FRAME, 3) or mask.shape != (GAME_FRAME, GAME_FRAME):
        raise ValueError(f"expected a ({GAME_FRAME}, {GAME_FRAME}, 3) photograph and a ({GAME_FRAME}, "
                         f"{GAME_FRAME}) mask, got {photo.shape} and {mask.shape}")
    x = torch.from_numpy(np.ascontiguousarray(photo.transpose(2, 0, 1), dtype=np.float32))[None]
    m = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
    return x, m


def partner_top(net, photo, mask, k=TOP_K):
    """The partner's k most probable classes for a photograph seen through a bubble mask.

    Parameters
    ----------
    net : PartnerNet
    photo : ndarray of uint8, shape (256, 256, 3)
    mask : ndarray of bool, shape (256, 256)
        True under the partner's bubbles (:func:`reveal.experiments.bubbles.bubble_mask`).
    k : int

    Returns
    -------
    top_idx : ndarray of int64, shape (k,)
        Class indices, most probable first.
    top_p : ndarray of float32, shape (k,)
        Their softmax probabilities.

    Examples
    --------
    Without a bubble every photograph is the same grey, so the answer is the network's guess for grey:

    >>> from reveal.models import load_observer
    >>> net = PartnerNet(load_observer("efficientnet_lite0"))
    >>> noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    >>> top_idx, top_p = partner_top(net, noise, np.zeros((256, 256), bool))
    >>> top_idx.shape, bool((np.diff(top_p) <= 0).all())
    ((5,), True)
    >>> bool((top_idx == partner_top(net, noise // 2, np.zeros((256, 256), bool))[0]).all())
    True
    """
    x, m = _as_inputs(photo, mask)
    with torch.inference_mode():
        _, top_idx, top_p = animal_evidence(net(x, m), k=k)
    return top_idx[0].numpy(), top_p[0].numpy()


def check_classes(net, classes, source=None):
    """Refuse photographs whose class the partner's network does not have.

    Parameters
    ----------
    net : PartnerNet
    classes : dict
        ``image_id -> class index``.
    source : path-like, optional
        The file the classes came from, named in the error.

    Raises
    ------
    InputError
        Naming the first image whose class index is not among the network's outputs.
    """
    with torch.inference_mode():
        n_classes = net(torch.zeros(1, 3, GAME_FRAME, GAME_FRAME), torch.zeros(1, 1, GAME_FRAME, GAME_FRAME)).shape[1]
    for row, (image_id, cls) in enumerate(classes.items(), start=1):
        if not 0 <= int(cls) < n_classes:
            raise InputError(f"image {image_id!r} has class {cls}, but the partner network "
                             f"{net.observer.name!r} has classes 0-{n_classes - 1} only", source, row)
    return n_classes


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One evaluation of the partner during a round.

    Attributes
    ----------
    round_id : int
        The round it belongs to (:meth:`PartnerThread.start_round`'s return value).
    n_bubbles : int
        How many bubbles the evaluated mask held.
    top_idx, top_p : ndarray, shape (k,)
    recognised : bool
        Whether the round's class is among ``top_idx``.
    submitted, finished : float
        ``time.perf_counter()`` when the mask was handed over and when the answer was ready.
    """

    round_id: int
    n_bubbles: int
    top_idx: np.ndarray
    top_p: np.ndarray
    recognised: bool
    submitted: float
    finished: float

    @property
    def latency(self):
        """Seconds from handing the mask over to the answer (waiting for a busy partner included)."""
        return self.finished - self.submitted


class PartnerThread:
    """The partner evaluating off the drawing thread: submit masks, poll for the newest answer.

    Parameters
    ----------
    net : PartnerNet
    threads : int, optional
        PyTorch's intra-op threads; default all cores but one, which is left to the drawing.
    k : int

    Examples
    --------
    >>> partner = PartnerThread(net)                      # doctest: +SKIP
    >>> rid = partner.start_round(photo, target_class=281)  # doctest: +SKIP
    >>> partner.submit(mask, n_bubbles=12)                # each frame with new bubbles  # doctest: +SKIP
    >>> ev = partner.latest()                              # None until an answer for this round  # doctest: +SKIP
    """

    def __init__(self, net, *, threads=None, k=TOP_K):
        self.net = net
        self.k = k
        torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) - 1))
        self._cond = threading.Condition()
        self._pending = None  # (round_id, mask, n_bubbles, submitted): only the newest is kept
        self._result = None
        self._error = None
        self._round = (0, None, None)  # (round_id, photo tensor, class)
        self._closed = False
        self._evaluating = False
        self.latencies = []  # seconds, every evaluation of this session
        self._thread = threading.Thread(target=self._work, name="reveal-partner", daemon=True)
        self._thread.start()

    def start_round(self, photo, target_class):
        """A new photograph: forget the previous round's mask and answer. Returns the round's id."""
        x, _ = _as_inputs(photo, np.zeros((GAME_FRAME, GAME_FRAME), bool))
        with self._cond:
            round_id = self._round[0] + 1
            self._round = (round_id, x, int(target_class))
            self._pending = self._result = None
        return round_id

    def submit(self, mask, n_bubbles):
        """Hand over the newest mask (never blocks; a mask not yet started is replaced)."""
        m = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
        with self._cond:
            self._pending = (self._round[0], m, int(n_bubbles), time.perf_counter())
            self._cond.notify_all()  # the worker, and any wait() caller

    def latest(self):
        """The newest answer of the current round, or None; re-raises an error of the worker."""
        with self._cond:
            if self._error is not None:
                raise RuntimeError("the network partner failed") from self._error
            return self._result

    def busy(self):
        """Whether a mask is waiting or being evaluated."""
        with self._cond:
            return self._pending is not None or self._evaluating

    def wait(self, timeout=10.0):
        """Block until no mask is waiting or being evaluated (scripts and tests; never the drawing loop).

        Returns the newest answer of the current round, as :meth:`latest`.
        """
        end = time.perf_counter() + timeout
        with self._cond:
            while (self._pending is not None or self._evaluating) and self._error is None:
                left = end - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"the network partner gave no answer within {timeout} s")
                self._cond.wait(left)
        return self.latest()

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()  # the worker, and any wait() caller
        self._thread.join(timeout=10)

    def _work(self):
        try:  # the drawing comes first: this thread (and the kernels it runs itself) at the lowest priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # not Linux: priorities are per process there
            pass
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                round_id, m, n_bubbles, submitted = self._pending
                _, x, target = self._round
                self._pending = None
                self._evaluating = True
            try:
                with torch.inference_mode():
                    _, top_idx, top_p = animal_evidence(self.net(x, m), k=self.k)
            except Exception as err:  # handed to the drawing thread by latest(): a dead partner must not go unseen
                with self._cond:
                    self._error, self._evaluating = err, False
                    self._cond.notify_all()
                return
            finished = time.perf_counter()
            top_idx, top_p = top_idx[0].numpy(), top_p[0].numpy()
            with self._cond:
                self._evaluating = False
                self.latencies.append(finished - submitted)
                if round_id == self._round[0]:  # an answer for a round already over is dropped
                    self._result = Evaluation(round_id, n_bubbles, top_idx, top_p, bool(target in top_idx),
                                              submitted, finished)
                self._cond.notify_all()



def export_onnx(net, path, opset=17):
    """The partner network as an ONNX file, for the browser (onnxruntime-web).

    Inputs ``photo`` float32 (1, 3, 256, 256) on the 0–255 scale and ``mask`` float32
    (1, 1, 256, 256); output ``logits`` (1, n_classes). The view through the bubbles and the
    network's pre-processing are in the graph (:class:`PartnerNet`), so the page only lays out
    the pixels (``experiments/templates/game_partner.js``). The legacy TorchScript exporter
    (``dynamo=False``): one static graph, which onnxruntime-web's wasm backend runs as it is.

    Parameters
    ----------
    net : PartnerNet
    path : path-like
    opset : int

    Returns
    -------
    pathlib.Path
    """
    from pathlib import Path

    from ..core.extras import MissingExtraError
    from ..core.outputs import atomic_write

    try:  # torch's exporter writes through it; installed with the models extra
        import onnx  # noqa: F401
    except ImportError:
        raise MissingExtraError("models", "onnx", "the game's ONNX export") from None
    path = Path(path)
    example = (torch.zeros(1, 3, GAME_FRAME, GAME_FRAME), torch.ones(1, 1, GAME_FRAME, GAME_FRAME))
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.onnx")
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(net.eval(), example, str(tmp), input_names=["photo", "mask"], output_names=["logits"],
                              dynamo=False, opset_version=opset)
        atomic_write(path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return path
