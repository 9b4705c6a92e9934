// SPDX-License-Identifier: Apache-2.0
//
// From a decoded Profile (pprof_decode.js) to what the views draw:
//  - a frame table: one frame per (function name, file), the granularity of
//    `go tool pprof -top` ("functions"); inlined lines of a Location expand to
//    several frames, leaf first;
//  - per-sample stacks of frame ids (leaf first) and the `thread` label;
//  - call trees (root -> leaf) with one value column per sample type, per-level
//    node arrays for drawing, and flat/cum aggregates;
//  - the callers tree of one frame and the merged tree of two profiles (diff).
// Everything is typed arrays so it can be built in a Worker and transferred.

// ---------------------------------------------------------------------------
// Frames and stacks.

/**
 * Returns a Model: {profile, frameName[], frameFile[], frameInline Uint8Array, stackStart Uint32Array,
 * stackFrames Int32Array (leaf first), stackLine Float64Array, sampleThread Int32Array
 * (string index of the `thread` label or -1), threads: string[]}.
 */
export function buildModel(profile) {
  const p = profile;
  const frameName = [];
  const frameFile = [];
  const frameInline = [];
  const frameKey = new Map();
  // As in pprof, an inlined call (every line of a Location but the last) is a
  // frame of its own, shown with "(inline)".
  const internFrame = (name, file, inline) => {
    const key = name + '\u0000' + file + (inline ? '\u0000i' : '');
    let id = frameKey.get(key);
    if (id === undefined) {
      id = frameName.length;
      frameKey.set(key, id);
      frameName.push(name);
      frameFile.push(file);
      frameInline.push(inline ? 1 : 0);
    }
    return id;
  };
  // Frames of each location (leaf first), flattened.
  const nLoc = p.locId.length;
  const locFrameStart = new Uint32Array(nLoc + 1);
  const locFrames = [];
  const locLines = [];
  for (let l = 0; l < nLoc; l++) {
    const a = p.locLineStart[l], b = p.locLineStart[l + 1];
    if (a === b) {
      const m = p.locMapping[l];
      const mf = m >= 0 ? p.mappings[m].file : '';
      const base = mf ? mf.slice(mf.lastIndexOf('/') + 1) : '';
      locFrames.push(internFrame('0x' + p.locAddress[l].toString(16), base, false));
      locLines.push(0);
    } else {
      for (let i = a; i < b; i++) {
        const f = p.lineFn[i];
        const name = f >= 0 ? (p.strings[p.fnName[f]] || p.strings[p.fnSystemName[f]] || '?') : '?';
        const file = f >= 0 ? p.strings[p.fnFile[f]] : '';
        locFrames.push(internFrame(name, file, i !== b - 1));
        locLines.push(p.lineNo[i]);
      }
    }
    locFrameStart[l + 1] = locFrames.length;
  }
  const nSamples = p.sampleLocStart.length - 1;
  const stackStart = new Uint32Array(nSamples + 1);
  let total = 0;
  for (let s = 0; s < nSamples; s++) {
    for (let i = p.sampleLocStart[s]; i < p.sampleLocStart[s + 1]; i++) {
      const l = p.sampleLocs[i];
      total += locFrameStart[l + 1] - locFrameStart[l];
    }
    stackStart[s + 1] = total;
  }
  const stackFrames = new Int32Array(total);
  const stackLine = new Float64Array(total);
  let k = 0;
  for (let s = 0; s < nSamples; s++) {
    for (let i = p.sampleLocStart[s]; i < p.sampleLocStart[s + 1]; i++) {
      const l = p.sampleLocs[i];
      for (let j = locFrameStart[l]; j < locFrameStart[l + 1]; j++) {
        stackFrames[k] = locFrames[j];
        stackLine[k] = locLines[j];
        k++;
      }
    }
  }
  // The `thread` label (cpprof, and Go's pprof.Do labels if named so).
  const threadKey = p.strings.indexOf('thread');
  const sampleThread = new Int32Array(nSamples).fill(-1);
  const threadSet = new Set();
  if (threadKey > 0) {
    for (let s = 0; s < nSamples; s++) {
      for (let i = p.sampleLabelStart[s]; i < p.sampleLabelStart[s + 1]; i++) {
        if (p.labelKey[i] === threadKey) {
          let v = p.labelStr[i];
          sampleThread[s] = v;
          threadSet.add(v);
          break;
        }
      }
    }
  }
  const threads = [...threadSet].map((i) => p.strings[i]).sort();
  return { profile: p, frameName, frameFile, frameInline: Uint8Array.from(frameInline), stackStart, stackFrames, stackLine, sampleThread, threads };
}

