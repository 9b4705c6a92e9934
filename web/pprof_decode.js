// SPDX-License-Identifier: Apache-2.0
//
// Decoder for pprof's profile.proto with no library: gunzip through
// DecompressionStream (only when the bytes start with the gzip magic 1f 8b;
// servers send the gzip as the body, not as Content-Encoding), then a
// hand-written protobuf wire reader. Repeated scalars are accepted packed and
// unpacked. The result is a flat, structure-of-arrays Profile built from typed
// arrays so it can cross a Worker boundary as transferables. One pass over the
// bytes, no object per sample, location or function.
//
// Runs unchanged in browsers, Web Workers and Node >= 18 (no imports).

export class ProfileError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProfileError';
  }
}

export function isGzip(bytes) {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

// Largest uncompressed profile the page accepts: a gzip bomb (a few MB that
// inflate to gigabytes) is refused with a message instead of taking the tab.
export const kMaxProfileBytes = 512 * 1024 * 1024;

// Returns the uncompressed bytes. Throws ProfileError on corrupt or truncated
// gzip, or when the data inflates beyond maxBytes.
export async function gunzipIfNeeded(bytes, maxBytes = kMaxProfileBytes) {
  if (!isGzip(bytes)) return bytes;
  const chunks = [];
  let total = 0;
  try {
    const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        reader.cancel().catch(() => {});
        throw new ProfileError('the profile inflates to more than ' + Math.round(maxBytes / 1048576) +
          ' MiB; refusing it (a gzip bomb, or not a profile)');
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof ProfileError) throw e;
    throw new ProfileError('the gzip data is corrupt or truncated (' + (e && e.message ? e.message : e) + ')');
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const kTwo32 = 4294967296;

// Growable typed arrays (one class per element type keeps the accesses monomorphic).
class I32Vec {
  constructor(cap = 256) { this.a = new Int32Array(cap); this.n = 0; }
  push(v) {
    if (this.n === this.a.length) this.grow();
    this.a[this.n++] = v;
  }
  grow() {
    const b = new Int32Array(this.a.length * 2);
    b.set(this.a);
    this.a = b;
  }
  // The filled part (a view: the spare capacity is less than the used part).
  take() { return this.a.subarray(0, this.n); }
}

class F64Vec {
  constructor(cap = 256) { this.a = new Float64Array(cap); this.n = 0; }
  push(v) {
    if (this.n === this.a.length) this.grow();
    this.a[this.n++] = v;
  }
  grow() {
    const b = new Float64Array(this.a.length * 2);
    b.set(this.a);
    this.a = b;
  }
  take() { return this.a.subarray(0, this.n); }
}

// Protobuf wire reader over one buffer; `end` is changed while reading nested
// messages. The methods are small so the JIT inlines them into the loops of
// decodeProfile; nothing is allocated per field.
class Reader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
  }

  // Varint as a JS number: exact up to 2^53; int64 negatives (10-byte two's
  // complement) come back negative.
  varint() {
    const p = this.pos;
    if (p < this.end) {
      const x = this.buf[p];
      if (x < 0x80) {
        this.pos = p + 1;
        return x;
      }
    }
    return this.varintSlow();
  }

  varintSlow() {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.end) throw new ProfileError('truncated varint');
    let x = b[p++];
    let lo = x & 0x7f;
    let hi = 0;
    let shift = 7;
    for (;;) {
      if (p >= this.end) throw new ProfileError('truncated varint');
      x = b[p++];
      if (shift < 28) {
        lo |= (x & 0x7f) << shift;
      } else if (shift === 28) {
        lo |= (x & 0x0f) << 28;
        hi |= (x & 0x7f) >> 4;
      } else if (shift < 64) {
        hi |= (x & 0x7f) << (shift - 32);
      }
      shift += 7;
      if (x < 0x80) break;
      if (shift >= 70) throw new ProfileError('malformed varint');
    }
    this.pos = p;
    if ((hi | 0) < 0) return -((~hi >>> 0) * kTwo32 + (~lo >>> 0) + 1);
    return (hi >>> 0) * kTwo32 + (lo >>> 0);
  }

  // Length of a length-delimited field; leaves pos at its first byte.
  len() {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) throw new ProfileError('truncated length-delimited field');
    return n;
  }

  skip(wt) {
    switch (wt) {
      case 0: this.varint(); break;
      case 1: this.pos += 8; break;
      case 2: { const n = this.len(); this.pos += n; break; }
      case 5: this.pos += 4; break;
      default: throw new ProfileError('invalid wire type ' + wt);
    }
    if (this.pos > this.end) throw new ProfileError('truncated field');
  }

  // Repeated integer field: packed (wire type 2) or one unpacked value (wire type 0).
  ints(wt, out) {
    if (wt === 2) {
      const n = this.len();
      const stop = this.pos + n;
      const saved = this.end;
      this.end = stop;
      while (this.pos < stop) out.push(this.varint());
      this.end = saved;
    } else if (wt === 0) {
      out.push(this.varint());
    } else {
      throw new ProfileError('invalid wire type ' + wt + ' for a repeated integer');
    }
  }

  // Sample.location_id (packed or not) into `out` (I32Vec). Ids are stored as
  // they are when they fit in 31 bits, which is nearly always; others through
  // bigId(id), which returns a negative code. The loop decodes 1- to 3-byte
  // varints itself and leaves longer ones to varintSlow.
  locationIds(wt, out, bigId) {
    if (wt === 0) {
      const v = this.varint();
      out.push(v >= 0 && v <= 0x7fffffff ? v : bigId(v));
      return;
    }
    if (wt !== 2) throw new ProfileError('invalid wire type ' + wt + ' for a repeated integer');
    const n = this.len();
    const b = this.buf;
    const stop = this.pos + n;
    let p = this.pos;
    let a = out.a, k = out.n;
    while (p < stop) {
      const x = b[p];
      let v;
      if (x < 0x80) {
        v = x;
        p += 1;
      } else if (p + 1 < stop && b[p + 1] < 0x80) {
        v = (x & 0x7f) | (b[p + 1] << 7);
        p += 2;
      } else if (p + 2 < stop && b[p + 1] >= 0x80 && b[p + 2] < 0x80) {
        v = (x & 0x7f) | ((b[p + 1] & 0x7f) << 7) | (b[p + 2] << 14);
        p += 3;
      } else {
        const saved = this.end;
        this.pos = p;
        this.end = stop;
        v = this.varintSlow();
        this.end = saved;
        p = this.pos;
        if (!(v >= 0 && v <= 0x7fffffff)) v = bigId(v);
      }
      if (k === a.length) {
        out.n = k;
        out.grow();
        a = out.a;
      }
      a[k++] = v;
    }
    out.n = k;
    this.pos = p;
  }

  // Enters a nested message of length n; returns the saved end for leave().
  enter(n) {
    const saved = this.end;
    this.end = this.pos + n;
    return saved;
  }

  leave(saved) {
    if (this.pos !== this.end) throw new ProfileError('message overruns its length');
    this.end = saved;
  }
}

