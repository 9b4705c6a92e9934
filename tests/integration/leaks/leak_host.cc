// SPDX-License-Identifier: Apache-2.0
//
// Known-answer host for the leak scan, run with CPPROF_HEAP_RATE=1 (every
// allocation sampled) and its endpoint from CPPROF_ADDR. Each case is an
// allocation site of its own (a function named for it, with a size no other
// site uses), so a report names exactly which cases it found.
//
// Leaked (must be reported):
//   LeakDropped        the only pointer was dropped
//   LeakListNode       a 50-node linked list whose head was dropped (nodes
//                      are reached only from leaked memory)
//   LeakCycleNode      two objects pointing at each other, dropped
//   LeakFreedMember    an object whose only pointer sat in a container that
//                      was freed
//   LeakViaUnsampled   held only by a leaked glibc chunk cpprof did not
//                      sample (found when glibc's heap is walked, not a root)
//   LeakViaArena       the same in a thread's own glibc arena
//   LeakViaLaterHeap   the same in a thread arena grown past one 64 MiB heap
//                      (the holder in its second heap, the first heap
//                      ending in fenceposts)
//   LeakViaMmapped     the same, held by a leaked chunk glibc mmapped
// Reachable (must never be reported):
//   KeptGlobal, KeptInterior (global holds p + 40), KeptTagged (global holds
//   p | 1), KeptThreadLocal (a thread_local of a thread blocked in read()),
//   KeptInRegister (only in a register/stack of a thread spinning), KeptString
//   / KeptVector / KeptMapValue / KeptUnorderedValue (contents of standard
//   containers held by globals), KeptOnStack (a blocked thread's local),
//   KeptViaUnsampled, KeptViaArena, KeptViaLaterHeap, KeptViaMmapped (held
//   by an unsampled glibc chunk, of the main heap, a thread's arena or
//   mmapped, that a global points to), KeptInChunkTail (held in the last 8
//   usable bytes of such a chunk: the next chunk's prev_size field),
//   KeptMoving (its only pointer moves between a global, a heap cell and a
//   running thread's stack and registers all the time), KeptIgnoredLeak
//   (dropped, but declared with cpprof::IgnoreLeak).
// Blocked threads (epoll_wait, poll, nanosleep, read, accept, condition
// variable) and a thread that wakes every millisecond check every return for
// EINTR and print "VIOLATION <call>" if one happens. Prints "READY".

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cpprof/cpprof.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

void* volatile g_keep_global;
volatile uintptr_t g_interior;
volatile uintptr_t g_tagged;
// volatile: the compiler may otherwise drop stores to globals nobody reads.
std::string* volatile g_string;
std::vector<char*>* volatile g_vector;
std::map<int, char*>* volatile g_map;
std::unordered_map<int, char*>* volatile g_umap;
std::atomic<int> g_violations{0};

template <size_t N>
__attribute__((noinline)) char* Fill(char* p) {
  static_cast<volatile char*>(p)[0] = 1;  // keeps the allocation
  return p;
}

struct Node {
  Node* volatile next;
  char pad[300 - sizeof(Node*)];
};

