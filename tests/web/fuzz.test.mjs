// SPDX-License-Identifier: Apache-2.0
//
// Fuzz of the page's profile decoder (web/pprof_decode.js) and model
// builder (web/profile_model.js): real profiles (cpprof's, synthetic ones)
// truncated, bit-flipped, with bytes inserted or deleted, with huge varints
// and wrong wire types spliced in, and random bytes; gzipped and not. Every
// input must decode or be refused with a ProfileError (a message for the
// user), never throw anything else and never hang; a gzip bomb is refused
// by the size cap. Deterministic (seeded); CPPROF_WEB_FUZZ_ITERATIONS sets
// the number of mutated inputs (default 3000; a long run: 200000).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { parseProfile, decodeProfile, gunzipIfNeeded, ProfileError } from '../../web/pprof_decode.js';
import { buildModel, buildTree } from '../../web/profile_model.js';
import { syntheticBig } from './pprof_encode.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const iterations = Number(process.env.CPPROF_WEB_FUZZ_ITERATIONS || 3000);

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function seeds() {
  const out = [];
  const gz = fs.readFileSync(path.join(here, 'fixtures', 'cpprof_cpu.pb.gz'));
  out.push(new Uint8Array(zlib.gunzipSync(gz)));
  out.push(syntheticBig({ nSamples: 300, nStacks: 120, nFuncs: 60, nBases: 20, maxDepth: 12, seed: 3 }));
  return out;
}

const kHugeVarint = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

function mutate(src, r) {
  let b = Array.from(src);
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; ++k) {
    const at = Math.floor(r() * (b.length + 1));
    switch (Math.floor(r() * 8)) {
      case 0: b = b.slice(0, at); break;                                        // truncate
      case 1: if (b.length) b[at % b.length] ^= 1 << Math.floor(r() * 8); break;  // flip a bit
      case 2: b.splice(at, 0, Math.floor(r() * 256)); break;                   // insert a byte
      case 3: b.splice(at, 1 + Math.floor(r() * 16)); break;                   // delete bytes
      case 4: b.splice(at, 0, ...kHugeVarint); break;                          // a huge varint
      case 5: b.splice(at, 0, (Math.floor(r() * 16) << 3) | [3, 4, 6, 7][Math.floor(r() * 4)]); break;  // bad wire type
      case 6: b.splice(at, 0, 0x0a, 0xff, 0xff, 0xff, 0x7f); break;            // a length far past the end
      default: if (b.length) b[at % b.length] = Math.floor(r() * 256); break;   // overwrite a byte
    }
  }
  return new Uint8Array(b);
}

// Decodes (and models) `bytes`; returns 'ok' or 'refused', throws otherwise.
function decodeOne(bytes) {
  let p;
  try {
    p = decodeProfile(bytes);
  } catch (e) {
    if (e instanceof ProfileError) return 'refused';
    throw e;
  }
  try {
    const model = buildModel(p);
    buildTree(model, null);
  } catch (e) {
    if (e instanceof ProfileError) return 'refused';
    throw e;
  }
  return 'ok';
}

test('mutated profiles decode or are refused with a ProfileError, never anything else', () => {
  const r = rng(20261204);
  const inputs = seeds();
  const counts = { ok: 0, refused: 0 };
  for (let i = 0; i < iterations; ++i) {
    const src = inputs[i % inputs.length];
    const bytes = i % 10 === 9 ? new Uint8Array(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)))
                               : mutate(src, r);
    const t0 = performance.now();
    let verdict;
    try {
      verdict = decodeOne(bytes);
    } catch (e) {
      const file = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'cpprof-webfuzz-')), 'input.pb');
      fs.writeFileSync(file, bytes);
      assert.fail('input ' + i + ' threw ' + (e && e.stack ? e.stack : e) + ' (kept in ' + file + ')');
    }
    const ms = performance.now() - t0;
    assert.ok(ms < 5000, 'input ' + i + ' took ' + ms.toFixed(0) + ' ms');
    counts[verdict]++;
  }
  console.log('web fuzz:', iterations, 'inputs:', counts);
  assert.ok(counts.refused > 0 && counts.ok > 0, 'the mutations never produced both outcomes: ' + JSON.stringify(counts));
});

test('gzipped mutations: corrupt gzip is a ProfileError too', async () => {
  const r = rng(7);
  const [src] = seeds();
  const gz = new Uint8Array(zlib.gzipSync(src));
  for (let i = 0; i < Math.max(50, iterations / 20); ++i) {
    const bytes = mutate(gz, r);
    try {
      await parseProfile(bytes);
    } catch (e) {
      if (!(e instanceof ProfileError)) assert.fail('gzipped input ' + i + ' threw ' + e);
    }
  }
});

test('a gzip bomb is refused by the size cap with a clear message', async () => {
  const bomb = new Uint8Array(zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024)));  // 8 MiB of zeros in ~8 KiB
  assert.ok(bomb.length < 64 * 1024);
  await assert.rejects(gunzipIfNeeded(bomb, 1024 * 1024), (e) => e instanceof ProfileError && /more than 1 MiB/.test(e.message));
  const ok = await gunzipIfNeeded(bomb, 16 * 1024 * 1024);
  assert.equal(ok.length, 8 * 1024 * 1024);
});
