// SPDX-License-Identifier: Apache-2.0

#include "profiles/fd/fd_inventory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_map>

#include "base/clock.h"
#include "base/own_fds.h"
#include "base/read_file.h"
#include "base/private_fd_table.h"
#include "pprof/legacy_text.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace fd {
namespace {

constexpr const char* kOwnFrame = "[cpprof: the endpoint's own descriptor]";
constexpr const char* kUnknownFrame = "[unknown origin: inherited, raw syscall or created inside libc]";

std::string ReadWholeFile(const char* path, size_t max_bytes) {
  std::string out;
  ReadFileToString(path, max_bytes, &out);
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// "0100007F:1F90" (IPv4) or 32 hex digits (IPv6) -> "127.0.0.1:8080".
std::string DecodeAddress(const std::string& field) {
  const size_t colon = field.find(':');
  if (colon == std::string::npos) return field;
  const std::string hex = field.substr(0, colon);
  const unsigned port = static_cast<unsigned>(strtoul(field.c_str() + colon + 1, nullptr, 16));
  char out[96];
  if (hex.size() == 8) {
    const uint32_t a = static_cast<uint32_t>(strtoul(hex.c_str(), nullptr, 16));  // host order of a network word
    snprintf(out, sizeof(out), "%u.%u.%u.%u:%u", a & 0xff, (a >> 8) & 0xff, (a >> 16) & 0xff, a >> 24, port);
    return out;
  }
  if (hex.size() == 32) {
    unsigned char bytes[16];
    for (int w = 0; w < 4; ++w) {
      const uint32_t v = static_cast<uint32_t>(strtoul(hex.substr(w * 8, 8).c_str(), nullptr, 16));
      for (int b = 0; b < 4; ++b) bytes[w * 4 + b] = static_cast<unsigned char>(v >> (8 * b));
    }
    std::string s = "[";
    for (int i = 0; i < 16; i += 2) {
      char g[8];
      snprintf(g, sizeof(g), "%s%x", i ? ":" : "", (bytes[i] << 8) | bytes[i + 1]);
      s += g;
    }
    snprintf(out, sizeof(out), "]:%u", port);
    return s + out;
  }
  return field;
}

const char* TcpState(const std::string& hex) {
  static const char* const kStates[] = {"",          "ESTABLISHED", "SYN_SENT",   "SYN_RECV",  "FIN_WAIT1",
                                        "FIN_WAIT2", "TIME_WAIT",   "CLOSE",      "CLOSE_WAIT", "LAST_ACK",
                                        "LISTEN",    "CLOSING",     "NEW_SYN_RECV"};
  const unsigned long s = strtoul(hex.c_str(), nullptr, 16);
  return s < sizeof(kStates) / sizeof(kStates[0]) ? kStates[s] : "";
}

// Socket inode -> description, from this network namespace's tables.
std::unordered_map<uint64_t, std::string> ReadSocketTable() {
  std::unordered_map<uint64_t, std::string> out;
  const struct {
    const char* path;
    const char* proto;
    bool tcp;
  } kInet[] = {{"/proc/self/net/tcp", "tcp", true},
               {"/proc/self/net/tcp6", "tcp6", true},
               {"/proc/self/net/udp", "udp", false},
               {"/proc/self/net/udp6", "udp6", false}};
  for (const auto& t : kInet) {
    const std::vector<std::string> lines = SplitLines(ReadWholeFile(t.path, 64 << 20));
    for (size_t i = 1; i < lines.size(); ++i) {
      const std::vector<std::string> f = Fields(lines[i]);
      if (f.size() < 10) continue;
      const uint64_t inode = strtoull(f[9].c_str(), nullptr, 10);
      if (inode == 0) continue;
      std::string desc = std::string(t.proto) + " " + DecodeAddress(f[1]);
      const std::string remote = DecodeAddress(f[2]);
      if (remote != "0.0.0.0:0" && remote != "[0:0:0:0:0:0:0:0]:0") desc += " -> " + remote;
      if (t.tcp) desc += std::string(" ") + TcpState(f[3]);
      out[inode] = desc;
    }
  }
  const std::vector<std::string> lines = SplitLines(ReadWholeFile("/proc/self/net/unix", 64 << 20));
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> f = Fields(lines[i]);
    if (f.size() < 7) continue;
    const uint64_t inode = strtoull(f[6].c_str(), nullptr, 10);
    if (inode == 0) continue;
    out[inode] = f.size() >= 8 ? "unix " + f[7] : "unix";
  }
  return out;
}

std::string DecodeFlags(unsigned long flags) {
  std::string s;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: s = "O_RDONLY"; break;
    case O_WRONLY: s = "O_WRONLY"; break;
    default: s = "O_RDWR"; break;
  }
  const struct {
    unsigned long bit;
    const char* name;
  } kBits[] = {{O_APPEND, "O_APPEND"}, {O_NONBLOCK, "O_NONBLOCK"}, {O_SYNC, "O_SYNC"},
               {O_DIRECT, "O_DIRECT"}, {O_PATH, "O_PATH"},         {O_CLOEXEC, "O_CLOEXEC"}};
  for (const auto& b : kBits) {
    if ((flags & b.bit) == b.bit) s += std::string("|") + b.name;
  }
  return s;
}

