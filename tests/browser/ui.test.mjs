// SPDX-License-Identifier: Apache-2.0
//
// Headless Chromium tests of the flame-graph page at /debug/pprof/ui/, served
// from the copy embedded in the library by the demo server (CPPROF_DEMO = path
// of cpprof_demo). CPPROF_UI_DEV_SERVER=1 instead serves web/ from this tree
// with synthetic profiles, for working on the page without a C++ build.
// Screenshots and measured timings go to CPPROF_ARTIFACTS.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { artifactsDir, launchBrowser, repo, startDemo, startDevServer } from './harness.mjs';
import { encodeProfile, gzip, syntheticBig } from '../web/pprof_encode.mjs';
import { formatValue } from '../../web/format.js';

const kLong = 120000;
let server;
let browser;
let artifacts;
const consoleErrors = [];
const foreign = [];
const ownBases = [];  // servers started by these tests

function twoProfiles() {
  const mk = (a) => gzip(encodeProfile({
    sampleTypes: [['samples', 'count'], ['cpu', 'nanoseconds']],
    periodType: ['cpu', 'nanoseconds'], period: 10000000,
    samples: [
      { stack: ['grows::Doubling()', 'main'], values: [a, a * 10000000] },
      { stack: ['steady::Same()', 'main'], values: [100, 1000000000] },
    ],
  }));
  return { base: mk(100), next: mk(200) };
}

const kHeapTypes = [['alloc_objects', 'count'], ['alloc_space', 'bytes'], ['inuse_objects', 'count'], ['inuse_space', 'bytes']];

// A heap profile as cpprof and Go write it (inuse_space last, so the default
// unless `defaultType` names another). `samples`: [stack, [4 values]].
function heapProfile(samples, defaultType) {
  return gzip(encodeProfile({
    sampleTypes: kHeapTypes, periodType: ['space', 'bytes'], period: 524288, defaultSampleType: defaultType,
    samples: samples.map(([stack, values]) => ({ stack, values })),
  }));
}

function heapFixture(defaultType) {
  return heapProfile([
    [['cache::Grow()', 'cache::Refresh()', 'main'], [40, 40 << 20, 10, 10 << 20]],
    [['io::Buffer()', 'main'], [300, 3 << 20, 2, 20 << 10]],
  ], defaultType);
}

async function newPage() {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(kLong);
  page.on('console', (m) => {
    // Failed fetches of bad sources are expected to log a resource error.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => {
    const u = r.url();
    if (!ownBases.some((b) => u.startsWith(b)) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u);
  });
  return page;
}

async function waitLoaded(page, which = 'main', count = 1) {
  await page.waitForFunction(([w, c]) => {
    const b = document.body;
    return b.dataset.status === 'error' || Number(b.dataset[w + 'Loaded'] || 0) >= c;
  }, [which, count], { timeout: kLong });
  const msg = await page.locator('#message').textContent();
  assert.equal(await page.evaluate(() => document.body.dataset.status), 'ready', 'page error: ' + msg);
}

// The page writes typing and zoom state to the URL shortly after the fact
// (history.replaceState is slow and rate-limited), so wait for it.
async function urlMatches(page, re, want = true) {
  await page.waitForFunction(([src, flags, w]) => new RegExp(src, flags).test(location.href) === w,
    [re.source, re.flags, want], { timeout: 10000 });
}

async function waitError(page) {
  await page.waitForFunction(() => document.body.dataset.status === 'error', null, { timeout: kLong });
  return (await page.locator('#message').textContent()).trim();
}

// Non-background pixels of the flame canvas.
async function inkedPixels(page, predicate = 'any') {
  return page.evaluate((pred) => {
    const c = document.querySelector('.flame-canvas');
    const ctx = c.getContext('2d');
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const bg = [d[0], d[1], d[2]];
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const r = d[i], g = d[i + 1], b = d[i + 2];
      if (pred === 'any' && (r !== bg[0] || g !== bg[1] || b !== bg[2])) n++;
      else if (pred === 'red' && r > 150 && r > g + 60 && r > b + 60) n++;
      else if (pred === 'magenta' && r > 150 && b > 150 && g < 110) n++;
      else if (pred === 'blue' && b > 150 && b > r + 60) n++;
    }
    return n;
  }, predicate);
}

// CSS position (page coordinates) of the widest node at `depth` in the current graph.
// Resolves after two animation frames: pending resize and draw callbacks
// have run.
async function settle(page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

async function nodePoint(page, depth) {
  return page.evaluate((dep) => {
    const app = window.cpprofApp;
    const f = app.flame, t = f.data.tree, w = f.data.width, x = f.data.x;
    let best = -1;
    for (let i = t.levelStart[dep]; i < t.levelStart[dep + 1]; i++) {
      const n = t.levels[i];
      if (best < 0 || w[n] > w[best]) best = n;
    }
    const { x0, scale } = f.range();
    const r = f.canvas.getBoundingClientRect();
    return {
      node: best,
      name: f.data.frameName[t.frame[best]],
      x: r.left + ((x[best] - x0) + w[best] / 2) * scale,
      y: r.top + f.rowY(dep) + 9,
    };
  }, depth);
}

function goGen() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpprof-go-'));
  execFileSync('go', ['run', path.join(repo, 'tests/web/gen/main.go'), dir], { stdio: 'inherit', timeout: 300000 });
  return dir;
}

