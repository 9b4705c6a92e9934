// SPDX-License-Identifier: Apache-2.0
//
// Canvas flame graph / icicle. No DOM node per frame: the tree's per-level node
// arrays (sorted by x) are drawn with viewport culling, frames narrower than a
// pixel are merged into grey runs, and hit tests are a binary search in one
// level. The canvas is the size of the visible area (times devicePixelRatio);
// vertical scrolling is virtual (a spacer gives the scroll height). Labels are
// drawn with fillText, so names are never parsed as HTML.

const kRowH = 18;
const kFont = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

// Package part of a name, so frames of one namespace share a hue.
function packageOf(name) {
  const paren = name.indexOf('(');
  const head = paren > 0 ? name.slice(0, paren) : name;
  const i = head.lastIndexOf('::');
  if (i > 0) return head.slice(0, i);
  const slash = head.lastIndexOf('/');
  const dot = head.indexOf('.', slash + 1);
  return dot > 0 ? head.slice(0, dot) : head;
}

export class FlameView {
  /**
   * host: element to fill; cb: {onHover(node, event), onLeave(), onClick(node), onSelect(node)}
   */
  constructor(host, cb) {
    this.host = host;
    this.cb = cb;
    this.scroller = document.createElement('div');
    this.scroller.className = 'flame-scroll';
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'flame-canvas';
    this.spacer = document.createElement('div');
    this.scroller.append(this.canvas, this.spacer);
    host.append(this.scroller);
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.data = null;
    this.zoom = 0;
    this.selected = -1;
    this.hover = -1;
    this.mark = null;
    this.cssW = 0;
    this.cssH = 0;
    this.pending = false;
    this.scroller.addEventListener('scroll', () => this.requestDraw());
    this.canvas.addEventListener('mousemove', (e) => this.onMove(e));
    this.canvas.addEventListener('mouseleave', () => { this.setHover(-1); this.cb.onLeave(); });
    this.canvas.addEventListener('click', (e) => {
      const n = this.hitAt(e);
      if (n >= 0) this.cb.onClick(n);
    });
    this.resizeObserver = new ResizeObserver(() => { if (this.resize()) this.draw(); });
    this.resizeObserver.observe(this.scroller);
  }

  /**
   * d: {tree, frameName, shortName, width: Float64Array, x: Float64Array,
   *     inverted: bool (true = icicle, root on top), color(node) -> css or null}
   */
  setData(d) {
    this.data = d;
    this.zoom = 0;
    this.selected = -1;
    this.hover = -1;
    this.mark = null;
    this.colorCache = new Map();
    this.resize();
    if (!d) {
      this.spacer.style.height = '0px';
      this.draw();
      return;
    }
    const totalH = this.totalHeight();
    this.spacer.style.height = Math.max(0, totalH - this.cssH) + 'px';
    // Flame graphs grow upwards: start scrolled to the bottom (the root).
    this.scroller.scrollTop = d.inverted ? 0 : totalH;
  }

  totalHeight() {
    return this.data ? Math.max(this.cssH, (this.data.tree.maxDepth + 1) * kRowH) : this.cssH;
  }

