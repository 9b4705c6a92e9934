// SPDX-License-Identifier: Apache-2.0
//
// Web Worker: gunzip + decode + frame table + full call tree, off the main
// thread, so a big profile never freezes the page. Replies with typed arrays
// transferred (not copied).
//   in:  {id, bytes: ArrayBuffer}
//   out: {id, model, tree, timings} | {id, error}

import { parseProfile } from './pprof_decode.js';
import { buildModel, buildTree } from './profile_model.js';

function buffersOf(obj, out, seen) {
  if (!obj || typeof obj !== 'object' || seen.has(obj)) return out;
  seen.add(obj);
  if (ArrayBuffer.isView(obj)) {
    if (!out.includes(obj.buffer)) out.push(obj.buffer);
    return out;
  }
  for (const k of Object.keys(obj)) buffersOf(obj[k], out, seen);
  return out;
}

self.onmessage = async (e) => {
  const { id, bytes } = e.data;
  try {
    const t0 = performance.now();
    const profile = await parseProfile(new Uint8Array(bytes));
    const t1 = performance.now();
    const model = buildModel(profile);
    const tree = buildTree(model, null);
    const t2 = performance.now();
    const msg = { id, model, tree, timings: { decodeMs: t1 - t0, treeMs: t2 - t1 } };
    self.postMessage(msg, buffersOf({ model, tree }, [], new Set()));
  } catch (err) {
    self.postMessage({ id, error: err && err.message ? err.message : String(err) });
  }
};