// Sample filter for a thread name ('' = all samples). Returns null or a Uint8Array mask.
export function threadMask(model, thread) {
  if (!thread) return null;
  const idx = model.profile.strings.indexOf(thread);
  const n = model.sampleThread.length;
  const mask = new Uint8Array(n);
  for (let s = 0; s < n; s++) mask[s] = model.sampleThread[s] === idx && idx > 0 ? 1 : 0;
  return mask;
}

// ---------------------------------------------------------------------------
// Call trees.

// Builds a tree from root-first paths. Node 0 is the root (frame -1). The
// (parent, frame) -> child index is an open-addressing hash over typed arrays.
class TreeBuilder {
  constructor(nFrames, cols) {
    this.cols = cols;
    this.n = 1;
    this.cap = 1024;
    this.parentA = new Int32Array(this.cap).fill(-1);
    this.frameA = new Int32Array(this.cap).fill(-1);
    this.lineA = new Float64Array(this.cap);
    this.depthA = new Uint16Array(this.cap);
    this.selfA = new Float64Array(this.cap * cols);
    this.hcap = 2048;
    this.hkey = new Int32Array(this.hcap).fill(-1);  // node id stored; its (parent, frame) is the key
  }

  grow() {
    const cap = this.cap * 2;
    const g = (a, n) => { const b = new a.constructor(n); b.set(a); return b; };
    this.parentA = g(this.parentA, cap);
    this.frameA = g(this.frameA, cap);
    this.lineA = g(this.lineA, cap);
    this.depthA = g(this.depthA, cap);
    this.selfA = g(this.selfA, cap * this.cols);
    this.cap = cap;
  }

  rehash() {
    this.hcap *= 2;
    const h = new Int32Array(this.hcap).fill(-1);
    const mask = this.hcap - 1;
    for (let i = 1; i < this.n; i++) {
      let k = (Math.imul(this.parentA[i], 0x9e3779b1) ^ Math.imul(this.frameA[i], 0x85ebca77)) & mask;
      while (h[k] >= 0) k = (k + 1) & mask;
      h[k] = i;
    }
    this.hkey = h;
  }

  node(parent, frame, line) {
    const mask = this.hcap - 1;
    let k = (Math.imul(parent, 0x9e3779b1) ^ Math.imul(frame, 0x85ebca77)) & mask;
    const h = this.hkey;
    for (;;) {
      const c = h[k];
      if (c < 0) break;
      if (this.parentA[c] === parent && this.frameA[c] === frame) return c;
      k = (k + 1) & mask;
    }
    if (this.n === this.cap) this.grow();
    const n = this.n++;
    h[k] = n;
    this.parentA[n] = parent;
    this.frameA[n] = frame;
    this.lineA[n] = line;
    this.depthA[n] = this.depthA[parent] + 1;
    if (this.n * 2 > this.hcap) this.rehash();
    return n;
  }

  // Adds value v to column col of node n's self; totals are summed in finish().
  addUp(n, col, v) {
    this.selfA[n * this.cols + col] += v;
  }

  finish(frameName) {
    const n = this.n;
    const cols = this.cols;
    const parent = this.parentA.slice(0, n);
    const frame = this.frameA.slice(0, n);
    const depth = this.depthA.slice(0, n);
    const self = this.selfA.slice(0, n * cols);
    const total = self.slice();
    // Children are always created after their parent: sum totals bottom-up.
    for (let i = n - 1; i > 0; i--) {
      const p = parent[i];
      for (let c = 0; c < cols; c++) total[p * cols + c] += total[i * cols + c];
    }
    let maxDepth = 0;
    for (let i = 0; i < n; i++) if (depth[i] > maxDepth) maxDepth = depth[i];
    // Children lists, sorted by frame name (stable layout, comparable diffs).
    const order = frameOrder(frameName);
    const childCount = new Uint32Array(n + 1);
    for (let i = 1; i < n; i++) childCount[parent[i] + 1]++;
    const childStart = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) childStart[i + 1] = childStart[i] + childCount[i + 1];
    const children = new Int32Array(Math.max(0, n - 1));
    const fill = childStart.slice(0, n);
    for (let i = 1; i < n; i++) children[fill[parent[i]]++] = i;
    for (let i = 0; i < n; i++) {
      const a = childStart[i], b = childStart[i + 1];
      if (b - a > 16) {
        const sub = children.subarray(a, b);
        sub.sort((x, y) => order[frame[x]] - order[frame[y]]);
      } else {
        for (let j = a + 1; j < b; j++) {
          const c = children[j], oc = order[frame[c]];
          let k = j - 1;
          while (k >= a && order[frame[children[k]]] > oc) { children[k + 1] = children[k]; k--; }
          children[k + 1] = c;
        }
      }
    }
    // Per-level node lists in DFS (left-to-right) order.
    const levelCount = new Uint32Array(maxDepth + 2);
    for (let i = 0; i < n; i++) levelCount[depth[i] + 1]++;
    const levelStart = new Uint32Array(maxDepth + 2);
    for (let d = 0; d <= maxDepth; d++) levelStart[d + 1] = levelStart[d] + levelCount[d + 1];
    const levels = new Int32Array(n);
    const lfill = levelStart.slice(0, maxDepth + 1);
    const stack = [0];
    while (stack.length) {
      const x = stack.pop();
      levels[lfill[depth[x]]++] = x;
      for (let j = childStart[x + 1]; j-- > childStart[x];) stack.push(children[j]);
    }
    return {
      n, cols, parent, frame, depth, maxDepth,
      line: this.lineA.slice(0, n),
      total, self,
      childStart, children, levelStart, levels,
    };
  }
}

