// SPDX-License-Identifier: Apache-2.0
// -----------------------------------------------------------------------------
// File: cpprof/options.h
// -----------------------------------------------------------------------------
//
// Options for the cpprof endpoint. Every field has a safe default: loopback
// only, no token, CPU profiles at 100 Hz, bounded connections, headers, bodies
// and durations. The environment overrides some fields (see ApplyEnvironment).

#ifndef CPPROF_OPTIONS_H_
#define CPPROF_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cpprof {

struct Options {
  // Where the own listener binds, "host:port". Port 0 picks a free port
  // (Server::port() tells which). Environment: CPPROF_ADDR.
  std::string address = "127.0.0.1:6060";

  // If not empty, every request must carry this token, as
  // `Authorization: Bearer TOKEN`, as the password of Basic auth
  // (`go tool pprof http://user:TOKEN@host:port/...`), or as `?token=TOKEN`.
  // Environment: CPPROF_TOKEN.
  std::string token;

  // Listening on a non-loopback address without a token is refused unless
  // this is true. Environment: CPPROF_ALLOW_REMOTE=1.
  bool allow_remote_without_token = false;

  // TLS for the own listener: a PEM certificate chain and its private key
  // (both or neither). The listener then speaks only HTTPS (TLS 1.2 or 1.3);
  // `go tool pprof https+insecure://host:port/...` accepts a self-signed
  // certificate. Across a network use it together with a token. Environment:
  // CPPROF_TLS_CERT, CPPROF_TLS_KEY.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Browser-origin safety. Requests from other web pages (an `Origin` that
  // is not the endpoint's own, `Sec-Fetch-Site: cross-site` or `same-site`)
  // are always refused with 403. Without a token, the `Host` header must also
  // be an IP address, `localhost` (or a `.localhost` name) or one of these
  // names, so a page cannot reach the endpoint through a DNS name re-pointed
  // at 127.0.0.1 (DNS rebinding). ".example.com" allows every name under it;
  // "*" turns the Host check off. Environment: CPPROF_ALLOWED_HOSTS
  // (comma-separated).
  std::vector<std::string> allowed_hosts;

  // CPU profiles: samples per second of CPU time per thread when the request
  // has no `hz` parameter, and the largest `hz` a request may ask for.
  int cpu_default_hz = 100;
  int cpu_max_hz = 1000;

  // Heap profiles: mean bytes allocated between two sampled allocations
  // (Go's MemProfileRate); 0 turns heap sampling off. -1 keeps what is in
  // effect: CPPROF_HEAP_RATE from the environment, else 512 KiB. Sampling
  // runs from the process's first allocation at that rate; a value set here
  // applies from Start() (or Configure()) on, and each sampled object keeps
  // the weight of the rate it was sampled at. Environment: CPPROF_HEAP_RATE.
  int64_t heap_sample_rate = -1;

  // Leak detection by growth: how often the in-use estimate of every
  // allocation stack is recorded for /debug/pprof/heap_growth (90 points are
  // kept: 15 minutes at the default 10 s). Environment:
  // CPPROF_HEAP_GROWTH_INTERVAL_MS.
  int heap_growth_interval_ms = 10000;

  // Leak scans (/debug/pprof/leaks): sampled objects younger than this are
  // never reported (a `min_age` parameter overrides it per request).
  // Environment: CPPROF_LEAK_MIN_AGE (seconds).
  int leak_min_age_seconds = 30;

  // Signal that parks running threads for a leak scan's snapshot; 0 means
  // SIGRTMIN + 4. It must not have a handler of the host's. Environment:
  // CPPROF_LEAK_SIGNAL.
  int leak_signal = 0;

  // Leaks never reported, LeakSanitizer-style: patterns separated by ';' or
  // newlines, each optionally prefixed "leak:", matched as substrings
  // against the function names and source files of a leak's allocation
  // stack. Environment: CPPROF_LEAK_SUPPRESS.
  std::string leak_suppressions;

  // Mutex contention profile (/debug/pprof/mutex): 1 of this many contended
  // unlocks is recorded, weighted back (Go's SetMutexProfileFraction); 1
  // records all, 0 turns it off. -1 keeps what is in effect: off unless
  // CPPROF_MUTEX_FRACTION says otherwise. Environment: CPPROF_MUTEX_FRACTION.
  int64_t mutex_profile_fraction = -1;

