// SPDX-License-Identifier: Apache-2.0

#include "unwind/unwind_service.h"

#include <mutex>

#include "base/periodic_thread.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace {

constexpr int kRefreshIntervalMs = 1000;

PeriodicThread& Refresher() {
  static PeriodicThread* t = new PeriodicThread("cpprof-unwind", [] { RefreshUnwindTables(); });
  return *t;  // never destroyed: runs until exit
}

}  // namespace

void StartUnwindRefresher() {
  if (Refresher().running()) return;
  RefreshUnwindTables();
  Refresher().Start(kRefreshIntervalMs);
}

bool UnwindRefresherRunning() { return Refresher().running(); }

}  // namespace internal
}  // namespace cpprof