function frameOrder(frameName) {
  const idx = frameName.map((_, i) => i);
  idx.sort((a, b) => (frameName[a] < frameName[b] ? -1 : frameName[a] > frameName[b] ? 1 : a - b));
  const order = new Int32Array(frameName.length);
  idx.forEach((f, r) => { order[f] = r; });
  return order;
}

/** Call tree of a model with one column per sample type; `mask` (Uint8Array or null) selects samples. */
export function buildTree(model, mask) {
  const p = model.profile;
  const T = p.sampleTypes.length;
  const b = new TreeBuilder(model.frameName.length, T);
  const { stackStart, stackFrames, stackLine } = model;
  const n = stackStart.length - 1;
  for (let s = 0; s < n; s++) {
    if (mask && !mask[s]) continue;
    let node = 0;
    for (let i = stackStart[s + 1]; i-- > stackStart[s];) node = b.node(node, stackFrames[i], stackLine[i]);
    for (let t = 0; t < T; t++) {
      const v = p.values[s * T + t];
      if (v !== 0) b.addUp(node, t, v);
    }
  }
  return b.finish(model.frameName);
}

/**
 * Callers tree of frame f: the root's only child is f, its children are the
 * callers of f merged over all call sites, and so on towards main. For a
 * recursive f the deepest occurrence is used, so each sample counts once and
 * f's node total equals its cum.
 */
export function buildCallersTree(model, f, mask) {
  const p = model.profile;
  const T = p.sampleTypes.length;
  const b = new TreeBuilder(model.frameName.length, T);
  const { stackStart, stackFrames, stackLine } = model;
  const n = stackStart.length - 1;
  for (let s = 0; s < n; s++) {
    if (mask && !mask[s]) continue;
    const a = stackStart[s], e = stackStart[s + 1];
    let i = a;
    while (i < e && stackFrames[i] !== f) i++;
    if (i === e) continue;
    let node = 0;
    for (; i < e; i++) node = b.node(node, stackFrames[i], stackLine[i]);
    for (let t = 0; t < T; t++) {
      const v = p.values[s * T + t];
      if (v !== 0) b.addUp(node, t, v);
    }
  }
  return b.finish(model.frameName);
}

/**
 * Merged tree of two models for a diff: column 0 = base, column 1 = new, for
 * the sample type named `typeName` (index in each profile looked up by name).
 * Frames are matched by (name, file, inlined). Returns {tree, frameName, frameFile, frameInline}.
 */
export function buildDiffTree(baseModel, newModel, typeName, baseMask, newMask) {
  const frameName = [], frameFile = [];
  const key = new Map();
  const remap = (m) => {
    const out = new Int32Array(m.frameName.length);
    for (let f = 0; f < m.frameName.length; f++) {
      const k = m.frameName[f] + '\u0000' + m.frameFile[f] + (m.frameInline[f] ? '\u0000i' : '');
      let g = key.get(k);
      if (g === undefined) {
        g = frameName.length;
        key.set(k, g);
        frameName.push(m.frameName[f]);
        frameFile.push(m.frameFile[f]);
      }
      out[f] = g;
    }
    return out;
  };
  const rb = remap(baseModel), rn = remap(newModel);
  const frameInline = new Uint8Array(frameName.length);
  [[baseModel, rb], [newModel, rn]].forEach(([m, r]) => { r.forEach((g, f) => { frameInline[g] = m.frameInline[f]; }); });
  const b = new TreeBuilder(frameName.length, 2);
  const add = (m, remapped, col, mask) => {
    const p = m.profile;
    const T = p.sampleTypes.length;
    const t = p.sampleTypes.findIndex((x) => x.type === typeName);
    if (t < 0) throw new Error('sample type "' + typeName + '" is not in both profiles');
    const n = m.stackStart.length - 1;
    for (let s = 0; s < n; s++) {
      if (mask && !mask[s]) continue;
      const v = p.values[s * T + t];
      if (v === 0) continue;
      let node = 0;
      for (let i = m.stackStart[s + 1]; i-- > m.stackStart[s];) node = b.node(node, remapped[m.stackFrames[i]], m.stackLine[i]);
      b.addUp(node, col, v);
    }
  };
  add(baseModel, rb, 0, baseMask);
  add(newModel, rn, 1, newMask);
  return { tree: b.finish(frameName), frameName, frameFile, frameInline };
}

