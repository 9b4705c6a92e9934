// SPDX-License-Identifier: Apache-2.0
//
// Page state <-> URL query:
//   source  path under /debug/pprof/ with its query (profile?seconds=5), or a URL
//   base    second source for the diff view
//   view    flame | icicle | top | callers | diff
//   sample  sample type name (cpu, samples, inuse_space, ...)
//   search  regular expression
//   focus   frame path, names joined with ";" (zoom in flame/icicle/diff,
//           the function and its callers in the callers view)
//   thread  value of the `thread` label to keep
//   diff    abs for an absolute diff (default: normalised by share)
//   names   detail of displayed names: params (without parameters) or full
//           (default: short, without template arguments or parameters)

import { kNameModes } from './names.js';

export const kViews = ['flame', 'icicle', 'top', 'callers', 'diff'];
const kKeys = ['source', 'base', 'view', 'sample', 'search', 'focus', 'thread', 'diff', 'names'];

export function readState(search) {
  const q = new URLSearchParams(search);
  const st = {};
  for (const k of kKeys) st[k] = q.get(k) || '';
  if (!kViews.includes(st.view)) st.view = 'flame';
  if (!kNameModes.includes(st.names) || st.names === 'short') st.names = '';
  return st;
}

export function stateQuery(st) {
  const q = new URLSearchParams();
  for (const k of kKeys) {
    if (k === 'view' && st.view === 'flame') continue;
    if (st[k]) q.set(k, st[k]);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// Pending replaceState (typing, zooming): written once the state has been
// still for kReplaceDelayMs. history.replaceState costs tens of milliseconds
// in Chromium and is rate-limited, so it must not run on every keystroke.
const kReplaceDelayMs = 150;
let pendingTimer = 0;
let pendingState = null;

function urlOf(st) {
  return location.pathname + stateQuery(st) + location.hash;
}

/** Writes a pending replaced state now (before a push, or when the page is hidden). */
export function flushState() {
  if (!pendingState) return;
  clearTimeout(pendingTimer);
  const url = urlOf(pendingState);
  pendingState = null;
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, '', url);
}

/** Drops a pending replaced state (Back/Forward moved to another entry). */
export function dropPendingState() {
  clearTimeout(pendingTimer);
  pendingState = null;
}

// push: a new history entry now (source/view changes); otherwise a replaced
// entry, shortly (typing, zoom).
export function writeState(st, push) {
  if (!push) {
    pendingState = { ...st };
    clearTimeout(pendingTimer);
    pendingTimer = setTimeout(flushState, kReplaceDelayMs);
    return;
  }
  flushState();
  const url = urlOf(st);
  if (url === location.pathname + location.search + location.hash) return;
  history.pushState(null, '', url);
}

if (typeof addEventListener === 'function') addEventListener('pagehide', flushState);

export function splitFocus(focus) {
  return focus ? focus.split(';') : [];
}

export function joinFocus(names) {
  return names.join(';');
}
