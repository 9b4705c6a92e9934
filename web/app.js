// SPDX-License-Identifier: Apache-2.0
//
// The page: sources (live endpoint, file, URL), state in the URL, and the
// views (flame, icicle, top, callers, diff) wired to the renderer and tables.
// Profile bytes are decoded in a Web Worker (decode_worker.js); trees for a
// thread filter, the callers view and the diff are built here on demand.

import {
  decodeAndBuild, buildTree, buildCallersTree, buildDiffTree, flatCum, treeFlat,
  layoutX, column, pathOf, findPath, searchTree, frameMatches, frameOrder, threadMask,
} from './profile_model.js';
import { FlameView } from './flame.js';
import { TopTable } from './top_table.js';
import { formatValue, formatPercent } from './format.js';
import { displayName } from './names.js';
import { readState, writeState, dropPendingState, splitFocus, joinFocus, kViews } from './url_state.js';

const $ = (id) => document.getElementById(id);

class HttpError extends Error {}

// ---------------------------------------------------------------------------
// Decoding in a worker (with an in-page fallback where module workers fail).

let worker = null;
let workerSeq = 0;
const workerWaits = new Map();
// Resolves with the worker's warm-up report ({steps, ms, interrupted}), or
// null when there is no worker.
let workerWarmed;
const workerWarm = new Promise((resolve) => { workerWarmed = resolve; });

