// SPDX-License-Identifier: Apache-2.0
//
// Sortable tables in the DOM: the top table (flat, flat%, cum, cum%, name) and
// the diff table (base, new, change, change%, name). Only the first kMaxRows
// rows of the sorted order are built. Names go in with textContent.

import { formatValue, formatPercent } from './format.js';

const kMaxRows = 1000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class TopTable {
  // onPick(frame): a row's name was activated.
  constructor(host, onPick) {
    this.host = host;
    this.onPick = onPick;
    this.sortKey = null;
    this.desc = true;
    this.data = null;
  }

  /**
   * d: {kind: 'top'|'diff', frames: Int32Array of frame ids to list, names, shortNames, unit,
   *     top: {flat, cum, total} | diff: {base, new, baseTotal, newTotal, normalized}, filter: RegExp|null}
   */
  setData(d) {
    this.data = d;
    if (!this.sortKey || this.kind !== d.kind) {
      this.kind = d.kind;
      this.sortKey = d.kind === 'diff' ? 'absdelta' : 'flat';
      this.desc = true;
    }
    this.render();
  }

  columns() {
    if (this.data.kind === 'diff') {
      return [['base', 'Base flat'], ['new', 'New flat'], ['delta', 'Change'], ['deltapct', 'Change %'], ['name', 'Name']];
    }
    return [['flat', 'Flat'], ['flatpct', 'Flat%'], ['cum', 'Cum'], ['cumpct', 'Cum%'], ['name', 'Name']];
  }

  // Sort value of a frame for a column key.
  value(f, key) {
    const d = this.data;
    if (key === 'name') return d.names[f];
    if (d.kind === 'diff') {
      const dd = d.diff;
      const b = dd.base[f], n = dd.new[f];
      const delta = dd.normalized ? (n / (dd.newTotal || 1) - b / (dd.baseTotal || 1)) : n - b;
      const ref = dd.normalized ? b / (dd.baseTotal || 1) : b;
      if (key === 'base') return b;
      if (key === 'new') return n;
      if (key === 'delta') return delta;
      if (key === 'absdelta') return Math.abs(delta);
      if (key === 'deltapct') return ref ? delta / ref : (delta > 0 ? Infinity : 0);
    }
    const t = d.top;
    if (key === 'flat' || key === 'flatpct') return t.flat[f];
    return t.cum[f];
  }

  render() {
    const d = this.data;
    const host = this.host;
    host.textContent = '';
    const table = el('table', 'top-table');
    const thead = el('thead');
    const hr = el('tr');
    for (const [key, label] of this.columns()) {
      const th = el('th', key === 'name' ? 'name' : 'num');
      const btn = el('button', 'sort', label + (this.sortKey === key ? (this.desc ? ' ▼' : ' ▲') : ''));
      btn.type = 'button';
      btn.dataset.key = key;
      btn.addEventListener('click', () => {
        if (this.sortKey === key) this.desc = !this.desc;
        else { this.sortKey = key; this.desc = key !== 'name'; }
        this.render();
      });
      th.append(btn);
      hr.append(th);
    }
    thead.append(hr);
    table.append(thead);
    let frames = Array.from(d.frames);
    if (d.filter) frames = frames.filter((f) => d.filter.test(d.names[f]));
    const key = this.sortKey;
    const sign = this.desc ? -1 : 1;
    const vals = new Map(frames.map((f) => [f, this.value(f, key)]));
    frames.sort((a, b) => {
      const va = vals.get(a), vb = vals.get(b);
      if (va < vb) return -sign;
      if (va > vb) return sign;
      return d.names[a] < d.names[b] ? -1 : 1;
    });
    const tbody = el('tbody');
    const shown = frames.slice(0, kMaxRows);
    for (const f of shown) {
      const tr = el('tr');
      if (d.kind === 'diff') {
        const dd = d.diff;
        const delta = this.value(f, 'delta');
        const pct = this.value(f, 'deltapct');
        tr.append(el('td', 'num', formatValue(dd.base[f], d.unit)));
        tr.append(el('td', 'num', formatValue(dd.new[f], d.unit)));
        tr.append(el('td', 'num ' + (delta > 0 ? 'grow' : delta < 0 ? 'shrink' : ''),
          dd.normalized ? (delta >= 0 ? '+' : '') + (delta * 100).toFixed(2) + ' pp'
            : (delta >= 0 ? '+' : '') + formatValue(delta, d.unit)));
        tr.append(el('td', 'num', pct === Infinity ? 'new' : (pct >= 0 ? '+' : '') + (pct * 100).toFixed(1) + '%'));
      } else {
        const t = d.top;
        tr.append(el('td', 'num', formatValue(t.flat[f], d.unit)));
        tr.append(el('td', 'num', formatPercent(t.flat[f], t.total)));
        tr.append(el('td', 'num', formatValue(t.cum[f], d.unit)));
        tr.append(el('td', 'num', formatPercent(t.cum[f], t.total)));
      }
      const td = el('td', 'name');
      const a = el('button', 'fn', d.shortNames[f]);
      a.type = 'button';
      a.title = d.names[f] + ' — show callers';
      a.dataset.frame = String(f);
      a.addEventListener('click', () => this.onPick(f));
      td.append(a);
      tr.append(td);
      tbody.append(tr);
    }
    table.append(tbody);
    host.append(table);
    if (frames.length > shown.length) {
      host.append(el('p', 'note', 'Showing ' + shown.length + ' of ' + frames.length + ' functions.'));
    }
  }
}