function expectWire(wt, want, what) {
  if (wt !== want) throw new ProfileError('field ' + what + ' has wire type ' + wt + ', expected ' + want);
}

const utf8 = new TextDecoder('utf-8');

// id (uint64 from the file) -> index in the order of appearance. A dense table
// when the ids are small integers (the usual 1..N), else a Map. Later
// duplicates win, as with Map.set.
class IdIndex {
  constructor(ids, n) {
    let max = 0;
    let dense = true;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!(id >= 0 && id <= 0x7fffffff && id === Math.floor(id))) { dense = false; break; }
      if (id > max) max = id;
    }
    if (dense && max <= 4 * n + 1024) {
      this.map = null;
      this.table = new Int32Array(max + 1).fill(-1);
      for (let i = 0; i < n; i++) this.table[ids[i]] = i;
    } else {
      this.table = null;
      this.map = new Map();
      for (let i = 0; i < n; i++) this.map.set(ids[i], i);
    }
  }

  // Index of id, or -1.
  get(id) {
    if (this.table !== null) return id >= 0 && id < this.table.length ? this.table[id] : -1;
    const v = this.map.get(id);
    return v === undefined ? -1 : v;
  }
}

/**
 * Decodes uncompressed profile.proto bytes into a Profile:
 *   strings: string[]                         string table
 *   sampleTypes: [{type, unit}] (strings), defaultSampleType: index into sampleTypes
 *   periodType: {type, unit} | null, period, timeNanos, durationNanos, comments: string[], dropFrames, keepFrames
 *   mappings: [{id, start, limit, offset, file, buildId, hasFunctions, hasFilenames, hasLineNumbers, hasInlineFrames}]
 *   functions (index i):  fnId, fnName, fnSystemName, fnFile (string indices), fnStartLine
 *   locations (index i):  locId, locAddress, locMapping (mapping index or -1), locFolded,
 *                         lines locLineStart[i]..locLineStart[i+1] of lineFn (function index or -1), lineNo
 *                         (line 0 is the leaf; the last line is the caller the others were inlined into)
 *   samples (index s):    sampleLocStart[s]..sampleLocStart[s+1] of sampleLocs (location index, leaf first),
 *                         values[s * sampleTypes.length + t],
 *                         labels sampleLabelStart[s]..sampleLabelStart[s+1] of labelKey, labelStr, labelNum, labelUnit
 * One pass over the bytes into growable typed arrays; ids are resolved to
 * indices at the end.
 *
 * The work is split into small functions on purpose: a page decodes one
 * profile, so this code mostly runs before the JIT has optimized it, and small
 * functions are optimized sooner (and recompiled more cheaply when a new kind
 * of field shows up) than one big one.
 */