// Started when the page loads, so the worker's modules are fetched and
// compiled before the first profile arrives.
function startWorker() {
  if (worker !== null) return;
  try {
    worker = new Worker(new URL('./decode_worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (e) => {
      if (e.data.warm) {
        workerWarmed(e.data.warm);
        return;
      }
      if (e.data.names) {
        // The worker builds the tree while the page sorts the frame names.
        let order = null;
        try {
          order = frameOrder(e.data.names);
        } catch (err) {
          // The worker sorts them itself.
        }
        worker.postMessage({ id: e.data.id, order }, order ? [order.buffer] : []);
        return;
      }
      const w = workerWaits.get(e.data.id);
      if (!w) return;
      workerWaits.delete(e.data.id);
      if (e.data.error) {
        w.reject(new Error(e.data.error));
        return;
      }
      e.data.timings.deliverMs = performance.timeOrigin + performance.now() - e.data.sentAt;
      w.resolve(e.data);
    };
    worker.onerror = (e) => {
      for (const w of workerWaits.values()) w.reject(new Error('decoder worker failed: ' + (e.message || 'error')));
      workerWaits.clear();
      worker = false;
      workerWarmed(null);
    };
  } catch (e) {
    worker = false;
    workerWarmed(null);
  }
}

function decodeInWorker(bytes) {
  startWorker();
  if (worker === false) return decodeAndBuild(bytes);
  return new Promise((resolve, reject) => {
    const id = ++workerSeq;
    workerWaits.set(id, { resolve, reject });
    const copy = bytes.slice().buffer;  // keep the original for download
    worker.postMessage({ id, bytes: copy }, [copy]);
  });
}

// ---------------------------------------------------------------------------

function sourceUrl(src) {
  if (/^https?:\/\//i.test(src) || src.startsWith('/')) return new URL(src, location.href).href;
  // A path under /debug/pprof/; the page lives at /debug/pprof/ui/.
  return new URL('../' + src, location.href).href;
}

function secondsOf(src) {
  const q = src.indexOf('?');
  if (q < 0) return 0;
  const s = Number(new URLSearchParams(src.slice(q + 1)).get('seconds'));
  return s > 0 ? s : 0;
}

// Sample types and default of a profile, to tell whether a newly opened
// profile is of the same kind as the one shown.
function sampleKind(profile) {
  return profile.sampleTypes.map((t) => t.type + '/' + t.unit).join(',') + '|' + profile.defaultSampleType;
}

function shellQuote(s) {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

class App {
  constructor() {
    this.state = readState(location.search);
    this.main = null;   // {label, bytes, model, tree, fileName, url}
    this.base = null;
    this.caches = new Map();
    this.nameCaches = new WeakMap();
    this.cur = null;    // what the graph shows
    this.searchMark = null;  // per node of cur.tree: 1 where the search matches
    this.zoom = 0;
    this.sel = -1;
    this.timings = {};
    this.profiles = [];
    this.dark = matchMedia('(prefers-color-scheme: dark)').matches;
    this.flame = new FlameView($('graph'), {
      onHover: (n, e) => this.showTooltip(n, e),
      onLeave: () => this.hideTooltip(),
      onClick: (n) => { this.select(n); this.zoomTo(n); },
    });
    this.table = new TopTable($('table-host'), (f) => this.showCallers(f));
    this.bind();
  }

  // ---- status, messages -------------------------------------------------

  setStatus(s) {
    document.body.dataset.status = s;
  }

  showError(msg) {
    const m = $('message');
    m.textContent = msg;
    m.hidden = false;
    this.setStatus('error');
  }

  clearError() {
    $('message').hidden = true;
    $('message').textContent = '';
  }

  // ---- loading ----------------------------------------------------------

  async fetchSource(src) {
    const url = sourceUrl(src);
    const secs = secondsOf(src);
    const prog = $('progress');
    let timer = 0;
    if (secs > 0) {
      const start = performance.now();
      prog.hidden = false;
      $('progress-bar').max = secs;
      const tick = () => {
        const el = (performance.now() - start) / 1000;
        $('progress-bar').value = Math.min(secs, el);
        const left = Math.max(0, Math.ceil(secs - el));
        $('progress-text').textContent = left > 0
          ? 'Collecting ' + src.split('?')[0] + (this.isDelta(src) ? ' delta' : ' profile') + ': ' + left + ' s left'
          : 'Waiting for the profile…';
      };
      tick();
      timer = setInterval(tick, 250);
    } else {
      prog.hidden = false;
      $('progress-bar').removeAttribute('value');
      $('progress-text').textContent = 'Fetching ' + src + '…';
    }
    try {
      let res;
      try {
        res = await fetch(url, { credentials: 'same-origin' });
      } catch (e) {
        throw new HttpError('Could not reach ' + url + ': ' + e.message);
      }
      if (!res.ok) {
        let text = '';
        try { text = (await res.text()).trim(); } catch (e) { /* no body */ }
        if (text.length > 500) text = text.slice(0, 500) + '…';
        throw new HttpError('Could not load ' + src + ': HTTP ' + res.status + ' ' + res.statusText +
          (text ? ' — ' + text : ''));
      }
      return new Uint8Array(await res.arrayBuffer());
    } finally {
      clearInterval(timer);
      prog.hidden = true;
    }
  }

  // Whether `src` asks an endpoint whose `seconds` means a delta (heap, allocs) for one.
  isDelta(src) {
    const q = src.indexOf('?');
    const path = q < 0 ? src : src.slice(0, q);
    const p = this.profiles.find((x) => x.rel === path);
    return Boolean(p && p.secondsDelta && secondsOf(src) > 0);
  }

  // which: 'main' | 'base'; spec: {src} or {file}, with opened: true when the
  // user opened it (not when it comes from the URL or history).
  async load(which, spec) {
    const t0 = performance.now();
    this.clearError();
    this.setStatus('loading');
    let label, bytes, fileName = '';
    try {
      if (spec.file) {
        label = spec.file.name;
        fileName = spec.file.name;
        bytes = new Uint8Array(await spec.file.arrayBuffer());
      } else {
        label = spec.src;
        bytes = await this.fetchSource(spec.src);
      }
      const t1 = performance.now();
      $('progress').hidden = false;
      $('progress-bar').removeAttribute('value');
      $('progress-text').textContent = 'Decoding ' + label + ' (' + (bytes.length / 1024).toFixed(0) + ' KiB)…';
      let decoded;
      try {
        decoded = await decodeInWorker(bytes);
      } catch (e) {
        throw new HttpError((spec.file ? 'The file ' : '') + label + ' could not be read: ' + e.message);
      } finally {
        $('progress').hidden = true;
      }
      const entry = { label, bytes, fileName, src: spec.src || '', model: decoded.model, tree: decoded.tree };
      if (which === 'main') {
        // A sample type picked for another kind of profile (e.g. inuse_space
        // on heap) gives way to the new profile's default (alloc_space on allocs).
        if (spec.opened && this.main && this.state.sample &&
            sampleKind(this.main.model.profile) !== sampleKind(entry.model.profile)) {
          this.state.sample = '';
          writeState(this.state, false);
        }
        this.main = entry;
        this.timings = { start: t0, fetchMs: t1 - t0, ...decoded.timings };
      } else {
        this.base = entry;
      }
      this.caches.clear();
      this.afterLoad(which);
      this.render(true);
      if (which === 'main') this.timings.totalMs = performance.now() - t0;
      document.body.dataset[which + 'Loaded'] = String((Number(document.body.dataset[which + 'Loaded']) || 0) + 1);
      this.setStatus('ready');
    } catch (e) {
      this.showError(e instanceof HttpError ? e.message : 'Error: ' + e.message);
    }
  }

  afterLoad(which) {
    if (which !== 'main') return;
    const p = this.main.model.profile;
    const sel = $('sample-select');
    sel.textContent = '';
    p.sampleTypes.forEach((t, i) => {
      const o = document.createElement('option');
      o.value = t.type;
      o.textContent = t.type + ' (' + t.unit + ')';
      sel.append(o);
    });
    if (this.state.sample && !p.sampleTypes.some((t) => t.type === this.state.sample)) {
      this.state.sample = '';
      writeState(this.state, false);
    }
    sel.value = this.state.sample || p.sampleTypes[p.defaultSampleType].type;
    const th = $('thread-select');
    th.textContent = '';
    const all = document.createElement('option');
    all.value = '';
    all.textContent = 'all threads';
    th.append(all);
    for (const t of this.main.model.threads) {
      const o = document.createElement('option');
      o.value = t;
      o.textContent = t;
      th.append(o);
    }
    $('thread-label').hidden = this.main.model.threads.length === 0;
    if (this.state.thread && !this.main.model.threads.includes(this.state.thread)) {
      this.state.thread = '';
      writeState(this.state, false);
    }
    th.value = this.main.model.threads.includes(this.state.thread) ? this.state.thread : '';
    // Download and the equivalent go tool pprof command.
    const a = $('download');
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
    this.blobUrl = URL.createObjectURL(new Blob([this.main.bytes], { type: 'application/octet-stream' }));
    a.href = this.blobUrl;
    const base = this.main.fileName || (this.main.src.split('?')[0].replace(/[^A-Za-z0-9_.-]+/g, '_') || 'profile');
    a.download = this.main.fileName || base + '.pb.gz';
    a.hidden = false;
    this.updateCommand();
    $('source-input').value = this.main.src;
    const d = p.durationNanos ? ' · ' + formatValue(p.durationNanos, 'nanoseconds') : '';
    $('source-label').textContent = this.main.label + d;
  }

  updateCommand() {
    if (!this.main) return;
    const arg = (e) => (e.src ? shellQuote(sourceUrl(e.src)) : shellQuote(e.fileName));
    let cmd = 'go tool pprof -http=: ';
    if (this.base && this.state.view === 'diff') cmd += '-diff_base ' + arg(this.base) + ' ';
    cmd += arg(this.main);
    $('pprof-cmd').textContent = cmd;
  }

  // ---- derived data -------------------------------------------------------

  sampleIndex() {
    const p = this.main.model.profile;
    const i = p.sampleTypes.findIndex((t) => t.type === this.state.sample);
    return i >= 0 ? i : p.defaultSampleType;
  }

  unit() {
    return this.main.model.profile.sampleTypes[this.sampleIndex()].unit;
  }

  cached(key, fn) {
    let v = this.caches.get(key);
    if (v === undefined) {
      v = fn();
      this.caches.set(key, v);
    }
    return v;
  }

  // Sum of the chosen sample type over the (thread-filtered) samples.
  sampleTotal() {
    const si = this.sampleIndex();
    return this.cached('total:' + si + ':' + this.state.thread, () => {
      const p = this.main.model.profile;
      const T = p.sampleTypes.length;
      const mask = this.mask(this.main);
      const n = this.main.model.stackStart.length - 1;
      let sum = 0;
      for (let s = 0; s < n; s++) if (!mask || mask[s]) sum += p.values[s * T + si];
      return sum;
    });
  }

  mask(entry) {
    return this.cached('mask:' + (entry === this.main ? 'm' : 'b') + ':' + this.state.thread,
      () => threadMask(entry.model, this.state.thread));
  }

  // Display names at the chosen detail (state.names), made on first use (a
  // profile can have 100k functions). Cached per frame table and detail; the
  // caches map is cleared when a profile is loaded.
  shortNames(names) {
    const mode = this.state.names || 'short';
    let perMode = this.nameCaches.get(names);
    if (!perMode) this.nameCaches.set(names, (perMode = new Map()));
    let v = perMode.get(mode);
    if (!v) {
      v = new Proxy([], {
        get(cache, k) {
          if (typeof k !== 'string' || !/^\d+$/.test(k)) return cache[k];
          let s = cache[k];
          if (s === undefined) s = cache[k] = displayName(names[k], mode);
          return s;
        },
      });
      perMode.set(mode, v);
    }
    return v;
  }

  // Whether sample type `si` of the main profile has a negative value. A
  // delta (heap?seconds=N) has them: objects allocated before the window and
  // freed in it count as negative inuse.
  signed(si) {
    return this.cached('signed:' + si, () => {
      const p = this.main.model.profile;
      const T = p.sampleTypes.length;
      const n = this.main.model.stackStart.length - 1;
      for (let s = 0; s < n; s++) if (p.values[s * T + si] < 0) return true;
      return false;
    });
  }

  // The main model with every sample type twice: net values, then absolute
  // ones. A tree built from it has both, so a signed profile is drawn with
  // absolute widths (children then fit inside their parent) while tooltips
  // and tables show net values.
  absModel() {
    return this.cached('absModel', () => {
      const m = this.main.model, p = m.profile;
      const T = p.sampleTypes.length;
      const n = m.stackStart.length - 1;
      const values = new Float64Array(2 * T * n);
      for (let s = 0; s < n; s++) {
        for (let t = 0; t < T; t++) {
          const v = p.values[s * T + t];
          values[2 * T * s + t] = v;
          values[2 * T * s + T + t] = Math.abs(v);
        }
      }
      return { ...m, profile: { ...p, sampleTypes: p.sampleTypes.concat(p.sampleTypes), values } };
    });
  }

  fullTree(signed) {
    if (signed) return this.cached('absTree:' + this.state.thread, () => buildTree(this.absModel(), this.mask(this.main)));
    if (!this.state.thread) return this.main.tree;
    return this.cached('tree:' + this.state.thread, () => buildTree(this.main.model, this.mask(this.main)));
  }

  // Fields of `cur` for a tree view of sample type si: the value column, the
  // width column, and for a signed profile blue for frames below zero.
  treeColumns(tree, si, signed) {
    if (!signed) return { col: si, widthCol: si, signed: false };
    const T = this.main.model.profile.sampleTypes.length;
    const blue = 'hsl(215,70%,' + (this.dark ? 42 : 68) + '%)';
    const { total, cols } = tree;
    return { col: si, widthCol: T + si, signed: true, color: (node) => (total[node * cols + si] < 0 ? blue : null) };
  }

  frameByName(name) {
    return this.main.model.frameName.indexOf(name);
  }

  // ---- rendering ----------------------------------------------------------

  render(fresh) {
    if (!this.main) return;
    const st = this.state;
    const view = st.view;
    for (const v of kViews) $('view-' + v).setAttribute('aria-pressed', String(v === view));
    $('diff-controls').hidden = view !== 'diff';
    $('graph').hidden = view === 'top';
    $('table-host').hidden = !(view === 'top' || view === 'diff' || (view === 'callers' && !st.focus));
    document.body.dataset.view = view;
    this.updateCommand();
    const m = this.main.model;
    const si = this.sampleIndex();
    const unit = this.unit();
    $('sample-total').textContent = 'total ' + formatValue(this.sampleTotal(), unit);
    $('view-note').textContent = '';
    let cur = null;
    const signed = this.signed(si);
    if (view === 'flame' || view === 'icicle') {
      const tree = this.fullTree(signed);
      cur = { kind: 'tree', tree, frameName: m.frameName, frameFile: m.frameFile, inverted: view === 'icicle',
        ...this.treeColumns(tree, si, signed) };
    } else if (view === 'callers') {
      const fnName = splitFocus(st.focus)[0];
      const f = fnName !== undefined ? this.frameByName(fnName) : -1;
      if (f < 0) {
        $('view-note').textContent = 'Callers: click a function name in the table (or select a frame and press "Callers").';
      } else {
        const tree = this.cached('callers:' + f + ':' + st.thread + ':' + signed,
          () => buildCallersTree(signed ? this.absModel() : m, f, this.mask(this.main)));
        cur = { kind: 'tree', tree, frameName: m.frameName, frameFile: m.frameFile, inverted: true,
          ...this.treeColumns(tree, si, signed) };
        $('view-note').textContent = 'Callers of ' + fnName + ' (merged over all call sites; callers below).';
      }
      if (f < 0) this.renderTop(si, unit);
    } else if (view === 'diff') {
      if (!this.base) {
        $('view-note').textContent = 'Diff: choose a base profile (a source or a file) to compare with.';
        $('table-host').textContent = '';
      } else {
        const type = m.profile.sampleTypes[si].type;
        let d;
        try {
          d = this.cached('diff:' + type + ':' + st.thread,
            () => buildDiffTree(this.base.model, m, type, this.mask(this.base), this.mask(this.main)));
        } catch (e) {
          this.showError('Diff: ' + e.message);
          return;
        }
        cur = { kind: 'diff', tree: d.tree, frameName: d.frameName, frameFile: d.frameFile, inverted: false, diff: d };
        this.renderDiffTable(d, unit);
        $('view-note').textContent = 'Diff: base ' + this.base.label + ' → new ' + this.main.label +
          '. Red grew, blue shrank' + (st.diff === 'abs' ? ' (absolute values).' : ' (normalised by share of total).');
      }
    } else {
      this.renderTop(si, unit);
    }
    if (cur && cur.signed) {
      $('view-note').textContent = ($('view-note').textContent + ' This profile has negative ' +
        m.profile.sampleTypes[si].type + ' values (a delta: more freed than allocated). Widths are absolute ' +
        'values; blue frames are negative in total.').trim();
    }
    this.cur = cur;
    if (cur) this.layout(cur, fresh);
    else this.flame.setData(null);
    this.applySearch();
    if (this.timings && fresh && this.timings.firstDrawMs === undefined && cur) {
      this.timings.firstDrawMs = performance.now() - this.timings.start;
    }
  }

  layout(cur, fresh) {
    const tl = performance.now();
    const t = cur.tree;
    if (cur.kind === 'diff') {
      const b = column(t, t.total, 0), n = column(t, t.total, 1);
      const bt = b[0] || 1, nt = n[0] || 1;
      const norm = this.state.diff !== 'abs';
      const width = new Float64Array(t.n);
      const ratio = new Float32Array(t.n);
      for (let i = 0; i < t.n; i++) {
        const bv = norm ? b[i] / bt : b[i], nv = norm ? n[i] / nt : n[i];
        width[i] = norm ? (bv + nv) / 2 : (b[i] + n[i]) / 2;
        const mx = Math.max(Math.abs(bv), Math.abs(nv));
        ratio[i] = mx ? (nv - bv) / mx : 0;
      }
      cur.width = width;
      cur.base = b;
      cur.new = n;
      cur.ratio = ratio;
      const dark = this.dark;
      cur.color = (node) => {
        const r = ratio[node];
        if (Math.abs(r) < 0.02) return dark ? 'hsl(220,6%,38%)' : 'hsl(220,6%,82%)';
        const a = Math.min(1, Math.abs(r));
        const hue = r > 0 ? 0 : 215;
        const light = dark ? 30 + 25 * (1 - a) : 88 - 38 * a;
        return 'hsl(' + hue + ',80%,' + light.toFixed(0) + '%)';
      };
    } else {
      cur.width = column(t, t.total, cur.widthCol);
    }
    cur.x = layoutX(t, cur.width);
    cur.shortName = this.shortNames(cur.frameName);
    this.timings.layoutMs = performance.now() - tl;
    const names = splitFocus(this.state.focus);
    const keepZoom = !fresh && this.flame.data && this.flame.data.tree === t;
    this.flame.setData({
      tree: t, frameName: cur.frameName, shortName: cur.shortName, width: cur.width, x: cur.x,
      inverted: cur.inverted, color: cur.color || null, dark: this.dark, hueBase: this.dark ? 15 : 5,
      rootLabel: 'all',
    });
    this.zoom = keepZoom ? this.zoom : (names.length ? findPath(t, cur.frameName, names) : 0);
    if (this.zoom >= t.n || cur.width[this.zoom] === 0) this.zoom = 0;
    this.sel = -1;
    const td = performance.now();
    this.flame.setZoom(this.zoom);
    this.timings.drawMs = performance.now() - td;
    this.updateBreadcrumb();
    this.updateDetails();
  }

  renderTop(si, unit) {
    const m = this.main.model;
    const top = this.cached('top:' + si + ':' + this.state.thread, () => flatCum(m, si, this.mask(this.main)));
    const frames = [];
    for (let f = 0; f < m.frameName.length; f++) if (top.flat[f] !== 0 || top.cum[f] !== 0) frames.push(f);
    this.table.setData({
      kind: 'top', frames, names: m.frameName, shortNames: this.shortNames(m.frameName), unit, top,
      filter: this.searchRegex(),
    });
  }

  renderDiffTable(d, unit) {
    const nf = d.frameName.length;
    const base = treeFlat(d.tree, nf, 0), nw = treeFlat(d.tree, nf, 1);
    const frames = [];
    for (let f = 0; f < nf; f++) if (base[f] !== 0 || nw[f] !== 0) frames.push(f);
    this.table.setData({
      kind: 'diff', frames, names: d.frameName, shortNames: this.shortNames(d.frameName), unit,
      diff: { base, new: nw, baseTotal: d.tree.total[0], newTotal: d.tree.total[1], normalized: this.state.diff !== 'abs' },
      filter: this.searchRegex(),
    });
  }

  // ---- search -------------------------------------------------------------

  searchRegex() {
    const s = this.state.search;
    if (!s) return null;
    try {
      return new RegExp(s);
    } catch (e) {
      return null;
    }
  }

  applySearch() {
    const out = $('matched');
    const s = this.state.search;
    let re = null;
    if (s) {
      try {
        re = new RegExp(s);
        $('search').classList.remove('invalid');
      } catch (e) {
        $('search').classList.add('invalid');
        out.textContent = 'Invalid regular expression: ' + e.message;
        this.searchMark = null;
        this.flame.setMark(null);
        return;
      }
    } else {
      $('search').classList.remove('invalid');
    }
    const cur = this.cur;
    if (!re || !cur) {
      out.textContent = '';
      this.lastMatched = null;
      this.searchMark = null;
      if (cur) this.flame.setMark(null);
      return;
    }
    const fm = frameMatches(cur.frameName, re);
    const r = searchTree(cur.tree, fm, cur.width, this.zoom);
    this.searchMark = r.mark;
    const denom = cur.width[this.zoom];
    this.lastMatched = { matched: r.matched, total: denom };
    // Shares only where widths are not the profile's values (normalised diff, signed profile).
    const unit = (cur.kind === 'diff' && this.state.diff !== 'abs') || cur.signed ? null : this.unit();
    out.textContent = 'Matched: ' + formatPercent(r.matched, denom) +
      (unit ? ' (' + formatValue(r.matched, unit) + ' of ' + formatValue(denom, unit) + ')' : '');
    this.flame.setMark(r.mark);
  }

  // ---- zoom, selection, details -------------------------------------------

  zoomTo(node) {
    if (!this.cur) return;
    this.zoom = node;
    this.flame.setZoom(node);
    this.state.focus = joinFocus(pathOf(this.cur.tree, node).map((f) => this.cur.frameName[f]));
    if (this.state.view === 'callers' && !this.state.focus) {
      // The callers root: keep the function.
      this.state.focus = this.cur.frameName[this.cur.tree.frame[this.cur.tree.children[0]]] || '';
    }
    writeState(this.state, false);
    this.updateBreadcrumb();
    if (this.state.search) this.applySearch();
  }

  select(node) {
    this.sel = node;
    this.flame.setSelected(node);
    this.updateDetails();
  }

  updateBreadcrumb() {
    const bc = $('breadcrumb');
    bc.textContent = '';
    if (!this.cur) return;
    const t = this.cur.tree;
    const chain = [];
    for (let x = this.zoom; x > 0; x = t.parent[x]) chain.push(x);
    chain.push(0);
    chain.reverse();
    chain.forEach((n, i) => {
      if (i) bc.append(' › ');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'crumb';
      b.textContent = n === 0 ? 'all' : this.cur.shortName[t.frame[n]];
      if (n) b.title = this.cur.frameName[t.frame[n]];
      b.addEventListener('click', () => this.zoomTo(n));
      bc.append(b);
    });
    $('reset').disabled = this.zoom === 0;
  }

  nodeInfo(n) {
    const cur = this.cur;
    const t = cur.tree;
    const name = n === 0 ? 'all' : cur.frameName[t.frame[n]] + (t.inline[n] ? ' (inline)' : '');
    const file = n === 0 ? '' : cur.frameFile[t.frame[n]];
    const line = t.line[n];
    const where = file ? file + (line ? ':' + line : '') : '';
    let values;
    if (cur.kind === 'diff') {
      const unit = this.unit();
      const b = cur.base[n], nw = cur.new[n];
      const bt = cur.base[0], nt = cur.new[0];
      const pct = b ? ((nw - b) / b) * 100 : (nw ? Infinity : 0);
      values = 'Base: ' + formatValue(b, unit) + ' (' + formatPercent(b, bt) + ') → New: ' + formatValue(nw, unit) +
        ' (' + formatPercent(nw, nt) + ') · Change: ' + (pct === Infinity ? 'new' : (pct >= 0 ? '+' : '') + pct.toFixed(1) + '%');
    } else {
      const unit = this.unit();
      const c = cur.col, cols = t.cols;
      const tot = t.total[n * cols + c], self = t.self[n * cols + c], all = t.total[c];
      values = 'Total: ' + formatValue(tot, unit) + ' (' + formatPercent(tot, all) + ') · Self: ' +
        formatValue(self, unit) + ' (' + formatPercent(self, all) + ')';
    }
    return { name, where, values };
  }

  showTooltip(n, e) {
    const tip = $('tooltip');
    const info = this.nodeInfo(n);
    $('tip-name').textContent = info.name;
    $('tip-where').textContent = info.where;
    $('tip-values').textContent = info.values;
    tip.hidden = false;
    const pad = 14;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let x = e.clientX + pad, y = e.clientY + pad;
    if (x + w > innerWidth) x = Math.max(0, e.clientX - w - pad);
    if (y + h > innerHeight) y = Math.max(0, e.clientY - h - pad);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }

  hideTooltip() {
    $('tooltip').hidden = true;
  }

  updateDetails() {
    const has = this.cur && this.sel >= 0;
    $('details').hidden = !has;
    if (!has) return;
    const info = this.nodeInfo(this.sel);
    $('sel-name').textContent = info.name;
    $('sel-where').textContent = info.where;
    $('sel-values').textContent = info.values;
    $('callers-btn').disabled = this.sel === 0 || this.cur.kind === 'diff';
  }

  showCallers(f) {
    this.state.view = 'callers';
    this.state.focus = this.main.model.frameName[f];
    writeState(this.state, true);
    this.render(true);
  }

  // ---- keyboard -----------------------------------------------------------

  onKey(e) {
    const inInput = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
    if (e.key === '/' && !inInput) {
      e.preventDefault();
      $('search').focus();
      $('search').select();
      return;
    }
    if (e.key === 'Escape') {
      if (e.target === $('search') || this.state.search) {
        $('search').value = '';
        this.setSearch('');
        $('search').blur();
      } else if (this.cur && this.zoom !== 0) {
        this.zoomTo(this.cur.tree.parent[this.zoom]);
      }
      return;
    }
    if (inInput || !this.cur || $('graph').hidden) return;
    const t = this.cur.tree;
    const w = this.cur.width;
    let s = this.sel >= 0 ? this.sel : this.zoom;
    const toChild = () => {
      let best = -1;
      for (let j = t.childStart[s]; j < t.childStart[s + 1]; j++) {
        const c = t.children[j];
        if (w[c] > 0 && (best < 0 || w[c] > w[best])) best = c;
      }
      return best;
    };
    const sibling = (dir) => {
      const d = t.depth[s];
      const a = t.levelStart[d], b = t.levelStart[d + 1];
      let i = t.levels.indexOf(s, a);
      for (i += dir; i >= a && i < b; i += dir) {
        const c = t.levels[i];
        if (w[c] > 0) return c;
      }
      return -1;
    };
    let next = -1;
    if ((e.key === 'n' || e.key === 'N') && !e.ctrlKey && !e.metaKey && !e.altKey) {
      next = this.nextMatch(s, e.key === 'N' ? -1 : 1);
      if (next >= 0) {
        e.preventDefault();
        this.select(next);
      }
      return;
    }
    const up = this.cur.inverted ? 'ArrowDown' : 'ArrowUp';
    const down = this.cur.inverted ? 'ArrowUp' : 'ArrowDown';
    if (e.key === up) next = toChild();
    else if (e.key === down) next = s > 0 ? t.parent[s] : -1;
    else if (e.key === 'ArrowLeft') next = sibling(-1);
    else if (e.key === 'ArrowRight') next = sibling(1);
    else if (e.key === 'Enter') {
      if (this.sel >= 0) this.zoomTo(this.sel);
      e.preventDefault();
      return;
    } else return;
    e.preventDefault();
    if (next >= 0) this.select(next);
  }

  // The search match after (dir 1) or before (dir -1) node `from`, left to
  // right and then root to leaf, wrapping around; -1 when nothing matches.
  nextMatch(from, dir) {
    const mark = this.searchMark;
    if (!mark || !this.cur) return -1;
    const t = this.cur.tree;
    const x = this.cur.x;
    const w = this.cur.width;
    const before = (a, b) => x[a] < x[b] || (x[a] === x[b] && t.depth[a] < t.depth[b]);
    let best = -1;   // nearest match past `from` in direction dir
    let wrap = -1;   // first match from the other end
    for (let i = 0; i < mark.length; i++) {
      if (!mark[i] || w[i] <= 0 || i === from) continue;
      const past = dir > 0 ? before(from, i) : before(i, from);
      if (past) {
        if (best < 0 || (dir > 0 ? before(i, best) : before(best, i))) best = i;
      } else if (wrap < 0 || (dir > 0 ? before(i, wrap) : before(wrap, i))) {
        wrap = i;
      }
    }
    return best >= 0 ? best : wrap >= 0 ? wrap : (mark[from] && w[from] > 0 ? from : -1);
  }

  setSearch(s) {
    this.state.search = s;
    writeState(this.state, false);
    const t0 = performance.now();
    if (this.main && (this.state.view === 'top' || this.state.view === 'diff' ||
        (this.state.view === 'callers' && !this.cur))) {
      this.render(false);
    } else {
      this.applySearch();
    }
    this.timings.searchMs = performance.now() - t0;
  }

  // ---- wiring -------------------------------------------------------------

  setView(v) {
    if (this.state.view === v) return;
    if (v === 'callers') {
      const f = this.cur && this.sel > 0 ? this.cur.frameName[this.cur.tree.frame[this.sel]] : '';
      this.state.focus = f;
    } else if (this.state.view === 'callers' || v === 'diff' || this.state.view === 'diff') {
      this.state.focus = '';
    }
    this.state.view = v;
    writeState(this.state, true);
    this.render(true);
  }

  bind() {
    for (const v of kViews) $('view-' + v).addEventListener('click', () => this.setView(v));
    $('sample-select').addEventListener('change', (e) => {
      this.state.sample = e.target.value;
      writeState(this.state, false);
      this.render(true);
    });
    $('thread-select').addEventListener('change', (e) => {
      this.state.thread = e.target.value;
      writeState(this.state, false);
      this.render(true);
    });
    $('names-select').addEventListener('change', (e) => {
      this.state.names = e.target.value === 'short' ? '' : e.target.value;
      writeState(this.state, false);
      this.render(false);
    });
    $('diff-mode').addEventListener('change', (e) => {
      this.state.diff = e.target.value;
      writeState(this.state, false);
      this.render(true);
    });
    $('search').addEventListener('input', (e) => this.setSearch(e.target.value));
    $('reset').addEventListener('click', () => this.zoomTo(0));
    $('copy').addEventListener('click', () => this.copy($('sel-name').textContent, $('copy')));
    $('copy-cmd').addEventListener('click', () => this.copy($('pprof-cmd').textContent, $('copy-cmd')));
    $('callers-btn').addEventListener('click', () => {
      if (this.cur && this.sel > 0) {
        const f = this.main.model.frameName.indexOf(this.cur.frameName[this.cur.tree.frame[this.sel]]);
        if (f >= 0) this.showCallers(f);
      }
    });
    $('zoom-btn').addEventListener('click', () => { if (this.sel >= 0) this.zoomTo(this.sel); });
    $('source-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const name = $('profile-select').value;
      const p = this.profiles.find((x) => x.name === name);
      let src = p ? p.rel : name;
      if (p && p.secondsDelta) {
        // Empty: a snapshot. A number: a delta over that many seconds.
        const d = Math.round(Number($('delta-seconds').value));
        if (d > 0) src += '?seconds=' + d;
      } else if (p && p.params.includes('seconds')) {
        src += '?seconds=' + Math.max(1, Number($('seconds').value) || 10);
      }
      this.openSource(src);
    });
    $('profile-select').addEventListener('change', () => this.updateSecondsVisibility());
    $('url-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('source-input').value.trim();
      if (v) this.openSource(v);
    });
    $('file-input').addEventListener('change', (e) => {
      const f = e.target.files[0];
      if (f) this.openFile(f);
      e.target.value = '';
    });
    $('base-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('base-input').value.trim();
      if (v) {
        this.state.base = v;
        writeState(this.state, true);
        this.load('base', { src: v });
      }
    });
    $('base-file').addEventListener('change', (e) => {
      const f = e.target.files[0];
      if (f) {
        this.state.base = '';
        writeState(this.state, true);
        this.load('base', { file: f });
      }
      e.target.value = '';
    });
    $('base-current').addEventListener('click', () => {
      if (!this.main) return;
      this.base = this.main;
      this.state.base = this.main.src;
      $('base-input').value = this.main.src;
      writeState(this.state, true);
      this.caches.clear();
      this.render(true);
    });
    document.addEventListener('keydown', (e) => this.onKey(e));
    // Drag and drop anywhere on the page.
    let depth = 0;
    document.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; $('drop-overlay').hidden = false; });
    document.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; $('drop-overlay').hidden = true; } });
    document.addEventListener('dragover', (e) => e.preventDefault());
    document.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      $('drop-overlay').hidden = true;
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) this.openFile(f);
    });
    addEventListener('popstate', () => {
      dropPendingState();
      const old = this.state;
      this.state = readState(location.search);
      $('search').value = this.state.search;
      $('diff-mode').value = this.state.diff || '';
      $('names-select').value = this.state.names || 'short';
      if (this.state.source && this.state.source !== old.source) this.load('main', { src: this.state.source });
      else this.render(true);
    });
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', (e) => {
      this.dark = e.matches;
      this.flame.charW = 0;
      this.flame.themeCache = null;
      this.render(false);
    });
  }

  async copy(text, btn) {
    try {
      await navigator.clipboard.writeText(text);
      btn.dataset.done = '1';
    } catch (e) {
      // Clipboard unavailable (insecure context): select the text for a manual copy.
      const r = document.createRange();
      r.selectNodeContents(btn === $('copy') ? $('sel-name') : $('pprof-cmd'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    }
  }

  openSource(src) {
    this.state.source = src;
    this.state.focus = '';
    writeState(this.state, true);
    return this.load('main', { src, opened: true });
  }

  openFile(file) {
    this.state.source = '';
    this.state.focus = '';
    writeState(this.state, true);
    return this.load('main', { file, opened: true });
  }

  // CPU: "for N s" (the recording window). Heap and allocs: an optional
  // "delta over N s", empty for a snapshot. A hidden field is disabled too, so
  // a bad value left in it cannot block the form.
  updateSecondsVisibility() {
    const p = this.profiles.find((x) => x.name === $('profile-select').value);
    const recording = Boolean(p && p.params.includes('seconds') && !p.secondsDelta);
    const delta = Boolean(p && p.secondsDelta);
    $('seconds-label').hidden = !recording;
    $('seconds').disabled = !recording;
    $('delta-label').hidden = !delta;
    $('delta-seconds').disabled = !delta;
  }

  async loadIndex() {
    const sel = $('profile-select');
    try {
      const res = await fetch(new URL('../index.json', location.href).href);
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const idx = await res.json();
      this.profiles = (idx.profiles || []).map((p) => ({
        name: p.name,
        rel: (p.path || p.name).replace(/^.*\/debug\/pprof\//, ''),
        description: p.description || '',
        params: p.params || [],
        // `seconds` asks for a delta between two snapshots, not a recording window.
        secondsDelta: p.seconds_delta === true,
      }));
      $('version').textContent = idx.version ? 'cpprof ' + idx.version : 'cpprof';
    } catch (e) {
      this.profiles = [];
      $('index-note').textContent = 'Profile list unavailable (' + e.message + '); enter a source below.';
    }
    sel.textContent = '';
    for (const p of this.profiles) {
      const o = document.createElement('option');
      o.value = p.name;
      o.textContent = p.name;
      o.title = p.description;
      sel.append(o);
    }
    const cur = this.profiles.find((p) => p.rel === this.state.source.split('?')[0]);
    if (cur) sel.value = cur.name;
    const secs = secondsOf(this.state.source);
    if (secs) $(cur && cur.secondsDelta ? 'delta-seconds' : 'seconds').value = String(secs);
    this.updateSecondsVisibility();
  }

  async start() {
    $('search').value = this.state.search;
    $('diff-mode').value = this.state.diff || '';
    $('names-select').value = this.state.names || 'short';
    $('base-input').value = this.state.base;
    this.setStatus('idle');
    const idx = this.loadIndex();
    if (this.state.source) {
      await this.load('main', { src: this.state.source });
      if (this.state.base && this.main) await this.load('base', { src: this.state.base });
    }
    await idx;
  }
}

startWorker();
const app = new App();
app.workerWarm = workerWarm;  // for tests: resolves when the decoder has warmed up
window.cpprofApp = app;
app.start();