__attribute__((noinline)) void LeakDropped() { Fill<0>(static_cast<char*>(malloc(1111))); }
__attribute__((noinline)) Node* LeakListNode(Node* next) {
  Node* n = static_cast<Node*>(malloc(sizeof(Node)));
  n->next = next;
  return n;
}
__attribute__((noinline)) void* LeakCycleNode() { return malloc(2222); }
__attribute__((noinline)) void* LeakFreedMember() { return malloc(3333); }
__attribute__((noinline)) void* KeptGlobal() { return malloc(4441); }
__attribute__((noinline)) void* KeptInterior() { return malloc(4442); }
__attribute__((noinline)) void* KeptTagged() { return malloc(4443); }
__attribute__((noinline)) void* KeptThreadLocal() { return malloc(4444); }
__attribute__((noinline)) void* KeptInRegister() { return malloc(4445); }
__attribute__((noinline)) char* KeptVector() { return static_cast<char*>(malloc(4446)); }
__attribute__((noinline)) char* KeptMapValue() { return static_cast<char*>(malloc(4447)); }
__attribute__((noinline)) char* KeptUnorderedValue() { return static_cast<char*>(malloc(4448)); }
__attribute__((noinline)) void* KeptOnStack() { return malloc(4449); }
__attribute__((noinline)) std::string* KeptString() { return new std::string(5000, 'x'); }
__attribute__((noinline)) void* KeptMoving() { return malloc(4450); }
__attribute__((noinline)) void* LeakViaUnsampled() { return malloc(6666); }
__attribute__((noinline)) void* KeptViaUnsampled() { return malloc(6667); }
__attribute__((noinline)) void* KeptInChunkTail() { return malloc(6674); }
void* volatile* volatile g_tail_holder;
__attribute__((noinline)) void* LeakViaArena() { return malloc(6668); }
__attribute__((noinline)) void* KeptViaArena() { return malloc(6669); }
void* volatile* volatile g_arena_holder;
__attribute__((noinline)) void* LeakViaLaterHeap() { return malloc(6670); }
__attribute__((noinline)) void* KeptViaLaterHeap() { return malloc(6671); }
void* volatile* volatile g_later_heap_holder;
__attribute__((noinline)) void* LeakViaMmapped() { return malloc(6672); }
__attribute__((noinline)) void* KeptViaMmapped() { return malloc(6673); }
void* volatile* volatile g_mmapped_holder;
void* volatile g_filler_sink;
extern "C" void* __libc_malloc(size_t);
void* volatile* volatile g_unsampled_holder;
__attribute__((noinline)) void* KeptIgnoredLeak() { return malloc(4451); }

void* volatile g_moving_global;
void* volatile* g_moving_cell;

// A freed sampled object leaves its address behind in places a scan takes
// as roots (a dead stack slot of the thread that freed it, a thread
// descriptor). The sample region hands a freed page out again only after
// 16 more of its size were freed (its quarantine), oldest first; were a
// planted leak given such a page, the stale address would keep it alive:
// the false negative any conservative scan can have, here at random
// (cpprof's own threads allocate and free while the host plants). So the
// planted leaks get pages no other thread ever used: take every recycled
// page with fillers that stay reachable, then push the old entries out of
// the quarantine with pages only this thread used. (More than 16 frees by
// other threads while the leaks are planted would still reach theirs: the
// test keeps the endpoint idle then.)
std::vector<void*>* g_fillers;
__attribute__((noinline)) void TakeRecycledPages() {
  g_fillers = new std::vector<void*>();
  g_fillers->reserve(4096 + 64);
  for (int i = 0; i < 4096; ++i) g_fillers->push_back(malloc(16));
  for (int i = 0; i < 64; ++i) {
    free((*g_fillers)[static_cast<size_t>(i)]);
    (*g_fillers)[static_cast<size_t>(i)] = nullptr;
  }
  for (int i = 0; i < 64; ++i) g_fillers->push_back(malloc(16));
}

__attribute__((noinline)) void MakeLeaks() {
  TakeRecycledPages();
  LeakDropped();
  Node* head = nullptr;
  for (int i = 0; i < 50; ++i) head = LeakListNode(head);
  head = nullptr;
  void** a = static_cast<void**>(LeakCycleNode());
  void** b = static_cast<void**>(LeakCycleNode());
  a[0] = b;
  b[0] = a;
  static_cast<void* volatile*>(static_cast<void*>(a))[0] = b;
  static_cast<void* volatile*>(static_cast<void*>(b))[0] = a;
  // Held only by glibc chunks that cpprof did not sample (allocated past
  // its hooks): one holder leaked, one kept by a global.
  auto* leaked_holder = static_cast<void* volatile*>(__libc_malloc(64));
  leaked_holder[0] = LeakViaUnsampled();
  auto* kept_holder = static_cast<void* volatile*>(__libc_malloc(64));
  kept_holder[0] = KeptViaUnsampled();
  g_unsampled_holder = kept_holder;
  // The last 8 usable bytes of a glibc chunk (24 usable in a 32-byte chunk)
  // are the next chunk's prev_size field.
  auto* tail_holder = static_cast<void* volatile*>(__libc_malloc(24));
  tail_holder[2] = KeptInChunkTail();
  g_tail_holder = tail_holder;
  void** container = static_cast<void**>(malloc(64 * sizeof(void*)));
  static_cast<void* volatile*>(static_cast<void*>(container))[3] = LeakFreedMember();
  free(container);
}

