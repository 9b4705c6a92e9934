// SPDX-License-Identifier: Apache-2.0
//
// Descriptor tracking: the hooks record creations at the caller's stack and
// clear them on close (close, fclose, closedir, close_range, dup2 over a
// number), received descriptors are recorded, a private-table thread is not
// recorded, stale records are dropped by the inventory, types and
// reconciliation, and the watchdog's levels and growth alerts.

#include <dirent.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/private_fd_table.h"
#include "base/process_metrics.h"
#include "cpprof/cpprof.h"
#include "doctest/doctest.h"
#include "pprof/legacy_text.h"
#include "profiles/fd/fd_inventory.h"
#include "profiles/fd/fd_records.h"
#include "profiles/fd/fd_watchdog.h"
#include "stacks/stack_table.h"
#include "unwind/unwind_service.h"

using namespace cpprof::internal;
using namespace cpprof::internal::fd;

namespace {

std::map<int, FdRecord> Records() {
  std::map<int, FdRecord> out;
  ForEachFdRecord([](const FdRecord& r, void* ctx) { (*static_cast<std::map<int, FdRecord>*>(ctx))[r.fd] = r; },
                  &out);
  return out;
}

std::string LeafFunction(const FdRecord& r) {
  const StackTable* table = FdStackTable();
  const uintptr_t* pcs = nullptr;
  int depth = 0;
  int32_t tag = 0;
  if (table == nullptr || r.slot < 0 || !table->Entry(static_cast<size_t>(r.slot), &pcs, &depth, &tag) ||
      depth == 0) {
    return "";
  }
  LegacyStackPrinter printer;
  const SymbolizedAddress& sym = printer.Resolve(pcs[0] - 1);
  return sym.frames.empty() ? "" : sym.frames.back().function;
}

int64_t Live(long slot) {
  const StackTable* table = FdStackTable();
  return table == nullptr || slot < 0 ? 0 : table->value(static_cast<size_t>(slot), 0);
}

void RawClose(int f) { syscall(SYS_close, f); }

void StartTracking() {
  StartUnwindRefresher();
  StartFdTracking();
  REQUIRE(FdTrackingActive());
}

}  // namespace

__attribute__((noinline)) int FdTestOpenHere() {
  const int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
  asm volatile("" ::: "memory");  // keeps the call from being a tail call
  return f;
}

__attribute__((noinline)) FILE* FdTestFopenHere() {
  FILE* f = fopen("/dev/null", "r");
  asm volatile("" ::: "memory");
  return f;
}

TEST_CASE("fd hooks record a creation at the caller's stack and clear it on close") {
  StartTracking();
  const int f = FdTestOpenHere();
  REQUIRE(f >= 0);
  auto records = Records();
  REQUIRE(records.count(f) == 1);
  const FdRecord r = records[f];
  CHECK(r.api == FdApi::kOpen);
  CHECK(LeafFunction(r).find("FdTestOpenHere") != std::string::npos);
  CHECK(Live(r.slot) >= 1);
  const int64_t live = Live(r.slot);
  const uint64_t closed = GetFdCounters().closed.load();
  CHECK(close(f) == 0);
  CHECK(Records().count(f) == 0);
  CHECK(Live(r.slot) == live - 1);
  CHECK(GetFdCounters().closed.load() == closed + 1);

  // errno is the real call's.
  errno = 0;
  CHECK(open("/nonexistent/cpprof", O_RDONLY) == -1);
  CHECK(errno == ENOENT);
}

