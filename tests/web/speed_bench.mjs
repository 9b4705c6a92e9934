// SPDX-License-Identifier: Apache-2.0
//
// Timing of the page's loading pipeline in Node, for working on it without a
// browser: the synthetic profile of the browser "speed" test (100,000 samples
// over 50,000 stacks) is decoded, turned into a frame table and a call tree,
// laid out and searched. The first run is "cold" (the JIT has not seen the
// code yet, as in the page's worker, which decodes one profile); later runs
// are warm. Prints milliseconds; asserts nothing.
//   node tests/web/speed_bench.mjs [runs=5]

import zlib from 'node:zlib';
import { decodeProfile } from '../../web/pprof_decode.js';
import { buildModel, buildTree, column, layoutX, searchTree, frameMatches } from '../../web/profile_model.js';
import { gzip, syntheticBig } from './pprof_encode.mjs';

const runs = Math.max(1, Number(process.argv[2] || 5));
const big = gzip(syntheticBig({ nSamples: 100000, nStacks: 50000 }));
const raw = new Uint8Array(zlib.gunzipSync(big));
const steps = { decode: [], frames: [], tree: [], layout: [], search: [] };
let nodes = 0;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const p = decodeProfile(raw);
  const t1 = performance.now();
  const m = buildModel(p);
  const t2 = performance.now();
  const tree = buildTree(m, null);
  const t3 = performance.now();
  const w = column(tree, tree.total, 1);
  layoutX(tree, w);
  const t4 = performance.now();
  // A new regex each run, so the per-frame match flags are not cached.
  const res = searchTree(tree, frameMatches(m.frameName, new RegExp('method1[0-9]' + '|x'.repeat(r + 1))), w, 0);
  const t5 = performance.now();
  nodes = tree.n;
  steps.decode.push(t1 - t0);
  steps.frames.push(t2 - t1);
  steps.tree.push(t3 - t2);
  steps.layout.push(t4 - t3);
  steps.search.push(t5 - t4);
  if (!(res.matched > 0)) throw new Error('search matched nothing');
}
const round = (v) => Math.round(v * 10) / 10;
const out = { gzipBytes: big.length, rawBytes: raw.length, treeNodes: nodes, runs, ms: {} };
for (const [k, v] of Object.entries(steps)) {
  const warm = v.slice(1).sort((a, b) => a - b);
  out.ms[k] = { cold: round(v[0]), warmBest: warm.length ? round(warm[0]) : null };
}
console.log(JSON.stringify(out));
