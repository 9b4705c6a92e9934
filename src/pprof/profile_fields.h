// SPDX-License-Identifier: Apache-2.0
//
// Field numbers of profile.proto (github.com/google/pprof, proto/profile.proto),
// one namespace per message. Only ProfileBuilder uses them.

#ifndef CPPROF_SRC_PPROF_PROFILE_FIELDS_H_
#define CPPROF_SRC_PPROF_PROFILE_FIELDS_H_

namespace cpprof {
namespace internal {
namespace profile_fields {

namespace profile {
constexpr int kSampleType = 1;         // repeated ValueType
constexpr int kSample = 2;             // repeated Sample
constexpr int kMapping = 3;            // repeated Mapping; [0] is the main binary
constexpr int kLocation = 4;           // repeated Location
constexpr int kFunction = 5;           // repeated Function
constexpr int kStringTable = 6;        // repeated string; [0] must be ""
constexpr int kDropFrames = 7;         // int64 string index
constexpr int kKeepFrames = 8;         // int64 string index
constexpr int kTimeNanos = 9;          // int64
constexpr int kDurationNanos = 10;     // int64
constexpr int kPeriodType = 11;        // ValueType
constexpr int kPeriod = 12;            // int64
constexpr int kComment = 13;           // repeated int64 string index
constexpr int kDefaultSampleType = 14; // int64 string index
constexpr int kDocUrl = 15;            // int64 string index
}  // namespace profile

namespace value_type {
constexpr int kType = 1;  // int64 string index
constexpr int kUnit = 2;  // int64 string index
}  // namespace value_type

namespace sample {
constexpr int kLocationId = 1;  // repeated uint64, leaf first
constexpr int kValue = 2;       // repeated int64, one per sample type
constexpr int kLabel = 3;       // repeated Label
}  // namespace sample

namespace label {
constexpr int kKey = 1;      // int64 string index
constexpr int kStr = 2;      // int64 string index
constexpr int kNum = 3;      // int64
constexpr int kNumUnit = 4;  // int64 string index
}  // namespace label

namespace mapping {
constexpr int kId = 1;               // uint64
constexpr int kMemoryStart = 2;      // uint64
constexpr int kMemoryLimit = 3;      // uint64
constexpr int kFileOffset = 4;       // uint64
constexpr int kFilename = 5;         // int64 string index
constexpr int kBuildId = 6;          // int64 string index
constexpr int kHasFunctions = 7;     // bool
constexpr int kHasFilenames = 8;     // bool
constexpr int kHasLineNumbers = 9;   // bool
constexpr int kHasInlineFrames = 10; // bool
}  // namespace mapping

namespace location {
constexpr int kId = 1;         // uint64
constexpr int kMappingId = 2;  // uint64
constexpr int kAddress = 3;    // uint64
constexpr int kLine = 4;       // repeated Line; last = the caller the others were inlined into
constexpr int kIsFolded = 5;   // bool
}  // namespace location

namespace line {
constexpr int kFunctionId = 1;  // uint64
constexpr int kLine = 2;        // int64
constexpr int kColumn = 3;      // int64
}  // namespace line

namespace function {
constexpr int kId = 1;          // uint64
constexpr int kName = 2;        // int64 string index
constexpr int kSystemName = 3;  // int64 string index
constexpr int kFilename = 4;    // int64 string index
constexpr int kStartLine = 5;   // int64
}  // namespace function

}  // namespace profile_fields
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PPROF_PROFILE_FIELDS_H_
