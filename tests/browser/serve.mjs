// What both browser drivers (drive.mjs: the rapid-categorization export; drive_game.mjs: the
// game's) share: the local web server of an export folder, the PsychoJS build under the names
// index.html asks for, and the CDN libraries answered from node_modules.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------------------
// the local web server: the export folder, and the PsychoJS build under the name that
// index.html asks for (./lib/psychojs-<version>.js / .iife.js / .css)
export const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8', '.png': 'image/png', '.jpg': 'image/jpeg',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
  '.xlsx': 'application/octet-stream', '.ico': 'image/x-icon',
};

export function startServer(exportDir, libFiles, log) {
  const root = path.resolve(exportDir);
  const server = http.createServer((req, res) => {
    const t = Date.now();
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
    } catch (e) {
      rel = req.url;
    }
    let file = null;
    if (Object.prototype.hasOwnProperty.call(libFiles, rel)) {
      file = libFiles[rel];
    } else {
      const p = path.resolve(root, rel || 'index.html');
      if (p === root || p.startsWith(root + path.sep)) {
        file = p;
      }
    }
    let status = 404;
    let bytes = 0;
    if (file && fs.existsSync(file) && fs.statSync(file).isFile()) {
      const body = fs.readFileSync(file);
      status = 200;
      bytes = body.length;
      res.writeHead(200, {
        'Content-Type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
        'Content-Length': body.length, 'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
    log.push({ path: rel, method: req.method, status, bytes, t });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}


export function libraryFiles(exportDir, psychojsDir, indexHtml, result, fail) {
  // the PsychoJS build under the names index.html (and the experiment module) ask for
  const files = {};
  const byExt = { '.iife.js': 'psychojs.iife.js', '.js': 'psychojs.js', '.css': 'psychojs.css' };
  for (const m of indexHtml.matchAll(/(?:src|href)="\.?\/?(lib\/psychojs-([0-9][^"]*?)(\.iife\.js|\.js|\.css))"/g)) {
    files[m[1]] = path.join(psychojsDir, byExt[m[3]]);
    result.psychojs_served_as = m[2];
  }
  const mod = indexHtml.match(/<script src="\.\/([^"]+\.js)" type="module">/);
  if (!mod) {
    fail('index.html loads no experiment module');
  } else {
    result.module = mod[1];
    const js = fs.readFileSync(path.join(exportDir, mod[1]), 'utf8');
    for (const m of js.matchAll(/from '\.\/(lib\/psychojs-[^']+\.js)'/g)) {
      files[m[1]] = path.join(psychojsDir, 'psychojs.js');
    }
  }
  if (Object.keys(files).length === 0) {
    fail('index.html loads no lib/psychojs-<version> files');
  }
  for (const f of Object.values(files)) {
    if (!fs.existsSync(f)) {
      fail(`PsychoJS build file missing: ${f}`);
    }
  }
  return files;
}

// the CDN libraries a page loads (index.html's, and the game's onnxruntime-web), from the npm
// packages of package.json: [URL pattern (its file part captured), folder]
export function cdnFolders(nm) {
  return [
    [/^https:\/\/cdn\.jsdelivr\.net\/npm\/jquery@3\.6\.0\/dist\/(.+)$/, path.join(nm, 'jquery', 'dist')],
    [/^https:\/\/cdn\.jsdelivr\.net\/npm\/jquery-ui-dist@1\.12\.1\/(.+)$/, path.join(nm, 'jquery-ui-dist')],
    [/^https:\/\/cdn\.jsdelivr\.net\/npm\/preloadjs@1\.0\.1\/(.+)$/, path.join(nm, 'preloadjs')],
    [/^https:\/\/cdn\.jsdelivr\.net\/npm\/onnxruntime-web@1\.31\.1\/dist\/(.+)$/, path.join(nm, 'onnxruntime-web', 'dist')],
  ];
}

// headless Chromium with a fresh profile, downloads kept in outDir
export function openBrowser(chromium, profile, outDir, spec) {
  return chromium.launchPersistentContext(profile, {
    executablePath: spec.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    acceptDownloads: true,
    downloadsPath: outDir,
    viewport: spec.viewport,
  });
}

export const DEFAULT_PNG = 'https://pavlovia.org/assets/default/default.png';

// the network: the page's server, the CDN from node_modules (logged in cdnLog), PsychoJS's
// placeholder image (defaultPng, or a 1 x 1 white PNG), a panel's completion page (answered
// here: nothing leaves the machine); anything else is blocked (logged in blocked)
export function routeNetwork(context, { base, cdn, cdnLog, blocked, completion = null, defaultPng = null }) {
  return context.route(/^https?:\/\//, async (route) => {
    const u = route.request().url();
    if (u.startsWith(base)) {
      return route.continue();
    }
    for (const [re, dir] of cdn) {
      const m = u.match(re);
      if (m) {
        const f = path.resolve(dir, m[1].split('?')[0]);
        const ok = f.startsWith(dir + path.sep) && fs.existsSync(f);
        cdnLog.push({ url: u, status: ok ? 200 : 404 });
        return ok ? route.fulfill({ path: f, contentType: TYPES[path.extname(f)] || 'application/octet-stream' })
          : route.fulfill({ status: 404, body: 'not in node_modules' });
      }
    }
    if (completion && u.startsWith(completion)) {
      return route.fulfill({ contentType: 'text/html', body: '<html><body>study completed</body></html>' });
    }
    if (u === DEFAULT_PNG) {
      cdnLog.push({ url: u, status: 200 });
      return defaultPng ? route.fulfill({ path: defaultPng, contentType: 'image/png' })
        : route.fulfill({  // a 1 x 1 white PNG
          contentType: 'image/png',
          body: Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==', 'base64'),
        });
    }
    blocked.push(u);
    return route.abort('blockedbyclient');
  });
}

// a run's local server (its request log), logs of the CDN and blocked requests, a fresh browser
// profile, and the folder downloads go to (out, or a new temporary one)
export async function startRun(exportDir, libFiles, out) {
  const serverLog = [];
  const server = await startServer(exportDir, libFiles, serverLog);
  const outDir = path.resolve(out || fs.mkdtempSync(path.join(os.tmpdir(), 'rv-data-')));
  fs.mkdirSync(outDir, { recursive: true });
  return {
    serverLog, server, base: `http://127.0.0.1:${server.address().port}/`, cdnLog: [], blocked: [],
    profile: fs.mkdtempSync(path.join(os.tmpdir(), 'rv-chromium-')), outDir,
  };
}

// the run's result as one JSON object on stdout; exit 0 if it holds no failure, else 1 (once the
// long JSON has reached a pipe)
export function finish(result, started) {
  result.duration_s = (Date.now() - started) / 1000;
  result.ok = result.failures.length === 0;
  process.stdout.write(JSON.stringify(result, null, 1) + '\n', () => process.exit(result.ok ? 0 : 1));
}