before(async () => {
  artifacts = artifactsDir();
  if (process.env.CPPROF_DEMO) {
    server = await startDemo(process.env.CPPROF_DEMO);
  } else if (process.env.CPPROF_UI_DEV_SERVER === '1') {
    const prof = gzip(encodeProfile({
      sampleTypes: [['samples', 'count'], ['cpu', 'nanoseconds']], periodType: ['cpu', 'nanoseconds'], period: 10000000,
      durationNanos: 3e9,
      samples: [
        { stack: ['demo::SpinHot(unsigned long)', 'demo::RunWorker(int, std::atomic<bool> const&)', 'main'], values: [70, 7e8], labels: { thread: 'worker-0' } },
        { stack: ['qsort', 'demo::SortRecords(std::vector<demo::Record, std::allocator<demo::Record> >&)', 'demo::RunWorker(int, std::atomic<bool> const&)', 'main'], values: [30, 3e8], labels: { thread: 'worker-1' } },
      ],
    }));
    server = await startDevServer({ profile: prof, heap: heapFixture(), allocs: heapFixture('alloc_space'), delta_heap: heapFixture() });
    server.hottest = 'demo::SpinHot';
  } else {
    throw new Error('set CPPROF_DEMO to the cpprof_demo binary (or CPPROF_UI_DEV_SERVER=1)');
  }
  ownBases.push(server.base + '/');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

describe('flame-graph page', { timeout: 600000 }, () => {
  test('live CPU profile: countdown, top table, flame graph, command, download', async () => {
    const page = await newPage();
    await page.goto(server.base + '/debug/pprof/ui/?source=profile%3Fseconds%3D3');
    // The countdown is visible while the server collects.
    await page.waitForFunction(() => /s left|Waiting/.test(document.getElementById('progress-text').textContent), null, { timeout: 30000 });
    await waitLoaded(page);
    assert.ok(await inkedPixels(page) > 1000, 'flame graph drew nothing');
    await page.screenshot({ path: path.join(artifacts, 'flame-live.png') });
    const cmd = await page.locator('#pprof-cmd').textContent();
    assert.equal(cmd, "go tool pprof -http=: '" + server.base + "/debug/pprof/profile?seconds=3'");
    assert.equal(await page.locator('#download').getAttribute('download'), 'profile.pb.gz');
    // Keep a copy of what the endpoint served (the decoder tests use a committed one).
    const bytes = await page.evaluate(() => Array.from(window.cpprofApp.main.bytes));
    fs.writeFileSync(path.join(artifacts, 'cpprof_cpu.pb.gz'), Buffer.from(bytes));
    await page.click('#view-top');
    assert.match(page.url(), /view=top/);
    const first = page.locator('.top-table tbody tr').first();
    const title = await first.locator('button.fn').getAttribute('title');
    assert.ok(title.startsWith(server.hottest), 'hottest function first: got ' + title);
    const flatPct = await first.locator('td').nth(1).textContent();
    assert.match(flatPct, /^\d+(\.\d+)?%$/);
    await page.screenshot({ path: path.join(artifacts, 'top-live.png') });
    // Callers of the hottest function via the table.
    await first.locator('button.fn').click();
    assert.match(page.url(), /view=callers/);
    assert.ok(await inkedPixels(page) > 100, 'callers view drew nothing');
    const note = await page.locator('#view-note').textContent();
    assert.match(note, /^Callers of /);
    await page.close();
  });

  test('search highlights and reports the matched share; zoom, hover, keys and reset', async () => {
    const page = await newPage();
    const hot = server.hottest.replace(/^.*::/, '');
    await page.goto(server.base + '/debug/pprof/ui/?source=profile%3Fseconds%3D2');
    await waitLoaded(page);
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'search');
    await page.keyboard.type(hot);
    await page.waitForFunction(() => /Matched: /.test(document.getElementById('matched').textContent));
    const matched = await page.locator('#matched').textContent();
    const pct = Number(/Matched: ([\d.]+)%/.exec(matched)[1]);
    assert.ok(pct > 0 && pct <= 100, matched);
    assert.ok(await inkedPixels(page, 'magenta') > 50, 'no highlighted frames');
    await urlMatches(page, new RegExp('search=' + hot));
    await page.screenshot({ path: path.join(artifacts, 'search.png') });
    // N / Shift+N step through the matching frames, left to right, wrapping.
    await page.evaluate(() => document.activeElement.blur());
    const matches = await page.evaluate(() => {
      const app = window.cpprofApp;
      let n = 0;
      app.searchMark.forEach((m, i) => { if (m && app.cur.width[i] > 0) n++; });
      return n;
    });
    assert.ok(matches >= 1, 'no matching frames to step through');
    const seen = [];
    for (let i = 0; i <= matches; i++) {
      await page.keyboard.press('n');
      seen.push(await page.evaluate(() => {
        const app = window.cpprofApp;
        return { sel: app.sel, name: app.cur.frameName[app.cur.tree.frame[app.sel]], x: app.cur.x[app.sel] };
      }));
    }
    for (const m of seen) assert.ok(new RegExp(hot).test(m.name), 'n selected a frame that does not match: ' + m.name);
    assert.equal(new Set(seen.slice(0, matches).map((m) => m.sel)).size, matches, 'n visited a frame twice before wrapping');
    for (let i = 1; i < matches; i++) assert.ok(seen[i].x >= seen[i - 1].x, 'n went right to left');
    assert.equal(seen[matches].sel, seen[0].sel, 'n did not wrap around to the first match');
    await page.keyboard.press('Shift+N');
    assert.equal(await page.evaluate(() => window.cpprofApp.sel), seen[matches > 1 ? matches - 1 : 0].sel);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#matched').textContent(), '');

    // Hover shows the tooltip with self and total. Clearing the search may
    // resize the flame view a frame later (its ResizeObserver), moving the
    // rows: measure once the layout has settled, and again if it moved.
    let p, tipName;
    for (let attempt = 0; attempt < 3; attempt++) {
      await settle(page);
      p = await nodePoint(page, 2);
      await page.mouse.move(p.x, p.y);
      await page.waitForSelector('#tooltip:not([hidden])');
      tipName = await page.locator('#tip-name').textContent();
      if (tipName === p.name) break;
    }
    assert.equal(tipName, p.name);
    assert.match(await page.locator('#tip-values').textContent(), /Total: .*\(.*%\) · Self: /);
    // Click zooms: breadcrumb and URL follow.
    await page.mouse.click(p.x, p.y);
    await page.waitForFunction((n) => window.cpprofApp.zoom === n, p.node);
    await urlMatches(page, /focus=/);
    assert.equal(await page.locator('#breadcrumb button').count(), 3);
    assert.equal(await page.locator('#sel-name').textContent(), p.name);
    // Keyboard: move to the parent, zoom with Enter, Esc zooms out, Reset.
    await page.keyboard.press('ArrowDown');
    const parentSel = await page.evaluate(() => window.cpprofApp.sel);
    assert.equal(parentSel, await page.evaluate((n) => window.cpprofApp.cur.tree.parent[n], p.node));
    await page.keyboard.press('Escape');
    assert.equal(await page.evaluate(() => window.cpprofApp.zoom), parentSel);
    await page.click('#reset');
    assert.equal(await page.evaluate(() => window.cpprofApp.zoom), 0);
    await urlMatches(page, /focus=/, false);
    // State in the URL is restored on load.
    await page.goto(server.base + '/debug/pprof/ui/?source=profile%3Fseconds%3D1&view=icicle&search=' + hot +
      '&focus=' + encodeURIComponent(p.name.replace(/;/g, '')));
    await waitLoaded(page);
    assert.equal(await page.locator('#view-icicle').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.inputValue('#search'), hot);
    await page.close();
  });

  test('diff view shows a function that doubled', async () => {
    const page = await newPage();
    const { base, next } = twoProfiles();
    await page.goto(server.base + '/debug/pprof/ui/?view=diff&diff=abs');
    await page.setInputFiles('#file-input', { name: 'new.pb.gz', mimeType: 'application/octet-stream', buffer: Buffer.from(next) });
    await waitLoaded(page);
    await page.setInputFiles('#base-file', { name: 'base.pb.gz', mimeType: 'application/octet-stream', buffer: Buffer.from(base) });
    await waitLoaded(page, 'base');
    const row = page.locator('.top-table tbody tr', { has: page.locator('button.fn[title^="grows::Doubling()"]') });
    assert.equal(await row.locator('td').nth(3).textContent(), '+100.0%');
    assert.equal(await row.locator('td').nth(0).textContent(), '1s');
    assert.equal(await row.locator('td').nth(1).textContent(), '2s');
    const steady = page.locator('.top-table tbody tr', { has: page.locator('button.fn[title^="steady::Same()"]') });
    assert.equal(await steady.locator('td').nth(3).textContent(), '+0.0%');
    assert.ok(await inkedPixels(page, 'red') > 200, 'grown frame not red');
    // Normalised: the share of Doubling went from 50% to 66.7%.
    await page.selectOption('#diff-mode', '');
    const grow = await row.locator('td').nth(2).textContent();
    assert.equal(grow, '+16.67 pp');
    await urlMatches(page, /diff=abs/, false);
    await page.screenshot({ path: path.join(artifacts, 'diff.png') });
    await page.close();
  });

  test('Go profile from a file, thread label filter', async () => {
    const dir = goGen();
    const page = await newPage();
    await page.goto(server.base + '/debug/pprof/ui/');
    await page.setInputFiles('#file-input', path.join(dir, 'cpu.pb.gz'));
    await waitLoaded(page);
    assert.ok(await inkedPixels(page) > 500);
    await page.click('#view-top');
    const names = await page.locator('.top-table button.fn').evaluateAll((els) => els.map((e) => e.title.replace(/ — show callers$/, '')));
    assert.ok(names.includes('main.burnBeta'), names.join(','));
    assert.ok(names.includes('main.burnAlpha'), names.join(','));
    assert.equal(await page.locator('#thread-label').isVisible(), true);
    await page.selectOption('#thread-select', 'alpha');
    const alphaNames = await page.locator('.top-table button.fn').evaluateAll((els) => els.map((e) => e.title.replace(/ — show callers$/, '')));
    assert.ok(alphaNames.includes('main.burnAlpha'));
    assert.ok(!alphaNames.includes('main.burnBeta'), 'thread filter kept beta');
    await urlMatches(page, /thread=alpha/);
    // Heap profile: four sample types, inuse_space by default, bytes units.
    await page.setInputFiles('#file-input', path.join(dir, 'heap.pb.gz'));
    await waitLoaded(page, 'main', 2);
    assert.equal(await page.inputValue('#sample-select'), 'inuse_space');
    assert.match(await page.locator('.top-table tbody tr').first().locator('td').first().textContent(), /(KiB|MiB|B)$/);
    fs.rmSync(dir, { recursive: true, force: true });
    await page.close();
  });

  test('heap, allocs and delta_heap from the endpoint: snapshot by default, delta on request', async () => {
    // A demo of its own with heap sampling every 4 KiB on average (the default,
    // 512 KiB, leaves few live samples) and one worker allocating; the shared
    // demo is paused meanwhile, so the two cores are not oversubscribed.
    let heapSrv = server;
    if (server.proc) {
      server.proc.kill('SIGSTOP');
      heapSrv = await startDemo(process.env.CPPROF_DEMO, { threads: 1, env: { CPPROF_HEAP_RATE: '4096' } });
      ownBases.push(heapSrv.base + '/');
    }
    try {
      await heapRun(heapSrv);
    } finally {
      if (heapSrv !== server) await heapSrv.stop();
      if (server.proc) server.proc.kill('SIGCONT');
    }
  });

  async function heapRun(srv) {
    const page = await newPage();
    const fetched = [];  // profile requests, without the page's own files and the index
    page.on('request', (r) => {
      const u = r.url();
      if (u.startsWith(srv.base + '/debug/pprof/') && !u.includes('/debug/pprof/ui/') && !u.endsWith('/index.json')) {
        fetched.push(u.slice((srv.base + '/debug/pprof/').length));
      }
    });
    const open = async (name, count) => {
      await page.selectOption('#profile-select', name);
      await page.click('#load-btn');
      await waitLoaded(page, 'main', count);
    };
    const sampleTotal = async () => (await page.locator('#sample-total').textContent()).replace(/^total /, '');
    // The total next to the sample selector is the root's total in the call tree.
    const rootTotal = () => page.evaluate(() => {
      const app = window.cpprofApp;
      const p = app.main.model.profile;
      const si = app.sampleIndex();
      return { value: app.main.tree.total[si], unit: p.sampleTypes[si].unit };
    });

    await page.goto(srv.base + '/debug/pprof/ui/');
    await page.waitForFunction(() => [...document.querySelectorAll('#profile-select option')].some((o) => o.value === 'heap'));
    await page.selectOption('#profile-select', 'heap');
    assert.equal(await page.locator('#delta-label').isVisible(), true, 'no delta field for heap');
    assert.equal(await page.locator('#seconds-label').isVisible(), false, 'the CPU duration is shown for heap');
    assert.match(await page.locator('#delta-label').textContent(), /snapshot, or delta over/);
    assert.equal(await page.inputValue('#delta-seconds'), '');

    // Snapshot: no seconds parameter, a flame graph, the four heap sample types.
    await open('heap', 1);
    assert.deepEqual(fetched, ['heap']);
    await urlMatches(page, /[?&]source=heap(&|$)/);
    const tree = await page.evaluate(() => ({ nodes: window.cpprofApp.cur.tree.n, depth: window.cpprofApp.cur.tree.maxDepth }));
    assert.ok(tree.nodes > 3 && tree.depth > 2, 'heap flame graph has no stacks: ' + JSON.stringify(tree));
    assert.ok(await inkedPixels(page) > 1000, 'heap flame graph drew nothing');
    await page.screenshot({ path: path.join(artifacts, 'heap.png') });
    const options = await page.locator('#sample-select option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options, kHeapTypes.map(([t, u]) => [t, t + ' (' + u + ')']));
    assert.equal(await page.inputValue('#sample-select'), 'inuse_space');
    const inuse = await sampleTotal();
    assert.match(inuse, /^\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
    let root = await rootTotal();
    assert.equal(inuse, formatValue(root.value, root.unit));
    assert.ok(root.value > 0, 'nothing in use');
    assert.equal(await page.locator('#pprof-cmd').textContent(), "go tool pprof -http=: '" + srv.base + "/debug/pprof/heap'");
    // The top table shows bytes with binary prefixes, counts as plain numbers.
    await page.click('#view-top');
    assert.match(await page.locator('.top-table tbody tr').first().locator('td').nth(2).textContent(), /^-?\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
    await page.selectOption('#sample-select', 'inuse_objects');
    assert.match(await page.locator('.top-table tbody tr').first().locator('td').nth(2).textContent(), /^-?[\d,]+$/);
    assert.match(await sampleTotal(), /^[\d,]+$/);
    await page.click('#view-flame');

    // alloc_space: another total, in bytes; the choice goes to the URL.
    await page.selectOption('#sample-select', 'alloc_space');
    const allocSpace = await sampleTotal();
    assert.match(allocSpace, /^\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
    root = await rootTotal();
    assert.equal(allocSpace, formatValue(root.value, root.unit));
    assert.notEqual(allocSpace, inuse);
    await urlMatches(page, /sample=alloc_space/);

    // allocs shows alloc_space first; a type picked for heap gives way to it.
    await page.selectOption('#sample-select', 'inuse_objects');
    await open('allocs', 2);
    assert.deepEqual(fetched.slice(1), ['allocs']);
    assert.equal(await page.inputValue('#sample-select'), 'alloc_space');
    await urlMatches(page, /sample=/, false);
    // ... and heap again its inuse_space.
    await page.selectOption('#sample-select', 'alloc_objects');
    await open('heap', 3);
    assert.equal(await page.inputValue('#sample-select'), 'inuse_space');

    // A delta is asked for explicitly: seconds=N, with a countdown.
    await page.fill('#delta-seconds', '2');
    await page.click('#load-btn');
    await page.waitForFunction(() => /heap delta: \d+ s left|Waiting/.test(document.getElementById('progress-text').textContent),
      null, { timeout: 30000 });
    await waitLoaded(page, 'main', 4);
    assert.deepEqual(fetched.slice(3), ['heap?seconds=2']);
    await urlMatches(page, /source=heap%3Fseconds%3D2/);
    assert.equal(await page.locator('#pprof-cmd').textContent(), "go tool pprof -http=: '" + srv.base + "/debug/pprof/heap?seconds=2'");
    assert.match(await sampleTotal(), /^-?\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
    // Emptying the field goes back to snapshots.
    await page.fill('#delta-seconds', '');
    await open('heap', 5);
    assert.deepEqual(fetched.slice(4), ['heap']);

    // delta_heap takes no seconds at all.
    await page.selectOption('#profile-select', 'delta_heap');
    assert.equal(await page.locator('#delta-label').isVisible(), false);
    assert.equal(await page.locator('#seconds-label').isVisible(), false);
    await open('delta_heap', 6);
    assert.deepEqual(fetched.slice(5), ['delta_heap']);
    assert.equal(await page.inputValue('#sample-select'), 'inuse_space');

    // The CPU profile keeps its duration field.
    await page.selectOption('#profile-select', 'profile');
    assert.equal(await page.locator('#seconds-label').isVisible(), true);
    assert.equal(await page.locator('#delta-label').isVisible(), false);
    assert.equal(await page.locator('#delta-seconds').isDisabled(), true, 'a hidden field could block the form');

    // Opened from a link: allocs shows alloc_space; a delta link fills the field.
    await page.goto(srv.base + '/debug/pprof/ui/?source=allocs');
    await waitLoaded(page);
    assert.equal(await page.inputValue('#sample-select'), 'alloc_space');
    await page.waitForFunction(() => document.getElementById('profile-select').value === 'allocs');
    assert.equal(await page.inputValue('#delta-seconds'), '');
    await page.goto(srv.base + '/debug/pprof/ui/?source=heap%3Fseconds%3D1');
    await page.waitForFunction(() => document.getElementById('delta-seconds').value === '1');
    assert.equal(await page.locator('#delta-label').isVisible(), true);
    await waitLoaded(page);
    await page.close();
  }

  test('mutex and block from the endpoint: Go sample types, the demo lock sites', async () => {
    if (!server.proc) return;  // the fixture server has no lock contention
    const page = await newPage();
    await page.goto(server.base + '/debug/pprof/ui/');
    await page.waitForFunction(() => [...document.querySelectorAll('#profile-select option')].some((o) => o.value === 'mutex'));
    let loads = 0;
    for (const [name, site] of [['mutex', 'ConfigStore::Refresh'], ['block', 'ConfigStore::Lookup']]) {
      await page.selectOption('#profile-select', name);
      assert.equal(await page.locator('#delta-label').isVisible(), true, 'no delta field for ' + name);
      assert.equal(await page.locator('#seconds-label').isVisible(), false, 'the CPU duration is shown for ' + name);
      await page.click('#load-btn');
      await waitLoaded(page, 'main', ++loads);
      assert.notEqual(await page.evaluate(() => document.body.dataset.status), 'error', name + ' did not load');
      const types = await page.locator('#sample-select option').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(types, ['contentions', 'delay'], name + ' sample types');
      const frames = await page.evaluate(() => window.cpprofApp.flame.data.frameName);
      assert.ok(frames.some((f) => f.includes(site)), name + ' lacks ' + site + ': ' + frames.slice(0, 20).join(', '));
      assert.ok(await inkedPixels(page) > 500, name + ' flame graph drew nothing');
      await page.screenshot({ path: path.join(artifacts, name + '.png') });
    }
    await page.close();
  });

  test('a delta with negative values: absolute widths, net values, shrunk frames in blue', async () => {
    const prof = heapProfile([
      [['cache::Grow()', 'cache::Refresh()', 'main'], [10, 3 << 20, 10, 3 << 20]],
      [['cache::Evict()', 'cache::Refresh()', 'main'], [0, 0, -4, -(1 << 20)]],
      [['cache::Drop()', 'main'], [0, 0, -8, -(2 << 20)]],
      [['io::Buffer()', 'main'], [5, 1 << 20, 2, 512 << 10]],
    ]);
    const page = await newPage();
    await page.goto(server.base + '/debug/pprof/ui/');
    await page.setInputFiles('#file-input', { name: 'heap-delta.pb.gz', mimeType: 'application/octet-stream', buffer: Buffer.from(prof) });
    await waitLoaded(page);
    assert.equal(await page.inputValue('#sample-select'), 'inuse_space');
    assert.equal(await page.locator('#sample-total').textContent(), 'total 512 KiB');
    assert.match(await page.locator('#view-note').textContent(), /negative inuse_space values/);
    // Every frame fits inside its parent, siblings do not overlap, widths are absolute.
    const layout = await page.evaluate(() => {
      const app = window.cpprofApp;
      const t = app.cur.tree, w = app.cur.width, x = app.cur.x;
      const bad = [];
      for (let n = 0; n < t.n; n++) {
        if (w[n] < 0) bad.push('negative width ' + n);
        let end = x[n];
        for (let j = t.childStart[n]; j < t.childStart[n + 1]; j++) {
          const c = t.children[j];
          if (x[c] < end - 1e-9) bad.push('overlap at ' + c);
          end = x[c] + w[c];
        }
        if (end > x[n] + w[n] + 1e-9) bad.push('children overflow ' + n);
      }
      const byName = {};
      for (let n = 1; n < t.n; n++) byName[app.cur.frameName[t.frame[n]]] = n;
      return { bad, root: w[0], drop: w[byName['cache::Drop()']] };
    });
    assert.deepEqual(layout.bad, []);
    assert.equal(layout.root, (3 << 20) + (1 << 20) + (2 << 20) + (512 << 10));
    assert.equal(layout.drop, 2 << 20);
    assert.ok(await inkedPixels(page, 'blue') > 500, 'frames below zero are not blue');
    await page.screenshot({ path: path.join(artifacts, 'heap-delta-negative.png') });
    // Tooltips give the net value.
    const p = await page.evaluate(() => {
      const app = window.cpprofApp, f = app.flame, t = f.data.tree;
      let n = 1;
      while (app.cur.frameName[t.frame[n]] !== 'cache::Drop()') n++;
      const { x0, scale } = f.range();
      const r = f.canvas.getBoundingClientRect();
      return { x: r.left + (f.data.x[n] - x0 + f.data.width[n] / 2) * scale, y: r.top + f.rowY(t.depth[n]) + 9 };
    });
    await page.mouse.move(p.x, p.y);
    await page.waitForSelector('#tooltip:not([hidden])');
    assert.equal(await page.locator('#tip-name').textContent(), 'cache::Drop()');
    assert.match(await page.locator('#tip-values').textContent(), /^Total: -2 MiB \(-400.0%\)/);
    // alloc_space has no negative values: the plain view.
    await page.selectOption('#sample-select', 'alloc_space');
    assert.equal(await page.locator('#view-note').textContent(), '');
    assert.equal(await inkedPixels(page, 'blue'), 0);
    await page.close();
  });

  test('name detail: short, without parameters, full; kept in the URL', async () => {
    const full = 'demo::Table<demo::Row, std::allocator<demo::Row> >::Sort(std::vector<int, std::allocator<int> >&)';
    const prof = gzip(encodeProfile({
      sampleTypes: [['samples', 'count']],
      samples: [{ stack: [full, 'main'], values: [7] }],
    }));
    const page = await newPage();
    await page.goto(server.base + '/debug/pprof/ui/?view=top');
    await page.setInputFiles('#file-input', { name: 'names.pb.gz', mimeType: 'application/octet-stream', buffer: Buffer.from(prof) });
    await waitLoaded(page);
    const label = () => page.locator('.top-table button.fn[title^="demo::Table"]').textContent();
    assert.equal(await page.inputValue('#names-select'), 'short');
    assert.equal(await label(), 'demo::Table<…>::Sort(…)');
    await page.selectOption('#names-select', 'params');
    assert.equal(await label(), 'demo::Table<demo::Row, std::allocator<demo::Row> >::Sort(…)');
    await urlMatches(page, /names=params/);
    await page.selectOption('#names-select', 'full');
    assert.equal(await label(), full);
    await urlMatches(page, /names=full/);
    // The flame graph's breadcrumb follows too, and the choice survives a reload.
    await page.click('#view-flame');
    await page.goto(page.url().replace(/names=full/, 'names=params'));
    assert.equal(await page.inputValue('#names-select'), 'params');
    await page.selectOption('#names-select', 'short');
    await urlMatches(page, /names=/, false);
    await page.close();
  });

  test('bad input gives a clear message', async () => {
    const page = await newPage();
    const { next } = twoProfiles();
    await page.goto(server.base + '/debug/pprof/ui/');
    await page.setInputFiles('#file-input', { name: 'cut.pb.gz', mimeType: 'application/octet-stream', buffer: Buffer.from(next.subarray(0, next.length >> 1)) });
    assert.match(await waitError(page), /cut\.pb\.gz could not be read: .*(corrupt or truncated|truncated)/);
    await page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello, this is not a profile\n') });
    assert.match(await waitError(page), /notes\.txt could not be read: not a valid pprof profile/);
    await page.setInputFiles('#file-input', { name: 'empty.pb', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
    assert.match(await waitError(page), /empty/);
    await page.goto(server.base + '/debug/pprof/ui/?source=no_such_profile');
    assert.match(await waitError(page), /no_such_profile: HTTP 404/);
    await page.goto(server.base + '/debug/pprof/ui/?source=' + encodeURIComponent('/debug/pprof/ui/missing.pb.gz'));
    assert.match(await waitError(page), /HTTP 404/);
    await page.screenshot({ path: path.join(artifacts, 'error.png') });
    await page.close();
  });

  test('speed: 100,000 samples over 50,000 stacks', async () => {
    const big = gzip(syntheticBig({ nSamples: 100000, nStacks: 50000 }));
    // Timed against a quiet copy of the demo (no busy worker threads; the
    // shared demo is paused meanwhile), so the numbers are the page's, not
    // the demo's CPU burners' competing for the two cores.
    let quiet = null;
    if (server.proc) {
      server.proc.kill('SIGSTOP');
      quiet = await startDemo(process.env.CPPROF_DEMO, { threads: 0 });
      ownBases.push(quiet.base + '/');
    }
    try {
      await speedRun(quiet || server, big);
    } finally {
      if (quiet) await quiet.stop();
      if (server.proc) server.proc.kill('SIGCONT');
    }
  });

  // Opens the page and loads the big profile from a file. With `warm`, the
  // file is chosen once the decoder worker has warmed up (as for anyone who
  // takes more than a moment to pick a file); without, at once (the warm-up
  // is cut short by the real profile).
  async function timedLoad(srv, big, warm) {
    const page = await newPage();
    await page.goto(srv.base + '/debug/pprof/ui/');
    const warmup = warm ? await page.evaluate(() => window.cpprofApp.workerWarm) : null;
    await page.setInputFiles('#file-input', { name: 'big.pb.gz', mimeType: 'application/octet-stream', buffer: Buffer.from(big) });
    await waitLoaded(page);
    const load = await page.evaluate(() => ({ ...window.cpprofApp.timings, nodes: window.cpprofApp.cur.tree.n }));
    return { page, load, warmup };
  }

  async function speedRun(srv, big) {
    const cold = await timedLoad(srv, big, false);
    await cold.page.close();
    const { page, load, warmup } = await timedLoad(srv, big, true);
    assert.equal(warmup !== null && warmup.steps > 0, true, 'the decoder worker warmed up: ' + JSON.stringify(warmup));
    const p = await nodePoint(page, 3);
    const ops = await page.evaluate((pt) => {
      const app = window.cpprofApp;
      const time = (fn) => { const t0 = performance.now(); fn(); return performance.now() - t0; };
      const zoom = time(() => app.zoomTo(pt.node));
      const zoomOut = time(() => app.zoomTo(0));
      const ev = new MouseEvent('mousemove', { clientX: pt.x, clientY: pt.y, bubbles: true });
      const hover = time(() => { app.flame.canvas.dispatchEvent(ev); app.flame.draw(); });
      const search = time(() => app.setSearch('method1[0-9]'));
      const matched = document.getElementById('matched').textContent;
      const clear = time(() => app.setSearch(''));
      const redraw = time(() => app.flame.draw());
      return { zoom, zoomOut, hover, search, clear, redraw, matched };
    }, p);
    const result = {
      machine: { cpus: os.cpus().length, loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
        server: srv === server ? 'shared' : 'quiet demo (--threads 0)' },
      profile: { samples: 100000, stacks: 50000, gzipBytes: big.length, treeNodes: load.nodes },
      loadMs: { fileRead: load.fetchMs, gunzipInWorker: load.gunzipMs, decodeInWorker: load.decodeMs,
        framesInWorker: load.modelMs, treeInWorker: load.treeMs, deliverToPage: load.deliverMs, layout: load.layoutMs,
        firstDraw: load.drawMs, total: load.totalMs },
      workerWarmUp: warmup,
      coldLoadMs: { gunzipInWorker: cold.load.gunzipMs, decodeInWorker: cold.load.decodeMs,
        framesInWorker: cold.load.modelMs, treeInWorker: cold.load.treeMs, total: cold.load.totalMs },
      interactionMs: { zoom: ops.zoom, zoomOut: ops.zoomOut, hover: ops.hover, search: ops.search, clearSearch: ops.clear, redraw: ops.redraw },
    };
    console.log('speed ' + JSON.stringify(result, (k, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)));
    fs.writeFileSync(path.join(artifacts, 'speed.json'), JSON.stringify(result, null, 2));
    assert.match(ops.matched, /Matched: /);
    assert.equal(load.nodes > 50000, true);
    await page.screenshot({ path: path.join(artifacts, 'big.png') });
    await page.close();
  }

  test('thread dump, threadcreate and thread_leaks from the endpoint', async () => {
    if (!process.env.CPPROF_DEMO) return;  // the development server has no thread routes
    const page = await newPage();
    await page.goto(server.base + '/debug/pprof/ui/');
    await page.waitForFunction(() => [...document.querySelectorAll('#profile-select option')].some((o) => o.value === 'goroutine'));
    const names = await page.locator('#profile-select option').evaluateAll((os) => os.map((o) => o.value));
    for (const n of ['goroutine', 'threads', 'threadcreate', 'thread_leaks']) assert.ok(names.includes(n), 'no ' + n + ' in ' + names);
    let loads = 0;
    for (const name of ['goroutine', 'threadcreate']) {
      await page.selectOption('#profile-select', name);
      // seconds means a delta for both, as for heap.
      assert.equal(await page.locator('#delta-label').isVisible(), true, 'no delta field for ' + name);
      await page.click('#load-btn');
      await waitLoaded(page, 'main', ++loads);
      const type = name === 'goroutine' ? 'goroutine' : 'threadcreate';
      const options = await page.locator('#sample-select option').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(options, [type]);
      // Every thread of the demo is one count: the total is the thread count.
      const total = (await page.locator('#sample-total').textContent()).replace(/^total /, '');
      assert.match(total, /^\d+$/);
      assert.ok(Number(total) >= 4, name + ' total ' + total);
      const tree = await page.evaluate(() => ({ nodes: window.cpprofApp.cur.tree.n, depth: window.cpprofApp.cur.tree.maxDepth }));
      assert.ok(tree.nodes > 3 && tree.depth > 2, name + ' flame graph has no stacks: ' + JSON.stringify(tree));
      assert.ok(await inkedPixels(page) > 1000, name + ' flame graph drew nothing');
      await page.screenshot({ path: path.join(artifacts, name + '.png') });
    }
    // Blocked threads' stacks reach their entry (the demo's main thread
    // sleeps); the busy workers are shown running, not signalled.
    await page.selectOption('#profile-select', 'goroutine');
    await page.click('#load-btn');
    await waitLoaded(page, 'main', ++loads);
    const frames = await page.evaluate(() => window.cpprofApp.main.model.frameName.join('\n'));
    assert.match(frames, /^start_thread$/m);
    assert.match(frames, /^main$/m);
    assert.match(frames, /^\[running\]$/m);
    await page.close();
  });

  test('fd from the endpoint: descriptors by creation stack', async () => {
    if (!process.env.CPPROF_DEMO) return;  // the development server has no fd route
    const page = await newPage();
    await page.goto(server.base + '/debug/pprof/ui/');
    await page.waitForFunction(() => [...document.querySelectorAll('#profile-select option')].some((o) => o.value === 'fd'));
    await page.selectOption('#profile-select', 'fd');
    // seconds means a delta (descriptors opened in the window), as for heap.
    assert.equal(await page.locator('#delta-label').isVisible(), true, 'no delta field for fd');
    await page.click('#load-btn');
    await waitLoaded(page, 'main', 1);
    const options = await page.locator('#sample-select option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, ['fds']);
    const total = Number((await page.locator('#sample-total').textContent()).replace(/^total /, ''));
    assert.ok(total >= 6, 'fd total ' + total);
    const frames = await page.evaluate(() => window.cpprofApp.main.model.frameName.join('\n'));
    assert.match(frames, /OpenSpillFiles/, 'the demo\'s spill files are not at their creation stack');
    assert.match(frames, /unknown origin/, 'inherited descriptors are not shown as unknown origin');
    assert.ok(await inkedPixels(page) > 1000, 'fd flame graph drew nothing');
    await page.screenshot({ path: path.join(artifacts, 'fd.png') });
    await page.close();
  });

  test('other web pages cannot read or start a profile, not even through a name that resolves to 127.0.0.1', async () => {
    if (!process.env.CPPROF_DEMO) return;  // the origin checks are the library's, not the dev server's
    // A fresh endpoint, so "no CPU profile ran" can be read from its stats.
    const demo = await startDemo(process.env.CPPROF_DEMO);
    const attacker = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>somebody else\'s page</title>');
    });
    await new Promise((r) => attacker.listen(0, '127.0.0.1', r));
    const aport = attacker.address().port;
    const stat = async (name) => {
      const text = await (await fetch(demo.base + '/debug/pprof/stats')).text();
      const m = new RegExp('^' + name + ' (\\S+)$', 'm').exec(text);
      assert.ok(m, name + ' not on the stats page');
      return Number(m[1]);
    };
    const page = await browser.context.newPage();  // not newPage(): these requests are foreign on purpose
    try {
      const cmdline = await (await fetch(demo.base + '/debug/pprof/cmdline')).text();
      assert.ok(cmdline.length > 0);
      const forbidden0 = await stat('cpprof_http_forbidden_origin_total');
      const attempt = (target) => page.evaluate(async (t) => {
        const out = {};
        // A CORS read (Origin sent), a no-cors GET (cross-site or same-site), an <img>.
        try { const r = await fetch(t + '/debug/pprof/cmdline'); out.read = r.status + ':' + await r.text(); } catch (e) { out.read = 'refused'; }
        try { await fetch(t + '/debug/pprof/profile?seconds=30&hz=1000', { mode: 'no-cors' }); out.start = 'sent'; } catch (e) { out.start = 'error'; }
        await new Promise((r) => { const i = new Image(); i.onload = i.onerror = r; i.src = t + '/debug/pprof/profile?seconds=30'; });
        return out;
      }, target);
      // A cross-site page, and a same-site one (127.0.0.1 on another port).
      for (const origin of ['http://evil.test:' + aport, 'http://127.0.0.1:' + aport]) {
        await page.goto(origin + '/');
        const out = await attempt(demo.base);
        assert.equal(out.read, 'refused', origin + ' read the command line: ' + out.read);
      }
      // DNS rebinding: the attacker's name now resolves to 127.0.0.1, so
      // http://evil.test:PORT is, to the browser, the endpoint's own origin.
      const direct = await page.goto('http://evil.test:' + demo.port + '/debug/pprof/cmdline');
      assert.equal(direct.status(), 403);
      const body = await page.evaluate(() => document.body.innerText);
      assert.match(body, /DNS rebinding/);
      assert.ok(!body.includes(cmdline.split('\0')[0]), 'the rebound page saw the command line');
      const same = await page.evaluate(async () => {
        const r = await fetch('/debug/pprof/profile?seconds=30');
        return r.status + ':' + await r.text();
      });
      assert.match(same, /^403:Forbidden: Host "evil\.test"/);
      assert.equal((await page.goto('http://evil.test:' + demo.port + '/debug/pprof/ui/')).status(), 403);
      // 2 pages x (read + no-cors + img) + the rebound page, its fetch and its ui/.
      const forbidden = (await stat('cpprof_http_forbidden_origin_total')) - forbidden0;
      assert.ok(forbidden >= 9, 'only ' + forbidden + ' requests were refused');
      assert.equal(await stat('cpprof_cpu_signals_total'), 0, 'a refused request started a CPU profile');
      // The endpoint's own page, by address and by localhost, still works.
      for (const base of [demo.base, 'http://localhost:' + demo.port]) {
        const r = await page.goto(base + '/debug/pprof/ui/?source=heap');
        assert.equal(r.status(), 200, base);
        await waitLoaded(page);
      }
    } finally {
      await page.close();
      await new Promise((r) => attacker.close(r));
      await demo.stop();
    }
  });

  test('no foreign requests and no script errors (CSP)', () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(consoleErrors, []);
  });
});
