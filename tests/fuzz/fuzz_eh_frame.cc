// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the .eh_frame parser (unwind/cfi_parser.cc) on a
// mutated segment. The input is the readable segment that holds the
// module's unwind data; the PT_GNU_EH_FRAME header sits at an offset the
// first two bytes choose. The parser promises that every read stays inside
// [seg_lo, seg_hi) (checked by AddressSanitizer: the segment is a heap
// buffer of exactly that size) and that malformed entries are skipped; the
// rows it keeps must be sorted, and the page index must agree with them.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "unwind/cfi_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t seg_size = size - 2;
  const size_t hdr_offset = (static_cast<size_t>(data[0]) | (static_cast<size_t>(data[1]) << 8)) % seg_size;
  std::unique_ptr<uint8_t[]> segment(new uint8_t[seg_size]);
  memcpy(segment.get(), data + 2, seg_size);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(segment.get());
  cpprof::internal::ModuleTable table;
  // pcs are kept relative to the bias: one far enough below the segment
  // that code placed before it (the usual layout) is still above, and close
  // enough that the page index stays small (fast iterations).
  table.bias = lo > (uintptr_t{1} << 24) ? lo - (uintptr_t{1} << 24) : 0;
  table.eh_frame_hdr = lo + hdr_offset;
  table.exec_lo = table.bias;
  table.exec_hi = table.bias + (uintptr_t{1} << 32);
  cpprof::internal::ParseEhFrame(table.eh_frame_hdr, lo, lo + seg_size, &table);
  cpprof::internal::BuildPageIndex(&table);
  for (size_t i = 1; i < table.rows.size(); ++i) {
    if (table.rows[i - 1].pc > table.rows[i].pc) abort();
  }
  for (uint32_t r : table.pages) {
    if (!table.rows.empty() && r >= table.rows.size()) abort();
  }
  if (table.rows.size() > cpprof::internal::kMaxRowsPerModule) abort();
  return 0;
}
