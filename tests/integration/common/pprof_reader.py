#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small, dependency-free reader for gzipped profile.proto files.

Used by the integration tests to check profiles independently of cpprof's
own encoder and of go tool pprof: it decodes the protobuf wire format
directly (python3 stdlib only) and applies the validity rules pprof applies
when it reads a profile.

As a module:
    p = pprof_reader.load("cpu.pb.gz")
    errors = pprof_reader.validate(p)
    flat = pprof_reader.flat_by_function(p, "cpu")      # {name: value}
    by_tid = pprof_reader.sum_by_num_label(p, "tid", "cpu")

As a command:
    pprof_reader.py check FILE...        exit 1 and print the problems if invalid
    pprof_reader.py summary FILE         JSON: types, totals, top functions, labels
"""

import gzip
import json
import sys
import zlib

# Field numbers from profile.proto.
_PROFILE = {1: "sample_type", 2: "sample", 3: "mapping", 4: "location", 5: "function",
            6: "string_table", 7: "drop_frames", 8: "keep_frames", 9: "time_nanos",
            10: "duration_nanos", 11: "period_type", 12: "period", 13: "comment",
            14: "default_sample_type", 15: "doc_url"}


class DecodeError(Exception):
    pass


def _varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _fields(buf):
    """Yields (field_number, wire_type, value) for one message."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise DecodeError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > n:
                raise DecodeError("truncated fixed64")
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > n:
                raise DecodeError("truncated length-delimited field %d" % field)
            value = buf[pos:pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > n:
                raise DecodeError("truncated fixed32")
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise DecodeError("unsupported wire type %d" % wire)
        yield field, wire, value


def _signed(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def _ints(wire, value, signed=False):
    """A repeated integer field: packed (wire 2) or one element (wire 0)."""
    if wire == 0:
        vals = [value]
    elif wire == 2:
        vals = []
        pos = 0
        while pos < len(value):
            v, pos = _varint(value, pos)
            vals.append(v)
    else:
        raise DecodeError("bad wire type %d for an integer field" % wire)
    return [_signed(v) for v in vals] if signed else vals


def _message(buf, spec):
    """Decodes a flat message. spec: field -> (name, kind), kind in
    'u' (uint64), 'i' (int64), 'b' (bool), 'ru'/'ri' (repeated), 'm' (raw
    bytes, repeated)."""
    out = {}
    for name, kind in spec.values():
        out[name] = [] if kind in ("ru", "ri", "m") else 0
    for field, wire, value in _fields(buf):
        if field not in spec:
            continue
        name, kind = spec[field]
        if kind == "u":
            out[name] = value
        elif kind == "i":
            out[name] = _signed(value)
        elif kind == "b":
            out[name] = bool(value)
        elif kind == "ru":
            out[name].extend(_ints(wire, value))
        elif kind == "ri":
            out[name].extend(_ints(wire, value, signed=True))
        elif kind == "m":
            out[name].append(value)
    return out


_VALUE_TYPE = {1: ("type", "i"), 2: ("unit", "i")}
_SAMPLE = {1: ("location_id", "ru"), 2: ("value", "ri"), 3: ("label", "m")}
_LABEL = {1: ("key", "i"), 2: ("str", "i"), 3: ("num", "i"), 4: ("num_unit", "i")}
_MAPPING = {1: ("id", "u"), 2: ("memory_start", "u"), 3: ("memory_limit", "u"),
            4: ("file_offset", "u"), 5: ("filename", "i"), 6: ("build_id", "i"),
            7: ("has_functions", "b"), 8: ("has_filenames", "b"),
            9: ("has_line_numbers", "b"), 10: ("has_inline_frames", "b")}
_LOCATION = {1: ("id", "u"), 2: ("mapping_id", "u"), 3: ("address", "u"), 4: ("line", "m"),
             5: ("is_folded", "b")}
_LINE = {1: ("function_id", "u"), 2: ("line", "i"), 3: ("column", "i")}
_FUNCTION = {1: ("id", "u"), 2: ("name", "i"), 3: ("system_name", "i"), 4: ("filename", "i"),
             5: ("start_line", "i")}


class Profile:
    """A decoded profile; string indices are resolved into strings."""

    def __init__(self):
        self.sample_types = []   # [(type, unit)]
        self.samples = []        # [{"locations": [ids], "values": [...], "labels": {k: str}, "num_labels": {k: int}}]
        self.mappings = {}       # id -> dict
        self.locations = {}      # id -> {"mapping_id", "address", "lines": [(function_id, line)]}
        self.functions = {}      # id -> {"name", "system_name", "filename", "start_line"}
        self.strings = []
        self.time_nanos = 0
        self.duration_nanos = 0
        self.period_type = ("", "")
        self.period = 0
        self.comments = []
        self.default_sample_type = ""
        self.problems = []       # found while decoding (bad string indices, ...)

    def value_index(self, type_name):
        for i, (t, _) in enumerate(self.sample_types):
            if t == type_name:
                return i
        raise KeyError("no sample type %r in %r" % (type_name, self.sample_types))

    def frames(self, sample):
        """Function names of a sample, leaf first, inline frames expanded."""
        names = []
        for lid in sample["locations"]:
            loc = self.locations.get(lid)
            if loc is None:
                names.append("<missing location %d>" % lid)
                continue
            if not loc["lines"]:
                names.append("0x%x" % loc["address"])
            for fid, _ in loc["lines"]:
                fn = self.functions.get(fid)
                names.append(fn["name"] if fn else "<missing function %d>" % fid)
        return names

    def frame_details(self, sample):
        """(function, file, line, mapping filename) per frame, leaf first."""
        out = []
        for lid in sample["locations"]:
            loc = self.locations.get(lid, {"lines": [], "address": 0, "mapping_id": 0})
            mapping = self.mappings.get(loc["mapping_id"], {}).get("filename", "")
            if not loc["lines"]:
                out.append(("0x%x" % loc["address"], "", 0, mapping))
            for fid, line in loc["lines"]:
                fn = self.functions.get(fid, {"name": "", "filename": ""})
                out.append((fn["name"], fn["filename"], line, mapping))
        return out


def parse(raw):
    fields = {}
    for field, wire, value in _fields(raw):
        fields.setdefault(field, []).append((wire, value))

    p = Profile()
    for wire, value in fields.get(6, []):
        if wire != 2:
            raise DecodeError("string_table entry with wire type %d" % wire)
        p.strings.append(value.decode("utf-8", errors="replace"))

    def s(index, what):
        if 0 <= index < len(p.strings):
            return p.strings[index]
        p.problems.append("%s: string index %d out of range (%d strings)" % (what, index, len(p.strings)))
        return ""

    for _, value in fields.get(1, []):
        vt = _message(value, _VALUE_TYPE)
        p.sample_types.append((s(vt["type"], "sample_type"), s(vt["unit"], "sample_type")))
    for _, value in fields.get(11, []):
        vt = _message(value, _VALUE_TYPE)
        p.period_type = (s(vt["type"], "period_type"), s(vt["unit"], "period_type"))
    for _, value in fields.get(3, []):
        m = _message(value, _MAPPING)
        m["filename"] = s(m["filename"], "mapping.filename")
        m["build_id"] = s(m["build_id"], "mapping.build_id")
        if m["id"] in p.mappings:
            p.problems.append("duplicate mapping id %d" % m["id"])
        p.mappings[m["id"]] = m
    for _, value in fields.get(5, []):
        f = _message(value, _FUNCTION)
        for k in ("name", "system_name", "filename"):
            f[k] = s(f[k], "function." + k)
        if f["id"] in p.functions:
            p.problems.append("duplicate function id %d" % f["id"])
        p.functions[f["id"]] = f
    for _, value in fields.get(4, []):
        loc = _message(value, _LOCATION)
        lines = []
        for lbuf in loc.pop("line"):
            ln = _message(lbuf, _LINE)
            lines.append((ln["function_id"], ln["line"]))
        loc["lines"] = lines
        if loc["id"] in p.locations:
            p.problems.append("duplicate location id %d" % loc["id"])
        p.locations[loc["id"]] = loc
    for _, value in fields.get(2, []):
        smp = _message(value, _SAMPLE)
        labels, num_labels = {}, {}
        for lbuf in smp["label"]:
            lab = _message(lbuf, _LABEL)
            key = s(lab["key"], "label.key")
            if lab["str"]:
                labels[key] = s(lab["str"], "label.str")
            else:
                num_labels[key] = lab["num"]
        p.samples.append({"locations": smp["location_id"], "values": smp["value"],
                          "labels": labels, "num_labels": num_labels})
    for field, attr in ((9, "time_nanos"), (10, "duration_nanos"), (12, "period")):
        for _, value in fields.get(field, []):
            setattr(p, attr, _signed(value))
    for wire, value in fields.get(13, []):
        for idx in _ints(wire, value, signed=True):
            p.comments.append(s(idx, "comment"))
    for _, value in fields.get(14, []):
        p.default_sample_type = s(_signed(value), "default_sample_type")
    return p


def load(path_or_bytes):
    """Reads a gzipped (or plain) profile.proto from a path or bytes."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DecodeError("bad gzip stream: %s" % e)
    return parse(data)


def validate(p):
    """Returns a list of problems (empty when the profile is valid): the
    rules of pprof's profile.CheckValid plus what its decoder rejects."""
    errors = list(p.problems)
    if not p.strings or p.strings[0] != "":
        errors.append("string_table[0] must be the empty string")
    if not p.sample_types:
        errors.append("no sample types")
    n = len(p.sample_types)
    for i, smp in enumerate(p.samples):
        if len(smp["values"]) != n:
            errors.append("sample %d has %d values, want %d" % (i, len(smp["values"]), n))
        for lid in smp["locations"]:
            if lid == 0 or lid not in p.locations:
                errors.append("sample %d refers to unknown location %d" % (i, lid))
        if any(v < 0 for v in smp["values"]):
            errors.append("sample %d has a negative value %r" % (i, smp["values"]))
    for mid in p.mappings:
        if mid == 0:
            errors.append("mapping id 0")
    for fid in p.functions:
        if fid == 0:
            errors.append("function id 0")
    for lid, loc in p.locations.items():
        if lid == 0:
            errors.append("location id 0")
        if loc["mapping_id"] and loc["mapping_id"] not in p.mappings:
            errors.append("location %d refers to unknown mapping %d" % (lid, loc["mapping_id"]))
        for fid, _ in loc["lines"]:
            if fid == 0 or fid not in p.functions:
                errors.append("location %d refers to unknown function %d" % (lid, fid))
    return errors


def total(p, type_name):
    i = p.value_index(type_name)
    return sum(smp["values"][i] for smp in p.samples)


def flat_by_function(p, type_name, physical=False):
    """Value per leaf function: the innermost frame (an inlined callee, as
    pprof shows it), or with physical=True the function whose machine code
    holds the leaf PC (the last Line of the leaf Location)."""
    i = p.value_index(type_name)
    out = {}
    for smp in p.samples:
        if physical and smp["locations"]:
            loc = p.locations.get(smp["locations"][0])
            if loc and loc["lines"]:
                fn = p.functions.get(loc["lines"][-1][0])
                leaf = fn["name"] if fn else "<missing function>"
            else:
                leaf = p.frames(smp)[0]
        else:
            frames = p.frames(smp)
            leaf = frames[0] if frames else "<no frames>"
        out[leaf] = out.get(leaf, 0) + smp["values"][i]
    return out


def cum_by_function(p, type_name):
    """Value per function anywhere on the stack (counted once per sample)."""
    i = p.value_index(type_name)
    out = {}
    for smp in p.samples:
        for name in set(p.frames(smp)):
            out[name] = out.get(name, 0) + smp["values"][i]
    return out


def _sum_by(p, labels_field, key, type_name):
    i = p.value_index(type_name)
    out = {}
    for smp in p.samples:
        v = smp[labels_field].get(key)
        out[v] = out.get(v, 0) + smp["values"][i]
    return out


def sum_by_label(p, key, type_name):
    """Value per string label `key` (None for samples without it)."""
    return _sum_by(p, "labels", key, type_name)


def sum_by_num_label(p, key, type_name):
    """Value per numeric label `key` (None for samples without it)."""
    return _sum_by(p, "num_labels", key, type_name)


def summary(p):
    types = [t for t, _ in p.sample_types]
    main = types[-1] if types else None
    flat = flat_by_function(p, main) if main else {}
    top = sorted(flat.items(), key=lambda kv: -kv[1])[:10]
    return {
        "sample_types": p.sample_types,
        "period_type": p.period_type,
        "period": p.period,
        "time_nanos": p.time_nanos,
        "duration_nanos": p.duration_nanos,
        "samples": len(p.samples),
        "totals": {t: total(p, t) for t in types},
        "top_flat": top,
        "threads": sum_by_label(p, "thread", main) if main else {},
        "mappings": [{"file": m["filename"], "build_id": m["build_id"],
                      "has_functions": m["has_functions"]} for m in p.mappings.values()],
        "comments": p.comments,
    }


def main(argv):
    if len(argv) < 3 or argv[1] not in ("check", "summary"):
        sys.stderr.write(__doc__)
        return 2
    status = 0
    for path in argv[2:]:
        try:
            p = load(path)
        except (OSError, DecodeError) as e:
            print("%s: cannot decode: %s" % (path, e))
            status = 1
            continue
        if argv[1] == "summary":
            print(json.dumps(summary(p), indent=1, sort_keys=True))
            continue
        errors = validate(p)
        if errors:
            status = 1
            print("%s: invalid profile:" % path)
            for e in errors[:20]:
                print("  " + e)
        else:
            print("%s: valid (%d samples, %d locations, %d functions, %d mappings)" % (
                path, len(p.samples), len(p.locations), len(p.functions), len(p.mappings)))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
