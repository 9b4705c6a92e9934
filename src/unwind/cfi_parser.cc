// SPDX-License-Identifier: Apache-2.0
//
// Implementation notes (NOT signal context: runs from RefreshUnwindTables).
//
// .eh_frame_hdr gives a sorted table of (initial PC, FDE address); each FDE
// points back to its CIE. For every FDE we run the CIE's initial
// instructions, then the FDE's, through a small DW_CFA interpreter that
// tracks only what an x86_64 stack walk needs: the CFA rule (rsp or rbp plus
// an offset, or the GNU PLT expression), the rule for rbp (DWARF reg 6) and
// the rule for the return-address column. Each location advance emits a
// CfiRow; an FDE's end emits a kCfaNone row so gaps between functions are
// known. Unsupported data (textrel encodings, unknown opcodes, too deep
// remember_state) degrades the affected FDE to one kCfaUnknown row, which the
// walker treats like code without CFI (frame-pointer rule).
//
// All reads go through ByteReader, bounded by the PT_LOAD segment that holds
// .eh_frame, so a corrupt section cannot make the parser read unmapped memory.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "unwind/cfi_table.h"

namespace cpprof {
namespace internal {
namespace {

// a * b for a factored offset, saturated (a corrupt CIE or instruction can
// hold any value; the row's range checks then refuse it) and never
// INT64_MIN, so it can be negated.
int64_t Scale(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out) || out == INT64_MIN) {
    return (a < 0) != (b < 0) ? -INT64_MAX : INT64_MAX;
  }
  return out;
}

constexpr uint64_t kRegFp = 6;
constexpr uint64_t kRegSp = 7;
constexpr int kMaxStateDepth = 16;

class ByteReader {
 public:
  ByteReader(uintptr_t p, uintptr_t lo, uintptr_t hi) : p_(p), lo_(lo), hi_(hi) {
    if (p < lo || p > hi) ok_ = false;
  }
  bool ok() const { return ok_; }
  uintptr_t pos() const { return p_; }
  void Fail() { ok_ = false; }

