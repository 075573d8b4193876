#!/usr/bin/env node
// Runs one participant through the PsychoJS export of the reveal experiment in headless
// Chromium, with a real PsychoJS build, and prints what happened as one JSON object.
//
//   node drive.mjs '{"export": "EXP_DIR", "psychojs": "VENDOR_DIR", "participant": "7", ...}'
//   node drive.mjs @spec.json
//
// Spec (JSON):
//   export       folder written by `reveal experiment build` (index.html, <name>.js, ...)
//   psychojs     folder with psychojs.js, psychojs.iife.js, psychojs.css (a real build)
//   out          folder for the data file the browser downloads (default: a temp folder)
//   participant  the participant id; via "url" (?participant=...) or "dialog" (typed into
//                PsychoJS's start dialog); group and session likewise (optional)
//   answers      planned answer per trial in the order the images appear (training, then
//                test): "correct" | "wrong" | "missing" | "late" | "edge" | "double"; trials past
//                the end of the list get default_answer ("correct")
//   rt_ms        when an answer is pressed after the image's onset frame (default 300), or
//                earlier: at most 45 % of the response window as the frames run now (the
//                window is 550 ms in frames of the rate the experiment measured at the
//                start, and software rendering changes its frame rate), never under 110 ms
//   late_ms      earliest time a "late" answer is pressed (default 600; the deadline is
//                550 ms): after the response window, early in the "too slow" feedback
//   edge_ms      when an "edge" answer is pressed (default 540: in the window's last frame)
//   double_gap_ms  gap between the two keys of a "double" answer (default 30)
//   hide         {"trial": N, "ms": 1500}: from the onset of trial N (0-based, in the order
//                above) the page is hidden and loses focus for ms milliseconds (see
//                hidePage); a "correct" / "wrong" / "double" answer of that trial is
//                pressed (one key) as soon as the page runs again
//   query        more URL parameters, appended to the study link as written
//                (e.g. "PROLIFIC_PID=5f8d...&STUDY_ID=s1": a panel's link)
//   completion   a URL prefix (e.g. "https://app.prolific.com/"): pages there are answered
//                by the driver (nothing leaves the machine); after the goodbye screen the
//                driver clicks PsychoJS's closing OK and waits for the page to be sent there
//                (result.redirect)
//   default_png  file served for https://pavlovia.org/assets/default/default.png
//   chromium     browser executable (default $CHROMIUM or /usr/bin/chromium)
//   node_modules folder with jquery, jquery-ui-dist, preloadjs (default: next to this file)
//   timeout_s    whole run (default 300)
//   viewport     window size (default 400 x 300: Chromium renders WebGL in software here,
//                at a cost that grows with the canvas; the image is 256 x 256 px)
//   debug        true: every event from the page in the result
//
// How the driver knows what is on screen without touching PsychoJS or the experiment's
// code: an init script observes the browser APIs the page uses.  PsychoJS's Window.render()
// reads one pixel (gl.readPixels(0,0,1,1)) right after drawing each frame and before
// running its flip callbacks (where key_resp's clock is reset); at that call the script
// samples the central 224 x 224 px of the drawing buffer (the image is 256 x 256 px,
// centred).  An image's onset frame is the first frame that draws a new image texture, or
// whose centre is mostly non-white, or shows the same pixels as an earlier onset.  Texture
// uploads say which image file (XHR blob URLs mapped back to their URLs) or which text
// (fillText on PIXI's text canvases) was drawn first in a frame: the screens that wait for
// SPACE are known by their text.  PsychoJS's dialogs are read from the DOM; page errors,
// console errors and error dialogs fail the run with their text.  The experiment module's
// calls into PsychoJS (psychoJS.*, core.*, util.*, ..., methods of the objects it creates)
// are checked against the library the page loaded (api_missing).
//
// Result (JSON): ok, failures, dialog_fields, dialog_progress (the start dialog's progress line at OK), page_errors, console_errors, psychojs_errors, psychojs_dialogs,
// psychojs_version, refresh_hz (as the experiment measured it), list_index (from the
// conditions files the page asked for), trials (per image: planned answer, image drawn,
// keys planned and keydowns as the page saw them, from the onset frame), screens, download
// (the data file), requests (every file the page fetched from the server, by kind; CDN
// requests answered from node_modules), api_checked / api_missing, page_stats, duration_s.
//
// Exit status: 0 when the run completed without errors, 1 when it failed (see "failures"),
// 2 for a bad spec.  The JSON result is printed to stdout either way.