__attribute__((noinline)) void MakeKept() {
  g_keep_global = KeptGlobal();
  g_interior = reinterpret_cast<uintptr_t>(KeptInterior()) + 40;
  g_tagged = reinterpret_cast<uintptr_t>(KeptTagged()) | 1;
  g_string = KeptString();
  g_vector = new std::vector<char*>{KeptVector()};
  g_map = new std::map<int, char*>{{1, KeptMapValue()}};
  g_umap = new std::unordered_map<int, char*>{{1, KeptUnorderedValue()}};
}

// Leaves no stale copy of a leaked pointer where a conservative scan would
// take it for a live one: Scrub() zeroes a stretch of dead stack, and
// CLEAR_REGISTERS (inline in the caller: a function clobbering them would
// restore them on return) the callee-saved registers, which threads created
// later would otherwise inherit and save on their stacks.
__attribute__((noinline)) void Scrub() {
  volatile char wipe[16384];
  for (size_t i = 0; i < sizeof(wipe); ++i) wipe[i] = 0;
}
#if defined(__x86_64__)
// The vector registers too: struct copies and memcpy (glibc's EVEX variants
// use ymm16-31) move pointers through them, a parked thread's signal frame
// saves them, and the scan takes them as roots like any register. All are
// caller-saved, so a call may clear them.
__attribute__((noinline)) void ClearVectorRegisters() {
  if (__builtin_cpu_supports("avx")) {
    asm volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                 "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  } else {
    asm volatile(
        "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
        "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\tpxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
        "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15" ::
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
              "xmm12", "xmm13", "xmm14", "xmm15");
  }
  if (__builtin_cpu_supports("avx512f")) {
    asm volatile(
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
        "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
        "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
        "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
        "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
        "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
        "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
        "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31" ::: "memory");
  }
}
#define CLEAR_REGISTERS()                                                                       \
  ClearVectorRegisters();                                                                       \
  asm volatile("xor %%ebx, %%ebx\n\txor %%r12d, %%r12d\n\txor %%r13d, %%r13d\n\t"                \
               "xor %%r14d, %%r14d\n\txor %%r15d, %%r15d" ::: "rbx", "r12", "r13", "r14", "r15")
#else
#define CLEAR_REGISTERS() (void)0
#endif

std::atomic<int> g_ready{0};

void Check(long r, const char* call) {
  if (r < 0 && errno == EINTR) {
    g_violations.fetch_add(1);
    printf("VIOLATION %s: EINTR\n", call);
    fflush(stdout);
  }
}

thread_local void* volatile t_kept;

// On a thread of its own (no stale copy of a pointer stays in this thread's
// registers or stack): `filler` unsampled 96 KiB chunks, dropped, then two
// unsampled glibc holders of holder_bytes: a leaked one holding leak(), and
// one *kept_holder points to, holding kept().
void PlantViaHolders(int filler, size_t holder_bytes, void* (*leak)(), void* (*kept)(),
                     void* volatile* volatile* kept_holder) {
  std::thread([=] {
    for (int i = 0; i < filler; ++i) g_filler_sink = __libc_malloc(96 * 1024);
    g_filler_sink = nullptr;
    auto* leaked = static_cast<void* volatile*>(__libc_malloc(holder_bytes));
    leaked[0] = leak();
    auto* held = static_cast<void* volatile*>(__libc_malloc(holder_bytes));
    held[0] = kept();
    *kept_holder = held;
    Scrub();
    CLEAR_REGISTERS();
  }).join();
}

}  // namespace

