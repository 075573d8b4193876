// The ClickMe game's round rules for the browser: a line-by-line port of
// reveal.experiments.game.GameRound (Python), so the online game places the very same bubbles
// as the lab game for the same cursor positions (tests/experiments/test_game_rules_js.py runs
// both on the same paths and compares clicks and masks).

export const FRAME = 256;

function disk(diameter) {
  // pixels within diameter/2 of the centre: `diameter` across (as bubbles.bubble_mask)
  const c = (diameter - 1) / 2;
  const out = new Uint8Array(diameter * diameter);
  for (let y = 0; y < diameter; y++) {
    for (let x = 0; x < diameter; x++) {
      out[y * diameter + x] = (y - c) ** 2 + (x - c) ** 2 <= (diameter / 2) ** 2 ? 1 : 0;
    }
  }
  return out;
}

function stamp(mask, d, diameter, x, y) {
  const top = y - Math.floor(diameter / 2);
  const left = x - Math.floor(diameter / 2);
  for (let j = Math.max(top, 0); j < Math.min(top + diameter, FRAME); j++) {
    for (let i = Math.max(left, 0); i < Math.min(left + diameter, FRAME); i++) {
      if (d[(j - top) * diameter + (i - left)]) mask[j * FRAME + i] = 1;
    }
  }
}

export function roundPoints(recognisedAt, roundS) {
  if (recognisedAt === null) return 0;
  return Math.min(1, Math.max(0, 1 - recognisedAt / roundS));
}

export class GameRound {
  // imageRect: [left, top, width, height] in window pixels (origin top left, y down)
  constructor(imageRect, rules) {
    this.rules = { roundS: 7, playerBubble: 14, partnerBubble: 21, spacing: 7, topK: 5, ...rules };
    this.imageRect = imageRect;
    this.paintingSince = null;
    this.clicks = [];
    this.playerMask = new Uint8Array(FRAME * FRAME);
    this.partnerMask = new Uint8Array(FRAME * FRAME);
    this.playerDisk = disk(this.rules.playerBubble);
    this.partnerDisk = disk(this.rules.partnerBubble);
    this.last = null;
    this.since = 0;
    this.endReason = null;
    this.endedAt = null;
    this.recognisedAt = null;
    this.top = null;
  }

  get nBubbles() { return this.clicks.length; }

  toFrame(x, y) {  // bubbles.to_frame
    const [left, top, width, height] = this.imageRect;
    return [(x - left) * FRAME / width - 0.5, (y - top) * FRAME / height - 0.5];
  }

  place(points) {
    const out = [];
    for (const [px, py] of points) {
      const x = Math.floor(px + 0.5);
      const y = Math.floor(py + 0.5);
      if (x >= 0 && x < FRAME && y >= 0 && y < FRAME) {
        out.push([x, y]);
        stamp(this.playerMask, this.playerDisk, this.rules.playerBubble, x, y);
        stamp(this.partnerMask, this.partnerDisk, this.rules.partnerBubble, x, y);
      }
    }
    this.clicks.push(...out);
    return out;
  }

  update(t, cursorX, cursorY, pressed) {
    if (this.endReason !== null) return [];
    const p = this.toFrame(cursorX, cursorY);
    if (this.paintingSince === null) {
      if (!(pressed && p[0] >= 0 && p[0] < FRAME && p[1] >= 0 && p[1] < FRAME)) return [];
      this.paintingSince = t;
      this.last = p;
      this.since = 0;
      return this.place([p]);
    }
    const a = this.last;
    this.last = p;
    const dx = p[0] - a[0];
    const dy = p[1] - a[1];
    const length = Math.sqrt(dx * dx + dy * dy);
    if (length === 0) return [];
    const step = this.rules.spacing;
    const first = step - this.since;
    const count = first <= length + 1e-9 ? Math.floor((length + 1e-9 - first) / step) + 1 : 0;
    const points = [];
    for (let i = 0; i < count; i++) {
      const f = (first + step * i) / length;
      points.push([a[0] + f * dx, a[1] + f * dy]);
    }
    this.since = count ? length - (first + step * (count - 1)) : this.since + length;
    return this.place(points);
  }

  answer(t, topIdx, targetClass) {
    if (this.endReason !== null) return;
    this.top = Array.from(topIdx, Number);
    if (this.top.slice(0, this.rules.topK).includes(Number(targetClass))) {
      this.end(t, 'recognised');
      this.recognisedAt = t;
    }
  }

  tick(t) {
    if (this.endReason === null && t >= this.rules.roundS) this.end(t, 'time');
    return Math.max(0, this.rules.roundS - t);
  }

  flag(t) {
    if (this.endReason === null) this.end(t, 'flagged');
  }

  end(t, reason) {
    this.endReason = reason;
    this.endedAt = t;
  }

  get points() { return roundPoints(this.recognisedAt, this.rules.roundS); }
}
