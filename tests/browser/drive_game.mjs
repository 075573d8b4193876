#!/usr/bin/env node
// Plays the PsychoJS export of the ClickMe game (`reveal game build`) in headless Chromium, with
// a real PsychoJS build and onnxruntime-web, moving the mouse as a player would, and prints what
// happened as one JSON object.
//
//   node drive_game.mjs '{"export": "GAME_DIR", "psychojs": "VENDOR_DIR", "participant": "7", ...}'
//   node drive_game.mjs @spec.json
//
// Spec (JSON):
//   export, psychojs, participant, out, chromium, node_modules, timeout_s, viewport: as drive.mjs
//   rounds       per round in the order played (the practice round first): what the hand does,
//                {"path": [[x, y], ...], "press": true, "step_ms": 16, "steps": 4, "flag": false}
//                path: points in the photograph's 256 x 256 frame (x right, y down; outside
//                0-255 is off the photograph); press: the button goes down at the first point
//                and up at the last; steps: mouse events between two points (playwright's
//                mouse.move steps); step_ms: the pause after each point; flag: press F after
//                the path; escape: press Escape after the path (PsychoJS ends the session there);
//                screenshot: a PNG file to save the page to after the path. Rounds
//                past the list: the hand stays still (the round runs out).
//   read_ms      how long the player reads the instructions once the game has loaded (1500)
//   debug        true: the page's console in the result
//
// The driver learns where the photograph is from the game's console line "reveal: round ...
// begins: ID at [left, top, width, height]" (the photograph in the canvas's CSS pixels), and when
// a round ends from "reveal: round ends: ...". Page errors, console errors and PsychoJS's error
// dialogs fail the run.
//
// Result (JSON): ok, failures, rounds (per round: image, rect, the end line, points pressed, when
// the begin and end lines came),
// partner_loaded_ms, download (the data file PsychoJS offers), requests (files fetched from the
// export, by path; the CDN's), page_frames (frame intervals the page drew, from
// requestAnimationFrame), duration_s.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { cdnFolders, finish, libraryFiles, openBrowser, routeNetwork, startRun } from './serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const FRAME = 256;

function readSpec() {
  const arg = process.argv[2];
  if (!arg) {
    throw new Error('usage: node drive_game.mjs \'{"export": ..., "psychojs": ...}\' | @spec.json');
  }
  const spec = JSON.parse(arg.startsWith('@') ? fs.readFileSync(arg.slice(1), 'utf8') : arg);
  for (const k of ['export', 'psychojs', 'participant']) {
    if (!spec[k]) {
      throw new Error(`spec needs "${k}"`);
    }
  }
  return {
    out: null, rounds: [], debug: false, read_ms: 1500,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    node_modules: path.join(HERE, 'node_modules'),
    timeout_s: 300, viewport: { width: 640, height: 560 },
    ...spec,
  };
}

// frames the page draws (requestAnimationFrame), observed without touching the page's code
const INIT_SCRIPT = `(() => {
  const t = window.__rvFrames = [];
  const tick = (ts) => { t.push(ts); if (t.length > 100000) { t.splice(0, 50000); } requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})();`;

