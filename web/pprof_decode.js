// SPDX-License-Identifier: Apache-2.0
//
// Decoder for pprof's profile.proto with no library: gunzip through
// DecompressionStream (only when the bytes start with the gzip magic 1f 8b;
// servers send the gzip as the body, not as Content-Encoding), then a
// hand-written protobuf wire reader. Repeated scalars are accepted packed and
// unpacked. The result is a flat, structure-of-arrays Profile built from typed
// arrays so it can cross a Worker boundary as transferables.
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

// Returns the uncompressed bytes. Throws ProfileError on corrupt or truncated gzip.
export async function gunzipIfNeeded(bytes) {
  if (!isGzip(bytes)) return bytes;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new ProfileError('the gzip data is corrupt or truncated (' + (e && e.message ? e.message : e) + ')');
  }
}

const kTwo32 = 4294967296;

// Protobuf wire reader over one buffer; `end` is changed while reading nested messages.
class Reader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
  }

  // Varint as a JS number: exact up to 2^53; int64 negatives (10-byte two's
  // complement) come back negative.
  varint() {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.end) throw new ProfileError('truncated varint');
    let x = b[p++];
    if (x < 0x80) {
      this.pos = p;
      return x;
    }
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

  // Calls fn(field, wireType) for each field of the message of length n at pos.
  message(n, fn) {
    const stop = this.pos + n;
    const saved = this.end;
    this.end = stop;
    while (this.pos < stop) {
      const key = this.varint();
      fn(key >>> 3, key & 7);
    }
    if (this.pos !== stop) throw new ProfileError('message overruns its length');
    this.end = saved;
  }
}

function expectWire(wt, want, what) {
  if (wt !== want) throw new ProfileError('field ' + what + ' has wire type ' + wt + ', expected ' + want);
}

const utf8 = new TextDecoder('utf-8');

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
 */