  resize() {
    const r = this.scroller.getBoundingClientRect();
    const w = Math.max(1, Math.floor(this.scroller.clientWidth));
    const h = Math.max(1, Math.floor(r.height));
    const dpr = window.devicePixelRatio || 1;
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) return false;
    this.cssW = w;
    this.cssH = h;
    this.dpr = dpr;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = w + 'px';
    this.canvas.style.height = h + 'px';
    if (this.data) this.spacer.style.height = Math.max(0, this.totalHeight() - h) + 'px';
    return true;
  }

  setZoom(node) {
    this.zoom = node;
    this.draw();
  }

  setMark(mark) {
    this.mark = mark;
    this.draw();
  }

  setSelected(node) {
    this.selected = node;
    this.scrollIntoView(node);
    this.draw();
  }

  setHover(node) {
    if (node === this.hover) return;
    this.hover = node;
    this.requestDraw();
  }

  requestDraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  // y (CSS px, relative to the canvas top) of a depth's row.
  rowY(depth) {
    const top = this.scroller.scrollTop;
    if (this.data.inverted) return depth * kRowH - top;
    return this.totalHeight() - (depth + 1) * kRowH - top;
  }

  depthAtY(y) {
    const top = this.scroller.scrollTop;
    if (this.data.inverted) return Math.floor((y + top) / kRowH);
    return Math.floor((this.totalHeight() - (y + top)) / kRowH);
  }

  scrollIntoView(node) {
    if (node < 0 || !this.data) return;
    const y = this.rowY(this.data.tree.depth[node]);
    if (y < 0) this.scroller.scrollTop += y;
    else if (y + kRowH > this.cssH) this.scroller.scrollTop += y + kRowH - this.cssH;
  }

  // Visible value range [x0, x1) and the scale in px per value unit.
  range() {
    const { x, width } = this.data;
    const z = this.zoom;
    const x0 = x[z], w = width[z] || 1;
    return { x0, x1: x0 + w, scale: this.cssW / w };
  }

  // First index i in [a, b) of a level whose node ends after v (x+w > v).
  static lowerEnd(levels, a, b, x, width, v) {
    while (a < b) {
      const m = (a + b) >>> 1;
      const n = levels[m];
      if (x[n] + width[n] > v) b = m; else a = m + 1;
    }
    return a;
  }

  hitAt(e) {
    const r = this.canvas.getBoundingClientRect();
    return this.hitTest(e.clientX - r.left, e.clientY - r.top);
  }

  /** Node under CSS pixel (px, py) of the canvas, or -1. */
  hitTest(px, py) {
    if (!this.data) return -1;
    const { tree, x, width } = this.data;
    const d = this.depthAtY(py);
    if (d < 0 || d > tree.maxDepth) return -1;
    const { x0, scale } = this.range();
    const v = x0 + px / scale;
    const a = tree.levelStart[d], b = tree.levelStart[d + 1];
    const i = FlameView.lowerEnd(tree.levels, a, b, x, width, v);
    if (i >= b) return -1;
    const n = tree.levels[i];
    if (width[n] <= 0 || x[n] > v) return -1;
    // Nodes above the zoom root that are not its ancestors are not drawn.
    if (d > tree.depth[this.zoom]) {
      let p = n;
      while (p > 0 && tree.depth[p] > tree.depth[this.zoom]) p = tree.parent[p];
      if (p !== this.zoom) return -1;
    }
    return n;
  }

  onMove(e) {
    const n = this.hitAt(e);
    this.setHover(n);
    if (n >= 0) this.cb.onHover(n, e); else this.cb.onLeave();
  }

  colorOf(node) {
    const d = this.data;
    if (node === 0) return d.dark ? '#5a6270' : '#c8ccd4';
    if (d.color) {
      const c = d.color(node);
      if (c) return c;
    }
    const f = d.tree.frame[node];
    let c = this.colorCache.get(f);
    if (!c) {
      const h = hash(packageOf(d.frameName[f]));
      const hue = d.hueBase + (h % 40);
      const light = d.dark ? 30 + ((h >>> 8) % 12) : 58 + ((h >>> 8) % 14);
      c = 'hsl(' + hue + ',' + (62 + ((h >>> 16) % 20)) + '%,' + light + '%)';
      this.colorCache.set(f, c);
    }
    return c;
  }

  // Theme colours from the CSS custom properties, read once per theme (reading
  // computed style on every draw forces a style recalculation).
  theme() {
    if (this.themeCache && this.themeCache.dark === !!(this.data && this.data.dark)) return this.themeCache;
    const styles = getComputedStyle(this.host);
    const v = (name, dflt) => styles.getPropertyValue(name).trim() || dflt;
    this.themeCache = {
      dark: !!(this.data && this.data.dark),
      bg: v('--bg', '#fff'), fg: v('--frame-text', '#000'), dim: v('--dim', '#ccc'), tiny: v('--tiny', '#bbb'),
      match: v('--match', '#e040e0'), selected: v('--selected', '#000'),
    };
    return this.themeCache;
  }

  /**
   * Draws the visible part. Returns the number of frames drawn. Boxes are
   * collected first and then filled one colour at a time (one path per
   * colour), and all labels are drawn last with one fill style: canvas state
   * changes, not the rectangles, are what costs.
   */
  draw() {
    const ctx = this.ctx;
    const dpr = this.dpr || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const th = this.theme();
    ctx.fillStyle = th.bg;
    ctx.fillRect(0, 0, this.cssW, this.cssH);
    if (!this.data) return 0;
    const d = this.data;
    const { tree, x, width } = d;
    const { levels, levelStart } = tree;
    const { x0, x1, scale } = this.range();
    const zd = tree.depth[this.zoom];
    ctx.font = kFont;
    ctx.textBaseline = 'middle';
    if (!this.charW) this.charW = ctx.measureText('MMMMMMMMMM').width / 10;
    const charW = this.charW;
    const minPx = 1;
    const dFirst = Math.max(0, Math.min(this.depthAtY(0), this.depthAtY(this.cssH)) - 1);
    const dLast = Math.min(tree.maxDepth, Math.max(this.depthAtY(0), this.depthAtY(this.cssH)) + 1);
    // Boxes by fill colour: colour -> flat [left, y, w, ...].
    const byColor = new Map();
    const add = (color, l, y, w) => {
      let a = byColor.get(color);
      if (!a) byColor.set(color, (a = []));
      a.push(l, y, w);
    };
    const labels = [];   // [node, left, right, y, ...]
    let drawn = 0;
    for (let dep = dFirst; dep <= dLast; dep++) {
      const y = this.rowY(dep);
      if (y + kRowH < 0 || y > this.cssH) continue;
      const a = levelStart[dep], b = levelStart[dep + 1];
      let i = FlameView.lowerEnd(levels, a, b, x, width, x0);
      let runStart = -1, runEnd = -1;
      const above = dep < zd;
      while (i < b) {
        const n = levels[i];
        const nx = x[n];
        if (nx >= x1) break;
        const w = width[n];
        if (w <= 0) { i++; continue; }
        const px = (nx - x0) * scale;
        const pw = w * scale;
        if (pw < minPx) {
          if (runStart < 0) runStart = Math.max(0, px);
          runEnd = Math.min(this.cssW, px + pw);
          // Skip every node that starts within this pixel.
          i = FlameView.lowerEnd(levels, i + 1, b, x, width, nx + minPx / scale);
          runEnd = Math.max(runEnd, Math.min(this.cssW, px + minPx));
          continue;
        }
        if (runStart >= 0) {
          add(th.tiny, runStart, y, Math.max(1, runEnd - runStart));
          runStart = -1;
        }
        const left = Math.max(0, px);
        const right = Math.min(this.cssW, px + pw);
        add(above ? th.dim : (this.mark && this.mark[n] ? th.match : this.colorOf(n)), left, y, Math.max(1, right - left - 1));
        labels.push(n, left, right, y);
        drawn++;
        i++;
      }
      if (runStart >= 0) add(th.tiny, runStart, y, Math.max(1, runEnd - runStart));
    }
    const h = kRowH - 1;
    for (const [color, a] of byColor) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (let k = 0; k < a.length; k += 3) ctx.rect(a[k], a[k + 1], a[k + 2], h);
      ctx.fill();
    }
    ctx.strokeStyle = th.selected;
    for (let k = 0; k < labels.length; k += 4) {
      const n = labels[k];
      if (n !== this.selected && n !== this.hover) continue;
      const left = labels[k + 1], right = labels[k + 2], y = labels[k + 3];
      ctx.lineWidth = n === this.selected ? 2 : 1;
      ctx.strokeRect(left + 0.5, y + 0.5, Math.max(1, right - left - 2), kRowH - 2);
    }
    ctx.fillStyle = th.fg;
    for (let k = 0; k < labels.length; k += 4) {
      const left = labels[k + 1], right = labels[k + 2];
      const room = Math.floor((right - left - 6) / charW);
      if (room < 3) continue;
      const n = labels[k];
      let label = n === 0 ? d.rootLabel : d.shortName[tree.frame[n]];
      if (label.length > room) label = label.slice(0, room - 1) + '…';
      ctx.fillText(label, left + 3, labels[k + 3] + kRowH / 2);
    }
    this.lastDrawn = drawn;
    return drawn;
  }
}