export function decodeProfile(buf) {
  if (!(buf instanceof Uint8Array)) buf = new Uint8Array(buf);
  const r = new Reader(buf);
  const st = new DecodeState(buf.length);
  readProfile(r, st);
  return resolveProfile(st);
}

// Everything read so far, as growable typed arrays and small lists.
class DecodeState {
  constructor(size) {
    this.strings = [];
    this.sampleTypeIdx = [];
    this.periodTypeIdx = null;
    this.period = 0;
    this.timeNanos = 0;
    this.durationNanos = 0;
    this.defaultSampleTypeStr = 0;
    this.dropFrames = 0;
    this.keepFrames = 0;
    this.commentIdx = [];
    this.mappings = [];
    this.fnId = new F64Vec();
    this.fnName = new I32Vec();
    this.fnSystemName = new I32Vec();
    this.fnFile = new I32Vec();
    this.fnStartLine = new F64Vec();
    this.locId = new F64Vec();
    this.locAddress = new F64Vec();
    this.locMappingId = new F64Vec();
    this.locFolded = new I32Vec();
    this.locLineStart = new I32Vec();
    this.lineFnId = new F64Vec();
    this.lineNo = new F64Vec();
    this.sampleLocStart = new I32Vec(4096);
    // Location ids take at least one byte each: a quarter of the input is a
    // good first guess that avoids most regrowing.
    this.sampleLocIds = new I32Vec(Math.max(4096, size >> 2));
    this.sampleValueStart = new I32Vec(4096);
    this.values = new F64Vec(8192);
    this.sampleLabelStart = new I32Vec(4096);
    this.labelKey = new I32Vec();
    this.labelStr = new I32Vec();
    this.labelNum = new F64Vec();
    this.labelUnit = new I32Vec();
    this.locLineStart.push(0);
    this.sampleLocStart.push(0);
    this.sampleValueStart.push(0);
    this.sampleLabelStart.push(0);
    // Location ids that do not fit in 31 bits: stored as -1 - index here.
    this.bigIds = [];
    this.bigIdCode = new Map();
    this.bigId = (id) => {
      let c = this.bigIdCode.get(id);
      if (c === undefined) {
        c = -1 - this.bigIds.length;
        this.bigIds.push(id);
        this.bigIdCode.set(id, c);
      }
      return c;
    };
  }
}