import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { cdnFolders, finish, libraryFiles, openBrowser, routeNetwork, startRun } from './serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------
// spec
function readSpec() {
  const arg = process.argv[2];
  if (!arg) {
    throw new Error('usage: node drive.mjs \'{"export": ..., "psychojs": ...}\' | @spec.json');
  }
  const text = arg.startsWith('@') ? fs.readFileSync(arg.slice(1), 'utf8') : arg;
  const spec = JSON.parse(text);
  for (const k of ['export', 'psychojs']) {
    if (!spec[k]) {
      throw new Error(`spec needs "${k}"`);
    }
  }
  return {
    out: null, participant: null, via: 'url', group: null, session: null,
    answers: [], default_answer: 'correct', rt_ms: 300, late_ms: 600, edge_ms: 540, double_gap_ms: 30,
    hide: null, default_png: null, query: '', completion: null,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    node_modules: path.join(HERE, 'node_modules'),
    timeout_s: 300, viewport: { width: 400, height: 300 },
    ...spec,
  };
}

// ---------------------------------------------------------------------------------------
// CSV (the conditions files the export ships; plain, comma-separated, no quoted commas)
function readCsv(file) {
  const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const head = lines[0].split(',');
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(head.map((h, i) => [h, cells[i]]));
  });
}

