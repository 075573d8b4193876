"""The ClickMe game's rounds summarised: per player, per photograph and overall (practice rounds left out).

The paper reports the share of rounds the network partner ended (47 %) and that players flagged
about 5 % of the photographs; a study checks the same on its own game, and whether a player
painted at random (few recognitions, low points) or a photograph is hard or mislabelled.
"""
from __future__ import annotations

import dataclasses

import pandas as pd

__all__ = ["GameSummary", "summarize_rounds"]


@dataclasses.dataclass
class GameSummary:
    """Tables of :func:`summarize_rounds`.

    Attributes
    ----------
    players : DataFrame
        One row per participant: rounds, recognised (share), mean_points, flagged, score,
        latency_median_s (the partner's, median over rounds), dropped_frames (sum), frames (sum).
    images : DataFrame
        One row per photograph: rounds, recognised (share), recognised_s_median, flagged.
    overall : dict
        rounds, players, recognised (share), mean_points, flagged_rounds, flagged_images,
        latency_median_s, dropped_frames_share.
    """

    players: pd.DataFrame
    images: pd.DataFrame
    overall: dict


def summarize_rounds(log: pd.DataFrame) -> GameSummary:
    """Summarise a round log (:func:`reveal.core.gamelog.read_round_log`).

    Examples
    --------
    >>> log = pd.DataFrame({"participant": ["1", "1", "2"], "practice": [0, 0, 0], "image_id": ["a", "b", "a"],
    ...                     "end_reason": ["recognised", "time", "flagged"], "points": [0.5, 0.0, 0.0],
    ...                     "score": [0.5, 0.5, 0.0], "recognised_s": [3.5, None, None],
    ...                     "latency_median_s": [0.03, 0.05, None], "frames": [210, 420, 60],
    ...                     "dropped_frames": [1, 0, 0]})
    >>> s = summarize_rounds(log)
    >>> s.players[["participant", "rounds", "recognised", "mean_points", "flagged"]].values.tolist()
    [['1', 2, 0.5, 0.25, 0], ['2', 1, 0.0, 0.0, 1]]
    >>> s.overall["recognised"], s.overall["flagged_images"]
    (0.3333333333333333, 1)
    """
    rounds = log[log["practice"] == 0].copy()
    rounds["recognised"] = rounds["end_reason"] == "recognised"
    rounds["flagged"] = rounds["end_reason"] == "flagged"
    players = rounds.groupby("participant", sort=True).agg(
        rounds=("end_reason", "size"), recognised=("recognised", "mean"), mean_points=("points", "mean"),
        flagged=("flagged", "sum"), score=("score", "last"), latency_median_s=("latency_median_s", "median"),
        dropped_frames=("dropped_frames", "sum"), frames=("frames", "sum")).reset_index()
    images = rounds.groupby("image_id", sort=True).agg(
        rounds=("end_reason", "size"), recognised=("recognised", "mean"),
        recognised_s_median=("recognised_s", "median"), flagged=("flagged", "sum")).reset_index()
    for table in (players, images):
        table["flagged"] = table["flagged"].astype(int)
        table["rounds"] = table["rounds"].astype(int)
    frames = rounds["frames"].sum()
    overall = {"rounds": int(len(rounds)), "players": int(players.shape[0]),
               "recognised": float(rounds["recognised"].mean()) if len(rounds) else float("nan"),
               "mean_points": float(rounds["points"].mean()) if len(rounds) else float("nan"),
               "flagged_rounds": int(rounds["flagged"].sum()), "flagged_images": int((images["flagged"] > 0).sum()),
               "latency_median_s": float(rounds["latency_median_s"].median()),
               "dropped_frames_share": float(rounds["dropped_frames"].sum() / frames) if frames else float("nan")}
    return GameSummary(players, images, overall)