// String indices are range-checked once the table is complete (it may come last).
function int32(v, what) {
  if (!(v >= 0 && v <= 0x7fffffff)) throw new ProfileError('string index ' + v + ' out of range in ' + what);
  return v;
}

// Top-level fields in two steps: first an index of the repeated messages
// (samples, locations, functions, strings; the scalar fields are read on the
// way), then one loop per kind. Each loop then sees one kind of message only,
// which the JIT handles better than one loop over a mix.
function readProfile(r, st) {
  const idx = new I32Vec(4096);  // [field, start, length] per message
  while (r.pos < r.end) {
    const key = r.varint();
    const f = key >>> 3, wt = key & 7;
    if (f === 0) throw new ProfileError('field number 0');
    if (wt === 2 && (f === 2 || f === 4 || f === 5 || f === 6)) {
      const n = r.len();
      idx.push(f);
      idx.push(r.pos);
      idx.push(n);
      r.pos += n;
    } else {
      readProfileField(r, st, f, wt);
    }
  }
  const a = idx.a, n = idx.n;
  readStrings(r, st, a, n);
  readSamples(r, st, a, n);
  readLocations(r, st, a, n);
  readFunctions(r, st, a, n);
  r.pos = r.end;
}

function readStrings(r, st, idx, n) {
  const buf = r.buf;
  for (let k = 0; k < n; k += 3) {
    if (idx[k] !== 6) continue;
    const p = idx[k + 1], len = idx[k + 2];
    st.strings.push(len === 0 ? '' : utf8.decode(buf.subarray(p, p + len)));
  }
}

function readSamples(r, st, idx, n) {
  for (let k = 0; k < n; k += 3) {
    if (idx[k] !== 2) continue;
    r.pos = idx[k + 1];
    readSample(r, st, idx[k + 2]);
  }
}

function readLocations(r, st, idx, n) {
  for (let k = 0; k < n; k += 3) {
    if (idx[k] !== 4) continue;
    r.pos = idx[k + 1];
    readLocation(r, st, idx[k + 2]);
  }
}

function readFunctions(r, st, idx, n) {
  for (let k = 0; k < n; k += 3) {
    if (idx[k] !== 5) continue;
    r.pos = idx[k + 1];
    readFunction(r, st, idx[k + 2]);
  }
}

// The rare top-level fields.
function readProfileField(r, st, f, wt) {
  switch (f) {
    case 1: expectWire(wt, 2, 'Profile.sample_type'); st.sampleTypeIdx.push(readValueType(r, r.len())); break;
    case 2: expectWire(wt, 2, 'Profile.sample'); break;
    case 4: expectWire(wt, 2, 'Profile.location'); break;
    case 5: expectWire(wt, 2, 'Profile.function'); break;
    case 6: expectWire(wt, 2, 'Profile.string_table'); break;
    case 3: expectWire(wt, 2, 'Profile.mapping'); st.mappings.push(readMapping(r, r.len())); break;
    case 7: expectWire(wt, 0, 'Profile.drop_frames'); st.dropFrames = r.varint(); break;
    case 8: expectWire(wt, 0, 'Profile.keep_frames'); st.keepFrames = r.varint(); break;
    case 9: expectWire(wt, 0, 'Profile.time_nanos'); st.timeNanos = r.varint(); break;
    case 10: expectWire(wt, 0, 'Profile.duration_nanos'); st.durationNanos = r.varint(); break;
    case 11: expectWire(wt, 2, 'Profile.period_type'); st.periodTypeIdx = readValueType(r, r.len()); break;
    case 12: expectWire(wt, 0, 'Profile.period'); st.period = r.varint(); break;
    case 13: r.ints(wt, st.commentIdx); break;
    case 14: expectWire(wt, 0, 'Profile.default_sample_type'); st.defaultSampleTypeStr = r.varint(); break;
    default: r.skip(wt);
  }
}