TEST_CASE("fd hooks cover stdio, directories, pipes, socket pairs, dup2, close_range") {
  StartTracking();
  FILE* file = FdTestFopenHere();
  REQUIRE(file != nullptr);
  const int ff = fileno(file);
  CHECK(Records()[ff].api == FdApi::kFopen);
  CHECK(LeafFunction(Records()[ff]).find("FdTestFopenHere") != std::string::npos);
  fclose(file);
  CHECK(Records().count(ff) == 0);

  DIR* d = opendir("/");
  REQUIRE(d != nullptr);
  CHECK(Records()[dirfd(d)].api == FdApi::kOpendir);
  const int df = dirfd(d);
  closedir(d);
  CHECK(Records().count(df) == 0);

  int p[2];
  REQUIRE(pipe(p) == 0);
  CHECK(Records()[p[0]].api == FdApi::kPipe);
  CHECK(Records()[p[1]].api == FdApi::kPipe);

  // dup2 onto a recorded number replaces its record, and gives the old
  // stack's live count back.
  const int f = FdTestOpenHere();
  REQUIRE(f >= 0);
  const long open_slot = Records()[f].slot;
  const int64_t live = Live(open_slot);
  REQUIRE(dup2(p[0], f) == f);
  CHECK(Records()[f].api == FdApi::kDup);
  CHECK(Live(open_slot) == live - 1);

  // close_range clears every record in the range.
  const int lo = std::min({p[0], p[1], f}), hi = std::max({p[0], p[1], f});
  REQUIRE(close_range(static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0) == 0);
  auto after = Records();
  CHECK(after.count(p[0]) == 0);
  CHECK(after.count(p[1]) == 0);
  CHECK(after.count(f) == 0);

  // Descriptors passed over a socket pair (SCM_RIGHTS) are recorded.
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(Records()[sv[0]].api == FdApi::kSocketpair);
  const int passed = open("/dev/null", O_RDONLY);
  REQUIRE(passed >= 0);
  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &passed, sizeof(int));
  REQUIRE(sendmsg(sv[0], &msg, 0) == 1);
  alignas(cmsghdr) char control2[CMSG_SPACE(sizeof(int))] = {};
  msghdr in{};
  in.msg_iov = &iov;
  in.msg_iovlen = 1;
  in.msg_control = control2;
  in.msg_controllen = sizeof(control2);
  REQUIRE(recvmsg(sv[1], &in, 0) == 1);
  int received = -1;
  memcpy(&received, CMSG_DATA(CMSG_FIRSTHDR(&in)), sizeof(int));
  REQUIRE(received >= 0);
  CHECK(Records()[received].api == FdApi::kRecvmsg);
  for (int x : {sv[0], sv[1], passed, received}) close(x);
}

TEST_CASE("a thread on a private descriptor table is not recorded") {
  StartTracking();
  int f = -1;
  std::thread t([&] {
    MarkThreadFdTablePrivate();
    f = open("/dev/null", O_RDONLY);
  });
  t.join();
  REQUIRE(f >= 0);
  // (A stale record of another call may hold the number: sanitizer
  // runtimes make pipes with pipe() and close them with raw syscalls. The
  // inventory tells a stale record from a live one.)
  Inventory inv;
  REQUIRE(TakeInventory(InventoryOptions(), &inv).ok());
  bool listed = false;
  for (const OpenFd& o : inv.fds) {
    if (o.fd != f) continue;
    listed = true;
    CHECK(!o.known);
  }
  CHECK(listed);
  RawClose(f);
}

TEST_CASE("the inventory reconciles records with /proc/self/fd") {
  StartTracking();
  // A record whose descriptor was closed where no hook saw it is dropped.
  const int gone = FdTestOpenHere();
  REQUIRE(gone >= 0);
  const long slot = Records()[gone].slot;
  const int64_t live = Live(slot);
  // A descriptor no hook saw is of unknown origin.
  const int raw = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY));
  REQUIRE(raw >= 0);
  const int known = FdTestOpenHere();
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(sock, 1) == 0);
  RawClose(gone);
  Inventory inv;
  InventoryOptions options;
  options.flags = true;
  REQUIRE(TakeInventory(options, &inv).ok());
  // (`raw` may have taken the number `gone` had: then it is unknown now.)
  CHECK(Live(slot) <= live);  // given back (the same stack may also hold `known`)
  std::map<int, OpenFd> by_fd;
  for (const OpenFd& f : inv.fds) by_fd[f.fd] = f;
  REQUIRE(by_fd.count(raw) == 1);
  CHECK(!by_fd[raw].known);
  CHECK(by_fd[raw].type == "device");
  CHECK(by_fd[raw].target == "/dev/null");
  REQUIRE(by_fd.count(known) == 1);
  CHECK(by_fd[known].known);
  CHECK(by_fd[known].api == FdApi::kOpen);
  CHECK(by_fd[known].flags.find("O_RDONLY") == 0);
  CHECK(by_fd[known].flags.find("O_CLOEXEC") != std::string::npos);
  REQUIRE(by_fd.count(sock) == 1);
  CHECK(by_fd[sock].type == "socket");
  CHECK(by_fd[sock].target.find("tcp 127.0.0.1:") == 0);
  CHECK(by_fd[sock].target.find("LISTEN") != std::string::npos);
  CHECK(Records().count(gone) == 0);  // dropped as stale
  CHECK(inv.unknown >= 1);

  // The proto form: one sample per descriptor; unknown origin is a frame.
  StackProfile p = FdProfile(inv);
  REQUIRE(p.sample_types.size() == 1);
  CHECK(p.sample_types[0].type == "fds");
  CHECK(p.samples.size() == inv.fds.size());
  bool saw_unknown = false, saw_age = false;
  for (const StackSample& s : p.samples) {
    if (s.synthetic.find("unknown origin") != std::string::npos) saw_unknown = true;
    for (const SampleLabel& l : s.labels) saw_age |= l.key == "age" && l.num_unit == "seconds";
  }
  CHECK(saw_unknown);
  CHECK(saw_age);
  // A delta keeps only descriptors created after its start.
  StackProfile none = FdProfile(inv, inv.taken_unix_ns + 1000000000);
  CHECK(none.samples.empty());
  const std::string text = FdText(inv);
  CHECK(text.find("FdTestOpenHere") != std::string::npos);
  CHECK(text.find("of unknown origin") != std::string::npos);
  for (int f : {raw, known, sock}) close(f);
}

