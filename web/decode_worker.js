// SPDX-License-Identifier: Apache-2.0
//
// Web Worker: gunzip + decode + frame table + full call tree, off the main
// thread, so a big profile never freezes the page. Replies with the typed
// arrays' buffers transferred (moved, not copied); only the string tables and
// a few small objects are cloned.
//   in:  {id, bytes: ArrayBuffer}
//   out: {id, model, tree, timings, sentAt} | {id, error}
// sentAt is an absolute time (timeOrigin + now) so the page can measure the
// message's delivery.
// While the tree is built, the page sorts the frame names (a second core):
//   out: {id, names: string[]}   in: {id, order: Int32Array} (or {id, order: null})
// At start the worker warms itself up (warmup.js) on small synthetic
// profiles (ids below zero) and then reports
//   out: {warm: {steps, ms}}
// A real profile arriving stops the warm-up at its next step.

import { decodeAndBuild } from './profile_model.js';
import { warmUp } from './warmup.js';

const orderWaits = new Map();

function orderOnPage(id) {
  return (names) => new Promise((resolve, reject) => {
    orderWaits.set(id, { resolve, reject });
    self.postMessage({ id, names });
  });
}

function buffersOf(obj, out, seen) {
  if (!obj || typeof obj !== 'object' || seen.has(obj)) return out;
  seen.add(obj);
  if (ArrayBuffer.isView(obj)) {
    seen.add(obj.buffer);
    if (!out.includes(obj.buffer)) out.push(obj.buffer);
    return out;
  }
  if (Array.isArray(obj)) {
    // String tables: nothing to transfer inside.
    if (obj.length && typeof obj[0] === 'string') return out;
  }
  for (const k of Object.keys(obj)) buffersOf(obj[k], out, seen);
  return out;
}

let realWork = false;
let warmSeq = 0;
const warmStart = performance.now();
warmUp((bytes) => decodeAndBuild(bytes, orderOnPage(--warmSeq)), () => realWork).then((steps) => {
  self.postMessage({ warm: { steps, ms: performance.now() - warmStart, interrupted: realWork } });
});

self.onmessage = async (e) => {
  const { id, bytes } = e.data;
  if ('order' in e.data) {
    const w = orderWaits.get(id);
    orderWaits.delete(id);
    if (w) {
      if (e.data.order) w.resolve(e.data.order);
      else w.reject(new Error('no order'));
    }
    return;
  }
  realWork = true;
  try {
    const { model, tree, timings } = await decodeAndBuild(new Uint8Array(bytes), orderOnPage(id));
    const msg = { id, model, tree, timings, sentAt: performance.timeOrigin + performance.now() };
    self.postMessage(msg, buffersOf({ model, tree }, [], new Set()));
  } catch (err) {
    self.postMessage({ id, error: err && err.message ? err.message : String(err) });
  }
};