function readValueType(r, n) {
  const v = { type: 0, unit: 0 };
  const saved = r.enter(n);
  while (r.pos < r.end) {
    const key = r.varint();
    const f = key >>> 3, wt = key & 7;
    if (f === 1) { expectWire(wt, 0, 'ValueType.type'); v.type = r.varint(); }
    else if (f === 2) { expectWire(wt, 0, 'ValueType.unit'); v.unit = r.varint(); }
    else r.skip(wt);
  }
  r.leave(saved);
  return v;
}

function readSample(r, st, n) {
  const saved = r.enter(n);
  while (r.pos < r.end) {
    const key = r.varint();
    const f = key >>> 3, wt = key & 7;
    if (f === 1) r.locationIds(wt, st.sampleLocIds, st.bigId);
    else if (f === 2) r.ints(wt, st.values);
    else if (f === 3) {
      expectWire(wt, 2, 'Sample.label');
      readLabel(r, st, r.len());
    } else r.skip(wt);
  }
  r.leave(saved);
  st.sampleLocStart.push(st.sampleLocIds.n);
  st.sampleValueStart.push(st.values.n);
  st.sampleLabelStart.push(st.labelKey.n);
}

function readLabel(r, st, n) {
  let k = 0, s = 0, num = 0, unit = 0;
  const saved = r.enter(n);
  while (r.pos < r.end) {
    const key = r.varint();
    const g = key >>> 3, w = key & 7;
    if (g === 1) k = r.varint();
    else if (g === 2) s = r.varint();
    else if (g === 3) num = r.varint();
    else if (g === 4) unit = r.varint();
    else r.skip(w);
  }
  r.leave(saved);
  st.labelKey.push(int32(k, 'label'));
  st.labelStr.push(int32(s, 'label'));
  st.labelNum.push(num);
  st.labelUnit.push(int32(unit, 'label'));
}

function readLocation(r, st, n) {
  let id = 0, mid = 0, addr = 0, folded = 0;
  const saved = r.enter(n);
  while (r.pos < r.end) {
    const key = r.varint();
    const f = key >>> 3, wt = key & 7;
    if (f === 1) id = r.varint();
    else if (f === 2) mid = r.varint();
    else if (f === 3) addr = r.varint();
    else if (f === 4) {
      expectWire(wt, 2, 'Location.line');
      readLine(r, st, r.len());
    } else if (f === 5) folded = r.varint();
    else r.skip(wt);
  }
  r.leave(saved);
  st.locId.push(id);
  st.locMappingId.push(mid);
  st.locAddress.push(addr);
  st.locFolded.push(folded ? 1 : 0);
  st.locLineStart.push(st.lineFnId.n);
}

function readLine(r, st, n) {
  let fid = 0, line = 0;
  const saved = r.enter(n);
  while (r.pos < r.end) {
    const key = r.varint();
    const g = key >>> 3, w = key & 7;
    if (g === 1) fid = r.varint();
    else if (g === 2) line = r.varint();
    else r.skip(w);
  }
  r.leave(saved);
  st.lineFnId.push(fid);
  st.lineNo.push(line);
}

function readFunction(r, st, n) {
  let id = 0, name = 0, sys = 0, file = 0, start = 0;
  const saved = r.enter(n);
  while (r.pos < r.end) {
    const key = r.varint();
    const f = key >>> 3, wt = key & 7;
    if (f === 1) id = r.varint();
    else if (f === 2) name = r.varint();
    else if (f === 3) sys = r.varint();
    else if (f === 4) file = r.varint();
    else if (f === 5) start = r.varint();
    else r.skip(wt);
  }
  r.leave(saved);
  st.fnId.push(id);
  st.fnName.push(int32(name, 'function'));
  st.fnSystemName.push(int32(sys, 'function'));
  st.fnFile.push(int32(file, 'function'));
  st.fnStartLine.push(start);
}