export function decodeProfile(buf) {
  if (!(buf instanceof Uint8Array)) buf = new Uint8Array(buf);
  const r = new Reader(buf);
  const strings = [];
  const sampleTypeIdx = [];
  let periodTypeIdx = null;
  let period = 0, timeNanos = 0, durationNanos = 0, defaultSampleTypeStr = 0, dropFrames = 0, keepFrames = 0;
  const commentIdx = [];
  const mappings = [];
  const fnId = [], fnName = [], fnSystemName = [], fnFile = [], fnStartLine = [];
  const locId = [], locAddress = [], locMappingId = [], locFolded = [], locLineStart = [0], lineFnId = [], lineNo = [];
  const sampleLocStart = [0], sampleLocIds = [], values = [], sampleValueCount = [];
  const sampleLabelStart = [0], labelKey = [], labelStr = [], labelNum = [], labelUnit = [];

  const valueType = (n) => {
    const v = { type: 0, unit: 0 };
    r.message(n, (f, wt) => {
      if (f === 1) { expectWire(wt, 0, 'ValueType.type'); v.type = r.varint(); }
      else if (f === 2) { expectWire(wt, 0, 'ValueType.unit'); v.unit = r.varint(); }
      else r.skip(wt);
    });
    return v;
  };

  const locIdsTmp = [];
  const valsTmp = [];
  const sample = (n) => {
    locIdsTmp.length = 0;
    valsTmp.length = 0;
    r.message(n, (f, wt) => {
      if (f === 1) r.ints(wt, locIdsTmp);
      else if (f === 2) r.ints(wt, valsTmp);
      else if (f === 3) {
        expectWire(wt, 2, 'Sample.label');
        let k = 0, s = 0, num = 0, unit = 0;
        r.message(r.len(), (g, w) => {
          if (g === 1) k = r.varint();
          else if (g === 2) s = r.varint();
          else if (g === 3) num = r.varint();
          else if (g === 4) unit = r.varint();
          else r.skip(w);
        });
        labelKey.push(k); labelStr.push(s); labelNum.push(num); labelUnit.push(unit);
      } else r.skip(wt);
    });
    for (let i = 0; i < locIdsTmp.length; i++) sampleLocIds.push(locIdsTmp[i]);
    sampleLocStart.push(sampleLocIds.length);
    sampleValueCount.push(valsTmp.length);
    for (let i = 0; i < valsTmp.length; i++) values.push(valsTmp[i]);
    sampleLabelStart.push(labelKey.length);
  };

  const location = (n) => {
    let id = 0, mid = 0, addr = 0, folded = 0;
    r.message(n, (f, wt) => {
      if (f === 1) id = r.varint();
      else if (f === 2) mid = r.varint();
      else if (f === 3) addr = r.varint();
      else if (f === 4) {
        expectWire(wt, 2, 'Location.line');
        let fid = 0, line = 0;
        r.message(r.len(), (g, w) => {
          if (g === 1) fid = r.varint();
          else if (g === 2) line = r.varint();
          else r.skip(w);
        });
        lineFnId.push(fid); lineNo.push(line);
      } else if (f === 5) folded = r.varint();
      else r.skip(wt);
    });
    locId.push(id); locMappingId.push(mid); locAddress.push(addr); locFolded.push(folded ? 1 : 0);
    locLineStart.push(lineFnId.length);
  };

  const fn = (n) => {
    let id = 0, name = 0, sys = 0, file = 0, start = 0;
    r.message(n, (f, wt) => {
      if (f === 1) id = r.varint();
      else if (f === 2) name = r.varint();
      else if (f === 3) sys = r.varint();
      else if (f === 4) file = r.varint();
      else if (f === 5) start = r.varint();
      else r.skip(wt);
    });
    fnId.push(id); fnName.push(name); fnSystemName.push(sys); fnFile.push(file); fnStartLine.push(start);
  };

  const mapping = (n) => {
    const m = { id: 0, start: 0, limit: 0, offset: 0, file: 0, buildId: 0, hasFunctions: false,
      hasFilenames: false, hasLineNumbers: false, hasInlineFrames: false };
    r.message(n, (f, wt) => {
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
    });
    mappings.push(m);
  };

  while (r.pos < r.end) {
    const key = r.varint();
    const f = key >>> 3, wt = key & 7;
    if (f === 0) throw new ProfileError('field number 0');
    switch (f) {
      case 1: expectWire(wt, 2, 'Profile.sample_type'); sampleTypeIdx.push(valueType(r.len())); break;
      case 2: expectWire(wt, 2, 'Profile.sample'); sample(r.len()); break;
      case 3: expectWire(wt, 2, 'Profile.mapping'); mapping(r.len()); break;
      case 4: expectWire(wt, 2, 'Profile.location'); location(r.len()); break;
      case 5: expectWire(wt, 2, 'Profile.function'); fn(r.len()); break;
      case 6: {
        expectWire(wt, 2, 'Profile.string_table');
        const n = r.len();
        strings.push(n === 0 ? '' : utf8.decode(buf.subarray(r.pos, r.pos + n)));
        r.pos += n;
        break;
      }
      case 7: expectWire(wt, 0, 'Profile.drop_frames'); dropFrames = r.varint(); break;
      case 8: expectWire(wt, 0, 'Profile.keep_frames'); keepFrames = r.varint(); break;
      case 9: expectWire(wt, 0, 'Profile.time_nanos'); timeNanos = r.varint(); break;
      case 10: expectWire(wt, 0, 'Profile.duration_nanos'); durationNanos = r.varint(); break;
      case 11: expectWire(wt, 2, 'Profile.period_type'); periodTypeIdx = valueType(r.len()); break;
      case 12: expectWire(wt, 0, 'Profile.period'); period = r.varint(); break;
      case 13: r.ints(wt, commentIdx); break;
      case 14: expectWire(wt, 0, 'Profile.default_sample_type'); defaultSampleTypeStr = r.varint(); break;
      default: r.skip(wt);
    }
  }

  // Validation, so a file that merely parses as protobuf is not taken for a profile.
  if (strings.length === 0 || strings[0] !== '') {
    throw new ProfileError('not a pprof profile (no string table starting with "")');
  }
  if (sampleTypeIdx.length === 0) throw new ProfileError('not a pprof profile (no sample types)');
  const str = (i, what) => {
    if (!(i >= 0 && i < strings.length)) throw new ProfileError('string index ' + i + ' out of range in ' + what);
    return strings[i];
  };
  const nTypes = sampleTypeIdx.length;
  const sampleTypes = sampleTypeIdx.map((v) => ({ type: str(v.type, 'sample_type'), unit: str(v.unit, 'sample_type') }));
  let defaultSampleType = nTypes - 1;
  if (defaultSampleTypeStr) {
    const name = str(defaultSampleTypeStr, 'default_sample_type');
    const i = sampleTypes.findIndex((t) => t.type === name);
    if (i >= 0) defaultSampleType = i;
  }

  const fnIndex = new Map();
  for (let i = 0; i < fnId.length; i++) {
    fnIndex.set(fnId[i], i);
    str(fnName[i], 'function'); str(fnSystemName[i], 'function'); str(fnFile[i], 'function');
  }
  const mapIndex = new Map();
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i];
    mapIndex.set(m.id, i);
    m.file = str(m.file, 'mapping');
    m.buildId = str(m.buildId, 'mapping');
  }
  const locIndex = new Map();
  for (let i = 0; i < locId.length; i++) locIndex.set(locId[i], i);

  const nSamples = sampleLocStart.length - 1;
  const vals = new Float64Array(nSamples * nTypes);
  let vp = 0;
  for (let s = 0; s < nSamples; s++) {
    const c = sampleValueCount[s];
    if (c !== nTypes) {
      throw new ProfileError('sample ' + s + ' has ' + c + ' values but the profile has ' + nTypes + ' sample types');
    }
    for (let t = 0; t < nTypes; t++) vals[s * nTypes + t] = values[vp++];
  }
  const sampleLocs = new Int32Array(sampleLocIds.length);
  for (let i = 0; i < sampleLocIds.length; i++) {
    const li = locIndex.get(sampleLocIds[i]);
    if (li === undefined) throw new ProfileError('sample refers to unknown location id ' + sampleLocIds[i]);
    sampleLocs[i] = li;
  }
  const lineFn = new Int32Array(lineFnId.length);
  for (let i = 0; i < lineFnId.length; i++) {
    const fi = lineFnId[i] === 0 ? -1 : fnIndex.get(lineFnId[i]);
    if (fi === undefined) throw new ProfileError('location refers to unknown function id ' + lineFnId[i]);
    lineFn[i] = fi;
  }
  const locMapping = new Int32Array(locMappingId.length);
  for (let i = 0; i < locMappingId.length; i++) {
    const mi = locMappingId[i] === 0 ? undefined : mapIndex.get(locMappingId[i]);
    locMapping[i] = mi === undefined ? -1 : mi;
  }
  for (let i = 0; i < labelKey.length; i++) {
    str(labelKey[i], 'label'); str(labelStr[i], 'label'); str(labelUnit[i], 'label');
  }

  return {
    strings,
    sampleTypes,
    defaultSampleType,
    periodType: periodTypeIdx ? { type: str(periodTypeIdx.type, 'period_type'), unit: str(periodTypeIdx.unit, 'period_type') } : null,
    period,
    timeNanos,
    durationNanos,
    dropFrames: str(dropFrames, 'drop_frames'),
    keepFrames: str(keepFrames, 'keep_frames'),
    comments: commentIdx.map((i) => str(i, 'comment')),
    mappings,
    fnId: Float64Array.from(fnId),
    fnName: Int32Array.from(fnName),
    fnSystemName: Int32Array.from(fnSystemName),
    fnFile: Int32Array.from(fnFile),
    fnStartLine: Float64Array.from(fnStartLine),
    locId: Float64Array.from(locId),
    locAddress: Float64Array.from(locAddress),
    locMapping,
    locFolded: Uint8Array.from(locFolded),
    locLineStart: Uint32Array.from(locLineStart),
    lineFn,
    lineNo: Float64Array.from(lineNo),
    sampleLocStart: Uint32Array.from(sampleLocStart),
    sampleLocs,
    values: vals,
    sampleLabelStart: Uint32Array.from(sampleLabelStart),
    labelKey: Int32Array.from(labelKey),
    labelStr: Int32Array.from(labelStr),
    labelNum: Float64Array.from(labelNum),
    labelUnit: Int32Array.from(labelUnit),
  };
}

// gunzip (when gzipped) + decode. Errors are ProfileError with a message for the user.
export async function parseProfile(bytes) {
  if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
  if (bytes.length === 0) throw new ProfileError('the profile is empty (0 bytes)');
  const raw = await gunzipIfNeeded(bytes);
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