std::string ReadFlags(int fd) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  const std::string info = ReadWholeFile(path, 1 << 16);
  const size_t at = info.find("flags:");
  if (at == std::string::npos) return "";
  return DecodeFlags(strtoul(info.c_str() + at + 6, nullptr, 8));
}

// A sanitizer runtime ahead of cpprof in the lookup order (ASan, TSan)
// intercepts open/socket/... first and calls cpprof's hook from its
// interceptor: those frames are not the host's.
bool IsSanitizerRuntime(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return base.compare(0, 8, "libasan.") == 0 || base.compare(0, 8, "libtsan.") == 0 ||
         base.compare(0, 9, "libubsan.") == 0 || base.compare(0, 8, "liblsan.") == 0 ||
         base.compare(0, 8, "libmsan.") == 0;
}

// The creation stack of `slot` without leading sanitizer-runtime frames.
std::vector<uintptr_t> CreationStack(const StackTable* table, long slot, const std::vector<Module>& modules) {
  const uintptr_t* pcs = nullptr;
  int depth = 0;
  int32_t tag = 0;
  if (slot < 0 || table == nullptr || !table->Entry(static_cast<size_t>(slot), &pcs, &depth, &tag)) return {};
  int skip = 0;
  while (skip < depth - 1) {
    const int m = FindModule(modules, pcs[skip] - 1);
    if (m < 0 || !IsSanitizerRuntime(modules[static_cast<size_t>(m)].path)) break;
    ++skip;
  }
  return std::vector<uintptr_t>(pcs + skip, pcs + depth);
}

struct RecordSet {
  std::map<int, FdRecord> by_fd;
};

void CollectRecord(const FdRecord& r, void* context) {
  static_cast<RecordSet*>(context)->by_fd[r.fd] = r;
}

std::string AgeText(int64_t seconds) {
  char buf[32];
  if (seconds < 120) {
    snprintf(buf, sizeof(buf), "%" PRId64 "s", seconds);
  } else if (seconds < 7200) {
    snprintf(buf, sizeof(buf), "%" PRId64 "m", seconds / 60);
  } else {
    snprintf(buf, sizeof(buf), "%" PRId64 "h", seconds / 3600);
  }
  return buf;
}

}  // namespace

std::string FdTypeOf(const std::string& link, unsigned mode) {
  auto starts = [&](const char* p) { return link.compare(0, strlen(p), p) == 0; };
  if (starts("socket:")) return "socket";
  if (starts("pipe:")) return "pipe";
  if (starts("/memfd:")) return "memfd";
  if (starts("anon_inode:")) {
    if (link.find("eventfd") != std::string::npos) return "eventfd";
    if (link.find("eventpoll") != std::string::npos) return "epoll";
    if (link.find("timerfd") != std::string::npos) return "timerfd";
    if (link.find("signalfd") != std::string::npos) return "signalfd";
    if (link.find("inotify") != std::string::npos) return "inotify";
    if (link.find("pidfd") != std::string::npos) return "pidfd";
    if (link.find("fanotify") != std::string::npos) return "fanotify";
    return "other";
  }
  if (starts("/")) {
    if (S_ISDIR(mode)) return "dir";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "device";
    if (S_ISFIFO(mode)) return "fifo";
    if (S_ISSOCK(mode)) return "socket";
    return "file";
  }
  return "other";
}