async function main() {
  let spec;
  try {
    spec = readSpec();
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, failures: [`bad spec: ${e.message}`] }) + '\n', () => process.exit(2));
    return;
  }
  const started = Date.now();
  const result = { ok: false, failures: [], page_errors: [], console: [], rounds: [], download: null, requests: {} };
  let fatal = null;
  const fail = (msg, isFatal = false) => {
    if (!result.failures.includes(msg)) {
      result.failures.push(msg);
    }
    if (isFatal && !fatal) {
      fatal = msg;
    }
  };
  const exportDir = path.resolve(spec.export);
  const indexHtml = fs.readFileSync(path.join(exportDir, 'index.html'), 'utf8');
  const libFiles = libraryFiles(exportDir, path.resolve(spec.psychojs), indexHtml, result, fail);
  const nm = path.resolve(spec.node_modules);
  const cdn = cdnFolders(nm);
  const { serverLog, server, base, cdnLog, blocked, profile, outDir } = await startRun(exportDir, libFiles, spec.out);
  const deadline = started + spec.timeout_s * 1000;
  const left = () => Math.max(1000, deadline - Date.now());

  // console lines of the page, in order; waiters scan them from a cursor
  const lines = [];
  const lineTimes = [];  // when each line came (ms from the driver's start)
  const waitLine = async (re, from, ms, what) => {
    const until = Date.now() + ms;
    for (;;) {
      for (let i = from; i < lines.length; i++) {
        const m = lines[i].match(re);
        if (m) {
          m.at_ms = lineTimes[i];
        }
        if (m) {
          return [m, i];
        }
      }
      if (fatal) {
        throw new Error(fatal);
      }
      if (Date.now() > until) {
        throw new Error(`timed out after ${Math.round(ms / 1000)} s waiting for ${what}`);
      }
      await sleep(20);
    }
  };

  const { chromium } = await import(path.join(nm, 'playwright-core', 'index.mjs'));
  let context = null;
  try {
    context = await openBrowser(chromium, profile, outDir, spec);
    await context.addInitScript(INIT_SCRIPT);
    await routeNetwork(context, { base, cdn, cdnLog, blocked });
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => {
      result.page_errors.push(String(e && e.stack ? e.stack : e));
      fail(`page error: ${e}`, true);
    });
    page.on('console', (msg) => {
      const text = msg.text();
      lines.push(text);
      lineTimes.push(Date.now() - started);
      if (msg.type() === 'error') {
        fail(`console error: ${text}`, true);
      }
    });
    let download = null;
    page.on('download', async (d) => {
      const file = path.join(outDir, d.suggestedFilename());
      await d.saveAs(file);
      download = { path: file, suggested_filename: d.suggestedFilename(), bytes: fs.statSync(file).size };
    });
    // PsychoJS's error dialog
    const checkDialog = async () => {
      const title = await page.$eval('#experiment-dialog-title', (el) => `${el.className}|${el.innerText}`).catch(() => '');
      if (/dialog-error|^[^|]*\|\s*error/i.test(title)) {
        const text = await page.$eval('#experiment-dialog', (el) => el.innerText).catch(() => '');
        fail(`PsychoJS error dialog: ${text.trim()}`, true);
      }
    };

    await page.goto(`${base}index.html?participant=${encodeURIComponent(spec.participant)}`, { waitUntil: 'load', timeout: left() });
    await page.waitForSelector('#dialogOK:not(.disabled)', { timeout: Math.min(left(), 90000) });
    await page.click('#dialogOK');
    // the instructions: SPACE until the first round begins (SPACE waits for the downloads and the network)
    let cursor = 0;
    for (;;) {
      await checkDialog();
      try {
        const [m, i] = await waitLine(/^reveal: partner loaded in (\d+) ms/, 0, 500, 'the network partner');
        if (result.partner_loaded_ms === undefined) {
          result.partner_loaded_ms = Number(m[1]);
          await sleep(spec.read_ms);  // a player reads the instructions (the game measures the display meanwhile)
        }
        cursor = Math.max(cursor, i);
        await page.keyboard.press(' ');
        await waitLine(/^reveal: round \S+ begins/, cursor, 1500, 'the first round');
        break;
      } catch (e) {
        if (fatal || Date.now() > deadline) {
          throw e;
        }
      }
    }
    const box = await page.evaluate(() => {
      const c = Array.from(document.querySelectorAll('canvas')).find((el) => el.id !== 'reveal-bubbles');
      const r = c.getBoundingClientRect();
      return { left: r.left, top: r.top };
    });
    for (let n = 0; ; n++) {
      const [begin, bi] = await waitLine(/^reveal: round (\S+) begins: (\S+) at (\[.*\])$/, cursor, left(), `round ${n}`);
      const rect = JSON.parse(begin[3]);
      const round = { n, round: begin[1], image: begin[2], rect, pressed: [], begin_ms: begin.at_ms };
      result.rounds.push(round);
      const plan = spec.rounds[n] || { path: [] };
      const toPage = ([x, y]) => [box.left + rect[0] + (x + 0.5) * rect[2] / FRAME,
        box.top + rect[1] + (y + 0.5) * rect[3] / FRAME];
      const pts = (plan.path || []).map(toPage);
      const steps = plan.steps || 4;
      const stepMs = plan.step_ms === undefined ? 16 : plan.step_ms;
      if (pts.length) {
        await page.mouse.move(pts[0][0], pts[0][1]);
        await sleep(stepMs);
        if (plan.press !== false) {
          await page.mouse.down();
          await sleep(stepMs);
        }
        const ended = () => lines.slice(bi).some((l) => l.startsWith('reveal: round ends'));
        for (const p of pts.slice(1)) {
          if (ended()) {
            break;  // the round is over: the hand stops
          }
          await page.mouse.move(p[0], p[1], { steps });
          round.pressed.push(p);
          await sleep(stepMs);
          if (fatal) {
            throw new Error(fatal);
          }
        }
        if (plan.press !== false) {
          await page.mouse.up();
        }
      }
      if (plan.screenshot) {  // the page as the player sees it after the path (a PNG, for a person to look at)
        await page.screenshot({ path: plan.screenshot });
      }
      if (plan.flag) {
        await page.keyboard.press('f');
      }
      if (plan.escape) {  // the participant quits in the middle of the round (PsychoJS's Escape)
        await page.keyboard.press('Escape');
        round.escaped = true;
        break;
      }
      const [end, ei] = await waitLine(/^reveal: round ends: (.*)$/, bi, left(), `the end of round ${n}`);
      round.end = end[1];
      round.end_ms = end.at_ms;
      cursor = ei + 1;
      // the next round, or the goodbye screen (SPACE ends the game and the data are offered)
      const next = await waitLine(/^reveal: round \S+ begins/, cursor, 4000, 'the next round').catch(() => null);
      if (!next) {
        for (let k = 0; k < 20 && !download; k++) {
          await page.keyboard.press(' ');
          await sleep(500);
        }
        break;
      }
    }
    for (let k = 0; k < 60 && !download; k++) {
      await sleep(250);
    }
    if (!download) {
      fail('no data file was downloaded');
    }
    result.download = download;
    result.page_frames = await page.evaluate(() => {
      const t = window.__rvFrames;
      const d = [];
      for (let i = 1; i < t.length; i++) { d.push(t[i] - t[i - 1]); }
      d.sort((a, b) => a - b);
      const q = (p) => (d.length ? Math.round(d[Math.min(d.length - 1, Math.floor(d.length * p))] * 10) / 10 : null);
      return { frames: t.length, frame_ms_median: q(0.5), frame_ms_p95: q(0.95), frame_ms_max: q(1) };
    });
  } catch (e) {
    fail(`driver: ${e && e.message ? e.message : e}`);
  } finally {
    if (context) {
      await context.close().catch(() => {});
    }
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  result.requests = {
    local: serverLog.map((r) => `${r.status} ${r.path}`),
    not_found: serverLog.filter((r) => r.status !== 200 && r.path !== 'favicon.ico').map((r) => r.path),
    cdn: cdnLog.map((r) => `${r.status} ${r.url}`),
    blocked,
  };
  for (const p of result.requests.not_found) {
    fail(`the page asked for ${p}, which the export does not have`);
  }
  if (spec.debug) {
    result.console = lines;
  }
  finish(result, started);
}

main();