function readMapping(r, n) {
  const m = { id: 0, start: 0, limit: 0, offset: 0, file: 0, buildId: 0, hasFunctions: false,
    hasFilenames: false, hasLineNumbers: false, hasInlineFrames: false };
  const saved = r.enter(n);
  while (r.pos < r.end) {
    const key = r.varint();
    const f = key >>> 3, wt = key & 7;
    switch (f) {
      case 1: m.id = r.varint(); break;
      case 2: m.start = r.varint(); break;
      case 3: m.limit = r.varint(); break;
      case 4: m.offset = r.varint(); break;
      case 5: m.file = r.varint(); break;
      case 6: m.buildId = r.varint(); break;
      case 7: m.hasFunctions = !!r.varint(); break;
      case 8: m.hasFilenames = !!r.varint(); break;
      case 9: m.hasLineNumbers = !!r.varint(); break;
      case 10: m.hasInlineFrames = !!r.varint(); break;
      default: r.skip(wt);
    }
  }
  r.leave(saved);
  return m;
}

// Every string index of `vec` is in the table.
function checkStrings(vec, nStrings, what) {
  const a = vec.a;
  for (let i = 0; i < vec.n; i++) {
    if (a[i] >= nStrings) throw new ProfileError('string index ' + a[i] + ' out of range in ' + what);
  }
}

function checkValueCounts(vs, nSamples, nTypes) {
  for (let s = 0; s < nSamples; s++) {
    const c = vs[s + 1] - vs[s];
    if (c !== nTypes) {
      throw new ProfileError('sample ' + s + ' has ' + c + ' values but the profile has ' + nTypes + ' sample types');
    }
  }
}

// Location ids -> indices, in place.
function resolveLocationIds(sampleLocs, locIndex, bigIds) {
  // The dense table read directly (the usual case): one array read per id.
  const table = locIndex.table;
  if (table !== null && bigIds.length === 0) {
    const nt = table.length;
    for (let i = 0; i < sampleLocs.length; i++) {
      const id = sampleLocs[i];
      const li = id < nt ? table[id] : -1;
      if (li < 0) throw new ProfileError('sample refers to unknown location id ' + id);
      sampleLocs[i] = li;
    }
    return;
  }
  for (let i = 0; i < sampleLocs.length; i++) {
    const c = sampleLocs[i];
    const id = c >= 0 ? c : bigIds[-1 - c];
    const li = locIndex.get(id);
    if (li < 0) throw new ProfileError('sample refers to unknown location id ' + id);
    sampleLocs[i] = li;
  }
}

function resolveFunctionIds(ids, n, fnIndex) {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    const fi = id === 0 ? -1 : fnIndex.get(id);
    if (id !== 0 && fi < 0) throw new ProfileError('location refers to unknown function id ' + id);
    out[i] = fi;
  }
  return out;
}

function resolveMappingIds(ids, n, mapIndex) {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = ids[i] === 0 ? -1 : mapIndex.get(ids[i]);
  return out;
}