  // Block profile (/debug/pprof/block): about one sample per this many
  // nanoseconds spent waiting for pthread mutexes, rwlocks and condition
  // variables (Go's SetBlockProfileRate); 1 records every wait, 0 turns it
  // off. -1 keeps what is in effect: off unless CPPROF_BLOCK_RATE says
  // otherwise. Environment: CPPROF_BLOCK_RATE.
  int64_t block_profile_rate = -1;

  // Thread-leak detection: how often the live thread count of every
  // creation stack is recorded for /debug/pprof/thread_leaks (90 points are
  // kept: 15 minutes at the default 10 s). Environment:
  // CPPROF_THREAD_LEAK_INTERVAL_MS.
  int thread_leak_interval_ms = 10000;

  // Signal that asks a running thread for its stack when a thread dump is
  // requested with `signal=1` (never sent otherwise, never to a blocked
  // thread); 0 means SIGRTMIN + 5. It must not have a handler of the
  // host's. Environment: CPPROF_THREAD_SIGNAL.
  int thread_dump_signal = 0;

  // Descriptor tracking (/debug/pprof/fd): record the creation stack of
  // every descriptor the process creates (open, socket, accept, pipe, fopen,
  // ...; about 0.3 us per creation) and watch the count against the
  // RLIMIT_NOFILE soft limit, alerting at fd_warn_percent and
  // fd_critical_percent of it (cpprof::SetFdAlertCallback). The limit is
  // never changed. Environment: CPPROF_FD_TRACKING=0 turns tracking off,
  // CPPROF_FD_WARN_PERCENT, CPPROF_FD_CRITICAL_PERCENT.
  bool fd_tracking = true;
  int fd_warn_percent = 80;
  int fd_critical_percent = 95;
  // The own listener's threads get a private descriptor table
  // (unshare(CLONE_FILES)), so the endpoint still answers when the host is
  // out of descriptors; false keeps them on the process's table (then, at
  // the limit, accept fails and is retried every 100 ms). Environment:
  // CPPROF_PRIVATE_FD_TABLE=0.
  bool private_fd_table = true;
  // Memory caps. CPU stack tables: a full table is replaced by a fresh one
  // (about 3.5 MiB) while open profiles still read the old ones, up to this
  // many bytes in all (never below one table); past it, samples of stacks
  // not yet in the table are dropped, counted, and shown in the profile as a
  // "[cpprof: N samples dropped: stack table full]" frame. Symbol cache: the
  // symbol and line indexes of loaded modules, least recently used evicted
  // past this many bytes (a module whose index alone would exceed it
  // resolves by ELF symbols only). Unwind tables: built per loaded module
  // from its .eh_frame (about 12 bytes per row); a module that would take
  // them past this many bytes gets none and is walked with frame pointers.
  // Environment: CPPROF_CPU_TABLE_MAX_BYTES, CPPROF_SYMBOL_CACHE_MAX_BYTES,
  // CPPROF_UNWIND_TABLE_MAX_BYTES.
  size_t cpu_table_max_bytes = size_t{32} << 20;
  size_t symbol_cache_max_bytes = size_t{512} << 20;
  size_t unwind_table_max_bytes = size_t{256} << 20;
  // Longest `seconds` a profile request may ask for.
  int max_profile_seconds = 600;

  // Signal used for CPU sampling. It must not have a handler of the host's.
  int cpu_signal = 27;  // SIGPROF

  // Own listener limits. Connections beyond max_connections are closed at
  // once; a request whose head exceeds max_header_bytes gets 431, a body
  // beyond max_body_bytes gets 413. A request must arrive whole within
  // read_timeout_ms of its first byte (else 408), and a response must be
  // sent within write_timeout_ms (else the connection is closed); idle
  // keep-alive connections are closed after keep_alive_timeout_ms. Requests
  // run on up to max_workers threads, started on demand; neither idle
  // connections nor slow readers hold a worker (responses are sent by the
  // event loop). At most max_long_requests requests that wait (a CPU
  // profile, any `seconds=N` delta) run at once, so the other workers stay
  // free for the index, stats, symbol and the page; one more gets 429.
  // 0 means max_workers - 4 (at least 1). One connection carries at most one
  // request at a time, so max_connections also bounds the work queue.
  int max_connections = 128;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  int read_timeout_ms = 10000;
  int write_timeout_ms = 60000;
  int keep_alive_timeout_ms = 15000;
  int max_workers = 16;
  int max_long_requests = 0;
};

}  // namespace cpprof

#endif  // CPPROF_OPTIONS_H_