TEST_CASE("descriptor types from /proc link targets, and which calls can make them") {
  CHECK(FdTypeOf("socket:[123]", 0) == "socket");
  CHECK(FdTypeOf("pipe:[9]", 0) == "pipe");
  CHECK(FdTypeOf("anon_inode:[eventfd]", 0) == "eventfd");
  CHECK(FdTypeOf("anon_inode:[eventpoll]", 0) == "epoll");
  CHECK(FdTypeOf("anon_inode:inotify", 0) == "inotify");
  CHECK(FdTypeOf("anon_inode:[timerfd]", 0) == "timerfd");
  CHECK(FdTypeOf("anon_inode:[pidfd]", 0) == "pidfd");
  CHECK(FdTypeOf("anon_inode:[io_uring]", 0) == "other");
  CHECK(FdTypeOf("/memfd:x (deleted)", 0) == "memfd");
  CHECK(FdTypeOf("/etc/passwd", S_IFREG) == "file");
  CHECK(FdTypeOf("/", S_IFDIR) == "dir");
  CHECK(FdTypeOf("/dev/null", S_IFCHR) == "device");
  CHECK(ApiMatchesType(FdApi::kSocket, "socket"));
  CHECK(!ApiMatchesType(FdApi::kSocket, "file"));
  CHECK(!ApiMatchesType(FdApi::kOpen, "socket"));
  CHECK(ApiMatchesType(FdApi::kDup, "socket"));
  CHECK(ApiMatchesType(FdApi::kPopen, "pipe"));
  CHECK(!ApiMatchesType(FdApi::kOpendir, "file"));
}

namespace {
// Alerts also come from the watchdog's own thread.
std::mutex g_seen_mu;
std::vector<cpprof::FdAlert> g_seen_alerts;
void Collect(const cpprof::FdAlert& a) {
  std::lock_guard<std::mutex> lock(g_seen_mu);
  g_seen_alerts.push_back(a);
}
std::vector<cpprof::FdAlert> TakeSeen() {
  std::lock_guard<std::mutex> lock(g_seen_mu);
  std::vector<cpprof::FdAlert> out;
  out.swap(g_seen_alerts);
  return out;
}
}  // namespace

TEST_CASE("the watchdog warns at its levels once per crossing and on sustained growth") {
  StartTracking();
  cpprof::SetFdAlertCallback(Collect);
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  std::vector<int> held;
  for (int i = 0; i < 20; ++i) held.push_back(FdTestOpenHere());
  const int64_t open_now = CountOpenFds();
  REQUIRE(open_now > 20);
  FdWatchdog& w = FdWatchdog::Global();
  w.Start(80, 95);
  // 85 % of the limit: warn (once), not critical.
  rlimit lim = saved;
  lim.rlim_cur = static_cast<rlim_t>(open_now * 100 / 85);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  TakeSeen();
  w.Check();
  w.Check();
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  std::vector<cpprof::FdAlert> g_seen = TakeSeen();
  size_t warns = 0;
  for (const auto& a : g_seen) warns += a.kind == "warn";
  CHECK(warns == 1);
  bool named = false;
  for (const auto& a : g_seen) named |= a.top_stacks.find("FdTestOpenHere") != std::string::npos;
  CHECK(named);
  for (const auto& a : g_seen) CHECK(a.kind != "critical");
  // Far below the level again: re-armed; at 97 %: critical.
  w.Check();
  lim.rlim_cur = static_cast<rlim_t>(open_now * 100 / 97);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  TakeSeen();
  w.Check();
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  g_seen = TakeSeen();
  bool critical = false;
  for (const auto& a : g_seen) critical |= a.kind == "critical";
  CHECK(critical);

  // Growth: a steadily rising series raises one "growth" alert.
  TakeSeen();
  for (int i = 0; i < 12; ++i) w.RecordGrowthPoint(1000000.0 + i * 10, 100 + i * 20);
  g_seen = TakeSeen();
  size_t growth = 0;
  for (const auto& a : g_seen) growth += a.kind == "growth";
  CHECK(growth == 1);
  cpprof::SetFdAlertCallback(nullptr);
  for (int f : held) close(f);
}
