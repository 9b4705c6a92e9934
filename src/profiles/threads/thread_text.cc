// SPDX-License-Identifier: Apache-2.0
//
// The forms of a thread dump and of the creation records: goroutine/count
// and threadcreate/count profiles (one sample per distinct stack), Go's
// debug=1 grouped text and the debug=2 per-thread text. Notes that concern
// the whole process (deadlocks, thread-leak suspects, an unreadable /proc)
// go into profile comments and into "#" lines of the text headers, which
// pprof's text parser skips.

#include <cinttypes>
#include <cstdio>
#include <map>
#include <set>

#include "pprof/legacy_text.h"
#include "profiles/threads/thread_dump.h"

namespace cpprof {
namespace internal {
namespace threads {
namespace {

constexpr char kUnknownCreator[] = "[unknown creator: made before cpprof started, by a raw clone or inside glibc]";

std::string Hex(uintptr_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%#" PRIxPTR, v);
  return buf;
}

std::string Duration(int64_t ns) {
  char buf[64];
  const double s = static_cast<double>(ns) / 1e9;
  if (s >= 120) {
    snprintf(buf, sizeof(buf), "%.0f minutes", s / 60);
  } else if (s >= 1) {
    snprintf(buf, sizeof(buf), "%.1f s", s);
  } else {
    snprintf(buf, sizeof(buf), "%.1f ms", s * 1e3);
  }
  return buf;
}

std::string ThreadRef(const ThreadDump& dump, pid_t tid) {
  for (const ThreadInfo& t : dump.threads) {
    if (t.tid == tid) return "thread " + std::to_string(tid) + " \"" + t.name + "\"";
  }
  return "thread " + std::to_string(tid);
}

std::string DeadlockLine(const ThreadDump& dump, const std::vector<pid_t>& cycle) {
  std::string out = "DEADLOCK: ";
  for (size_t i = 0; i < cycle.size(); ++i) {
    const ThreadInfo* t = nullptr;
    for (const ThreadInfo& x : dump.threads) {
      if (x.tid == cycle[i]) t = &x;
    }
    out += ThreadRef(dump, cycle[i]) + " waits for mutex " + Hex(t != nullptr ? t->mutex : 0) + " held by ";
    out += i + 1 < cycle.size() ? "" : ThreadRef(dump, cycle[0]);
  }
  out += " (tids";
  for (pid_t tid : cycle) out += " " + std::to_string(tid);
  return out + ")";
}

// Process-wide notes, one per line, without a "#" prefix.
std::vector<std::string> Notes(const ThreadDump& dump) {
  std::vector<std::string> notes;
  if (!dump.proc_problem.empty()) notes.push_back(dump.proc_problem);
  if (!dump.signal_problem.empty()) notes.push_back(dump.signal_problem);
  for (const auto& cycle : dump.deadlocks) notes.push_back(DeadlockLine(dump, cycle));
  for (const LeakSuspect& s : dump.leaks.suspects) notes.push_back("THREAD LEAK suspect: " + DescribeSuspect(s, 4));
  return notes;
}

// The synthetic frame of a thread without a stack, "" if it has one.
std::string NoStackFrame(const ThreadInfo& t) {
  switch (t.origin) {
    case StackOrigin::kRunning: return t.note.empty() ? "[running]" : "[running: no stack: " + t.note + "]";
    case StackOrigin::kChanged: return "[running: ran while its stack was read]";
    case StackOrigin::kUnreadable: return "[stack unavailable: /proc/self/task/TID/syscall not readable]";
    default: break;
  }
  return t.pcs.empty() ? "[no stack]" : "";
}

std::string WaitLine(const ThreadDump& dump, const ThreadInfo& t) {
  std::string out = t.wait;
  if (t.origin == StackOrigin::kSignalled) out += ", stack by signal";
  if (t.origin == StackOrigin::kBlocked) {
    const char* sc = SyscallNameOrNull(t.syscall.number);
    if (sc != nullptr) {
      out += std::string(", ") + sc;
    } else if (t.syscall.number >= 0) {
      out += ", syscall " + std::to_string(t.syscall.number);
    }
    if (!t.wchan.empty()) out += ", " + t.wchan;
    if (t.mutex != 0) {
      out += ", mutex " + Hex(t.mutex);
      if (t.mutex_owner != 0) out += " held by " + ThreadRef(dump, t.mutex_owner);
    }
    if (t.blocked_ns >= 0) out += ", " + Duration(t.blocked_ns);
  }
  if (t.state != 0) out += std::string(", state ") + t.state;
  return out;
}

std::string HeaderLine(const ThreadDump& dump) {
  int blocked = 0, running = 0;
  for (const ThreadInfo& t : dump.threads) {
    if (t.origin == StackOrigin::kBlocked) ++blocked;
    if (t.origin == StackOrigin::kRunning || t.origin == StackOrigin::kChanged || t.origin == StackOrigin::kSelf ||
        t.origin == StackOrigin::kSignalled) {
      ++running;
    }
  }
  char line[160];
  snprintf(line, sizeof(line), "threads profile: total %zu\n# %d blocked, %d running, read in %s\n",
           dump.threads.size(), blocked, running, Duration(dump.took_ns).c_str());
  std::string out = line;
  for (const std::string& n : Notes(dump)) out += "# " + n + "\n";
  return out;
}

struct Group {
  std::vector<const ThreadInfo*> threads;
};

// Threads with the same stack (and synthetic frame), in first-seen order.
std::vector<Group> GroupByStack(const ThreadDump& dump) {
  std::map<std::pair<std::vector<uintptr_t>, std::string>, size_t> index;
  std::vector<Group> groups;
  for (const ThreadInfo& t : dump.threads) {
    auto key = std::make_pair(t.pcs, NoStackFrame(t));
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, groups.size()).first;
      groups.emplace_back();
    }
    groups[it->second].threads.push_back(&t);
  }
  return groups;
}

void AddDistinctLabels(const std::vector<const ThreadInfo*>& threads, StackSample* s) {
  std::set<std::string> names, states;
  for (const ThreadInfo* t : threads) {
    names.insert(t->name);
    states.insert(t->wait);
  }
  for (const std::string& n : names) s->labels.push_back({"thread", n, 0, ""});
  for (const std::string& w : states) s->labels.push_back({"state", w, 0, ""});
  for (const ThreadInfo* t : threads) s->labels.push_back({"tid", "", t->tid, ""});
}

StackProfile CountProfile(const char* type) {
  StackProfile p;
  p.sample_types = {{type, "count"}};
  p.period_type = {type, "count"};
  p.period = 1;
  // Every PC is a return address, or the PC after the system call
  // instruction: all are looked up at pc - 1, inside the same call.
  p.leaf_is_exact_pc = false;
  return p;
}

// Go's "created by F" frame lines for a creation stack: the first frame
// outside the thread library.
std::string CreatedBy(const CreationRecord& c, LegacyStackPrinter* printer) {
  if (!c.known) return "created by " + std::string(kUnknownCreator) + "\n";
  for (uintptr_t pc : c.pcs) {
    const SymbolizedAddress& sym = printer->Resolve(pc - 1);
    if (sym.frames.empty()) continue;
    const SymbolFrame& f = sym.frames.back();
    if (f.function.find("std::thread::") != std::string::npos || f.function.find("pthread_create") != std::string::npos) {
      continue;
    }
    std::string out = "created by " + f.function + " in thread " + std::to_string(c.creator_tid) + "\n";
    if (!f.file.empty()) out += "\t" + f.file + ":" + std::to_string(f.line) + "\n";
    return out;
  }
  return "created by ?? in thread " + std::to_string(c.creator_tid) + "\n";
}

// Go's debug=2 frame lines: "function\n\tfile:line +0xOFF\n", inlined
// frames first.
std::string GoFrames(const std::vector<uintptr_t>& pcs, LegacyStackPrinter* printer) {
  std::string out;
  for (uintptr_t pc : pcs) {
    const uintptr_t lookup = pc - 1;
    const SymbolizedAddress& sym = printer->Resolve(lookup);
    const Module* m = printer->ModuleOf(lookup);
    char off[48] = "";
    if (m != nullptr) snprintf(off, sizeof(off), " +%#" PRIxPTR, lookup - m->start + m->file_offset);
    if (sym.frames.empty()) {
      out += "?? " + Hex(pc) + "\n\t" + (m != nullptr ? m->path : std::string("??")) + off + "\n";
      continue;
    }
    for (const SymbolFrame& f : sym.frames) {
      out += (f.function.empty() ? std::string("??") : f.function) + "\n\t";
      out += f.file.empty() ? (m != nullptr ? m->path : std::string("??")) : f.file + ":" + std::to_string(f.line);
      out += std::string(off) + "\n";
    }
  }
  return out;
}

}  // namespace

StackProfile ThreadDumpProfile(const ThreadDump& dump) {
  StackProfile p = CountProfile("goroutine");
  p.time_nanos = dump.unix_ns;
  p.comments = Notes(dump);
  for (const Group& g : GroupByStack(dump)) {
    StackSample s;
    s.pcs = g.threads[0]->pcs;
    s.synthetic = NoStackFrame(*g.threads[0]);
    s.values = {static_cast<int64_t>(g.threads.size())};
    AddDistinctLabels(g.threads, &s);
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::string ThreadDumpText(const ThreadDump& dump, int debug) {
  std::string out = HeaderLine(dump);
  LegacyStackPrinter printer;
  if (debug == 1) {
    for (const Group& g : GroupByStack(dump)) {
      const ThreadInfo& t = *g.threads[0];
      out += "\n" + std::to_string(g.threads.size()) + LegacyStackPrinter::AddressList(t.pcs) + "\n";
      std::string names;
      for (size_t i = 0; i < g.threads.size() && i < 8; ++i) names += (i ? ", " : "") + g.threads[i]->name;
      if (g.threads.size() > 8) names += ", ...";
      out += "# labels: {\"thread\":\"" + names + "\", \"state\":\"" + t.wait + "\"}\n";
      const std::string synthetic = NoStackFrame(t);
      if (!synthetic.empty()) out += "#\t0x0\t" + synthetic + "\n";
      out += printer.FrameLines(t.pcs, /*leaf_is_exact_pc=*/false);
    }
    return out;
  }
  for (const ThreadInfo& t : dump.threads) {
    out += "\nthread " + std::to_string(t.tid) + " \"" + t.name + "\" [" + WaitLine(dump, t) + "]";
    if (t.cpu_ns >= 0) out += " cpu " + Duration(t.cpu_ns);
    out += ":\n";
    const std::string synthetic = NoStackFrame(t);
    if (!synthetic.empty()) out += synthetic + "\n";
    out += GoFrames(t.pcs, &printer);
    if (!t.pcs.empty() && !t.complete) out += "...stack incomplete: the walk stopped here\n";
    out += CreatedBy(t.creator, &printer);
  }
  return out;
}

StackProfile ThreadCreateProfile() {
  std::vector<pid_t> tids = ListTasks();
  ForgetThreadsNotIn(tids);
  std::vector<CreationRecord> creators = LookupCreators(tids);
  StackProfile p = CountProfile("threadcreate");
  std::map<std::vector<uintptr_t>, std::vector<size_t>> by_stack;
  std::vector<size_t> unknown;
  for (size_t i = 0; i < tids.size(); ++i) {
    if (creators[i].known) {
      by_stack[creators[i].pcs].push_back(i);
    } else {
      unknown.push_back(i);
    }
  }
  auto add = [&](const std::vector<uintptr_t>& pcs, const std::string& synthetic, const std::vector<size_t>& idx) {
    StackSample s;
    s.pcs = pcs;
    s.synthetic = synthetic;
    s.values = {static_cast<int64_t>(idx.size())};
    std::set<std::string> names;
    for (size_t i : idx) names.insert(ReadThreadName(tids[i]));
    for (const std::string& n : names) s.labels.push_back({"thread", n, 0, ""});
    p.samples.push_back(std::move(s));
  };
  for (const auto& kv : by_stack) add(kv.first, "", kv.second);
  if (!unknown.empty()) add({}, kUnknownCreator, unknown);
  if (!CreationTrackingActive()) p.comments.push_back("thread creation is not tracked: no endpoint was started");
  for (const LeakSuspect& s : ThreadLeakMonitor::Global().Suspects().suspects) {
    p.comments.push_back("THREAD LEAK suspect: " + DescribeSuspect(s, 4));
  }
  return p;
}

std::string ThreadCreateText() {
  StackProfile p = ThreadCreateProfile();
  int64_t total = 0;
  for (const StackSample& s : p.samples) total += s.values[0];
  std::string out = "threadcreate profile: total " + std::to_string(total) + "\n";
  for (const std::string& c : p.comments) out += "# " + c + "\n";
  LegacyStackPrinter printer;
  for (const StackSample& s : p.samples) {
    out += "\n" + std::to_string(s.values[0]) + LegacyStackPrinter::AddressList(s.pcs) + "\n";
    if (!s.synthetic.empty()) out += "#\t0x0\t" + s.synthetic + "\n";
    out += printer.FrameLines(s.pcs, /*leaf_is_exact_pc=*/false);
  }
  return out;
}

StackProfile ThreadLeakProfile(const LeakReport& report) {
  StackProfile p = CountProfile("threadcreate");
  for (const LeakSuspect& g : report.suspects) {
    StackSample s;
    s.pcs = g.pcs;
    s.values = {g.last_live};
    s.labels.push_back({"growth", "", g.last_live - g.first_live, "threads"});
    p.samples.push_back(std::move(s));
    p.comments.push_back("THREAD LEAK suspect: " + DescribeSuspect(g, 4));
  }
  return p;
}

std::string ThreadLeakText(const LeakReport& report) {
  char line[320];
  std::string out;
  snprintf(line, sizeof(line), "thread leaks: %zu suspect creation sites over the last %.0f s (%d points, one every %d ms)\n",
           report.suspects.size(), report.window_seconds, report.points, report.interval_ms);
  out += line;
  if (report.points < kMinLeakPoints) {
    snprintf(line, sizeof(line), "# not enough history yet: a trend needs %d points, %d recorded\n", kMinLeakPoints,
             report.points);
    out += line;
  }
  if (!CreationTrackingActive()) out += "# thread creation is not tracked: no endpoint was started\n";
  out += "# a creation site is listed when its live thread count rises over the window (Mann-Kendall z > 2.33,\n"
         "# positive Theil-Sen slope) by at least " + std::to_string(kMinThreadGrowth) + " threads\n";
  LegacyStackPrinter printer;
  for (const LeakSuspect& g : report.suspects) {
    out += "\n" + DescribeSuspect(g, 4) + "\n";
    out += std::to_string(g.last_live) + LegacyStackPrinter::AddressList(g.pcs) + "\n";
    out += printer.FrameLines(g.pcs, /*leaf_is_exact_pc=*/false);
  }
  return out;
}

}  // namespace threads
}  // namespace internal
}  // namespace cpprof
