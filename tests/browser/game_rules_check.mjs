// Runs the browser's game rules (REVEAL_GAME_RULES_JS, the export's own module) on cursor paths:
// node game_rules_check.mjs CASES.json -> JSON list of {clicks, player, partner, end} per case
// (masks as strings of 0/1, row by row).
import { readFileSync } from 'node:fs';

const { GameRound } = await import(process.env.REVEAL_GAME_RULES_JS);
const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = cases.map(({ rect, rules, samples }) => {
  const r = new GameRound(rect, rules);
  for (const [t, x, y, pressed] of samples) {
    r.update(t, x, y, Boolean(pressed));
    r.tick(t);
  }
  return { clicks: r.clicks, player: r.playerMask.join(''), partner: r.partnerMask.join(''), end: r.endReason };
});
console.log(JSON.stringify(out));
