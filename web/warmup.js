// SPDX-License-Identifier: Apache-2.0
//
// Warm-up for the decoder worker. A page's worker decodes one or two
// profiles in its life, so without help every profile is decoded by code the
// JavaScript engine has not optimised yet (its first run takes about twice
// as long as a second one). When the worker starts, it decodes a few small
// synthetic profiles shaped like real ones (packed ids, two sample types,
// string and numeric labels, inlined lines, several mappings), one run
// per task, so the engine has compiled the hot loops before a real
// profile arrives. A real profile stops the warm-up at the next run: a run
// takes a few milliseconds (tens for the very first), so a real profile
// never waits longer than that.

const enc = new TextEncoder();

// Minimal protobuf writer for the synthetic profile (the tests' encoder
// extends it). Nested messages are written by a writer of the same class.
export class ProtoWriter {
  constructor(size = 256) { this.buf = new Uint8Array(size); this.pos = 0; }
  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }
  varint(v) {  // v >= 0, below 2^53
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  uint(field, v) { this.varint(field * 8); this.varint(v); }
  bytes(field, b) {
    this.varint(field * 8 + 2);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  message(field, fill) {
    const w = new this.constructor();
    fill(w);
    this.bytes(field, w.finish());
  }
  packed(field, values) {
    const w = new this.constructor();
    for (const v of values) w.varint(v);
    this.bytes(field, w.finish());
  }
  finish() { return this.buf.slice(0, this.pos); }
}

// Deterministic pseudo-random numbers (xorshift32); the tests use it too.
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

// A CPU-like profile: `samples` samples over call paths of depth 4..27
// through `functions` functions in three modules, some locations with an
// inlined frame, every sample labelled with a thread name and tid.
export function syntheticProfile(samples, functions, seed) {
  const rand = rng(seed);
  const strings = [''];
  const index = new Map([['', 0]]);
  const s = (x) => {
    let i = index.get(x);
    if (i === undefined) {
      i = strings.length;
      index.set(x, i);
      strings.push(x);
    }
    return i;
  };
  const w = new ProtoWriter(1 << 16);
  w.message(1, (m) => { m.uint(1, s('samples')); m.uint(2, s('count')); });
  w.message(1, (m) => { m.uint(1, s('cpu')); m.uint(2, s('nanoseconds')); });
  const threads = ['main', 'worker-1', 'worker-2', 'io'];
  const stack = [];
  for (let i = 0; i < samples; i++) {
    stack.length = 0;
    const depth = 4 + Math.floor(rand() * 24);
    let f = Math.floor(rand() * 8);
    for (let d = 0; d < depth; d++) {
      stack.push(1 + f);
      f = (f * 31 + 7 + Math.floor(rand() * 5)) % functions;
    }
    stack.reverse();  // leaf first
    const t = Math.floor(rand() * threads.length);
    w.message(2, (m) => {
      m.packed(1, stack);
      m.packed(2, [1, 10000000]);
      m.message(3, (l) => { l.uint(1, s('thread')); l.uint(2, s(threads[t])); });
      m.message(3, (l) => { l.uint(1, s('tid')); l.uint(3, 1000 + t); });
    });
  }
  const modules = ['/usr/bin/server', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/libstdc++.so.6'];
  modules.forEach((file, i) => {
    w.message(3, (m) => {
      m.uint(1, i + 1);
      m.uint(2, 0x400000 * (i + 1));
      m.uint(3, 0x400000 * (i + 2));
      m.uint(5, s(file));
      m.uint(6, s('b1d' + i));
      m.uint(7, 1);
      m.uint(8, 1);
    });
  });
  for (let id = 1; id <= functions; id++) {
    w.message(4, (m) => {
      m.uint(1, id);
      m.uint(2, 1 + (id % modules.length));
      m.uint(3, 0x400000 + id * 64);
      if (id % 5 === 0) m.message(4, (l) => { l.uint(1, 1 + (id % functions)); l.uint(2, 10 + id); });
      m.message(4, (l) => { l.uint(1, id); l.uint(2, 20 + (id % 300)); });
    });
  }
  for (let id = 1; id <= functions; id++) {
    const name = 'ns' + (id % 7) + '::Type<int>::method' + id + '(std::vector<int> const&)';
    w.message(5, (m) => {
      m.uint(1, id);
      m.uint(2, s(name));
      m.uint(3, s(name));
      m.uint(4, s('src/file' + (id % 13) + '.cc'));
      m.uint(5, 10 + id);
    });
  }
  w.uint(9, 1700000000000000);
  w.uint(10, 10000000000);
  w.message(11, (m) => { m.uint(1, s('cpu')); m.uint(2, s('nanoseconds')); });
  w.uint(12, 10000000);
  const tail = new ProtoWriter();
  for (const str of strings) tail.bytes(6, enc.encode(str));
  const a = w.finish();
  const b = tail.finish();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// Runs `work(bytes)` `steps` times on one synthetic profile, one run per
// task, while `busy()` is false. Resolves with the number of runs made.
export async function warmUp(work, busy, { steps = 16, samples = 600, functions = 300 } = {}) {
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (busy()) return 0;
  let bytes;
  try {
    bytes = syntheticProfile(samples, functions, 1);
  } catch (e) {
    return 0;
  }
  let done = 0;
  for (let i = 0; i < steps; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (busy()) break;
    try {
      await work(bytes);
    } catch (e) {
      break;  // a warm-up never gets in the way
    }
    done++;
  }
  return done;
}
