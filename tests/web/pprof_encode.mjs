// SPDX-License-Identifier: Apache-2.0
//
// A small profile.proto encoder for tests: builds synthetic profiles (one
// Function and Location per distinct frame name) so decoder and page tests
// can control every number. Repeated integers are written packed, or unpacked
// with {packed: false}, to exercise both decoder paths.

import zlib from 'node:zlib';
import { ProtoWriter, rng } from '../../web/warmup.js';

// The page's writer (web/warmup.js), plus negative varints, zero-skipping
// scalars and unpacked repeated fields.
class Writer extends ProtoWriter {
  constructor(size = 64) { super(size); }
  varint(v) {
    if (v >= 0) {
      super.varint(v);
      return;
    }
    // int64 two's complement, 10 bytes.
    this.ensure(10);
    let lo = Number(BigInt.asUintN(64, BigInt(v)) & 0xffffffffn);
    let hi = Number(BigInt.asUintN(64, BigInt(v)) >> 32n);
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = (lo >>> 7) | ((hi & 0x7f) << 25);
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo & 0x01;
  }
  key(field, wt) { this.varint(field * 8 + wt); }
  uint(field, v) { if (v !== 0) { this.key(field, 0); this.varint(v); } }
  ints(field, arr, packed) {
    if (!arr.length) return;
    if (packed) {
      const w = new Writer();
      for (const v of arr) w.varint(v);
      this.bytes(field, w.finish());
    } else {
      for (const v of arr) { this.key(field, 0); this.varint(v); }
    }
  }
}

const enc = new TextEncoder();

/**
 * spec: {
 *   sampleTypes: [[type, unit], ...], defaultSampleType?: type name,
 *   periodType?: [type, unit], period?, durationNanos?, timeNanos?,
 *   samples: [{stack: [leaf, ..., root] names, values: [...], labels?: {key: str}, numLabels?: {key: n}}],
 *   files?: {name: file}, lines?: {name: line}, packed?: bool (default true),
 *   locationIdBase?: n (location ids are n+1, n+2, ...; default 0)
 * }
 * Returns uncompressed bytes (Uint8Array).
 */
export function encodeProfile(spec) {
  const packed = spec.packed !== false;
  const locBase = spec.locationIdBase || 0;
  const strings = [''];
  const sidx = new Map([['', 0]]);
  const s = (x) => {
    let i = sidx.get(x);
    if (i === undefined) { i = strings.length; sidx.set(x, i); strings.push(x); }
    return i;
  };
  const fnIds = new Map();
  const fnList = [];
  const fid = (name) => {
    let id = fnIds.get(name);
    if (id === undefined) {
      id = fnList.length + 1;
      fnIds.set(name, id);
      fnList.push(name);
    }
    return id;
  };
  const w = new Writer();
  for (const [t, u] of spec.sampleTypes) w.message(1, (m) => { m.uint(1, s(t)); m.uint(2, s(u)); });
  for (const smp of spec.samples) {
    w.message(2, (m) => {
      m.ints(1, smp.stack.map((name) => locBase + fid(name)), packed);
      // Values are always written, zeros included (one per sample type).
      if (packed) {
        const v = new Writer();
        for (const x of smp.values) v.varint(x);
        m.bytes(2, v.finish());
      } else {
        for (const x of smp.values) { m.key(2, 0); m.varint(x); }
      }
      for (const [k, v] of Object.entries(smp.labels || {})) m.message(3, (l) => { l.uint(1, s(k)); l.uint(2, s(v)); });
      for (const [k, v] of Object.entries(smp.numLabels || {})) m.message(3, (l) => { l.uint(1, s(k)); l.uint(3, v); });
    });
  }
  w.message(3, (m) => { m.uint(1, 1); m.uint(2, 0x400000); m.uint(3, 0x800000); m.uint(5, s('/usr/bin/synthetic'));
    m.uint(7, 1); m.uint(8, 1); m.uint(9, 1); });
  fnList.forEach((name, i) => {
    const id = i + 1;
    w.message(4, (m) => {
      m.uint(1, locBase + id); m.uint(2, 1); m.uint(3, 0x400000 + id * 16);
      m.message(4, (l) => { l.uint(1, id); l.uint(2, (spec.lines && spec.lines[name]) || 10 + (id % 90)); });
    });
  });
  fnList.forEach((name, i) => {
    w.message(5, (m) => { m.uint(1, i + 1); m.uint(2, s(name)); m.uint(3, s(name));
      m.uint(4, s((spec.files && spec.files[name]) || 'src/synthetic.cc')); m.uint(5, 1); });
  });
  if (spec.timeNanos) w.uint(9, spec.timeNanos);
  if (spec.durationNanos) w.uint(10, spec.durationNanos);
  if (spec.periodType) w.message(11, (m) => { m.uint(1, s(spec.periodType[0])); m.uint(2, s(spec.periodType[1])); });
  if (spec.period) w.uint(12, spec.period);
  if (spec.defaultSampleType) w.uint(14, s(spec.defaultSampleType));
  // The string table goes last: every string above has been interned.
  const tail = new Writer();
  for (const str of strings) tail.bytes(6, enc.encode(str));
  const a = w.finish(), b = tail.finish();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function gzip(bytes) {
  return new Uint8Array(zlib.gzipSync(bytes, { level: 1 }));
}


/**
 * A big CPU-like profile: nSamples samples over exactly nStacks distinct
 * stacks. Like real programs, stacks share their upper part: nBases call paths
 * of 5..maxDepth frames (built as a tree, so they share prefixes too), each
 * extended by a tail of 1..8 frames drawn from nFuncs C++-looking names.
 */
export function syntheticBig({ nSamples = 100000, nStacks = 50000, nFuncs = 20000, nBases = 600, maxDepth = 36, seed = 7 } = {}) {
  const rand = rng(seed);
  const names = [];
  for (let i = 0; i < nFuncs; i++) {
    names.push('ns' + (i % 37) + '::Widget<std::vector<int, std::allocator<int> >, ' + (i % 5) + '>::method' + i +
      '(std::string const&, int)');
  }
  const pick = () => names[Math.floor(rand() * nFuncs)];
  const bases = [['main', 'run_loop']];
  while (bases.length < nBases) {
    const parent = bases[Math.floor(rand() * bases.length)];
    if (parent.length >= maxDepth - 8) continue;
    const b = parent.slice();
    const extra = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < extra; i++) b.push(pick());
    bases.push(b);
  }
  const seen = new Set();
  const stacks = [];
  while (stacks.length < nStacks) {
    const b = bases[Math.floor(rand() * bases.length)];
    const st = b.slice();
    const tail = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < tail; i++) st.push(pick());
    const key = st.join('\n');
    if (seen.has(key)) continue;
    seen.add(key);
    stacks.push(st.reverse());
  }
  const counts = new Uint32Array(nStacks);
  for (let i = 0; i < nSamples; i++) counts[i < nStacks ? i : Math.floor(rand() * nStacks)]++;
  const samples = [];
  for (let k = 0; k < nStacks; k++) {
    const c = counts[k];
    samples.push({ stack: stacks[k], values: [c, c * 10000000], labels: { thread: 'worker-' + (k % 4) } });
  }
  return encodeProfile({
    sampleTypes: [['samples', 'count'], ['cpu', 'nanoseconds']],
    periodType: ['cpu', 'nanoseconds'], period: 10000000, durationNanos: 10e9, samples,
  });
}