bool ApiMatchesType(FdApi api, const std::string& type) {
  switch (api) {
    case FdApi::kSocket:
    case FdApi::kSocketpair:
    case FdApi::kAccept: return type == "socket";
    case FdApi::kPipe:
    case FdApi::kPopen: return type == "pipe";
    case FdApi::kEventfd: return type == "eventfd";
    case FdApi::kTimerfd: return type == "timerfd";
    case FdApi::kSignalfd: return type == "signalfd";
    case FdApi::kEpoll: return type == "epoll";
    case FdApi::kInotify: return type == "inotify";
    case FdApi::kMemfd: return type == "memfd";
    case FdApi::kPidfd: return type == "pidfd";
    case FdApi::kFanotify: return type == "fanotify";
    case FdApi::kOpen:
    case FdApi::kCreat:
    case FdApi::kFopen:
    case FdApi::kFreopen:
      // A path: a file, directory, device, FIFO, or what /proc/PID/fd/N
      // reopens (a pipe, an anonymous inode).
      return type != "socket";
    case FdApi::kTmpfile:
    case FdApi::kMkstemp:
    case FdApi::kShmOpen: return type == "file";
    case FdApi::kOpendir: return type == "dir";
    case FdApi::kPosixOpenpt: return type == "device";
    case FdApi::kDup:
    case FdApi::kFcntlDup:
    case FdApi::kRecvmsg: return true;
    case FdApi::kNone:
    case FdApi::kCount: break;
  }
  return false;
}

Status TakeInventory(const InventoryOptions& options, Inventory* out) {
  *out = Inventory();
  out->taken_unix_ns = RealtimeNanos();
  out->tracking = FdTrackingActive();
  // Records first: a record made after this point belongs to a descriptor
  // that may be missing from the listing and must not be dropped as stale.
  RecordSet records;
  ForEachFdRecord(CollectRecord, &records);
  const int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    return Status(StatusCode::kUnavailable, std::string("cannot open /proc/self/fd: ") + strerror(errno));
  }
  std::vector<int> numbers;
  char buf[16384];
  for (;;) {
    const long n = syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct Dirent64 {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[1];
      };
      const auto* d = reinterpret_cast<const Dirent64*>(buf + off);
      off += d->reclen;
      if (d->name[0] < '0' || d->name[0] > '9') continue;
      numbers.push_back(atoi(d->name));
    }
  }
  std::sort(numbers.begin(), numbers.end());
  const StackTable* table = FdStackTable();
  const std::vector<Module> modules = ListModules();
  std::unordered_map<long, std::vector<uintptr_t>> stacks;
  std::unordered_map<uint64_t, std::string> sockets;
  bool sockets_read = false;
  for (int number : numbers) {
    char name[16];
    snprintf(name, sizeof(name), "%d", number);
    char link[4096];
    const ssize_t len = readlinkat(dir, name, link, sizeof(link) - 1);
    if (len < 0) continue;  // closed since the listing
    link[len] = '\0';
    // The listing's own directory descriptor, when this thread shares the
    // host's table (a private table's numbers are not in this listing).
    if (number == dir && !ThreadFdTableIsPrivate()) continue;
    OpenFd f;
    f.fd = number;
    f.target = link;
    unsigned mode = 0;
    if (link[0] == '/') {
      struct stat st;
      if (fstatat(dir, name, &st, 0) == 0) mode = st.st_mode;
    }
    f.type = FdTypeOf(f.target, mode);
    if (f.type == "socket" && options.sockets) {
      if (!sockets_read) {
        sockets = ReadSocketTable();
        sockets_read = true;
      }
      const uint64_t inode = strtoull(f.target.c_str() + 8, nullptr, 10);  // "socket:[123]"
      auto it = sockets.find(inode);
      if (it != sockets.end()) f.target = it->second;
    }
    if (options.flags) f.flags = ReadFlags(number);
    auto rec = records.by_fd.find(number);
    if (rec != records.by_fd.end()) {
      const FdRecord& r = rec->second;
      if (ApiMatchesType(r.api, f.type)) {
        f.known = true;
        f.api = r.api;
        f.created_unix_ns = r.created_unix_ns;
        auto cached = stacks.find(r.slot);
        if (cached == stacks.end()) cached = stacks.emplace(r.slot, CreationStack(table, r.slot, modules)).first;
        f.pcs = cached->second;
      } else if (ForgetFdRecord(r)) {
        ++out->stale_dropped;  // the number was reused by a call no hook saw
      }
      records.by_fd.erase(rec);
    }
    if (!f.known) f.own = IsOwnFd(number);
    if (!f.known && !f.own) ++out->unknown;
    out->fds.push_back(std::move(f));
  }
  close(dir);
  // Records of numbers not open any more: closed where no hook saw it.
  for (const auto& entry : records.by_fd) {
    if (ForgetFdRecord(entry.second)) ++out->stale_dropped;
  }
  return Status();
}