// ---------------------------------------------------------------------------
// Aggregates.

/**
 * Flat and cum per frame for value column `t` straight from the samples, as
 * `go tool pprof -top` computes them: flat = value of samples whose leaf is the
 * frame, cum = value of samples containing the frame (once per sample).
 * Returns {flat: Float64Array, cum: Float64Array, total}.
 */
export function flatCum(model, t, mask) {
  const p = model.profile;
  const T = p.sampleTypes.length;
  const nf = model.frameName.length;
  const flat = new Float64Array(nf), cum = new Float64Array(nf);
  const seen = new Int32Array(nf).fill(-1);
  const { stackStart, stackFrames } = model;
  let total = 0;
  const n = stackStart.length - 1;
  for (let s = 0; s < n; s++) {
    if (mask && !mask[s]) continue;
    const v = p.values[s * T + t];
    if (v === 0) continue;
    total += v;
    const a = stackStart[s], e = stackStart[s + 1];
    if (a < e) flat[stackFrames[a]] += v;
    for (let i = a; i < e; i++) {
      const f = stackFrames[i];
      if (seen[f] !== s) { seen[f] = s; cum[f] += v; }
    }
  }
  return { flat, cum, total };
}

/** Flat per frame of a tree column (self summed over the nodes of each frame). */
export function treeFlat(tree, nFrames, col) {
  const flat = new Float64Array(nFrames);
  for (let i = 1; i < tree.n; i++) flat[tree.frame[i]] += tree.self[i * tree.cols + col];
  return flat;
}

// ---------------------------------------------------------------------------
// Layout and queries on a tree.

/**
 * x offsets (in value units) of every node for a width function w(node), so
 * that children are packed left to right inside their parent. Returns Float64Array.
 */
export function layoutX(tree, width) {
  const x = new Float64Array(tree.n);
  const { levels, childStart, children } = tree;
  // levels is in DFS order per level, so one pass in level order suffices
  // (every parent is placed before its children).
  for (let k = 0; k < tree.n; k++) {
    const node = levels[k];
    let cx = x[node];
    for (let j = childStart[node]; j < childStart[node + 1]; j++) {
      const c = children[j];
      x[c] = cx;
      cx += width[c];
    }
  }
  return x;
}

/** Column c of the node totals as its own Float64Array. */
export function column(tree, arr, c) {
  const out = new Float64Array(tree.n);
  for (let i = 0; i < tree.n; i++) out[i] = arr[i * tree.cols + c];
  return out;
}

/** Node path from the root (exclusive) to node, as frame ids. */
export function pathOf(tree, node) {
  const out = [];
  for (let x = node; x > 0; x = tree.parent[x]) out.push(tree.frame[x]);
  return out.reverse();
}

/** Finds the node reached by following frame names from the root; returns 0 (root) when not found. */
export function findPath(tree, frameName, names) {
  let node = 0;
  for (const name of names) {
    let next = -1;
    for (let j = tree.childStart[node]; j < tree.childStart[node + 1]; j++) {
      const c = tree.children[j];
      if (frameName[tree.frame[c]] === name) { next = c; break; }
    }
    if (next < 0) return node;
    node = next;
  }
  return node;
}

/**
 * Search: marks nodes in the subtree of `root` whose frame matches (frameMatch
 * is a Uint8Array per frame) and sums the matched value without double
 * counting nested matches. Returns {mark: Uint8Array per node, matched}.
 */
export function searchTree(tree, frameMatch, width, root) {
  const mark = new Uint8Array(tree.n);
  let matched = 0;
  const { childStart, children, frame } = tree;
  const stack = [root, 0];
  while (stack.length) {
    const covered = stack.pop();
    const x = stack.pop();
    let cov = covered;
    if (x > 0 && frameMatch[frame[x]]) {
      mark[x] = 1;
      if (!covered) { matched += width[x]; cov = 1; }
    }
    for (let j = childStart[x]; j < childStart[x + 1]; j++) {
      const c = children[j];
      if (width[c] !== 0) stack.push(c, cov);
    }
  }
  return { mark, matched };
}
