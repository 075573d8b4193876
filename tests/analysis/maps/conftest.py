"""Synthetic ClickMe click dumps with a known structure, written as real files."""
from __future__ import annotations

import csv

import numpy as np


def make_clicks(rng, image_ids, n_participants=8, n_clicks=15, spread=18.0, shape=(256, 256)):
    """Participants click around an image-specific centre: ``image_id -> {user: (N, 2) [x, y]}``."""
    h, w = shape
    out = {}
    for image_id in image_ids:
        margin = min(50, h // 4, w // 4)
        centre = rng.uniform([margin, margin], [w - margin, h - margin])
        users = {}
        for u in range(n_participants.get(image_id, 8) if isinstance(n_participants, dict) else n_participants):
            pts = np.rint(rng.normal(centre, spread, (n_clicks, 2))).astype(int)
            users[f"u{u:02d}"] = np.clip(pts, 0, [w - 1, h - 1])
        out[image_id] = users
    return out


def write_click_csv(path, clicks):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_path", "clicks", "user_id", "timestamp"])
        for image_id, users in clicks.items():
            for user, pts in users.items():
                text = "{" + ",".join(f'"({x},{y})"' for x, y in pts) + "}"
                writer.writerow([f"train/{image_id}.JPEG", text, user, "2017-01-01 00:00:00"])
    return path


def write_click_npz(path, clicks):
    files, xs, ys, users = [], [], [], []
    for image_id, per_user in clicks.items():
        for user, pts in per_user.items():
            files.append(f"{image_id}.png")
            xs.append(pts[:, 0])
            ys.append(pts[:, 1])
            users.append(user)
    np.savez(path, file_pointer=np.array(files), clickmap_x=np.concatenate(xs), clickmap_y=np.concatenate(ys),
             clicks_per_trial=np.array([len(x) for x in xs]), user_id=np.array(users))
    return path

