// SPDX-License-Identifier: Apache-2.0
//
// Implements the parts of include/cpprof/*.h that wire modules together.

#include "cpprof/cpprof.h"

#include <pthread.h>

#include <cstdlib>
#include <mutex>
#include <new>

#include <unistd.h>

#include <string>

#include "base/raw_log.h"
#include "core/lifecycle.h"
#include "profiles/contention/contention.h"
#include "profiles/heap/sample_region.h"

namespace cpprof {

const char* Version() { return CPPROF_VERSION_STRING; }

void IgnoreLeak(const void* p) { internal::SampleRegion::SetIgnored(p); }

int64_t SetMutexProfileFraction(int64_t fraction) { return internal::contention::SetMutexFraction(fraction); }

int64_t SetBlockProfileRate(int64_t rate_ns) { return internal::contention::SetBlockRate(rate_ns); }

namespace {

std::mutex g_env_mu;
Server* g_env_server = nullptr;  // process lifetime: serves until exit

// A forked child has none of the parent's endpoint threads: it may start
// its own (the Server copy is forgotten, never stopped: see server.cc).
void ForgetEnvServerInChild() {
  new (&g_env_mu) std::mutex();
  g_env_server = nullptr;
}

}  // namespace

Status StartFromEnvironment() {
  const char* addr = getenv("CPPROF_ADDR");
  if (addr == nullptr || *addr == '\0') return Status();
  static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
  pthread_once(&atfork_once, [] { pthread_atfork(nullptr, nullptr, ForgetEnvServerInChild); });
  std::mutex& mu = g_env_mu;
  Server*& server = g_env_server;
  std::lock_guard<std::mutex> lock(mu);
  if (server != nullptr) return Status();
  Options options = internal::ApplyEnvironment(Options());
  auto* s = new Server(options);
  Status status = s->Start();
  if (!status.ok()) {
    delete s;
    return status;
  }
  server = s;
  // With port 0 nobody else can tell where the endpoint ended up.
  const std::string& bound = options.address;
  if (bound.size() >= 2 && bound.compare(bound.size() - 2, 2, ":0") == 0) {
    std::string host = bound.substr(0, bound.size() - 2);
    internal::RawLog(internal::LogLevel::kNotice, "endpoint on http://%s:%d/debug/pprof/ (pid %d)",
                     host.c_str(), s->port(), static_cast<int>(getpid()));
  }
  return status;
}

}  // namespace cpprof
