#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks call chains in `go tool pprof -traces` output.

  traces.py TRACES_FILE --chain LEAF_RE [NEXT_RE ...] [--root ROOT_RE]

Passes when some trace's leaf (first frame) matches LEAF_RE, each NEXT_RE
matches a later frame in that order (not necessarily adjacent: inline and
library frames may sit between), and, with --root, the outermost frame
matches ROOT_RE. With --all, every trace whose leaf matches LEAF_RE must
have the whole chain (a truncated unwind anywhere fails). Prints the
matching trace; on failure prints the traces whose leaf matched, so the
missing link is visible. Exit status 3 means no trace starts at the leaf
(too few samples: the caller may take a longer profile).

  traces.py TRACES_FILE --labels KEY VALUE_RE...
Passes when every VALUE_RE matches the KEY label of some trace.

Trace format (pprof 1.19 report.printTraces): a separator line of dashes,
label lines "%10s:  %s", then frames "%10s   %s" with the value on the
first frame only; inline frames end with " (inline)".
"""

import argparse
import re
import sys

SEPARATOR = "-----------+-------------------------------------------------------"


def parse(path):
    traces = []
    cur = None
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("-----------+"):
                cur = {"labels": {}, "frames": [], "value": ""}
                traces.append(cur)
                continue
            if cur is None or not line.strip():
                continue
            if len(line) > 12 and line[10] == ":" and line[11:13] == "  ":
                cur["labels"][line[:10].strip()] = line[13:].strip()
                continue
            if len(line) > 13 and line[10:13] == "   ":
                if not cur["frames"]:
                    cur["value"] = line[:10].strip()
                name = line[13:]
                if name.endswith(" (inline)"):
                    name = name[: -len(" (inline)")]
                cur["frames"].append(name)
    return [t for t in traces if t["frames"]]


def match_chain(frames, patterns, root):
    if not frames or not re.search(patterns[0], frames[0]):
        return False
    pos = 1
    for pat in patterns[1:]:
        while pos < len(frames) and not re.search(pat, frames[pos]):
            pos += 1
        if pos >= len(frames):
            return False
        pos += 1
    return root is None or bool(re.search(root, frames[-1]))


def show(t):
    labels = " ".join("%s=%s" % kv for kv in sorted(t["labels"].items()))
    return "  [%s %s]\n" % (t["value"], labels) + "".join("    %s\n" % f for f in t["frames"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--chain", nargs="+")
    ap.add_argument("--root")
    ap.add_argument("--labels", nargs="+")
    ap.add_argument("--all", action="store_true")
    args = ap.parse_args()
    traces = parse(args.file)
    if not traces:
        print("FAIL: no traces in %s" % args.file)
        return 1
    if args.labels:
        key, wanted = args.labels[0], args.labels[1:]
        seen = sorted({t["labels"].get(key, "") for t in traces})
        missing = [w for w in wanted if not any(re.fullmatch(w, s) for s in seen)]
        if missing:
            print("FAIL: label %s: no value matching %r; seen %r" % (key, missing, seen))
            return 1
        print("label %s values: %r" % (key, seen))
    if args.chain:
        leafs = [t for t in traces if re.search(args.chain[0], t["frames"][0])]
        if not leafs:
            print("no trace starts at %r among %d traces" % (args.chain[0], len(traces)))
            return 3
        good = [t for t in leafs if match_chain(t["frames"], args.chain, args.root)]
        bad = [t for t in leafs if t not in good]
        if good and (not args.all or not bad):
            print("chain found in %d of %d traces starting at the leaf:\n%s" % (len(good), len(leafs), show(good[0])))
            return 0
        if args.all and good:
            print("FAIL: %d of %d traces starting at the leaf lack the chain %s; e.g.:" % (
                len(bad), len(leafs), " -> ".join(args.chain)))
            for t in bad[:3]:
                print(show(t))
            return 1
        print("FAIL: no trace %s%s among %d traces; %d start at the leaf:" % (
            " -> ".join(args.chain), " ... " + args.root if args.root else "", len(traces), len(leafs)))
        for t in leafs[:4]:
            print(show(t))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
