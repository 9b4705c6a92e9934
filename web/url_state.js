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

export const kViews = ['flame', 'icicle', 'top', 'callers', 'diff'];
const kKeys = ['source', 'base', 'view', 'sample', 'search', 'focus', 'thread', 'diff'];

export function readState(search) {
  const q = new URLSearchParams(search);
  const st = {};
  for (const k of kKeys) st[k] = q.get(k) || '';
  if (!kViews.includes(st.view)) st.view = 'flame';
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

// push: a new history entry (source/view changes); otherwise replace (typing, zoom).
export function writeState(st, push) {
  const url = location.pathname + stateQuery(st) + location.hash;
  if (url === location.pathname + location.search + location.hash) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

export function splitFocus(focus) {
  return focus ? focus.split(';') : [];
}

export function joinFocus(names) {
  return names.join(';');
}
