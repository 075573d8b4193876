"""The ClickMe game's painting: frames dropped while the network partner evaluates, and its latency.

A PsychoPy window (full screen; needs a display: a lab station, or ``xvfb-run`` for a rough look)
shows a photograph while a scripted cursor paints a new bubble stroke every frame, exactly the
lab game's per-frame work (``GameRound.update``, the translucent overlay composed and uploaded,
frames paced at ``--hz``). Repeats, alternating:

* **reference**: painting alone (no partner);
* **partner**: painting while :class:`reveal.models.partner.PartnerThread` evaluates the newest
  partner mask whenever it is free (the lab game's cadence).

Per run: the share of frame intervals over 1.5 frames ("dropped"), the longest interval, the
partner's evaluations and their median latency (mask handed over → answer). Medians over the
repeats. Goal (issue 29): painting never drops a frame on a lab station.

Run: ``.venv/bin/python benchmarks/bench_game.py [--frames 600] [--hz 60] [--repeats 3] [--threads N]``
"""
from __future__ import annotations

import argparse

import numpy as np


def paint(win, stim, photo, frames, hz, partner):
    from psychopy import core

    from reveal.experiments.game import GameRound, GameRules

    w, h = win.size
    rect = (w / 2 - 128, h / 2 - 128, 256, 256)
    rnd = GameRound(rect, GameRules(round_s=1e9))
    if partner is not None:
        partner.start_round(photo.astype(np.uint8), 282)
    clock, next_flip, times = core.Clock(), 0.0, []
    tint = np.array([0.2, 0.6, 1.0]) * 255
    for i in range(frames):
        x = rect[0] + 10 + (i * 3) % 236
        y = rect[1] + 10 + ((i * 3) // 236 * 24) % 236
        new = rnd.update(i / hz, (x, y), pressed=i == 0)
        if len(new):
            if partner is not None:
                partner.submit(rnd.partner_mask, rnd.n_bubbles)
            m = 0.45 * rnd.player_mask[..., None]
            stim.image = np.flipud(photo * (1 - m) + tint * m) / 127.5 - 1.0
        if partner is not None:
            partner.latest()
        stim.draw()
        win.flip()
        times.append(clock.getTime())
        next_flip += 1.0 / hz
        wait = next_flip - clock.getTime()
        if wait > 0:
            core.wait(wait, hogCPUperiod=0)
        else:
            next_flip = clock.getTime()
    d = np.diff(times)
    return float((d > 1.5 / hz).mean()), float(d.max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--hz", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="the partner's PyTorch threads (default: all cores but one)")
    args = ap.parse_args()
    from psychopy import visual
    from skimage import data

    from reveal.models import load_observer
    from reveal.models.partner import PartnerNet, PartnerThread
    from reveal.stimuli.geometry import fit_image

    photo = fit_image(data.chelsea(), 256).astype(float)
    net = PartnerNet(load_observer())
    win = visual.Window(fullscr=True, units="pix", allowGUI=False, color=(0.2, 0.2, 0.2))
    stim = visual.ImageStim(win, image=np.flipud(photo) / 127.5 - 1.0, size=(256, 256), units="pix")
    rows = {"reference": [], "partner": []}
    for _ in range(args.repeats):
        rows["reference"].append((*paint(win, stim, photo, args.frames, args.hz, None), 0, float("nan")))
        partner = PartnerThread(net, threads=args.threads)
        try:
            dropped, longest = paint(win, stim, photo, args.frames, args.hz, partner)
        finally:
            partner.close()
        rows["partner"].append((dropped, longest, len(partner.latencies), float(np.median(partner.latencies))))
    win.close()
    for name, runs in rows.items():
        med = np.median(np.array(runs, float), axis=0)
        print(f"{name:9s}: dropped {med[0]:.1%} of frames, longest {med[1] * 1000:.1f} ms, "
              f"evaluations {med[2]:.0f}, latency median {med[3] * 1000:.1f} ms   (medians of {args.repeats})")
    ref, par = (np.median([r[0] for r in rows[k]]) for k in ("reference", "partner"))
    print(f"dropped frames, partner / reference: {par:.1%} / {ref:.1%}")


if __name__ == "__main__":
    main()
