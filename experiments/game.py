"""The ClickMe game's rules: which photographs a player gets, and one round as the cursor moves.

A round (Linsley et al. 2019, section 2): the photograph with its label above it; the player's
first click on the photograph starts the painting, and from then on a translucent bubble is
placed wherever the cursor goes until the round ends: when the network partner, which sees only
the bubbled parts, has the photograph's class among its top 5 (points: the share of the round's
time left), when the time is up (no points), or when the player flags the photograph.

Bubbles are placed every ``spacing`` pixels of the path the cursor travels (7, the original
game's largest spacing), wherever the hand's speed: a slow hand leaves no denser map than a
fast one, a resting cursor none, and a fast stroke no gaps (7 < 14, the bubble's width). The
path is followed in the photograph's frame (``bubbles.to_frame``), and a bubble that would fall
outside the photograph is not placed, so a path that never enters it leaves none.

This module is pure (no PsychoPy, no network): the compiled lab script calls it every frame, and
the partner is whatever object has ``submit`` / ``latest`` (:class:`reveal.models.partner.PartnerThread`).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.seeding import derive_rng
from ..stimuli.loaders.clickme import CLICKME_SHAPE
from .bubbles import PARTNER_BUBBLE, PLAYER_BUBBLE, to_frame

__all__ = ["GameRules", "END_REASONS", "GameRound", "player_images", "player_number", "round_points",
           "round_records"]

#: Why a round ended.
END_REASONS = ("recognised", "time", "flagged")


@dataclasses.dataclass(frozen=True)
class GameRules:
    """The game's settings (the paper's by default).

    Attributes
    ----------
    round_s : float
        Round length (7 s).
    player_bubble, partner_bubble : int
        Bubble diameters in frame pixels: what the player sees (14) and the partner (21).
    spacing : float
        Path length between two bubbles, frame pixels (7).
    top_k : int
        The partner recognises the photograph when its class is among its top ``top_k`` (5).
    """

    round_s: float = 7.0
    player_bubble: int = PLAYER_BUBBLE
    partner_bubble: int = PARTNER_BUBBLE
    spacing: float = 7.0
    top_k: int = 5

    def __post_init__(self):
        if not self.round_s > 0:
            raise ValueError(f"round_s must be > 0, got {self.round_s}")
        if not (1 <= self.player_bubble <= 128 and 1 <= self.partner_bubble <= 128):
            raise ValueError("bubble diameters must be 1-128 px of the 256-px photograph")
        if not 1 <= self.spacing <= self.player_bubble:
            raise ValueError(f"spacing must be 1 to the player's bubble ({self.player_bubble} px), so that "
                             f"strokes leave no gaps; got {self.spacing}")


def round_points(recognised_at, round_s):
    """Points of a round: the share of the round's time left when the partner recognised the photograph.

    Parameters
    ----------
    recognised_at : float or None
        Seconds from the round's start to the recognition; None: not recognised (0 points).
    round_s : float

    Examples
    --------
    >>> round_points(1.75, 7.0), round_points(None, 7.0), round_points(7.0, 7.0)
    (0.75, 0.0, 0.0)
    """
    if recognised_at is None:
        return 0.0
    return float(min(1.0, max(0.0, 1.0 - recognised_at / round_s)))


def player_number(participant, cycle):
    """The player number of a participant id, 0 <= number < ``cycle``.

    The rule of the rapid-categorization lists (``design.participant_list``): the id's ASCII
    digits read as one decimal number, modulo ``cycle`` digit by digit (JavaScript needs no big
    numbers for it); an id without digits (a panel's hexadecimal id may have none): the sum of its
    characters' code points. Ids 1, 2, 3 ... are players 1, 2, 3 ...

    Pure Python with no imports: the compiled game copies this function's source.

    Examples
    --------
    >>> player_number("007", 10), player_number("p12", 10), player_number("ab", 10)
    (7, 2, 5)
    """
    index = -1
    for c in str(participant):
        if '0' <= c <= '9':
            index = (max(index, 0) * 10 + (ord(c) - 48)) % cycle
    if index < 0:
        index = 0
        for c in str(participant):
            index = (index + ord(c)) % cycle
    return index


def player_images(n_images, player, n_per_player, seed=0):
    """The photographs (indices) a player plays, in the order played.

    The photographs are put in one seeded order, and player ``p`` plays the ``n_per_player``
    that follow player ``p - 1``'s, wrapping round: over consecutive players every photograph
    is played equally often (±1), as the experiment's lists balance its conditions. Each
    player's order is then shuffled with a seed derived from the player.

    Parameters
    ----------
    n_images : int
    player : int
        0-based player number (``reveal game`` derives it from the participant id).
    n_per_player : int
        At most ``n_images``: nobody plays a photograph twice.
    seed : int

    Returns
    -------
    ndarray of int, shape (n_per_player,)

    Examples
    --------
    >>> counts = np.bincount(np.concatenate([player_images(10, p, 4) for p in range(5)]), minlength=10)
    >>> counts.tolist()
    [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    """
    if not 1 <= n_per_player <= n_images:
        raise ValueError(f"images per player must be 1 to the number of photographs ({n_images}), got {n_per_player}")
    order = derive_rng(seed, "game-order").permutation(n_images)
    start = (int(player) * n_per_player) % n_images
    mine = order[(start + np.arange(n_per_player)) % n_images]
    return derive_rng(seed, "game-player", int(player)).permutation(mine)


def _disk(diameter):
    # as bubbles.bubble_mask: pixels within diameter/2 of the centre, `diameter` across
    c = (diameter - 1) / 2
    yy, xx = np.mgrid[:diameter, :diameter]
    return (yy - c) ** 2 + (xx - c) ** 2 <= (diameter / 2) ** 2


def _stamp(mask, disk, x, y):
    """OR a disk centred on pixel (x, y) into mask, clipped at the edges (in place).

    Per bubble, not ``bubble_mask`` of all clicks each frame: a frame must not redo the whole round.
    """
    d = disk.shape[0]
    top, left = y - d // 2, x - d // 2  # as bubble_mask: an even disk sits half a pixel up and left
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + d, mask.shape[0]), min(left + d, mask.shape[1])
    mask[t0:t1, l0:l1] |= disk[t0 - top:t1 - top, l0 - left:l1 - left]


class GameRound:
    """One round, fed the cursor every frame.

    Parameters
    ----------
    image_rect : (left, top, width, height)
        Where the photograph is drawn, in window pixels (origin top left, y down).
    rules : GameRules
    frame : (H, W)
        The photograph's frame (256 × 256).

    Examples
    --------
    A click on the photograph, then a 70-px stroke to the right: 11 bubbles 7 px apart.

    >>> r = GameRound((100, 100, 256, 256), GameRules())
    >>> r.update(0.5, (150, 200), pressed=False).shape   # no click yet: no painting
    (0, 2)
    >>> r.update(0.6, (150, 200), pressed=True).tolist()
    [[50, 100]]
    >>> r.update(0.7, (220, 200), pressed=False)[:, 0].tolist()
    [57, 64, 71, 78, 85, 92, 99, 106, 113, 120]
    >>> r.n_bubbles, round(float(r.player_mask.mean()), 3) > 0
    (11, True)
    """

    def __init__(self, image_rect, rules=GameRules(), frame=CLICKME_SHAPE):
        self.rules = rules
        self.image_rect = tuple(image_rect)
        self.frame = tuple(frame)
        self.painting_since = None
        self.clicks = []  # bubble centres (x, y) in frame pixels, in the order placed
        self.player_mask = np.zeros(self.frame, bool)
        self.partner_mask = np.zeros(self.frame, bool)
        self._player_disk = _disk(rules.player_bubble)
        self._partner_disk = _disk(rules.partner_bubble)
        self._last = None  # the last cursor position, frame pixels (float)
        self._since = 0.0  # path length travelled since the last bubble
        self.end_reason = None
        self.ended_at = None
        self.recognised_at = None
        self.top = None  # the partner's last answer (class indices)

    @property
    def n_bubbles(self):
        return len(self.clicks)

    def _place(self, points):
        h, w = self.frame
        out = []
        # half up (not numpy's half to even): a stroke along a pixel edge gives evenly spaced centres
        for x, y in np.floor(np.asarray(points) + 0.5).astype(np.int64):
            if 0 <= x < w and 0 <= y < h:
                out.append((int(x), int(y)))
                _stamp(self.player_mask, self._player_disk, x, y)
                _stamp(self.partner_mask, self._partner_disk, x, y)
        self.clicks.extend(out)
        return np.array(out, dtype=np.int64).reshape(-1, 2)

    def update(self, t, cursor, pressed):
        """The cursor at time ``t`` (s from the round's start): the bubbles it placed, (M, 2) x, y.

        Painting starts at the first press with the cursor on the photograph; after that every
        position counts, button held or not, until the round ends.
        """
        if self.end_reason is not None:
            return np.zeros((0, 2), np.int64)
        p = to_frame(np.asarray(cursor, float).reshape(1, 2), self.image_rect, self.frame)[0]
        h, w = self.frame
        if self.painting_since is None:
            if not (pressed and 0 <= p[0] < w and 0 <= p[1] < h):
                return np.zeros((0, 2), np.int64)
            self.painting_since, self._last, self._since = t, p, 0.0
            return self._place(p[None])
        a, self._last = self._last, p
        dx, dy = float(p[0] - a[0]), float(p[1] - a[1])
        # sqrt of the sum, not hypot: IEEE sqrt is exact in both languages, so the browser's port
        # (templates/game_rules.js) places the very same bubbles
        length = math.sqrt(dx * dx + dy * dy)
        if length == 0:
            return np.zeros((0, 2), np.int64)
        step = self.rules.spacing
        first = step - self._since  # where along this segment bubbles fall: first, first + step, ...
        count = math.floor((length + 1e-9 - first) / step) + 1 if first <= length + 1e-9 else 0
        s = first + step * np.arange(count)  # (not np.arange(first, ...): its steps are rounded otherwise)
        self._since = length - s[-1] if count else self._since + length
        return self._place(a + np.outer(s / length, p - a))

    def answer(self, t, top_idx, target_class):
        """The partner's answer at ``t``: ends the round as recognised if the class is in its top k."""
        if self.end_reason is not None:
            return
        self.top = [int(i) for i in top_idx]
        if int(target_class) in self.top[:self.rules.top_k]:
            self._end(t, "recognised")
            self.recognised_at = t

    def tick(self, t):
        """The clock at ``t``: ends the round when its time is up. Returns the seconds left."""
        if self.end_reason is None and t >= self.rules.round_s:
            self._end(t, "time")
        return max(0.0, self.rules.round_s - t)

    def flag(self, t):
        """The player flagged the photograph (poor quality or wrong label): the round ends."""
        if self.end_reason is None:
            self._end(t, "flagged")

    def _end(self, t, reason):
        self.end_reason, self.ended_at = reason, float(t)

    @property
    def points(self):
        return round_points(self.recognised_at, self.rules.round_s)


def round_records(rnd, *, participant, round_no, practice, image_id, image_file, label, imagenet_class, started,
                  answers, flip_times, refresh_hz, score):
    """The data of a finished round: its click-dump row (or None) and its round-log row.

    Practice and flagged rounds, and rounds without a bubble, give no dump row (a flagged
    photograph is poor or wrongly labelled: its map is not kept).

    Parameters
    ----------
    rnd : GameRound
        Ended (``end_reason`` set).
    participant : str
    round_no : int
        0 for the practice round, 1, 2 ... after it.
    practice : bool
    image_id, image_file, label, imagenet_class
        The photograph (``image_file`` as the dump's ``image_path``).
    started : str
        ISO 8601 time of the round's first frame.
    answers : sequence of reveal.models.partner.Evaluation
        The partner's answers during the round (anything with ``latency``).
    flip_times : sequence of float
        Time of each frame (s).
    refresh_hz : float
    score : float
        The running score after this round.

    Returns
    -------
    dump_row : dict or None
        ``image_path, clicks, user_id, timestamp`` (``stimuli.loaders.clickme.append_click_rows``).
    log_row : dict
        The columns of ``core.gamelog.ROUND_COLUMNS``.
    """
    intervals = np.diff(np.asarray(flip_times, float))
    latencies = [a.latency for a in answers]
    dump_row = None
    if not practice and rnd.end_reason != "flagged" and rnd.n_bubbles:
        dump_row = {"image_path": image_file, "clicks": np.array(rnd.clicks), "user_id": participant,
                    "timestamp": started}
    log_row = {
        "participant": participant, "round": int(round_no), "practice": int(bool(practice)), "image_id": image_id,
        "label": label, "imagenet_class": int(imagenet_class), "started": started, "end_reason": rnd.end_reason,
        "recognised_s": None if rnd.recognised_at is None else round(float(rnd.recognised_at), 4),
        "points": round(rnd.points, 4), "score": round(float(score), 4),
        "top5": " ".join(str(i) for i in (rnd.top or [])), "bubbles": rnd.n_bubbles, "evaluations": len(answers),
        "latency_median_s": round(float(np.median(latencies)), 4) if latencies else None,
        "frames": len(flip_times), "dropped_frames": int((intervals > 1.5 / refresh_hz).sum()),
        "longest_frame_s": round(float(intervals.max()), 4) if len(intervals) else None,
        "refresh_hz": refresh_hz}
    return dump_row, log_row