// the trials list L shows, in order: training rows, then each block's rows
function plannedTrials(exportDir, L) {
  const cond = (name) => path.join(exportDir, 'conditions', `list${L}_${name}.csv`);
  const rows = readCsv(cond('training')).slice();
  for (const b of readCsv(cond('blocks'))) {
    rows.push(...readCsv(path.join(exportDir, b.trials_file)));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// what the page runs before its own scripts: observers only, nothing PsychoJS sees changes
const INIT_SCRIPT = String.raw`(() => {
  if (window.__rvStats) { return; }
  const emit = (ev) => { try { window.__rvEmit(ev); } catch (e) { /* not bound yet */ } };
  const stats = window.__rvStats = {frames: 0, frameTimes: [], screens: 0};
  // blob: URLs (preloadjs loads images with XHR) -> the URL they were fetched from
  const blobSrc = new Map();
  const respDesc = Object.getOwnPropertyDescriptor(XMLHttpRequest.prototype, 'response');
  Object.defineProperty(XMLHttpRequest.prototype, 'response', {
    configurable: true, enumerable: respDesc.enumerable,
    get() {
      const r = respDesc.get.call(this);
      if (r && typeof r === 'object') { try { r.__rvUrl = this.responseURL; } catch (e) {} }
      return r;
    },
  });
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = function (obj) {
    const u = createObjectURL.call(URL, obj);
    if (obj && obj.__rvUrl) { blobSrc.set(u, obj.__rvUrl); }
    return u;
  };
  // the text PIXI draws on its text canvases
  const C2D = CanvasRenderingContext2D.prototype;
  const clearRect = C2D.clearRect, fillText = C2D.fillText;
  C2D.clearRect = function (...a) { this.canvas.__rvText = []; return clearRect.apply(this, a); };
  C2D.fillText = function (t, ...a) {
    (this.canvas.__rvText || (this.canvas.__rvText = [])).push(String(t));
    return fillText.call(this, t, ...a);
  };
  // frames: at PsychoJS's readPixels(0,0,1,1) after each render, sample the centre
  let lastKey = null;
  const HALF = 112, STEP = 8;
  function afterFrame(gl, read) {
    stats.frames += 1;
    const now = performance.now();
    stats.frameTimes.push(now);
    if (stats.frameTimes.length > 20000) { stats.frameTimes.splice(0, 10000); }
    const dpr = window.devicePixelRatio || 1;
    const half = Math.round(HALF * dpr), step = Math.max(1, Math.round(STEP * dpr));
    const W = gl.drawingBufferWidth, H = gl.drawingBufferHeight;
    const x0 = Math.max(0, Math.round(W / 2) - half), y0 = Math.max(0, Math.round(H / 2) - half);
    const w = Math.min(2 * half, W - x0), h = Math.min(2 * half, H - y0);
    const buf = new Uint8Array(w * h * 4);
    read.call(gl, x0, y0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, buf);
    let n = 0, nonWhite = 0, hash = 2166136261;
    for (let y = 0; y < h; y += step) {
      for (let x = 0; x < w; x += step) {
        const i = (y * w + x) * 4;
        n += 1;
        if (Math.min(buf[i], buf[i + 1], buf[i + 2]) < 245) { nonWhite += 1; }
        hash = Math.imul(hash ^ ((buf[i] >> 3) << 10 | (buf[i + 1] >> 3) << 5 | (buf[i + 2] >> 3)), 16777619) >>> 0;
      }
    }
    const share = n ? nonWhite / n : 0;
    const ft = stats.frameTimes, k = ft.length;
    const recent = [];
    for (let j = Math.max(1, k - 8); j < k; j++) { recent.push(ft[j] - ft[j - 1]); }
    recent.sort((a, b) => a - b);
    const iv = recent.length ? recent[recent.length >> 1] : null;
    const kind = share === 0 ? 'blank' : (share > 0.5 ? 'image' : 'text');
    const key = kind + ':' + hash;
    if (key !== lastKey) {
      lastKey = key;
      stats.screens += 1;
      emit({type: 'screen', kind, share: Math.round(share * 1000) / 1000, hash, frame: stats.frames, t: now,
            iv, visibility: document.visibilityState});
    }
  }
  function describe(src) {
    if (typeof HTMLImageElement !== 'undefined' && src instanceof HTMLImageElement) {
      return {kind: 'image', src: blobSrc.get(src.src) || src.src};
    }
    if (typeof HTMLCanvasElement !== 'undefined' && src instanceof HTMLCanvasElement && src.__rvText) {
      return {kind: 'text', text: src.__rvText.join('\n')};
    }
    return null;
  }
  for (const proto of [WebGLRenderingContext.prototype, WebGL2RenderingContext.prototype]) {
    const readPixels = proto.readPixels, texImage2D = proto.texImage2D, texSubImage2D = proto.texSubImage2D;
    proto.readPixels = function (...a) {
      const r = readPixels.apply(this, a);
      if (a[0] === 0 && a[1] === 0 && a[2] === 1 && a[3] === 1) {
        try { afterFrame(this, readPixels); } catch (e) { emit({type: 'internal', error: String(e)}); }
      }
      return r;
    };
    const upload = (a) => {
      const d = describe(a[a.length - 1]);
      if (d) { emit(Object.assign({type: 'upload', frame: stats.frames, t: performance.now()}, d)); }
    };
    proto.texImage2D = function (...a) { upload(a); return texImage2D.apply(this, a); };
    proto.texSubImage2D = function (...a) { upload(a); return texSubImage2D.apply(this, a); };
  }
  // PsychoJS's dialogs (start dialog, messages, warnings, errors)
  let lastDialog = '';
  function checkDialog() {
    const d = document.getElementById('experiment-dialog');
    if (!d) { lastDialog = ''; return; }
    const title = document.getElementById('experiment-dialog-title');
    const body = d.querySelector('.scrollable-container');
    const ev = {type: 'dialog', title: title ? title.innerText.trim() : '',
                cls: title ? title.className : '', text: body ? body.innerText.trim() : d.innerText.trim(),
                t: performance.now()};
    const sig = ev.cls + '|' + ev.title + '|' + ev.text;
    if (sig !== lastDialog) { lastDialog = sig; emit(ev); }
  }
  new MutationObserver(checkDialog).observe(document, {childList: true, subtree: true, characterData: true});
  for (const type of ['keydown', 'keyup']) {
    window.addEventListener(type, (e) => emit({type: 'key', what: type, key: e.key, t: performance.now(), frame: stats.frames}), true);
  }
  document.addEventListener('visibilitychange', () => emit({type: 'visibility', state: document.visibilityState, t: performance.now()}));
})();`;

// ---------------------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const RESPONSE_DEADLINE_S = 0.55;  // DESIGN: responses count until 550 ms after onset


// Which PsychoJS APIs the experiment module calls: member chains rooted at the psychoJS
// instance, at the library's namespaces (core, util, visual, data, sound, hardware), at the
// aliases the compiled script declares, and at variables it assigns with `new ns.Class(...)`.
// The page checks each against the library it loaded (see API_CHECK).
const INSTANCE_CLASSES = {
  serverManager: ['core', 'ServerManager'], experiment: ['data', 'ExperimentHandler'],
  experimentLogger: ['core', 'Logger'], window: ['core', 'Window'], eventManager: ['core', 'EventManager'],
  gui: ['core', 'GUI'], logger: null,
};
const ALIASES = { PsychoJS: ['core', 'PsychoJS'], TrialHandler: ['data', 'TrialHandler'],
  MultiStairHandler: ['data', 'MultiStairHandler'], Scheduler: ['util', 'Scheduler'] };

function apiUses(source) {
  // comments out (a // after code or at a line's start, not inside a URL-like string)
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').split('\n')
    .map((l) => l.replace(/(^|[\s;{}(),])\/\/.*$/, '$1')).join('\n');
  const uses = new Map();
  const add = (expr, check) => { if (!uses.has(expr)) { uses.set(expr, check); } };
  for (const m of code.matchAll(/\bpsychoJS\.(\w+)(?:\.(\w+))?\s*\(/g)) {
    if (m[2] === undefined) {
      add(`psychoJS.${m[1]}()`, { proto: ['core', 'PsychoJS'], member: m[1] });
    } else {
      add(`psychoJS.${m[1]}`, { proto: ['core', 'PsychoJS'], member: m[1] });
      const cls = INSTANCE_CLASSES[m[1]];
      if (cls) {
        add(`psychoJS.${m[1]}.${m[2]}()`, { proto: cls, member: m[2] });
      } else if (cls === undefined) {
        add(`psychoJS.${m[1]}.${m[2]}()`, { unknown: true });
      }
    }
  }
  for (const m of code.matchAll(/\b(core|util|visual|data|sound|hardware)\.(\w+)(?:\.(\w+))?/g)) {
    add(`${m[1]}.${m[2]}`, { path: [m[1], m[2]] });
    if (m[3] !== undefined) {
      add(`${m[1]}.${m[2]}.${m[3]}`, { path: [m[1], m[2], m[3]] });
    }
  }
  for (const m of code.matchAll(/\b(PsychoJS|TrialHandler|MultiStairHandler|Scheduler)\.(\w+)(?:\.(\w+))?/g)) {
    const [ns, name] = ALIASES[m[1]];
    add(`${m[1]}.${m[2]}`, { path: [ns, name, m[2]] });
    if (m[3] !== undefined) {
      add(`${m[1]}.${m[2]}.${m[3]}`, { path: [ns, name, m[2], m[3]] });
    }
  }
  const vars = new Map();
  for (const m of code.matchAll(/\b(\w+)\s*=\s*new\s+(?:(core|util|visual|data|sound|hardware)\.)?(\w+)\s*\(/g)) {
    const cls = m[2] ? [m[2], m[3]] : ALIASES[m[3]];
    if (cls) {
      vars.set(m[1], cls);
    }
  }
  for (const [v, cls] of vars) {
    for (const m of code.matchAll(new RegExp(`\\b${v}\\.(\\w+)\\s*\\(`, 'g'))) {
      add(`${v}.${m[1]}() [${cls.join('.')}]`, { proto: cls, member: m[1] });
    }
  }
  return [...uses].map(([expr, check]) => ({ expr, ...check }));
}

// runs in the page: the library the page loaded (same URL, so the same module instance)
const API_CHECK = async ({ lib, uses }) => {
  const m = await import(lib);
  const missing = [];
  for (const u of uses) {
    let ok;
    if (u.unknown) {
      ok = false;
    } else if (u.proto) {
      const cls = m[u.proto[0]] && m[u.proto[0]][u.proto[1]];
      ok = typeof cls === 'function' && u.member in cls.prototype;
      // setX / getX of attributes are made per instance by PsychObject._addAttribute("x")
      const attr = u.member.match(/^[sg]et([A-Z]\w*)$/);
      for (let c = cls; !ok && attr && typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
        ok = c.toString().includes(`_addAttribute("${attr[1][0].toLowerCase()}${attr[1].slice(1)}"`);
      }
    } else {
      let o = m;
      for (const k of u.path) {
        o = (o === undefined || o === null) ? undefined : o[k];
      }
      ok = o !== undefined;
    }
    if (!ok) {
      missing.push(u.expr);
    }
  }
  return missing;
};

async function main() {
  let spec;
  try {
    spec = readSpec();
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, failures: [`bad spec: ${e.message}`] }) + '\n', () => process.exit(2));
    return;
  }
  const started = Date.now();
  const result = {
    ok: false, failures: [], page_errors: [], console_errors: [], psychojs_errors: [],
    psychojs_dialogs: [], console_warnings: [], console_log: [], participant: spec.participant,
    list_index: null, refresh_hz: null, trials: [], screens: [], texts: [], download: null, requests: {},
  };
  let fatal = null;
  let fatalReject = null;
  const fatalPromise = new Promise((_, reject) => { fatalReject = reject; });
  fatalPromise.catch(() => {});
  const fail = (msg, isFatal = false) => {
    if (!result.failures.includes(msg)) {
      result.failures.push(msg);
    }
    if (isFatal && !fatal) {
      fatal = msg;
      fatalReject(new Error(msg));
    }
  };

  const exportDir = path.resolve(spec.export);
  const indexHtml = fs.readFileSync(path.join(exportDir, 'index.html'), 'utf8');
  const libFiles = libraryFiles(exportDir, path.resolve(spec.psychojs), indexHtml, result, fail);
  // the CDN libraries index.html references, from the npm packages
  const nm = path.resolve(spec.node_modules);
  const cdn = cdnFolders(nm);
  for (const m of indexHtml.matchAll(/(?:src|href)="(https?:\/\/[^"]+)"/g)) {
    if (!cdn.some(([re]) => re.test(m[1]))) {
      fail(`index.html loads ${m[1]}, which this driver does not serve`);
    }
  }
  if (result.failures.length) {
    process.stdout.write(JSON.stringify(result, null, 1) + '\n', () => process.exit(1));
    return;
  }

  const { serverLog, server, base, cdnLog, blocked, profile, outDir } = await startRun(exportDir, libFiles, spec.out);
  const deadline = started + spec.timeout_s * 1000;
  const left = () => Math.max(1000, deadline - Date.now());

  // --- events from the page, in order; handlers see each one, waiters scan from a cursor
  const events = [];
  const handlers = [];
  let wake = () => {};
  const onEvent = (ev) => {
    ev.recv = Date.now() - started;
    events.push(ev);
    for (const h of handlers) {
      try {
        h(ev);
      } catch (e) {
        fail(`driver: ${e.stack || e}`, true);
      }
    }
    wake();
  };
  // the first event at or after index `from` that pred accepts: [event, its index]
  const waitFor = async (pred, from, ms, what) => {
    const until = Date.now() + ms;
    for (let i = from; ;) {
      for (; i < events.length; i++) {
        if (pred(events[i])) {
          return [events[i], i];
        }
      }
      if (fatal) {
        throw new Error(fatal);
      }
      if (Date.now() >= until) {
        throw new Error(`timed out after ${Math.round(ms / 1000)} s waiting for ${what}`);
      }
      await Promise.race([new Promise((r) => { wake = r; }), sleep(Math.min(250, until - Date.now())), fatalPromise]);
    }
  };

  const { chromium } = await import(path.join(nm, 'playwright-core', 'index.mjs'));
  let context = null;
  try {
    context = await openBrowser(chromium, profile, outDir, spec);
    await context.exposeBinding('__rvEmit', (_source, ev) => onEvent(ev));
    await context.addInitScript(INIT_SCRIPT);
    await routeNetwork(context, { base, cdn, cdnLog, blocked, completion: spec.completion, defaultPng: spec.default_png });
    const page = context.pages()[0] || await context.newPage();

    page.on('pageerror', (e) => {
      result.page_errors.push(String(e && e.stack ? e.stack : e));
      fail(`page error: ${e}`, true);
    });
    page.on('console', (msg) => {
      const text = msg.text();
      const type = msg.type();
      if (type === 'error') {
        result.console_errors.push(text);
        fail(`console error: ${text}`, true);
        return;
      }
      const v = text.match(/\[PsychoJS\] Version (\S+)/);
      if (v) {
        result.psychojs_version = v[1];
      }
      const m = text.match(/reveal: refresh rate ([0-9.]+) Hz/);
      if (m) {
        result.refresh_hz = Number(m[1]);
        result.refresh_log = text;
      }
      const kept = type === 'warning' ? result.console_warnings : result.console_log;
      if (kept.length < 300) {
        kept.push(text.slice(0, 300));
      }
    });
    page.on('requestfailed', (req) => {
      if (!blocked.includes(req.url())) {
        fail(`request failed: ${req.url()} (${req.failure() ? req.failure().errorText : '?'})`);
      }
    });
    let download = null;
    const downloaded = new Promise((resolve) => {
      page.on('download', async (d) => {
        const file = path.join(outDir, d.suggestedFilename());
        await d.saveAs(file);
        download = { path: file, suggested_filename: d.suggestedFilename(), bytes: fs.statSync(file).size,
          at_ms: Date.now() - started };
        resolve(download);
      });
    });

    // --- PsychoJS's dialogs: an error (or a warning other than the closing one) fails the run
    handlers.push((ev) => {
      if (ev.type !== 'dialog') {
        return;
      }
      result.psychojs_dialogs.push({ title: ev.title, cls: ev.cls, text: ev.text, at_ms: ev.recv });
      const closing = /Terminating the experiment/.test(ev.text);
      if (/dialog-error/.test(ev.cls) || /^error$/i.test(ev.title) || (/dialog-warning/.test(ev.cls) && !closing)) {
        result.psychojs_errors.push(`${ev.title}: ${ev.text}`);
        fail(`PsychoJS ${ev.title} dialog: ${ev.text}`, true);
      }
    });

    // --- trials: an image's onset frame starts a trial; answer as planned
    let trialRows = null;
    let inImage = false;
    let lastImageUpload = null;
    const imageHashes = new Set();
    const press = async (key, holdMs = 40) => {
      await page.keyboard.down(key);
      await sleep(holdMs);
      await page.keyboard.up(key);
    };
    // "hide the page": headless Chromium keeps a page visible whatever is in front (tried:
    // another tab brought to front, the window minimised, Page.setWebLifecycleState). So the
    // page's main thread is stopped at once (CDP Debugger.pause): no frame is drawn, as in a
    // hidden tab, where browsers stop requestAnimationFrame. When it runs again, before its
    // next frame, the page gets what a browser sends about a tab that was hidden and came
    // back (dispatched in the page, as the browser would): visibilitychange with
    // document.visibilityState 'hidden' and a window blur, then visibilitychange to
    // 'visible' and focus. (Dispatching before the pause would delay the pause by a round
    // trip, past a short response window on a loaded machine.)
    let cdp = null;
    const hidePage = async (ms) => {
      cdp = cdp || await context.newCDPSession(page);
      await cdp.send('Debugger.enable');
      const t = Date.now();
      await cdp.send('Debugger.pause');
      await sleep(ms);
      await cdp.send('Debugger.resume');
      await cdp.send('Debugger.disable');
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
        window.dispatchEvent(new Event('blur'));
        delete document.visibilityState;  // the prototype's getter again: 'visible'
        delete document.hidden;
        document.dispatchEvent(new Event('visibilitychange'));
        window.dispatchEvent(new Event('focus'));
      });
      return Date.now() - t;
    };
    handlers.push((ev) => {
      if (ev.type === 'upload' && ev.kind === 'image') {
        lastImageUpload = ev;
      }
      if (ev.type === 'upload' && ev.kind === 'text') {
        result.texts.push({ text: ev.text, frame: ev.frame, at_ms: ev.recv });
        inImage = false;
      }
      if (ev.type !== 'screen') {
        return;
      }
      // the image's onset frame: a new image texture drawn in this frame, a mostly
      // non-white centre, or the same pixels as an earlier onset (an image shown again)
      const uploaded = lastImageUpload && lastImageUpload.frame === ev.frame - 1;
      const isImage = uploaded || ev.kind === 'image' || imageHashes.has(ev.hash);
      if (!isImage) {
        inImage = false;
        return;
      }
      if (inImage) {
        return;
      }
      inImage = true;
      imageHashes.add(ev.hash);
      const n = result.trials.length;
      if (trialRows === null) {
        const req = serverLog.find((r) => r.status === 200 && /^conditions\/list\d+_training\.csv$/.test(r.path));
        if (!req) {
          fail('an image appeared before any conditions file was requested', true);
          return;
        }
        result.list_index = Number(req.path.match(/list(\d+)_/)[1]);
        trialRows = plannedTrials(exportDir, result.list_index);
        result.planned_trials = trialRows.length;
      }
      const row = trialRows[n];
      const planned = n < spec.answers.length ? spec.answers[n] : spec.default_answer;
      // the response window in this browser's frames: deadline frames (from the refresh
      // rate the experiment measured) times the current frame interval
      const hz = result.refresh_hz || 60;
      const deadlineFrames = Math.max(1, Math.round(RESPONSE_DEADLINE_S * hz));
      const windowMs = ev.iv ? deadlineFrames * ev.iv : RESPONSE_DEADLINE_S * 1000;
      const trial = {
        n, planned, phase: row ? row.phase : null, expected_image: row ? row.image_file : null,
        image: uploaded ? lastImageUpload.src.replace(base, '') : null, category: row ? row.category : null,
        correct_key: row ? row.correct_key : null, onset_frame: ev.frame, onset_t: ev.t, onset_at_ms: ev.recv,
        frame_ms: ev.iv, window_ms: Math.round(windowMs), keys: [],
      };
      result.trials.push(trial);
      if (!row) {
        fail(`trial ${n}: an image appeared, but list ${result.list_index} has ${trialRows.length} trials`, true);
        return;
      }
      if (trial.image !== null && trial.image !== row.image_file) {
        fail(`trial ${n}: the browser showed ${trial.image} where list ${result.list_index} has ${row.image_file}`);
      }
      const other = row.correct_key === 's' ? 'l' : 's';
      const t0 = Date.now();
      const at = (ms, key) => {
        trial.keys.push({ key, planned_ms: Math.round(ms) });
        setTimeout(() => {
          press(key).catch((e) => fail(`pressing ${key}: ${e}`));
        }, Math.max(0, ms - (Date.now() - t0)));
      };
      // answer inside the window even when frames run faster than when they were measured
      // (software rendering), but not under 110 ms (anticipation: < 100 ms)
      const inTime = Math.max(110, Math.min(spec.rt_ms, 0.45 * windowMs));
      if (spec.hide && spec.hide.trial === n) {
        // stopped from the onset frame on; an answer is pressed as soon as it runs again,
        // within the frames of its response window but long after 550 ms
        trial.hidden_ms = spec.hide.ms || 1500;
        const key = { correct: row.correct_key, wrong: other, double: row.correct_key }[planned];
        hidePage(trial.hidden_ms).then((took) => {
          trial.hidden_took_ms = took;
          if (key) {
            trial.keys.push({ key, planned_ms: Date.now() - t0 });
            return press(key);
          }
          return null;
        }).catch((e) => fail(`hiding the page: ${e}`));
        return;
      }
      if (planned === 'correct') {
        at(inTime, row.correct_key);
      } else if (planned === 'wrong') {
        at(inTime, other);
      } else if (planned === 'late') {
        // after the deadline, early in the "too slow" feedback (0.8 s in frames)
        const feedbackMs = ev.iv ? Math.max(1, Math.round(0.8 * hz)) * ev.iv : 800;
        at(Math.max(spec.late_ms, windowMs + 0.25 * feedbackMs), row.correct_key);
      } else if (planned === 'edge') {
        // in the last frame of the response window (550 ms, or the window's end in this
        // browser's frames if that comes sooner): the keys of that frame are read at the trial's end
        at(Math.min(spec.edge_ms, windowMs - 8), row.correct_key);
      } else if (planned === 'double') {
        at(inTime, row.correct_key);
        at(inTime + spec.double_gap_ms, other);
      } else if (planned !== 'missing') {
        fail(`trial ${n}: unknown planned answer ${planned}`, true);
      }
    });

    // --- the participant's way in: URL parameters or PsychoJS's start dialog
    const params = new URLSearchParams();
    if (spec.via === 'url') {
      for (const k of ['participant', 'session', 'group']) {
        if (spec[k] !== null && spec[k] !== undefined) {
          params.set(k, String(spec[k]));
        }
      }
    }
    const q = [params.toString(), spec.query].filter((s) => s).join('&');
    await page.goto(base + 'index.html' + (q ? '?' + q : ''), { waitUntil: 'load', timeout: left() });
    await Promise.race([page.waitForSelector('#dialogOK', { timeout: Math.min(left(), 90000) }), fatalPromise]);
    if (spec.via === 'dialog') {
      for (const k of ['participant', 'session', 'group']) {
        if (spec[k] !== null && spec[k] !== undefined) {
          await page.fill(`#experiment-dialog input[name="${k}"]`, String(spec[k]));
        }
      }
    }
    // the PsychoJS calls the experiment makes, checked against the library the page loaded
    if (result.module) {
      const uses = apiUses(fs.readFileSync(path.join(exportDir, result.module), 'utf8'));
      const lib = Object.keys(libFiles).find((k) => k.endsWith('.js') && !k.endsWith('.iife.js'));
      result.api_checked = uses.length;
      result.api_missing = await page.evaluate(API_CHECK, { lib: base + lib, uses });
      for (const expr of result.api_missing) {
        fail(`the experiment calls ${expr}, which PsychoJS ${result.psychojs_version || ''} does not have`.replace('  ', ' '));
      }
    }
    await Promise.race([page.waitForSelector('#dialogOK:not(.disabled)', { timeout: Math.min(left(), 90000) }), fatalPromise]);
    result.dialog_fields = await page.$$eval('#experiment-dialog input', (els) => els.map((e) => [e.name, e.value]));
    result.dialog_progress = await page.$eval('#progressMsg', (el) => el.textContent).catch(() => null);
    await page.click('#dialogOK');

    // --- screens that wait for SPACE: press once their text is drawn, again if nothing moves
    const spaceScreens = [
      { name: 'instructions', re: /In each trial/, not: /loading/ },
      { name: 'test_intro', re: /Training is over/ },
      { name: 'block_feedback', re: /Block \d+ of \d+ done/ },
      { name: 'goodbye', re: /thank you for taking part/i },
    ];
    const screenOf = (ev) => ev.type === 'upload' && ev.kind === 'text'
      && spaceScreens.find((s) => s.re.test(ev.text) && !(s.not && s.not.test(ev.text)));
    let cursor = 0;
    for (;;) {
      const [ev, i] = await waitFor((e) => screenOf(e), cursor, left(), 'the next screen that waits for SPACE');
      const screen = screenOf(ev);
      let presses = 0;
      for (;;) {
        await sleep(150);
        const before = events.length;
        presses += 1;
        await press(' ');
        try {
          // the goodbye screen's SPACE ends the experiment: PsychoJS's closing dialogs
          await waitFor((e) => e.type === 'screen' || (screen.name === 'goodbye' && e.type === 'dialog'),
            before, 2500, `the ${screen.name} screen to end`);
          break;
        } catch (e) {
          if (fatal || presses >= 20) {
            throw e;
          }
        }
      }
      result.screens.push({ name: screen.name, text: ev.text, at_ms: ev.recv, presses });
      cursor = i + 1;
      if (screen.name === 'goodbye') {
        break;
      }
    }
    await Promise.race([downloaded, sleep(Math.min(left(), 30000)), fatalPromise]);
    if (!download) {
      fail('no data file was downloaded');
    }
    await sleep(300);  // the closing dialog
    result.download = download;
    if (spec.completion) {
      // PsychoJS sends the participant on when its closing dialog's OK is clicked, after saving
      result.closing_dialog = await page.$eval('#experiment-dialog', (el) => el.innerText).catch(() => null);
      const sent = page.waitForURL((u) => u.href.startsWith(spec.completion), { timeout: Math.min(left(), 30000) });
      await page.click('#dialogOK', { timeout: Math.min(left(), 30000) });
      await Promise.race([sent, fatalPromise]);
      result.redirect = page.url();
    }
    result.page_stats = await page.evaluate(() => {
      const t = window.__rvStats.frameTimes;
      const d = [];
      for (let i = 1; i < t.length; i++) { d.push(t[i] - t[i - 1]); }
      d.sort((a, b) => a - b);
      const q = (p) => (d.length ? Math.round(d[Math.min(d.length - 1, Math.floor(d.length * p))] * 10) / 10 : null);
      return { frames: window.__rvStats.frames, frame_ms_median: q(0.5), frame_ms_p95: q(0.95), frame_ms_max: q(1) };
    });
  } catch (e) {
    if (!fatal || (e && e.message !== fatal)) {
      fail(`driver: ${e && e.message ? e.message : e}`);
    }
    await sleep(1500);  // PsychoJS's error dialog follows the error it reports
  } finally {
    if (context) {
      await context.close().catch(() => {});
    }
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }

  // keys as the page saw them, relative to each trial's onset frame
  const keyEvents = events.filter((e) => e.type === 'key' && e.what === 'keydown');
  result.trials.forEach((t, k) => {
    const end = k + 1 < result.trials.length ? result.trials[k + 1].onset_t : Infinity;
    t.keydowns = keyEvents.filter((e) => e.t >= t.onset_t && e.t < end && (e.key === 's' || e.key === 'l'))
      .map((e) => ({ key: e.key, after_onset_ms: Math.round(e.t - t.onset_t) }));
  });
  result.visibility = events.filter((e) => e.type === 'visibility').map((e) => ({ state: e.state, t: e.t }));
  // files fetched from the experiment's server by this participant's browser
  const kinds = { page: 0, lib: 0, conditions: 0, stimuli: 0, other: 0 };
  const counts = new Map();
  for (const r of serverLog) {
    const k = r.path.startsWith('lib/') ? 'lib' : r.path.startsWith('conditions/') ? 'conditions'
      : r.path.startsWith('stimuli/') ? 'stimuli' : /^(index\.html|[^/]+\.js)?$/.test(r.path) ? 'page' : 'other';
    kinds[k] += 1;
    counts.set(r.path, (counts.get(r.path) || 0) + 1);
  }
  result.requests = {
    local_count: serverLog.length,
    local_ok: serverLog.filter((r) => r.status === 200).length,
    local_bytes: serverLog.reduce((a, r) => a + r.bytes, 0),
    by_kind: kinds,
    not_found: serverLog.filter((r) => r.status !== 200).map((r) => r.path),
    fetched_twice: [...counts].filter(([, c]) => c > 1).map(([p, c]) => `${p} x${c}`),
    local: serverLog.map((r) => `${r.status} ${r.path}`),
    cdn: cdnLog.map((r) => `${r.status} ${r.url}`),
    blocked,
  };
  for (const p of result.requests.not_found) {
    if (p !== 'favicon.ico') {
      fail(`the page asked for ${p}, which the export does not have`);
    }
  }
  if (spec.debug) {
    result.events = events;
  }
  finish(result, started);
}

main();