  template <typename T>
  T Fixed() {
    T v{};
    if (!ok_ || hi_ - p_ < sizeof(T)) {
      ok_ = false;
      return v;
    }
    std::memcpy(&v, reinterpret_cast<const void*>(p_), sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  uint64_t Uleb() {
    uint64_t v = 0;
    for (int shift = 0; ok_; shift += 7) {
      uint8_t b = Fixed<uint8_t>();
      if (shift < 64) v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return v;
  }
  int64_t Sleb() {
    uint64_t v = 0;
    int shift = 0;
    uint8_t b = 0;
    do {
      b = Fixed<uint8_t>();
      if (shift < 64) v |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
    } while (ok_ && (b & 0x80));
    if (shift < 64 && (b & 0x40)) v |= ~uint64_t{0} << shift;
    return static_cast<int64_t>(v);
  }
  // A DW_EH_PE-encoded pointer. Indirect values are returned undereferenced.
  uintptr_t Encoded(uint8_t enc, uintptr_t data_base) {
    if (enc == 0xff) return 0;  // DW_EH_PE_omit
    uintptr_t field = p_;
    uint64_t v = 0;
    switch (enc & 0x0f) {
      case 0x00: v = Fixed<uint64_t>(); break;
      case 0x01: v = Uleb(); break;
      case 0x02: v = Fixed<uint16_t>(); break;
      case 0x03: v = Fixed<uint32_t>(); break;
      case 0x04: v = Fixed<uint64_t>(); break;
      case 0x09: v = static_cast<uint64_t>(Sleb()); break;
      case 0x0a: v = static_cast<uint64_t>(static_cast<int64_t>(Fixed<int16_t>())); break;
      case 0x0b: v = static_cast<uint64_t>(static_cast<int64_t>(Fixed<int32_t>())); break;
      case 0x0c: v = Fixed<uint64_t>(); break;
      default: ok_ = false; return 0;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += field; break;      // pcrel
      case 0x30: v += data_base; break;  // datarel
      default: ok_ = false; return 0;    // textrel/funcrel/aligned: not used by GCC/clang
    }
    return static_cast<uintptr_t>(v);
  }
  void Skip(uint64_t n) {
    if (!ok_ || hi_ - p_ < n) {
      ok_ = false;
      return;
    }
    p_ += n;
  }
  // Restricts reads to [pos, end) (end of one CIE/FDE record).
  void Limit(uintptr_t end) {
    if (end < p_ || end > hi_) ok_ = false; else hi_ = end;
  }

 private:
  uintptr_t p_, lo_, hi_;
  bool ok_ = true;
};

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = -8;
  uint64_t ra_reg = 16;
  uint8_t fde_enc = 0;
  bool has_z = false;
  bool signal_frame = false;
  uintptr_t insns = 0;
  uintptr_t insns_end = 0;
  bool ok = false;
};

enum RuleKind : uint8_t { kUnset, kSame, kAtOffset, kUndefined, kOther };

struct State {
  uint64_t cfa_reg = kRegSp;
  int64_t cfa_off = 8;
  uint8_t cfa_expr = 0;  // 0: register rule, 1: PLT expression, 2: other expression
  int64_t plt_threshold = 0;
  RuleKind fp = kSame;
  int64_t fp_off = 0;
  RuleKind ra = kUnset;
  int64_t ra_off = 0;
};

// Reads one record header; returns its end, with *id_pos at the id field.
uintptr_t RecordBounds(ByteReader* r, uintptr_t* id_pos, uint64_t* length) {
  uint64_t len = r->Fixed<uint32_t>();
  if (len == 0xffffffffu) len = r->Fixed<uint64_t>();
  *length = len;
  *id_pos = r->pos();
  return r->pos() + len;
}

Cie ParseCie(uintptr_t at, uintptr_t lo, uintptr_t hi) {
  Cie cie;
  ByteReader r(at, lo, hi);
  uintptr_t id_pos;
  uint64_t len;
  uintptr_t end = RecordBounds(&r, &id_pos, &len);
  r.Limit(end);
  if (len == 0 || r.Fixed<uint32_t>() != 0) return cie;  // not a CIE
  uint8_t version = r.Fixed<uint8_t>();
  if (version != 1 && version != 3 && version != 4) return cie;
  char aug[16];
  size_t n = 0;
  for (;;) {
    char c = static_cast<char>(r.Fixed<uint8_t>());
    if (!r.ok() || n + 1 >= sizeof(aug)) return cie;
    if (c == 0) break;
    aug[n++] = c;
  }
  aug[n] = 0;
  if (version == 4) r.Skip(2);  // address_size, segment_selector_size
  cie.code_align = r.Uleb();
  cie.data_align = r.Sleb();
  cie.ra_reg = version == 1 ? r.Fixed<uint8_t>() : r.Uleb();
  if (n > 0 && aug[0] != 'z') return cie;  // "eh" and other ancient forms
  if (n > 0) {
    cie.has_z = true;
    uint64_t aug_len = r.Uleb();
    uintptr_t aug_end = r.pos() + aug_len;
    for (size_t i = 1; i < n && r.ok(); ++i) {
      if (aug[i] == 'R') {
        cie.fde_enc = r.Fixed<uint8_t>();
      } else if (aug[i] == 'P') {
        uint8_t enc = r.Fixed<uint8_t>();
        r.Encoded(enc & 0x7f, 0);  // personality routine: skipped
      } else if (aug[i] == 'L') {
        r.Fixed<uint8_t>();
      } else if (aug[i] == 'S') {
        cie.signal_frame = true;
      } else if (aug[i] != 'B' && aug[i] != 'G') {
        break;  // unknown letter: the length lets us skip the rest
      }
    }
    if (!r.ok() || aug_end < r.pos()) return cie;
    r.Skip(aug_end - r.pos());
  }
  cie.insns = r.pos();
  cie.insns_end = end;
  cie.ok = r.ok() && (cie.fde_enc & 0x80) == 0;
  return cie;
}

bool IsPltExpression(ByteReader* r, uint64_t len, int64_t* threshold) {
  // DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_litN;
  // DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus  (GNU ld's .plt CFI)
  static const uint8_t kPattern[] = {0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x00, 0x2a, 0x33, 0x24, 0x22};
  if (len != sizeof(kPattern) || !r->ok()) return false;
  ByteReader peek = *r;
  uint8_t bytes[sizeof(kPattern)];
  for (uint8_t& b : bytes) b = peek.Fixed<uint8_t>();
  if (!peek.ok()) return false;
  for (size_t i = 0; i < sizeof(kPattern); ++i) {
    if (i == 6) {
      if (bytes[i] < 0x30 || bytes[i] > 0x4f) return false;  // DW_OP_lit0..31
      *threshold = bytes[i] - 0x30;
    } else if (bytes[i] != kPattern[i]) {
      return false;
    }
  }
  return true;
}

class FdeRows {
 public:
  FdeRows(const Cie& cie, uintptr_t bias, std::vector<CfiRow>* out)
      : cie_(cie), bias_(bias), out_(out), first_(out->size()) {}

  void Emit(uintptr_t loc, const State& s) {
    CfiRow row;
    row.pc = static_cast<uint32_t>(loc - bias_);
    row.cfa_offset = 0;
    row.fp_offset = kFpSame;
    row.ra_offset = -8;
    row.rule = kCfaUnknown;
    if (s.ra == kUndefined) {
      row.rule = kCfaEnd;
    } else if (cie_.signal_frame) {
      row.rule = kCfaSignal;
    } else if (s.cfa_expr == 1) {
      row.rule = kCfaPlt;
      row.cfa_offset = static_cast<int32_t>(s.plt_threshold);
    } else if (s.cfa_expr == 0 && (s.cfa_reg == kRegSp || s.cfa_reg == kRegFp) &&
               s.cfa_off >= 0 && s.cfa_off < (int64_t{1} << 30) && s.ra == kAtOffset &&
               s.ra_off >= -128 && s.ra_off <= 127) {
      row.rule = s.cfa_reg == kRegSp ? kCfaSp : kCfaFp;
      row.cfa_offset = static_cast<int32_t>(s.cfa_off);
      row.ra_offset = static_cast<int8_t>(s.ra_off);
      if (s.fp == kAtOffset && s.fp_off > INT16_MIN && s.fp_off <= INT16_MAX) {
        row.fp_offset = static_cast<int16_t>(s.fp_off);
      }
    }
    Push(row);
  }
  void EmitEnd(uintptr_t loc) {
    CfiRow row{static_cast<uint32_t>(loc - bias_), 0, kFpSame, 0, kCfaNone};
    Push(row);
  }
  void Discard() { out_->resize(first_); }

 private:
  void Push(const CfiRow& row) {
    if (out_->size() > first_) {
      CfiRow& last = out_->back();
      if (last.pc == row.pc) {
        last = row;
        return;
      }
      if (last.rule == row.rule && last.cfa_offset == row.cfa_offset &&
          last.fp_offset == row.fp_offset && last.ra_offset == row.ra_offset) {
        return;
      }
    }
    out_->push_back(row);
  }
  const Cie& cie_;
  uintptr_t bias_;
  std::vector<CfiRow>* out_;
  size_t first_;
};

// Runs one DW_CFA program. rows == nullptr for a CIE's initial instructions.
bool RunProgram(ByteReader* r, const Cie& cie, const State& initial, State* s, uintptr_t* loc,
                uintptr_t loc_end, FdeRows* rows) {
  State stack[kMaxStateDepth];
  int depth = 0;
  auto set_rule = [&](uint64_t reg, RuleKind kind, int64_t off) {
    if (reg == kRegFp) {
      s->fp = kind;
      s->fp_off = off;
    } else if (reg == cie.ra_reg) {
      s->ra = kind;
      s->ra_off = off;
    }
  };
  auto restore = [&](uint64_t reg) {
    if (reg == kRegFp) {
      s->fp = initial.fp;
      s->fp_off = initial.fp_off;
    } else if (reg == cie.ra_reg) {
      s->ra = initial.ra;
      s->ra_off = initial.ra_off;
    }
  };
  auto advance = [&](uint64_t delta) {
    uintptr_t next = *loc + delta * cie.code_align;
    if (rows != nullptr && next > *loc) rows->Emit(*loc, *s);
    *loc = next;
  };
  while (r->ok() && r->pos() < cie.insns_end && *loc < loc_end) {
    uint8_t op = r->Fixed<uint8_t>();
    uint8_t low = op & 0x3f;
    switch (op & 0xc0) {
      case 0x40: advance(low); continue;
      case 0x80: set_rule(low, kAtOffset, Scale(static_cast<int64_t>(r->Uleb()), cie.data_align)); continue;
      case 0xc0: restore(low); continue;
      default: break;
    }
    switch (op) {
      case 0x00: break;  // nop
      case 0x01: {       // set_loc
        uintptr_t to = r->Encoded(cie.fde_enc, 0);
        if (to < *loc) return false;
        advance((to - *loc) / (cie.code_align ? cie.code_align : 1));
        break;
      }
      case 0x02: advance(r->Fixed<uint8_t>()); break;
      case 0x03: advance(r->Fixed<uint16_t>()); break;
      case 0x04: advance(r->Fixed<uint32_t>()); break;
      case 0x05: {
        uint64_t reg = r->Uleb();
        set_rule(reg, kAtOffset, Scale(static_cast<int64_t>(r->Uleb()), cie.data_align));
        break;
      }
      case 0x06: restore(r->Uleb()); break;
      case 0x07: set_rule(r->Uleb(), kUndefined, 0); break;
      case 0x08: set_rule(r->Uleb(), kSame, 0); break;
      case 0x09: {
        uint64_t reg = r->Uleb();
        r->Uleb();
        set_rule(reg, kOther, 0);
        break;
      }
      case 0x0a:
        if (depth == kMaxStateDepth) return false;
        stack[depth++] = *s;
        break;
      case 0x0b:
        if (depth == 0) return false;
        *s = stack[--depth];  // register rules and the CFA, as GCC expects
        break;
      case 0x0c:
        s->cfa_reg = r->Uleb();
        s->cfa_off = static_cast<int64_t>(r->Uleb());
        s->cfa_expr = 0;
        break;
      case 0x0d: s->cfa_reg = r->Uleb(); s->cfa_expr = 0; break;
      case 0x0e: s->cfa_off = static_cast<int64_t>(r->Uleb()); break;
      case 0x0f: {
        uint64_t len = r->Uleb();
        s->cfa_expr = IsPltExpression(r, len, &s->plt_threshold) ? 1 : 2;
        r->Skip(len);
        break;
      }
      case 0x10:
      case 0x16: {  // expression, val_expression
        uint64_t reg = r->Uleb();
        r->Skip(r->Uleb());
        set_rule(reg, kOther, 0);
        break;
      }
      case 0x11: {
        uint64_t reg = r->Uleb();
        set_rule(reg, kAtOffset, Scale(r->Sleb(), cie.data_align));
        break;
      }
      case 0x12:
        s->cfa_reg = r->Uleb();
        s->cfa_off = Scale(r->Sleb(), cie.data_align);
        s->cfa_expr = 0;
        break;
      case 0x13: s->cfa_off = Scale(r->Sleb(), cie.data_align); break;
      case 0x14: {
        uint64_t reg = r->Uleb();
        r->Uleb();
        set_rule(reg, kOther, 0);
        break;
      }
      case 0x15: {
        uint64_t reg = r->Uleb();
        r->Sleb();
        set_rule(reg, kOther, 0);
        break;
      }
      case 0x2e: r->Uleb(); break;  // GNU_args_size
      case 0x2f: {                  // GNU_negative_offset_extended
        uint64_t reg = r->Uleb();
        set_rule(reg, kAtOffset, -Scale(static_cast<int64_t>(r->Uleb()), cie.data_align));
        break;
      }
      default: return false;
    }
  }
  return r->ok();
}

// Parses one FDE at `at`, appending rows. Returns false if it is not an FDE.
bool ParseFde(uintptr_t at, uintptr_t lo, uintptr_t hi, std::unordered_map<uintptr_t, Cie>* cies,
              ModuleTable* table) {
  ByteReader r(at, lo, hi);
  uintptr_t id_pos;
  uint64_t len;
  uintptr_t end = RecordBounds(&r, &id_pos, &len);
  r.Limit(end);
  uint32_t id = r.Fixed<uint32_t>();
  if (!r.ok() || len == 0 || id == 0 || id > id_pos - lo) return false;
  uintptr_t cie_at = id_pos - id;
  auto it = cies->find(cie_at);
  if (it == cies->end()) it = cies->emplace(cie_at, ParseCie(cie_at, lo, hi)).first;
  const Cie& cie = it->second;
  uintptr_t pc_begin = r.Encoded(cie.fde_enc, 0);
  uintptr_t pc_range = r.Encoded(cie.fde_enc & 0x0f, 0);
  if (cie.has_z) r.Skip(r.Uleb());
  uintptr_t pc_end = pc_begin + pc_range;
  ++table->fdes;
  if (!r.ok() || !cie.ok || pc_range == 0 || pc_end < pc_begin || pc_begin < table->bias ||
      pc_end - table->bias > UINT32_MAX) {
    ++table->fdes_skipped;
    return true;
  }
  // CIE initial instructions give the state every FDE starts from.
  State initial;
  uintptr_t loc = pc_begin;
  Cie cie_prog = cie;
  ByteReader cr(cie.insns, lo, hi);
  cr.Limit(cie.insns_end);
  bool ok = RunProgram(&cr, cie_prog, initial, &initial, &loc, UINTPTR_MAX, nullptr);
  State s = initial;
  FdeRows rows(cie, table->bias, &table->rows);
  Cie fde_prog = cie;
  fde_prog.insns_end = end;
  loc = pc_begin;
  ok = ok && RunProgram(&r, fde_prog, initial, &s, &loc, pc_end, &rows);
  if (ok && loc < pc_end) rows.Emit(loc, s);
  if (!ok) {
    rows.Discard();
    ++table->fdes_skipped;
    State unknown;
    unknown.cfa_expr = 2;
    rows.Emit(pc_begin, unknown);
  }
  rows.EmitEnd(pc_end);
  return true;
}

}  // namespace

void ParseEhFrame(uintptr_t hdr, uintptr_t seg_lo, uintptr_t seg_hi, ModuleTable* table) {
  ByteReader r(hdr, seg_lo, seg_hi);
  uint8_t version = r.Fixed<uint8_t>();
  uint8_t eh_frame_ptr_enc = r.Fixed<uint8_t>();
  uint8_t fde_count_enc = r.Fixed<uint8_t>();
  uint8_t table_enc = r.Fixed<uint8_t>();
  if (!r.ok() || version != 1) return;
  uintptr_t eh_frame = r.Encoded(eh_frame_ptr_enc, hdr);
  uintptr_t fde_count = r.Encoded(fde_count_enc, hdr);
  std::unordered_map<uintptr_t, Cie> cies;
  if (r.ok() && table_enc == 0x3b && fde_count_enc != 0xff) {  // datarel|sdata4 pairs
    for (uintptr_t i = 0; i < fde_count && r.ok(); ++i) {
      r.Encoded(table_enc, hdr);  // initial location (the FDE repeats it)
      uintptr_t fde = r.Encoded(table_enc, hdr);
      if (!r.ok() || table->rows.size() >= kMaxRowsPerModule) break;
      ParseFde(fde, seg_lo, seg_hi, &cies, table);
    }
  } else if (r.ok()) {
    // No search table: walk .eh_frame until its zero terminator.
    uintptr_t at = eh_frame;
    while (at >= seg_lo && at < seg_hi && table->rows.size() < kMaxRowsPerModule) {
      ByteReader rec(at, seg_lo, seg_hi);
      uintptr_t id_pos;
      uint64_t len;
      uintptr_t end = RecordBounds(&rec, &id_pos, &len);
      if (!rec.ok() || len == 0 || end > seg_hi) break;
      ParseFde(at, seg_lo, seg_hi, &cies, table);  // CIEs are rejected inside
      at = end;
    }
  }
  // Sort (rows of one FDE are already ordered; FDEs almost are), prefer a
  // real row over another FDE's end marker at the same pc, drop repeats.
  std::stable_sort(table->rows.begin(), table->rows.end(), [](const CfiRow& a, const CfiRow& b) {
    if (a.pc != b.pc) return a.pc < b.pc;
    return (a.rule != kCfaNone) > (b.rule != kCfaNone);
  });
  size_t kept = 0;
  for (size_t i = 0; i < table->rows.size(); ++i) {
    const CfiRow row = table->rows[i];
    if (i > 0 && table->rows[i - 1].pc == row.pc) continue;  // the first at a pc wins
    if (kept > 0) {
      const CfiRow& last = table->rows[kept - 1];
      if (last.rule == row.rule && last.cfa_offset == row.cfa_offset &&
          last.fp_offset == row.fp_offset && last.ra_offset == row.ra_offset) {
        continue;
      }
    }
    table->rows[kept++] = row;
  }
  table->rows.resize(kept);
  table->rows.shrink_to_fit();
}

void BuildPageIndex(ModuleTable* table) {
  table->pages.clear();
  const std::vector<CfiRow>& rows = table->rows;
  if (rows.empty() || rows.size() > UINT32_MAX) return;
  size_t page_count = (static_cast<size_t>(rows.back().pc) >> kPageShift) + 1;
  if (page_count > kMaxPageIndex) return;
  table->pages.resize(page_count);
  size_t r = 0;
  for (size_t p = 0; p < page_count; ++p) {
    uint64_t start = static_cast<uint64_t>(p) << kPageShift;
    while (r + 1 < rows.size() && rows[r + 1].pc <= start) ++r;
    table->pages[p] = static_cast<uint32_t>(r);
  }
}

void BuildRowCache(ModuleTable* table) {
  // CPPROF_UNWIND_ROW_CACHE=0 turns the caches off (for measuring them).
  static const bool disabled = [] {
    const char* v = getenv("CPPROF_UNWIND_ROW_CACHE");
    return v != nullptr && strcmp(v, "0") == 0;
  }();
  table->row_cache.reset();
  table->row_cache_bits = 0;
  if (disabled || table->rows.size() < kRowCacheMinRows) return;
  unsigned bits = table->rows.size() < (size_t{32} << 10) ? kRowCacheBitsSmall : kRowCacheBitsLarge;
  table->row_cache.reset(new std::atomic<uint64_t>[size_t{1} << bits]());  // zero: empty
  table->row_cache_bits = bits;
}

}  // namespace internal
}  // namespace cpprof
