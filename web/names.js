// SPDX-License-Identifier: Apache-2.0
//
// Display names for C++ frames: template argument lists and parameter lists
// collapse to <…> and (…), e.g.
//   std::vector<int, std::allocator<int> >::push_back(int const&)
//   -> std::vector<…>::push_back(…)
// Operator names (operator<, operator<<=, operator(), operator->) and
// "(anonymous namespace)" are kept. Go names (no "::") are left alone except for
// template-like brackets, since Go uses parentheses in method names.

const kKeepParen = ['(anonymous namespace)'];

export function shortenName(name) {
  if (name.indexOf('<') < 0 && name.indexOf('(') < 0) return name;
  const cxx = name.indexOf('::') >= 0 || /\)\s*(const)?\s*$/.test(name) && name.indexOf('.(') < 0;
  let out = '';
  let angle = 0, paren = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (angle === 0 && paren === 0) {
      // "operator" followed by its symbol is part of the name.
      if (c === 'o' && name.startsWith('operator', i) && !/[A-Za-z0-9_]/.test(name[i - 1] || '')) {
        let j = i + 8;
        const m = /^(\s*)(\(\)|\[\]|<<=|>>=|->\*|->|<=>|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|[-+*\/%^&|~!=<>,]=?)/.exec(name.slice(j));
        if (m) j += m[0].length;
        out += name.slice(i, j);
        i = j - 1;
        continue;
      }
      const keep = kKeepParen.find((k) => name.startsWith(k, i));
      if (keep) {
        out += keep;
        i += keep.length - 1;
        continue;
      }
    }
    if (c === '<' && paren === 0) {
      if (angle === 0) out += '<';
      angle++;
      continue;
    }
    if (c === '>' && paren === 0 && angle > 0) {
      angle--;
      if (angle === 0) out += '…>';
      continue;
    }
    if (c === '(' && angle === 0 && cxx) {
      if (paren === 0) {
        if (name[i + 1] === ')') { out += '()'; i++; continue; }
        out += '(';
      }
      paren++;
      continue;
    }
    if (c === ')' && angle === 0 && paren > 0) {
      paren--;
      if (paren === 0) out += '…)';
      continue;
    }
    if (angle === 0 && paren === 0) out += c;
  }
  if (angle !== 0 || paren !== 0) return name;  // unbalanced: show as is
  return out;
}