// Validation (so a file that merely parses as protobuf is not taken for a
// profile), id resolution, and the Profile object.
function resolveProfile(st) {
  const strings = st.strings;
  if (strings.length === 0 || strings[0] !== '') {
    throw new ProfileError('not a pprof profile (no string table starting with "")');
  }
  if (st.sampleTypeIdx.length === 0) throw new ProfileError('not a pprof profile (no sample types)');
  const nStrings = strings.length;
  const str = (i, what) => {
    if (!(i >= 0 && i < nStrings)) throw new ProfileError('string index ' + i + ' out of range in ' + what);
    return strings[i];
  };
  const nTypes = st.sampleTypeIdx.length;
  const sampleTypes = st.sampleTypeIdx.map((v) => ({ type: str(v.type, 'sample_type'), unit: str(v.unit, 'sample_type') }));
  let defaultSampleType = nTypes - 1;
  if (st.defaultSampleTypeStr) {
    const name = str(st.defaultSampleTypeStr, 'default_sample_type');
    const i = sampleTypes.findIndex((t) => t.type === name);
    if (i >= 0) defaultSampleType = i;
  }
  checkStrings(st.fnName, nStrings, 'function');
  checkStrings(st.fnSystemName, nStrings, 'function');
  checkStrings(st.fnFile, nStrings, 'function');
  checkStrings(st.labelKey, nStrings, 'label');
  checkStrings(st.labelStr, nStrings, 'label');
  checkStrings(st.labelUnit, nStrings, 'label');
  const fnIndex = new IdIndex(st.fnId.a, st.fnId.n);
  const mappings = st.mappings;
  const mapIds = new Float64Array(mappings.length);
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i];
    mapIds[i] = m.id;
    m.file = str(m.file, 'mapping');
    m.buildId = str(m.buildId, 'mapping');
  }
  const mapIndex = new IdIndex(mapIds, mappings.length);
  const locIndex = new IdIndex(st.locId.a, st.locId.n);
  const nSamples = st.sampleLocStart.n - 1;
  checkValueCounts(st.sampleValueStart.a, nSamples, nTypes);
  const sampleLocs = st.sampleLocIds.take();
  resolveLocationIds(sampleLocs, locIndex, st.bigIds);
  const lineFn = resolveFunctionIds(st.lineFnId.a, st.lineFnId.n, fnIndex);
  const locMapping = resolveMappingIds(st.locMappingId.a, st.locMappingId.n, mapIndex);
  const p = st.periodTypeIdx;
  return {
    strings,
    sampleTypes,
    defaultSampleType,
    periodType: p ? { type: str(p.type, 'period_type'), unit: str(p.unit, 'period_type') } : null,
    period: st.period,
    timeNanos: st.timeNanos,
    durationNanos: st.durationNanos,
    dropFrames: str(st.dropFrames, 'drop_frames'),
    keepFrames: str(st.keepFrames, 'keep_frames'),
    comments: st.commentIdx.map((i) => str(i, 'comment')),
    mappings,
    fnId: st.fnId.take(),
    fnName: st.fnName.take(),
    fnSystemName: st.fnSystemName.take(),
    fnFile: st.fnFile.take(),
    fnStartLine: st.fnStartLine.take(),
    locId: st.locId.take(),
    locAddress: st.locAddress.take(),
    locMapping,
    locFolded: new Uint8Array(st.locFolded.take()),
    locLineStart: new Uint32Array(st.locLineStart.take()),
    lineFn,
    lineNo: st.lineNo.take(),
    sampleLocStart: new Uint32Array(st.sampleLocStart.take()),
    sampleLocs,
    values: st.values.take(),
    sampleLabelStart: new Uint32Array(st.sampleLabelStart.take()),
    labelKey: st.labelKey.take(),
    labelStr: st.labelStr.take(),
    labelNum: st.labelNum.take(),
    labelUnit: st.labelUnit.take(),
  };
}

// gunzip (when gzipped) + decode. Errors are ProfileError with a message for the user.
export async function parseProfile(bytes) {
  if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
  if (bytes.length === 0) throw new ProfileError('the profile is empty (0 bytes)');
  return decodeBytes(bytes, await gunzipIfNeeded(bytes));
}

// decodeProfile(raw) with the messages of parseProfile; `bytes` is what was
// read (gzipped or not), `raw` its uncompressed form.
export function decodeBytes(bytes, raw) {
  if (bytes.length === 0) throw new ProfileError('the profile is empty (0 bytes)');
  try {
    return decodeProfile(raw);
  } catch (e) {
    if (e instanceof ProfileError) {
      throw new ProfileError('not a valid pprof profile: ' + e.message +
        (isGzip(bytes) ? '' : ' (the data is not gzipped; is this a profile.proto file?)'));
    }
    throw e;
  }
}
