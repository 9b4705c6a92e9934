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
//
// Speed: frames are interned once per function (not per sample or line), each
// location's frame chain once per location, and stacks are expanded with one
// table lookup per location. Call trees use integer node ids in typed arrays,
// with an open-addressing hash keyed by the (parent node, frame) pair itself.
// Children are ordered by name with two counting sorts, and the per-level
// node lists are a breadth-first walk, so finishing a tree is linear.

import { gunzipIfNeeded, decodeBytes } from './pprof_decode.js';

// ---------------------------------------------------------------------------
// Frames and stacks.

/**
 * Returns a Model: {profile, frameName[], frameFile[], refFrame Int32Array,
 * refLine Float64Array and refInline Uint8Array (the lines of every location,
 * flattened: frame, line number, whether the line is an inlined call),
 * stackStart Uint32Array, stackRefs Int32Array (sample s is
 * stackRefs[stackStart[s]..stackStart[s+1]], leaf first, as indices into the
 * ref arrays), stackFrames (null until stackFramesOf), sampleThread
 * Int32Array (string index of the `thread` label or -1), threads: string[]}.
 */
export function buildModel(profile) {
  const p = profile;
  const frames = new FrameTable(p);
  const locs = locationFrames(p, frames);
  // Stacks as references into the location lines (leaf first). Without
  // inlining, a location has one line and the references are the sample's
  // location indices themselves.
  let stackStart = p.sampleLocStart, stackRefs = p.sampleLocs;
  if (!locs.single) ({ stackStart, stackRefs } = expandStacks(p, locs.start));
  const { sampleThread, threads } = threadLabels(p);
  return {
    profile: p, frameName: frames.name, frameFile: frames.file,
    refFrame: locs.frame, refLine: locs.line, refInline: locs.inline, stackStart, stackRefs, stackFrames: null,
    sampleThread, threads,
  };
}

// Frames: a frame is a function as `go tool pprof` groups them, by name and
// file. Inlined calls (every line of a Location but the last) are stack
// entries of their own; whether an entry is inlined is kept per entry
// (refInline) and per tree node, not per frame, since one function can be
// both. Frames are interned once per function, not per line or sample.
class FrameTable {
  constructor(p) {
    this.p = p;
    this.name = [];
    this.file = [];
    this.key = new Map();
    this.fnFrame = new Int32Array(p.fnId.length).fill(-1);  // per function index; -1 until used
    this.unknown = -1;
  }

  intern(name, file) {
    const key = name + '\u0000' + file;
    let id = this.key.get(key);
    if (id === undefined) {
      id = this.name.length;
      this.key.set(key, id);
      this.name.push(name);
      this.file.push(file);
    }
    return id;
  }

  // Frame of function index f (-1: a line without a function).
  ofFunction(f) {
    if (f < 0) {
      if (this.unknown < 0) this.unknown = this.intern('?', '');
      return this.unknown;
    }
    let fr = this.fnFrame[f];
    if (fr < 0) {
      const p = this.p, strings = p.strings;
      const name = strings[p.fnName[f]] || strings[p.fnSystemName[f]] || '?';
      fr = this.fnFrame[f] = this.intern(name, strings[p.fnFile[f]]);
    }
    return fr;
  }

  // A location with no symbol: one frame per mapping, named as pprof names
  // it ("[libc.so.6]"), since an address is not a function's identity.
  ofMapping(m) {
    const mf = m >= 0 ? this.p.mappings[m].file : '';
    return mf ? this.intern('[' + mf.slice(mf.lastIndexOf('/') + 1) + ']', mf) : this.intern('<unknown>', '');
  }
}

// The lines of every location, leaf first, flattened: location l is
// start[l]..start[l+1] of frame, line, inline. `single`: one line each.
function locationFrames(p, frames) {
  const nLoc = p.locId.length;
  const lls = p.locLineStart;
  const start = new Uint32Array(nLoc + 1);
  let single = true;
  for (let l = 0; l < nLoc; l++) {
    const c = lls[l + 1] - lls[l];
    if (c !== 1) single = false;
    start[l + 1] = start[l] + (c === 0 ? 1 : c);
  }
  const frame = new Int32Array(start[nLoc]);
  const line = new Float64Array(start[nLoc]);
  const inline = new Uint8Array(start[nLoc]);
  for (let l = 0; l < nLoc; l++) {
    const a = lls[l], b = lls[l + 1];
    let k = start[l];
    if (a === b) {
      frame[k] = frames.ofMapping(p.locMapping[l]);
      continue;
    }
    for (let i = a; i < b; i++, k++) {
      frame[k] = frames.ofFunction(p.lineFn[i]);
      line[k] = p.lineNo[i];
      inline[k] = i !== b - 1 ? 1 : 0;
    }
  }
  return { start, frame, line, inline, single };
}

