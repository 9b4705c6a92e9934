// SPDX-License-Identifier: Apache-2.0
//
// Helpers for the browser tests: a free port, the demo server (the page is
// served from the copy embedded in the library), headless Chromium through
// playwright-core with the system browser, and a development static server.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url, deadline) {
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch (e) { /* not up yet */ }
    if (Date.now() > deadline) throw new Error('server did not answer ' + url);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the demo server on a free port. Returns {base, port, hottest, proc, stop()}.
 * `hottest` is the function name the demo prints as its hottest. `threads`:
 * the demo's busy worker threads (default: the demo's own, 2; 0 for a quiet
 * server, e.g. for timing the page). `env`: variables added to the demo's
 * environment (e.g. CPPROF_HEAP_RATE).
 */
export async function startDemo(binary, { threads, env } = {}) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = ['--addr', '127.0.0.1:' + port];
    if (threads !== undefined) args.push('--threads', String(threads));
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
    const base = 'http://127.0.0.1:' + port;
    try {
      await Promise.race([
        waitHttp(base + '/debug/pprof/index.json', Date.now() + 60000),
        exited.then((code) => { throw new Error('demo exited with ' + code + ': ' + err); }),
      ]);
      const deadline = Date.now() + 10000;
      while (!/hottest function: (\S+)/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const m = /hottest function: (\S+)/.exec(out);
      if (!m) throw new Error('demo did not print its hottest function; stdout: ' + out);
      return {
        base, port, hottest: m[1], proc,
        stop: async () => { proc.kill('SIGTERM'); await exited; },
      };
    } catch (e) {
      lastErr = e;
      proc.kill('SIGKILL');
      await exited;
    }
  }
  throw lastErr;
}

const kTypes = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
export const kCsp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "connect-src 'self'; worker-src 'self' blob:; object-src 'none'";

// Index entries as the endpoint lists them: `seconds` is the CPU profile's
// window, and a delta between two snapshots for heap and allocs.
function devIndexEntry(n) {
  const e = { name: n, path: '/debug/pprof/' + n, description: n, params: [] };
  if (n === 'profile') e.params = ['seconds', 'hz'];
  if (n === 'heap' || n === 'allocs') {
    e.params = ['debug', 'gc', 'seconds'];
    e.seconds_delta = true;
  }
  return e;
}

/**
 * Development server: web/ at /debug/pprof/ui/, index.json, and the given
 * profiles ({name: Uint8Array}) at /debug/pprof/<name> (after `seconds`
 * seconds, if given); anything else is a Go-style 404. For working on the
 * page without the C++ build.
 */
export function startDevServer(profiles, port = 0) {
  // CPPROF_UI_WEB_DIR: serve another copy of the page (e.g. an older one, to compare timings).
  const webDir = path.resolve(process.env.CPPROF_UI_WEB_DIR || path.join(repo, 'web'));
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const p = u.pathname;
    if (p.startsWith('/debug/pprof/ui/')) {
      const rel = p.slice('/debug/pprof/ui/'.length) || 'index.html';
      const file = path.join(webDir, rel);
      if (!file.startsWith(webDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        return res.end('not found');
      }
      res.writeHead(200, { 'Content-Type': kTypes[path.extname(file)] || 'application/octet-stream', 'Content-Security-Policy': kCsp });
      return res.end(fs.readFileSync(file));
    }
    if (p === '/debug/pprof/index.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({
        version: 'dev',
        profiles: Object.keys(profiles).map(devIndexEntry),
      }));
    }
    const name = p.replace('/debug/pprof/', '');
    if (profiles[name]) {
      const secs = Number(u.searchParams.get('seconds') || 0);
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(Buffer.from(profiles[name]));
      }, Math.min(secs, 30) * 1000);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Go-Pprof': '1' });
    res.end('Unknown profile\n');
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => {
    const port = srv.address().port;
    resolve({ base: 'http://127.0.0.1:' + port, port, stop: () => new Promise((r) => srv.close(r)) });
  }));
}

export async function launchBrowser() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error('playwright-core is not installed: run `npm ci` in tests/browser (' + e.message + ')');
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpprof-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // A name that resolves to 127.0.0.1, as a DNS-rebinding attacker's would.
      '--host-resolver-rules=MAP evil.test 127.0.0.1, MAP *.evil.test 127.0.0.1'],
    viewport: { width: 1280, height: 800 },
    timeout: 120000,
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export function artifactsDir() {
  const d = process.env.CPPROF_ARTIFACTS || path.join(os.tmpdir(), 'cpprof-browser-artifacts');
  fs.mkdirSync(d, { recursive: true });
  return d;
}
