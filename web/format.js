// SPDX-License-Identifier: Apache-2.0
//
// Values in the profile's units: nanoseconds as ns/µs/ms/s, bytes as
// B/KiB/MiB/GiB, everything else as a plain count.

const kTimeUnits = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 };

function trim(v, digits) {
  const s = v.toFixed(digits);
  return s.indexOf('.') >= 0 ? s.replace(/\.?0+$/, '') : s;
}

export function formatValue(v, unit) {
  const neg = v < 0;
  const a = Math.abs(v);
  let s;
  if (unit in kTimeUnits) {
    const ns = a * kTimeUnits[unit];
    if (ns >= 1e9) s = trim(ns / 1e9, 2) + 's';
    else if (ns >= 1e6) s = trim(ns / 1e6, 2) + 'ms';
    else if (ns >= 1e3) s = trim(ns / 1e3, 2) + 'µs';
    else s = trim(ns, 0) + 'ns';
  } else if (unit === 'bytes') {
    if (a >= 1 << 30) s = trim(a / (1 << 30), 2) + ' GiB';
    else if (a >= 1 << 20) s = trim(a / (1 << 20), 2) + ' MiB';
    else if (a >= 1 << 10) s = trim(a / (1 << 10), 2) + ' KiB';
    else s = a + ' B';
  } else {
    s = Math.round(a).toLocaleString('en-US');
  }
  return neg ? '-' + s : s;
}

export function formatPercent(v, total) {
  if (!total) return '0%';
  const p = (100 * v) / total;
  return (Math.abs(p) >= 10 ? p.toFixed(1) : p.toFixed(2)) + '%';
}
