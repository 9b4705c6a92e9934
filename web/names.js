// SPDX-License-Identifier: Apache-2.0
//
// Display names for C++ frames, at three levels of detail (the "Names"
// control, URL parameter `names`):
//   full    the name as in the profile
//   params  parameter lists collapse to (…):
//             std::vector<int, std::allocator<int> >::push_back(…)
//   short   template argument lists collapse to <…> as well (the default):
//             std::vector<…>::push_back(…)
// Operator names (operator<, operator<<=, operator(), operator->) and
// "(anonymous namespace)" are kept. Go names (no "::") are left alone except
// for template-like brackets, since Go uses parentheses in method names.
// Unbalanced brackets leave the name as it is.

export const kNameModes = ['short', 'params', 'full'];

const kAnon = '(anonymous namespace)';
const kOperatorSymbol = /^\s*(\(\)|\[\]|<<=|>>=|->\*|->|<=>|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|[-+*/%^&|~!=<>,]=?)/;

function isIdentChar(c) {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** The name at detail `mode` ('short', 'params' or 'full'; unknown modes are 'short'). */
export function displayName(name, mode) {
  if (mode === 'full') return name;
  const angles = mode !== 'params';
  const paren0 = name.indexOf('(');
  if (paren0 < 0 && (!angles || name.indexOf('<') < 0)) return name;
  const cxx = name.indexOf('::') >= 0 || (/\)\s*(const)?\s*$/.test(name) && name.indexOf('.(') < 0);
  if (!cxx && !angles) return name;
  // Verbatim runs are copied as slices: `from` is where the current run
  // started, or -1 while inside a collapsed list.
  let out = '';
  let from = 0;
  let angle = 0, paren = 0;
  const n = name.length;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (angle === 0 && paren === 0) {
      // "operator" followed by its symbol is part of the name.
      if (c === 111 /* o */ && name.startsWith('operator', i) && !(i > 0 && isIdentChar(name.charCodeAt(i - 1)))) {
        const m = kOperatorSymbol.exec(name.slice(i + 8));
        i += 8 + (m ? m[0].length : 0) - 1;
        continue;
      }
      if (c === 40 /* ( */ && name.startsWith(kAnon, i)) {
        i += kAnon.length - 1;
        continue;
      }
    }
    if (c === 60 /* < */ && paren === 0) {
      if (angle === 0 && angles) {
        out += name.slice(from, i + 1);
        from = -1;
      }
      angle++;
    } else if (c === 62 /* > */ && paren === 0 && angle > 0) {
      angle--;
      if (angle === 0 && angles) {
        out += '…>';
        from = i + 1;
      }
    } else if (c === 40 /* ( */ && angle === 0 && cxx) {
      if (paren === 0) {
        if (name.charCodeAt(i + 1) === 41 /* ) */) {
          i++;
          continue;
        }
        out += name.slice(from, i + 1);
        from = -1;
      }
      paren++;
    } else if (c === 41 /* ) */ && angle === 0 && paren > 0) {
      paren--;
      if (paren === 0) {
        out += '…)';
        from = i + 1;
      }
    }
  }
  if (angle !== 0 || paren !== 0) return name;  // unbalanced: show as is
  if (from >= 0) out += name.slice(from);
  return out;
}

/** The default display name (template arguments and parameters collapsed). */
export function shortenName(name) {
  return displayName(name, 'short');
}
