"""Scripted players of the ClickMe game: rounds played without a window, for demos and tests.

A scripted player knows where a photograph matters from an importance map it is given (the demo
gives it a bottom-up saliency map): its cursor starts on one of the map's top 5 % of pixels and
wanders from there, each step 4–8 px towards another pixel drawn from that top 5 %, one step per
frame of a 60 Hz display; its first position is its click on the photograph. The partner is
asked for its top 5 whenever 100 ms of the round have passed and new bubbles were placed (a
synchronous call standing in for the lab's partner thread, so a seeded game is reproducible).

Rounds go through the same rules (:class:`reveal.experiments.game.GameRound`) and the same
records (:func:`reveal.experiments.game.round_records`) as the lab game's, and the rows go to the
same files (a ClickMe click dump and a round log).
"""
from __future__ import annotations

import dataclasses
import datetime
import time

import numpy as np

from ..core.gamelog import append_round
from ..core.seeding import as_generator, derive_rng
from ..stimuli.loaders.clickme import append_click_rows
from .game import GameRound, GameRules, player_images, round_records

__all__ = ["ScriptedPhoto", "scripted_path", "play_round", "play_scripted"]

FRAME_HZ = 60.0
ASK_EVERY_S = 0.1
TOP_SHARE = 0.05


@dataclasses.dataclass(frozen=True)
class ScriptedPhoto:
    """A photograph of a scripted game: what the rounds need and the map the player paints by."""

    image_id: str
    image_file: str
    imagenet_class: int
    label: str
    photo: np.ndarray  # uint8 (256, 256, 3)
    importance: np.ndarray  # float (256, 256)


def scripted_path(importance, n_steps, rng=None):
    """A cursor path through the top 5 % of an importance map (its pixels above its minimum), in frame pixels.

    Parameters
    ----------
    importance : ndarray, shape (256, 256)
    n_steps : int
    rng : None, int or numpy.random.Generator

    Returns
    -------
    ndarray of float, shape (n_steps, 2)
        x, y of the cursor at each frame.

    Examples
    --------
    >>> imp = np.zeros((256, 256)); imp[40:60, 200:220] = 1
    >>> path = scripted_path(imp, 120, rng=0)
    >>> bool(((path[:, 0] >= 190) & (path[:, 0] <= 230) & (path[:, 1] >= 30) & (path[:, 1] <= 70)).all())
    True
    """
    rng = as_generator(rng)
    flat = np.asarray(importance, float).ravel()
    threshold = np.quantile(flat, 1 - TOP_SHARE)
    # the top 5 %, but never the map's floor: a small object's map is mostly its minimum
    top = np.flatnonzero(flat >= threshold if threshold > flat.min() else flat > flat.min())
    if len(top) == 0:  # a flat map: anywhere
        top = np.arange(flat.size)
    w = importance.shape[1]
    targets = np.column_stack([top % w, top // w]).astype(float)
    pos = targets[rng.integers(len(targets))].copy()
    path = np.empty((n_steps, 2))
    goal = targets[rng.integers(len(targets))]
    for i in range(n_steps):
        path[i] = pos
        gap = goal - pos
        dist = float(np.hypot(*gap))
        if dist < 4:
            goal = targets[rng.integers(len(targets))]
            continue
        pos = pos + gap / dist * min(dist, rng.uniform(4, 8))
    return path


@dataclasses.dataclass(frozen=True)
class _Answer:
    latency: float


def play_round(photo: ScriptedPhoto, ask, rules=GameRules(), rng=None):
    """One round played by a script: the ended round, the partner's answers (their latencies), the frame times.

    ``ask(photo, mask)`` returns the partner's top classes for the photograph seen through
    ``mask`` (e.g. ``lambda p, m: reveal.models.partner.partner_top(net, p, m)[0]``).
    """
    rect = (0, 0, 256, 256)  # the cursor path is in frame pixels: a window that is the photograph
    rnd = GameRound(rect, rules)
    n_steps = int(np.ceil(rules.round_s * FRAME_HZ)) + 1
    path = scripted_path(photo.importance, n_steps, rng)
    answers, last_ask, asked_bubbles = [], -np.inf, 0
    for i, (x, y) in enumerate(path):
        t = i / FRAME_HZ
        rnd.update(t, (x + 0.5, y + 0.5), pressed=i == 0)
        if rnd.n_bubbles > asked_bubbles and t - last_ask >= ASK_EVERY_S:
            last_ask, asked_bubbles = t, rnd.n_bubbles
            began = time.perf_counter()
            top = ask(photo.photo, rnd.partner_mask)
            answers.append(_Answer(time.perf_counter() - began))
            rnd.answer(t, top, photo.imagenet_class)
        rnd.tick(t)
        if rnd.end_reason is not None:
            break
    return rnd, answers, (np.arange(i + 1) / FRAME_HZ).tolist()


def play_scripted(photos, ask, *, players, n_per_player=None, rules=GameRules(), seed=0, dump_path, log_path,
                  start=None):
    """Scripted players ``0 .. players-1`` play their balanced photographs; rows appended to the two files.

    Returns
    -------
    int
        Rounds played.
    """
    n_per_player = len(photos) if n_per_player is None else n_per_player
    start = start or datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    rounds = 0
    for player in range(players):
        score = 0.0
        for k, index in enumerate(player_images(len(photos), player, n_per_player, seed=seed), start=1):
            photo = photos[int(index)]
            rnd, asked, flips = play_round(photo, ask, rules, derive_rng(seed, "scripted", player, photo.image_id))
            score += rnd.points
            started = (start + datetime.timedelta(minutes=player, seconds=10 * k)).isoformat(timespec="milliseconds")
            dump_row, log_row = round_records(
                rnd, participant=f"script{player:02d}", round_no=k, practice=False, image_id=photo.image_id,
                image_file=photo.image_file, label=photo.label, imagenet_class=photo.imagenet_class,
                started=started, answers=asked, flip_times=flips, refresh_hz=FRAME_HZ,
                score=score)
            if dump_row is not None:
                append_click_rows(dump_path, [dump_row])
            append_round(log_path, log_row)
            rounds += 1
    return rounds