StackProfile FdProfile(const Inventory& inventory, int64_t created_after_ns) {
  StackProfile p;
  p.sample_types = {{"fds", "count"}};
  p.period_type = {"fds", "count"};
  p.period = 1;
  p.time_nanos = inventory.taken_unix_ns;
  p.leaf_is_exact_pc = false;  // creation stacks hold return addresses only
  if (!inventory.tracking) {
    p.comments.push_back("descriptor creation tracking is off: every descriptor is of unknown origin");
  }
  for (const OpenFd& f : inventory.fds) {
    if (created_after_ns > 0 && (!f.known || f.created_unix_ns < created_after_ns)) continue;
    StackSample s;
    s.values = {1};
    if (f.known) {
      s.pcs = f.pcs;
      if (s.pcs.empty()) s.synthetic = "[cpprof: creation stack not stored: stack table full]";
    } else {
      s.synthetic = f.own ? kOwnFrame : kUnknownFrame;
    }
    s.labels.push_back({"type", f.type, 0, ""});
    s.labels.push_back({"target", f.target, 0, ""});
    if (f.known) s.labels.push_back({"api", FdApiName(f.api), 0, ""});
    s.labels.push_back({"fd", "", f.fd, ""});
    if (f.known) {
      const int64_t age = std::max<int64_t>(0, (inventory.taken_unix_ns - f.created_unix_ns) / 1000000000);
      s.labels.push_back({"age", "", age, "seconds"});
    }
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::string FdText(const Inventory& inventory) {
  std::map<std::string, size_t> by_type;
  for (const OpenFd& f : inventory.fds) ++by_type[f.type];
  std::string out;
  char line[512];
  snprintf(line, sizeof(line), "fd profile: %zu open, %zu of unknown origin (inherited, raw syscall or inside libc)\n",
           inventory.fds.size(), inventory.unknown);
  out += line;
  out += "# by type:";
  for (const auto& t : by_type) {
    snprintf(line, sizeof(line), " %s=%zu", t.first.c_str(), t.second);
    out += line;
  }
  out += "\n";
  if (!inventory.tracking) out += "# creation tracking is off: no creation stacks\n";
  // Groups: creation stack (unknown origin last), largest first.
  std::map<std::vector<uintptr_t>, std::vector<const OpenFd*>> known;
  std::vector<const OpenFd*> unknown, own;
  for (const OpenFd& f : inventory.fds) {
    if (f.known) {
      known[f.pcs].push_back(&f);
    } else if (f.own) {
      own.push_back(&f);
    } else {
      unknown.push_back(&f);
    }
  }
  std::vector<std::pair<const std::vector<uintptr_t>*, const std::vector<const OpenFd*>*>> groups;
  for (const auto& g : known) groups.push_back({&g.first, &g.second});
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.second->size() > b.second->size(); });
  auto fd_lines = [&](const std::vector<const OpenFd*>& fds) {
    for (const OpenFd* f : fds) {
      std::string age = "-";
      if (f->known) age = AgeText(std::max<int64_t>(0, (inventory.taken_unix_ns - f->created_unix_ns) / 1000000000));
      snprintf(line, sizeof(line), "#   fd %-6d %-9s age %-6s %-28s %s", f->fd, f->type.c_str(), age.c_str(),
               f->flags.c_str(), f->known ? FdApiName(f->api) : "");
      std::string l = line;
      while (!l.empty() && l.back() == ' ') l.pop_back();
      out += l + "\n";
      out += "#       " + f->target + "\n";
    }
  };
  LegacyStackPrinter printer;
  out += "\n";
  for (const auto& g : groups) {
    snprintf(line, sizeof(line), "%zu descriptors created at:", g.second->size());
    out += line;
    out += LegacyStackPrinter::AddressList(*g.first) + "\n";
    out += printer.FrameLines(*g.first, false);
    fd_lines(*g.second);
    out += "\n";
  }
  if (!own.empty()) {
    snprintf(line, sizeof(line), "%zu descriptors of cpprof's endpoint:\n", own.size());
    out += line;
    fd_lines(own);
    out += "\n";
  }
  if (!unknown.empty()) {
    snprintf(line, sizeof(line), "%zu descriptors of unknown origin (inherited, raw syscall or inside libc):\n",
             unknown.size());
    out += line;
    fd_lines(unknown);
  }
  return out;
}

}  // namespace fd
}  // namespace internal
}  // namespace cpprof