// Stack references when some location has several lines (or none).
function expandStacks(p, locStart) {
  const nSamples = p.sampleLocStart.length - 1;
  const sls = p.sampleLocStart, sl = p.sampleLocs;
  const stackStart = new Uint32Array(nSamples + 1);
  let total = 0;
  for (let s = 0; s < nSamples; s++) {
    for (let i = sls[s]; i < sls[s + 1]; i++) {
      const l = sl[i];
      total += locStart[l + 1] - locStart[l];
    }
    stackStart[s + 1] = total;
  }
  const stackRefs = new Int32Array(total);
  let k = 0;
  for (let i = 0; i < sl.length; i++) {
    const l = sl[i];
    for (let j = locStart[l], e = locStart[l + 1]; j < e; j++) stackRefs[k++] = j;
  }
  return { stackStart, stackRefs };
}

// The `thread` label (cpprof, and Go's pprof.Do labels if named so): per
// sample its string index or -1, and the sorted distinct names.
function threadLabels(p) {
  const nSamples = p.sampleLocStart.length - 1;
  const threadKey = p.strings.indexOf('thread');
  const sampleThread = new Int32Array(nSamples).fill(-1);
  const threadSet = new Set();
  if (threadKey > 0) {
    const ls = p.sampleLabelStart, lk = p.labelKey, lv = p.labelStr;
    for (let s = 0; s < nSamples; s++) {
      for (let i = ls[s], e = ls[s + 1]; i < e; i++) {
        if (lk[i] === threadKey) {
          const v = lv[i];
          sampleThread[s] = v;
          threadSet.add(v);
          break;
        }
      }
    }
  }
  const threads = [...threadSet].map((i) => p.strings[i]).sort();
  return { sampleThread, threads };
}

/**
 * Frame ids of all stacks (leaf first, indexed like stackRefs), computed on
 * first use: the first flame graph is built from the references directly.
 */