int main(int argc, char** argv) {
  // With a GO_FILE argument, the leaks are planted once it exists: the test
  // creates it when it has stopped polling the endpoint, so no request's
  // allocations and frees run meanwhile (see TakeRecycledPages).
  if (argc > 1) {
    while (access(argv[1], F_OK) != 0) usleep(10000);
  }
  // glibc's default threshold moves up when mmapped chunks are freed: fix
  // it, so 96 KiB chunks come from an arena and 256 KiB ones are mmapped.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  // A leak the program declares on purpose: never reported.
  cpprof::IgnoreLeak(KeptIgnoredLeak());
  MakeLeaks();
  // The same in a thread's own glibc arena (not the main heap).
  PlantViaHolders(0, 64, LeakViaArena, KeptViaArena, &g_arena_holder);
  // Holders glibc mmaps (256 KiB, over the threshold).
  PlantViaHolders(0, 256 * 1024, LeakViaMmapped, KeptViaMmapped, &g_mmapped_holder);
  // A thread arena grown past one heap (glibc's heaps are 64 MiB): about
  // 68 MiB of unsampled chunks under the mmap threshold, dropped, then the
  // holders, which land in the arena's second heap.
  PlantViaHolders(720, 64, LeakViaLaterHeap, KeptViaLaterHeap, &g_later_heap_holder);
  Scrub();
  CLEAR_REGISTERS();
  MakeKept();
  std::vector<std::thread> threads;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return 1;
  threads.emplace_back([&] {  // thread_local + blocked in read
    t_kept = KeptThreadLocal();
    g_ready.fetch_add(1);
    char c;
    for (;;) Check(read(pipe_fds[0], &c, 1), "read");
  });
  threads.emplace_back([] {  // a local of a thread blocked in nanosleep
    void* volatile local = KeptOnStack();
    g_ready.fetch_add(1);
    for (;;) {
      timespec ts{0, 300 * 1000 * 1000};
      Check(nanosleep(&ts, nullptr), "nanosleep");
      static_cast<volatile char*>(local)[0] = 1;
    }
  });
  threads.emplace_back([] {  // the only pointer kept in a register while spinning
    void* p = KeptInRegister();
    g_ready.fetch_add(1);
    for (uint64_t i = 0;; ++i) {
      asm volatile("" : "+r"(p));
      if ((i & 0xfffff) == 0) sched_yield();
    }
  });
  threads.emplace_back([] {
    int ep = epoll_create1(0);
    epoll_event ev[4];
    for (;;) Check(epoll_wait(ep, ev, 4, 250), "epoll_wait");
  });
  threads.emplace_back([] {
    pollfd none{-1, 0, 0};
    for (;;) Check(poll(&none, 1, 200), "poll");
  });
  threads.emplace_back([] {  // wakes every millisecond: the park race's best target
    int ep = epoll_create1(0);
    epoll_event ev[1];
    for (;;) {
      Check(epoll_wait(ep, ev, 1, 1), "epoll_wait(1ms)");
      timespec ts{0, 100 * 1000};
      Check(nanosleep(&ts, nullptr), "nanosleep(100us)");
    }
  });
  threads.emplace_back([] {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(s, 1);
    for (;;) Check(accept(s, nullptr, nullptr), "accept");
  });
  threads.emplace_back([] {  // moves the only pointer between a global, a heap cell and its stack
    g_moving_cell = static_cast<void* volatile*>(malloc(sizeof(void*)));
    void* p = KeptMoving();
    g_ready.fetch_add(1);
    for (uint64_t i = 0;; ++i) {
      g_moving_global = p;
      p = nullptr;
      *g_moving_cell = g_moving_global;
      g_moving_global = nullptr;
      void* volatile local = *g_moving_cell;
      *g_moving_cell = nullptr;
      p = local;
      local = nullptr;
      if ((i & 0xffff) == 0) sched_yield();
    }
  });
  threads.emplace_back([] {
    std::mutex mu;
    std::condition_variable cv;
    std::unique_lock<std::mutex> lock(mu);
    for (;;) cv.wait_for(lock, std::chrono::milliseconds(300));
  });
  while (g_ready.load() < 4) usleep(1000);
  Scrub();
  printf("READY\n");
  fflush(stdout);
  for (auto& t : threads) t.join();
}