export function stackFramesOf(model) {
  if (!model.stackFrames) {
    const refs = model.stackRefs, rf = model.refFrame;
    const out = new Int32Array(refs.length);
    for (let i = 0; i < out.length; i++) out[i] = rf[refs[i]];
    model.stackFrames = out;
  }
  return model.stackFrames;
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

function grown(a, n) {
  const b = new a.constructor(n);
  b.set(a);
  return b;
}

// Builds a tree from root-first paths. Node 0 is the root (frame -1). Node
// ids are assigned in creation order, so a parent's id is always smaller than
// its children's. The (parent, frame) -> child lookup is an open-addressing
// hash whose slots hold the node id and its frame side by side, so a probe
// reads the parent only when the frame already matches.
class TreeBuilder {
  constructor(cols, sizeHint) {
    this.cols = cols;
    this.n = 1;
    this.maxDepth = 0;
    let cap = 1024;
    while (cap < sizeHint && cap < (1 << 22)) cap *= 2;
    this.cap = cap;
    this.parentA = new Int32Array(cap);
    this.frameA = new Int32Array(cap);
    this.lineA = new Float64Array(cap);
    this.inlineA = new Uint8Array(cap);
    this.depthA = new Uint16Array(cap);
    this.selfA = new Float64Array(cap * cols);
    this.parentA[0] = -1;
    this.frameA[0] = -1;
    this.hcap = cap * 2;
    this.slots = new Int32Array(this.hcap * 2);  // [node, frame]; node 0 (the root) marks an empty slot
  }

  static slot(parent, frame, mask) {
    let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(frame + 0x632be5ab, 0x85ebca77);
    h ^= h >>> 15;
    return h & mask;
  }

  grow() {
    const cap = this.cap * 2;
    this.parentA = grown(this.parentA, cap);
    this.frameA = grown(this.frameA, cap);
    this.lineA = grown(this.lineA, cap);
    this.inlineA = grown(this.inlineA, cap);
    this.depthA = grown(this.depthA, cap);
    this.selfA = grown(this.selfA, cap * this.cols);
    this.cap = cap;
  }

  rehash() {
    this.hcap *= 2;
    const slots = new Int32Array(this.hcap * 2);
    const mask = this.hcap - 1;
    for (let i = 1; i < this.n; i++) {
      const f = this.frameA[i];
      let k = TreeBuilder.slot(this.parentA[i], f, mask);
      while (slots[2 * k] !== 0) k = (k + 1) & mask;
      slots[2 * k] = i;
      slots[2 * k + 1] = f;
    }
    this.slots = slots;
  }

  // Creates the child of `parent` for `frame` in the empty hash slot k.
  create(k, parent, frame, line, inline) {
    if (this.n === this.cap) this.grow();
    const n = this.n++;
    this.slots[2 * k] = n;
    this.slots[2 * k + 1] = frame;
    this.parentA[n] = parent;
    this.frameA[n] = frame;
    this.lineA[n] = line;
    this.inlineA[n] = inline;
    this.depthA[n] = this.depthA[parent] + 1;
    if (this.depthA[n] > this.maxDepth) this.maxDepth = this.depthA[n];
    if (this.n * 2 > this.hcap) this.rehash();
    return n;
  }

  /**
   * Follows (creating as needed) the path of frames[i], frames[i + step], ...
   * up to `end` (exclusive) from the root, frames mapped through `remap` when
   * given; a new node takes its line and inline flag from stack entry refs[i]
   * of model `m` (m.refLine, m.refInline). Returns the last node. One call per sample; the per-frame lookup is
   * inlined here so that the loop runs as optimized code early.
   */
  path(frames, refs, m, i, end, step, remap) {
    let node = 0;
    let slots = this.slots, parentA = this.parentA, mask = this.hcap - 1;
    for (; i !== end; i += step) {
      const frame = remap === null ? frames[i] : remap[frames[i]];
      let h = Math.imul(node, 0x9e3779b1) ^ Math.imul(frame + 0x632be5ab, 0x85ebca77);
      h ^= h >>> 15;
      let k = h & mask;
      let found = -1;
      for (;;) {
        const c = slots[2 * k];
        if (c === 0) break;
        if (slots[2 * k + 1] === frame && parentA[c] === node) { found = c; break; }
        k = (k + 1) & mask;
      }
      if (found < 0) {
        const ref = refs[i];
        found = this.create(k, node, frame, m.refLine[ref], m.refInline[ref]);
        slots = this.slots;
        parentA = this.parentA;
        mask = this.hcap - 1;
      }
      node = found;
    }
    return node;
  }

  /**
   * The paths of all samples (or those with mask[s] set) of a model's
   * stacks, root first, each adding the sample's values to its last node's
   * self. The same as path() and addUp() per sample, written out as one loop
   * over local variables: it runs once per profile, mostly before the JIT has
   * optimized anything, and one loop is optimized (on stack replacement)
   * sooner and better than a method called per sample.
   */
  addStacks(model, values, mask) {
    const { stackStart, stackRefs, refFrame, refLine, refInline } = model;
    const cols = this.cols;
    const ns = stackStart.length - 1;
    let n = this.n, cap = this.cap, hmask = this.hcap - 1;
    let slots = this.slots, parentA = this.parentA, frameA = this.frameA, lineA = this.lineA;
    let inlineA = this.inlineA, depthA = this.depthA, selfA = this.selfA;
    let maxDepth = this.maxDepth;
    for (let s = 0; s < ns; s++) {
      if (mask !== null && mask[s] === 0) continue;
      let node = 0;
      for (let i = stackStart[s + 1] - 1, end = stackStart[s] - 1; i > end; i--) {
        const ref = stackRefs[i];
        const frame = refFrame[ref];
        let h = Math.imul(node, 0x9e3779b1) ^ Math.imul(frame + 0x632be5ab, 0x85ebca77);
        h ^= h >>> 15;
        let k = h & hmask;
        let found = -1;
        for (;;) {
          const c = slots[2 * k];
          if (c === 0) break;
          if (slots[2 * k + 1] === frame && parentA[c] === node) { found = c; break; }
          k = (k + 1) & hmask;
        }
        if (found < 0) {
          if (n === cap) {
            this.n = n;
            this.grow();
            cap = this.cap;
            parentA = this.parentA; frameA = this.frameA; lineA = this.lineA;
            inlineA = this.inlineA; depthA = this.depthA; selfA = this.selfA;
          }
          found = n++;
          slots[2 * k] = found;
          slots[2 * k + 1] = frame;
          parentA[found] = node;
          frameA[found] = frame;
          lineA[found] = refLine[ref];
          inlineA[found] = refInline[ref];
          depthA[found] = depthA[node] + 1;
          if (depthA[found] > maxDepth) maxDepth = depthA[found];
          if (n * 2 > hmask + 1) {
            this.n = n;
            this.rehash();
            slots = this.slots;
            hmask = this.hcap - 1;
          }
        }
        node = found;
      }
      const v0 = s * cols, n0 = node * cols;
      for (let t = 0; t < cols; t++) {
        const v = values[v0 + t];
        if (v !== 0) selfA[n0 + t] += v;
      }
    }
    this.n = n;
    this.maxDepth = maxDepth;
  }

  // Adds value v to column col of node n's self; totals are summed in finish().
  addUp(n, col, v) {
    this.selfA[n * this.cols + col] += v;
  }

  finish(frameName) {
    const n = this.n;
    const cols = this.cols;
    // Views, not copies: the capacity beyond n (less than half) is not worth
    // a copy of every array.
    const parent = this.parentA.subarray(0, n);
    const frame = this.frameA.subarray(0, n);
    const depth = this.depthA.subarray(0, n);
    const self = this.selfA.subarray(0, n * cols);
    const maxDepth = this.maxDepth;
    // Children lists sorted by frame name (stable layout, comparable diffs):
    // a counting sort of the nodes by the name rank of their frame, then a
    // stable counting sort by parent. The totals and the counts of all three
    // counting sorts come from one pass.
    const order = frameOrder(frameName);
    const { total, rankStart, childStart, levelStart } = totalsAndCounts(parent, frame, depth, self, order, n, cols, maxDepth);
    const byRank = sortByRank(frame, order, rankStart, n);
    const children = childLists(parent, byRank, childStart, n);
    const levels = levelLists(childStart, children, n);
    return {
      n, cols, parent, frame, depth, maxDepth,
      line: this.lineA.subarray(0, n),
      inline: this.inlineA.subarray(0, n),
      total, self,
      childStart, children, levelStart, levels,
    };
  }
}

// The finishing steps are separate small functions: each runs once per tree
// over all nodes, and the JIT optimizes small loops sooner.

// Node totals (self plus the children's totals; children are always created
// after their parent, so one backwards pass suffices) and the start offsets
// of the counting sorts by frame name rank, by parent and by depth.
function totalsAndCounts(parent, frame, depth, self, order, n, cols, maxDepth) {
  const total = self.slice();
  const nf = order.length;
  const rankStart = new Int32Array(nf + 1);
  const childStart = new Uint32Array(n + 1);
  const levelStart = new Uint32Array(maxDepth + 2);
  levelStart[1] = n > 0 ? 1 : 0;  // the root, at depth 0
  for (let i = n - 1; i > 0; i--) {
    const p = parent[i];
    if (cols === 1) {
      total[p] += total[i];
    } else {
      const p0 = p * cols, c0 = i * cols;
      for (let c = 0; c < cols; c++) total[p0 + c] += total[c0 + c];
    }
    rankStart[order[frame[i]] + 1]++;
    childStart[p + 1]++;
    levelStart[depth[i] + 1]++;
  }
  for (let r = 0; r < nf; r++) rankStart[r + 1] += rankStart[r];
  for (let i = 0; i < n; i++) childStart[i + 1] += childStart[i];
  for (let d = 0; d <= maxDepth; d++) levelStart[d + 1] += levelStart[d];
  return { total, rankStart, childStart, levelStart };
}

// Nodes 1..n-1 ordered by their frame's name rank (counting sort; rankStart
// is consumed).
function sortByRank(frame, order, rankStart, n) {
  const byRank = new Int32Array(Math.max(0, n - 1));
  for (let i = 1; i < n; i++) byRank[rankStart[order[frame[i]]]++] = i;
  return byRank;
}

// Children of node x: children[childStart[x]..childStart[x+1]], in the order
// of byRank.
function childLists(parent, byRank, childStart, n) {
  const children = new Int32Array(Math.max(0, n - 1));
  const fill = childStart.slice(0, n);
  for (let k = 0; k < byRank.length; k++) {
    const i = byRank[k];
    children[fill[parent[i]]++] = i;
  }
  return children;
}

// Per-level node lists in left-to-right order: a breadth-first walk that
// visits children in order lists every level left to right.
function levelLists(childStart, children, n) {
  const levels = new Int32Array(n);
  let tail = 1;
  for (let k = 0; k < tail; k++) {
    const x = levels[k];
    for (let j = childStart[x], e = childStart[x + 1]; j < e; j++) levels[tail++] = children[j];
  }
  return levels;
}

// Rank of every frame when sorted by name (ties by frame id). Cached per frame
// table, since the thread, callers and diff trees of one profile reuse it.
const frameOrders = new WeakMap();

/**
 * Records the name order of a frame table computed elsewhere (frameOrder on
 * another thread, from a copy of the same names).
 */
export function setFrameOrder(frameName, order) {
  if (order.length === frameName.length) frameOrders.set(frameName, order);
}

/** Rank of each frame of the table in name order (Int32Array). */
export function frameOrder(frameName) {
  let order = frameOrders.get(frameName);
  if (order && order.length === frameName.length) return order;
  // The built-in string sort (no comparator call per comparison), then the
  // rank of each distinct name, then a counting sort of the frames by rank.
  const names = frameName.slice().sort();
  const rankOf = distinctRanks(names);
  order = rankFrames(frameName, rankOf);
  frameOrders.set(frameName, order);
  return order;
}

// Sorted names -> Map name -> rank among the distinct names.
function distinctRanks(names) {
  const rankOf = new Map();
  let distinct = 0;
  for (let r = 0; r < names.length; r++) {
    if (r === 0 || names[r] !== names[r - 1]) rankOf.set(names[r], distinct++);
  }
  return rankOf;
}

function rankFrames(frameName, rankOf) {
  const nf = frameName.length;
  const nameRank = new Int32Array(nf);
  const cnt = new Int32Array(rankOf.size + 1);
  for (let f = 0; f < nf; f++) {
    const r = rankOf.get(frameName[f]);
    nameRank[f] = r;
    cnt[r + 1]++;
  }
  for (let r = 0; r < rankOf.size; r++) cnt[r + 1] += cnt[r];
  const order = new Int32Array(nf);
  for (let f = 0; f < nf; f++) order[f] = cnt[nameRank[f]]++;
  return order;
}

/** Call tree of a model with one column per sample type; `mask` (Uint8Array or null) selects samples. */
export function buildTree(model, mask) {
  return treePaths(model, mask).finish(model.frameName);
}

// The paths of buildTree, not yet finished (finish(frameName) makes the tree).
function treePaths(model, mask) {
  const p = model.profile;
  const T = p.sampleTypes.length;
  const b = new TreeBuilder(T, mask ? 1024 : model.stackRefs.length >> 2);
  b.addStacks(model, p.values, mask || null);
  return b;
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
  const b = new TreeBuilder(T, 1024);
  const { stackStart, stackRefs } = model;
  const stackFrames = stackFramesOf(model);
  const n = stackStart.length - 1;
  for (let s = 0; s < n; s++) {
    if (mask && !mask[s]) continue;
    const a = stackStart[s], e = stackStart[s + 1];
    let i = a;
    while (i < e && stackFrames[i] !== f) i++;
    if (i === e) continue;
    const node = b.path(stackFrames, stackRefs, model, i, e, 1, null);
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
 * Frames are matched by (name, file). Returns {tree, frameName, frameFile}.
 */
export function buildDiffTree(baseModel, newModel, typeName, baseMask, newMask) {
  const frameName = [], frameFile = [];
  const key = new Map();
  const remap = (m) => {
    const out = new Int32Array(m.frameName.length);
    for (let f = 0; f < m.frameName.length; f++) {
      const k = m.frameName[f] + '\u0000' + m.frameFile[f];
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
  const b = new TreeBuilder(2, 1024);
  const add = (m, remapped, col, mask) => {
    const p = m.profile;
    const T = p.sampleTypes.length;
    const t = p.sampleTypes.findIndex((x) => x.type === typeName);
    if (t < 0) throw new Error('sample type "' + typeName + '" is not in both profiles');
    const n = m.stackStart.length - 1;
    const frames = stackFramesOf(m);
    for (let s = 0; s < n; s++) {
      if (mask && !mask[s]) continue;
      const v = p.values[s * T + t];
      if (v === 0) continue;
      const node = b.path(frames, m.stackRefs, m, m.stackStart[s + 1] - 1, m.stackStart[s] - 1, -1, remapped);
      b.addUp(node, col, v);
    }
  };
  add(baseModel, rb, 0, baseMask);
  add(newModel, rn, 1, newMask);
  return { tree: b.finish(frameName), frameName, frameFile };
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
  const { stackStart } = model;
  const stackFrames = stackFramesOf(model);
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
 * Per-frame match flags of a regular expression over frame names (Uint8Array).
 * Cached per (frame table, regex source and flags): zooming with an active
 * search, or switching views, does not run the regex again.
 */
const matchCache = new WeakMap();

export function frameMatches(frameName, re) {
  let perTable = matchCache.get(frameName);
  if (!perTable) {
    perTable = new Map();
    matchCache.set(frameName, perTable);
  }
  const key = re.flags + '/' + re.source;
  let fm = perTable.get(key);
  if (!fm || fm.length !== frameName.length) {
    fm = new Uint8Array(frameName.length);
    const sticky = re.global || re.sticky;
    for (let f = 0; f < fm.length; f++) {
      if (sticky) re.lastIndex = 0;
      fm[f] = re.test(frameName[f]) ? 1 : 0;
    }
    // Only the latest few regexes (typing produces one per keystroke).
    if (perTable.size >= 8) perTable.delete(perTable.keys().next().value);
    perTable.set(key, fm);
  }
  return fm;
}

/**
 * Search: marks nodes in the subtree of `root` whose frame matches (frameMatch
 * is a Uint8Array per frame) and sums the matched value without double
 * counting nested matches. Returns {mark: Uint8Array per node, matched}.
 * One pass over the node ids: a parent's id is always smaller than its
 * children's, so each node's state follows from its parent's.
 */
export function searchTree(tree, frameMatch, width, root) {
  const n = tree.n;
  const mark = new Uint8Array(n);
  // state: 0 outside the subtree (or under a zero-width node), 1 inside and
  // not under a match, 2 inside and under a match.
  const state = new Uint8Array(n);
  const { parent, frame } = tree;
  let matched = 0;
  if (root > 0 && frameMatch[frame[root]]) {
    mark[root] = 1;
    matched += width[root];
    state[root] = 2;
  } else {
    state[root] = 1;
  }
  for (let x = root + 1; x < n; x++) {
    const ps = state[parent[x]];
    if (ps === 0 || width[x] === 0) continue;
    if (frameMatch[frame[x]]) {
      mark[x] = 1;
      if (ps === 1) matched += width[x];
      state[x] = 2;
    } else {
      state[x] = ps;
    }
  }
  return { mark, matched };
}

// ---------------------------------------------------------------------------
// The whole loading pipeline (run in the worker, or on the page as a fallback).

/**
 * gunzip (when gzipped) + decode + frame table + full call tree. Returns
 * {model, tree, timings: {gunzipMs, decodeMs, modelMs, treeMs}}; throws
 * ProfileError for input that is not a profile.
 *
 * orderElsewhere(frameName), when given, returns a promise of
 * frameOrder(frameName) computed on another thread: sorting the names (tens
 * of milliseconds for C++ names) then overlaps with building the tree's paths.
 */
export async function decodeAndBuild(bytes, orderElsewhere = null) {
  const t0 = performance.now();
  const raw = await gunzipIfNeeded(bytes);
  const t1 = performance.now();
  const profile = decodeBytes(bytes, raw);
  const t2 = performance.now();
  const model = buildModel(profile);
  const t3 = performance.now();
  const order = orderElsewhere ? orderElsewhere(model.frameName) : null;
  const paths = treePaths(model, null);
  if (order) {
    try {
      setFrameOrder(model.frameName, await order);
    } catch (e) {
      // Computed here instead.
    }
  }
  const tree = paths.finish(model.frameName);
  const t4 = performance.now();
  return { model, tree, timings: { gunzipMs: t1 - t0, decodeMs: t2 - t1, modelMs: t3 - t2, treeMs: t4 - t3 } };
}
