// SPDX-License-Identifier: Apache-2.0
//
// cpprof::Server: the own HTTP/1.1 listener.
//
// One event-loop thread owns the listening socket and every connection that
// is idle or still sending its request: non-blocking sockets, poll(), a
// per-connection deadline (keep-alive timeout while idle, read timeout from
// the first byte of a request), the head limit (431), the body limit from
// Content-Length (413), no chunked bodies (411), max_connections (a new
// connection beyond it gets a 503 and is closed at once). A complete request
// goes to the WorkerPool; the worker runs Handle() and hands the connection
// back with its response through a queue and an eventfd; the loop sends the
// response without blocking (POLLOUT), within write_timeout_ms in total. So
// neither an idle keep-alive connection nor a client that reads slowly (or
// not at all) holds a worker - the flaw of cpp-httplib 0.11, where each
// open connection pins a pool thread and a third client waits out the
// keep-alive timeout.
//
// Requests that wait (a CPU profile, any `seconds=N` delta) are limited to
// max_long_requests at once (429 beyond, with Retry-After), which keeps
// max_workers - max_long_requests workers for the quick answers: index,
// stats, symbol, the page. One connection has at most one request in
// flight, so the task queue is bounded by max_connections.
//
// While a worker serves a request the loop keeps polling the socket for
// POLLRDHUP only: the client closing its side sets the connection's
// cancelled flag at once, which the request's cancelled() reports, so a CPU
// profile ends early when `go tool pprof` is interrupted (as Go's request
// context). Pipelined bytes stay in the socket until the connection returns.
//
// fork() without exec: the child has none of the server's threads. Its
// copies of the listening socket, the eventfd and the connections are
// closed in the child (a pre-forking host would otherwise keep the parent's
// port bound and its clients' connections open after the parent closes
// them): those descriptors are kept in a lock-free bitmap, and the
// pthread_atfork child handler closes every one. A Server stopped or
// destroyed in the child forgets the parent's threads instead of joining
// them, and the child may start its own endpoint.
//
// TLS (Options::tls_cert_file): each connection gets an OpenSSL session
// on its non-blocking socket (http/tls.h); reads, writes and the handshake
// go through it in the same loop, and a handshake that must write waits
// for POLLOUT. Bytes already decrypted inside a session are read before
// polling again.
//
// Out of descriptors: the loop thread takes a private descriptor table
// (base/private_fd_table.h) before it serves anything, keeping only the
// listening socket and the eventfd; the workers it starts share that table.
// So when the host has used up RLIMIT_NOFILE the endpoint still accepts,
// reads /proc and symbol files and answers (the fd route, /metrics, CPU
// profiles). The host's table keeps two descriptors of cpprof's: the
// listening socket (so `ss -ltnp` and lsof still show who listens) and the
// eventfd Stop() wakes the loop through; connections exist only in the
// private table, and the loop thread itself closes them (and joins the
// workers) when it stops. Without unshare (seccomp, Options), accept pauses
// 100 ms after EMFILE instead of spinning.
//
// Only the loop thread closes connection sockets, so a worker never writes
// to a descriptor number that was reused. Errors the loop answers itself
// (400/408/411/413/431) are written without blocking, then the write side is
// shut down and the rest of the request drained for a moment, so the client
// reads the answer instead of a reset. poll() over a rebuilt array is O(n)
// per wake-up; n is bounded by max_connections (64 by default), where that
// is cheaper than keeping an epoll set in step with every state change.

#include "cpprof/server.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/own_fds.h"
#include "base/private_fd_table.h"
#include "base/raw_log.h"
#include "base/self_stats.h"
#include "http/http_util.h"
#include "http/listen_address.h"
#include "http/request_parser.h"
#include "http/response_writer.h"
#include "http/routes.h"
#include "http/tls.h"
#include "http/worker_pool.h"
#include "registry/registry.h"

namespace cpprof {
namespace internal {
namespace {

constexpr int kWorkerIdleExitMs = 5000;
constexpr int kDrainMs = 1000;               // after an error answer, read and discard this long
constexpr size_t kDrainMaxBytes = 1 << 20;   // ... or this much
constexpr int kAcceptPauseMs = 100;          // after EMFILE/ENFILE
constexpr size_t kReadChunk = 16 * 1024;

std::atomic<bool> g_server_running{false};

void TrackFd(int fd) { TrackOwnFd(fd); }
void UntrackFd(int fd) { UntrackOwnFd(fd); }

int CloseTracked(int fd) {
  UntrackFd(fd);
  return close(fd);
}

// pthread_atfork child handler: only close(2) and atomics.
void ForgetServerInChild() {
  CloseOwnFdsInChild();
  g_server_running.store(false);
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string Errno(const char* what) { return std::string(what) + ": " + strerror(errno); }

struct Connection {
  enum class State { kReading, kBusy, kWriting, kDraining };
  int fd = -1;
  State state = State::kReading;
  std::string in;               // received, not yet consumed
  bool have_head = false;
  RequestHead head;
  bool sent_continue = false;
  int64_t deadline_ms = 0;
  bool idle = true;             // waiting for the first byte of a request
  size_t drained = 0;
  std::atomic<bool> cancelled{false};
  // Set by the worker before handing the connection back.
  bool keep_alive = false;
  std::string out_head;         // the response being sent (kWriting)
  std::string out_body;
  size_t out_done = 0;          // bytes of out_head + out_body sent
  bool long_request = false;    // counted in long_in_flight while busy
  SSL* ssl = nullptr;           // the TLS session, with Options::tls_cert_file
  bool tls_want_write = false;  // the session must write (handshake) before it can read on
};

// Receive and send for one connection, plain or TLS. Loop thread only.
ssize_t ConnRecv(Connection& c, char* buf, size_t len) {
  if (c.ssl == nullptr) return recv(c.fd, buf, len, 0);
  return TlsRead(c.ssl, buf, len, &c.tls_want_write);
}

// Whether a request waits before it answers: a CPU profile (always a
// window), or any request with seconds=N, N > 0.
bool IsLongRequest(const std::string& target) {
  std::string path, query;
  SplitTarget(target, &path, &query);
  const size_t slash = path.find_last_of('/');
  const std::string_view last = std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
  if (last == "profile") return true;
  std::vector<QueryParam> params;
  if (!ParseQuery(query, 64, &params)) return false;  // the handler answers 400 at once
  for (const QueryParam& p : params) {
    if (p.key == "seconds" && !p.value.empty() && p.value != "0") return true;
  }
  return false;
}

// Best-effort non-blocking write of a small answer from the loop thread, on
// a plain socket (ssl null) or a TLS session.
void WriteNow(int fd, SSL* ssl, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ssl != nullptr ? TlsWrite(ssl, data.data() + done, data.size() - done)
                               : send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += static_cast<size_t>(w);
  }
}

std::string ErrorAnswer(int status, const std::string& text) {
  Response r;
  ServeError(&r, status, text);
  SetHeader(&r, "X-Content-Type-Options", "nosniff");
  if (status == 429 || status == 503) SetHeader(&r, "Retry-After", "1");
  return SerializeResponseHead(r, /*keep_alive=*/false, /*http10=*/false) + r.body;
}

}  // namespace
}  // namespace internal

struct Server::Impl {
  using Connection = internal::Connection;
  using ConnPtr = std::shared_ptr<Connection>;

  explicit Impl(Options o) : options(std::move(o)) {}

  Options options;
  internal::EndpointConfig config;
  std::mutex lifecycle_mu;       // Start/Stop
  bool running = false;
  std::atomic<int> bound_port{0};

  int listen_fd = -1;
  int wake_fd = -1;
  int host_listen_fd = -1;       // the host table's copy of the listener, with a private table
  pid_t owner_pid = 0;           // the process whose threads these are
  pthread_t loop_thread{};
  std::atomic<bool> stopping{false};
  std::unique_ptr<internal::WorkerPool> pool;

  // Loop-thread state.
  std::vector<ConnPtr> conns;
  int64_t accept_paused_until = 0;

  // Connections handed back by workers.
  std::mutex returned_mu;
  std::vector<ConnPtr> returned;

  // Private descriptor table: asked for (decided in Start), and obtained
  // (written by the loop thread before it serves; read by others only
  // after joining it).
  bool want_private_fds = false;
  bool private_fds = false;

  std::unique_ptr<internal::TlsContext> tls;  // with Options::tls_cert_file

  int max_long = 1;                // resolved max_long_requests
  std::atomic<int> long_in_flight{0};

  Status StartLocked();
  void StopLocked();
  void Loop();
  void Wake();
  void Accept();
  void OnReadable(const ConnPtr& c);
  void TryDispatch(const ConnPtr& c);
  void FailRequest(const ConnPtr& c, int status, const std::string& text);
  void Dispatch(const ConnPtr& c);
  void Serve(const ConnPtr& c, Request request, bool keep_alive, bool http10, bool head_only);
  void TakeReturned();
  void EndLong(const ConnPtr& c);
  void OnWritable(const ConnPtr& c);
  void CloseConn(const ConnPtr& c);
  void CloseConn(size_t index);
  void CloseAll();
};

void Server::Impl::Wake() {
  uint64_t one = 1;
  ssize_t r = write(wake_fd, &one, sizeof(one));
  (void)r;  // the counter saturating still leaves the loop woken
}

Status Server::Impl::StartLocked() {
  if (running) return Status(StatusCode::kFailedPrecondition, "server already running");
  Status s = internal::ValidateOptions(options);
  if (!s.ok()) return s;
  internal::ListenAddress address;
  s = internal::ParseListenAddress(options.address, &address);
  if (!s.ok()) return s;
  std::unique_ptr<internal::TlsContext> tls_context;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    tls_context = internal::TlsContext::Load(options.tls_cert_file, options.tls_key_file, &s);
    if (!s.ok()) return s;
  }
  bool expected = false;
  if (!internal::g_server_running.compare_exchange_strong(expected, true)) {
    return Status(StatusCode::kFailedPrecondition, "another cpprof::Server is already running in this process");
  }

  int fd = socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    internal::g_server_running = false;
    return Status(StatusCode::kUnavailable, internal::Errno("socket"));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (address.family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    Status err(StatusCode::kUnavailable, internal::Errno(("bind/listen " + options.address).c_str()));
    close(fd);
    internal::g_server_running = false;
    return err;
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                          : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  int wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wfd < 0) {
    Status err(StatusCode::kUnavailable, internal::Errno("eventfd"));
    close(fd);
    internal::g_server_running = false;
    return err;
  }
  static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
  pthread_once(&atfork_once, [] { pthread_atfork(nullptr, nullptr, internal::ForgetServerInChild); });
  internal::TrackFd(fd);
  internal::TrackFd(wfd);
  listen_fd = fd;
  wake_fd = wfd;
  tls = std::move(tls_context);
  owner_pid = getpid();
  stopping = false;
  // ThreadSanitizer models descriptors by number for the whole process: a
  // second table would make it report races between unrelated descriptors.
  static const bool tsan = dlsym(RTLD_DEFAULT, "__tsan_init") != nullptr;
  want_private_fds = options.private_fd_table && !tsan;
  private_fds = false;
  config = internal::EndpointConfigFromOptions(options);
  internal::SetEndpointConfig(config);
  internal::RegisterBuiltinSources();
  internal::Registry::Global().ConfigureAll(options);
  max_long = options.max_long_requests > 0 ? std::min(options.max_long_requests, options.max_workers)
                                           : std::max(1, options.max_workers - 4);
  pool = std::make_unique<internal::WorkerPool>(options.max_workers, internal::kWorkerIdleExitMs,
                                                options.cpu_signal);
  s = internal::StartOwnThread("cpprof-http", options.cpu_signal, [this] { Loop(); }, &loop_thread);
  if (!s.ok()) {
    pool.reset();
    internal::CloseTracked(listen_fd);
    internal::CloseTracked(wake_fd);
    listen_fd = wake_fd = -1;
    internal::g_server_running = false;
    return s;
  }
  // With a private table the host's keeps its copies of the listening
  // socket (so `ss -ltnp` and lsof still name this process) and of the
  // eventfd (Stop() wakes the loop through it). Start() does not wait for
  // the loop to say which it got: it may run in a constructor inside
  // dlopen(), holding the loader lock the new thread could need.
  host_listen_fd = listen_fd;
  bound_port = port;
  running = true;
  return Status();
}

void Server::Impl::StopLocked() {
  if (!running) return;
  if (owner_pid != getpid()) {
    // A forked child: the loop and the workers are the parent's and do not
    // exist here, the descriptors were closed by the fork handler. Forget
    // them; never join, wake or close anything.
    (void)pool.release();
    for (ConnPtr& c : conns) c->fd = -1;
    conns.clear();
    listen_fd = wake_fd = host_listen_fd = -1;
    bound_port = 0;
    running = false;
    return;
  }
  stopping = true;
  Wake();
  // The loop joins the workers and closes the connections itself (they may
  // live in its private descriptor table).
  pthread_join(loop_thread, nullptr);
  pool.reset();
  // Without a private table the loop closed the only copy itself.
  if (private_fds && host_listen_fd >= 0) internal::CloseTracked(host_listen_fd);
  host_listen_fd = -1;
  internal::CloseTracked(wake_fd);
  wake_fd = -1;
  bound_port = 0;
  running = false;
  internal::g_server_running = false;
}

void Server::Impl::CloseConn(const ConnPtr& c) {
  for (size_t i = 0; i < conns.size(); ++i) {
    if (conns[i] == c) {
      CloseConn(i);
      return;
    }
  }
}

void Server::Impl::CloseConn(size_t index) {
  if (conns[index]->state == Connection::State::kWriting) {
    internal::GetSelfCounters().http_sending.fetch_sub(1, std::memory_order_relaxed);
    conns[index]->state = Connection::State::kDraining;
  }
  if (conns[index]->ssl != nullptr) internal::TlsFree(conns[index]->ssl);
  conns[index]->ssl = nullptr;
  internal::CloseTracked(conns[index]->fd);
  conns[index]->fd = -1;
  conns[index] = conns.back();
  conns.pop_back();
}

void Server::Impl::CloseAll() {
  for (auto& c : conns) {
    if (c->state == Connection::State::kWriting) {
      internal::GetSelfCounters().http_sending.fetch_sub(1, std::memory_order_relaxed);
    }
    if (c->ssl != nullptr) internal::TlsFree(c->ssl);
    c->ssl = nullptr;
    if (c->fd >= 0) internal::CloseTracked(c->fd);
    c->fd = -1;
  }
  conns.clear();
}

void Server::Impl::TakeReturned() {
  std::vector<ConnPtr> back;
  {
    std::lock_guard<std::mutex> lock(returned_mu);
    back.swap(returned);
  }
  for (ConnPtr& c : back) {
    if (c->cancelled.load() || stopping.load()) {
      CloseConn(c);
      continue;
    }
    c->state = Connection::State::kWriting;
    c->out_done = 0;
    c->deadline_ms = internal::NowMs() + options.write_timeout_ms;
    internal::GetSelfCounters().http_sending.fetch_add(1, std::memory_order_relaxed);
    OnWritable(c);
  }
}

// Sends what the socket takes now; at the end, keeps the connection for
// its next request or closes it.
void Server::Impl::OnWritable(const ConnPtr& c) {
  const size_t total = c->out_head.size() + c->out_body.size();
  while (c->out_done < total) {
    iovec iov[2];
    int n = 0;
    if (c->out_done < c->out_head.size()) {
      iov[n].iov_base = c->out_head.data() + c->out_done;
      iov[n].iov_len = c->out_head.size() - c->out_done;
      ++n;
    }
    const size_t body_done = c->out_done > c->out_head.size() ? c->out_done - c->out_head.size() : 0;
    if (body_done < c->out_body.size()) {
      iov[n].iov_base = c->out_body.data() + body_done;
      iov[n].iov_len = c->out_body.size() - body_done;
      ++n;
    }
    ssize_t w;
    if (c->ssl != nullptr) {
      w = internal::TlsWrite(c->ssl, iov[0].iov_base, iov[0].iov_len);
    } else {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(n);
      w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (w > 0) {
      c->out_done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // POLLOUT brings us back
    CloseConn(c);
    return;
  }
  internal::GetSelfCounters().http_sending.fetch_sub(1, std::memory_order_relaxed);
  std::string().swap(c->out_head);
  std::string().swap(c->out_body);
  if (!c->keep_alive) {
    c->state = Connection::State::kDraining;  // not counted as sending any more
    CloseConn(c);
    return;
  }
  c->state = Connection::State::kReading;
  c->have_head = false;
  c->sent_continue = false;
  c->idle = c->in.empty();
  c->deadline_ms = internal::NowMs() + (c->idle ? options.keep_alive_timeout_ms : options.read_timeout_ms);
  // Bytes the client pipelined are in the socket, already in `in`, or
  // decrypted and buffered in the TLS session (no POLLIN for those).
  if (!c->in.empty()) {
    TryDispatch(c);
  } else if (c->ssl != nullptr && internal::TlsPending(c->ssl) > 0) {
    OnReadable(c);
  }
}

void Server::Impl::Accept() {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a moment instead of spinning.
        accept_paused_until = internal::NowMs() + internal::kAcceptPauseMs;
        internal::GetSelfCounters().http_rejected.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    if (static_cast<int>(conns.size()) >= options.max_connections) {
      internal::GetSelfCounters().http_rejected.fetch_add(1, std::memory_order_relaxed);
      // With TLS there is no session to answer in: the client sees the
      // connection closed.
      if (tls == nullptr) internal::WriteNow(fd, nullptr, internal::ErrorAnswer(503, "Too many connections"));
      // Read what already arrived, so closing does not turn into a reset.
      char scratch[4096];
      for (int i = 0; i < 16 && recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0; ++i) {
      }
      shutdown(fd, SHUT_WR);
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!private_fds) internal::TrackFd(fd);
    auto c = std::make_shared<Connection>();
    c->fd = fd;
    if (tls != nullptr) {
      c->ssl = tls->NewSession(fd);
      if (c->ssl == nullptr) {
        internal::CloseTracked(fd);
        continue;
      }
    }
    c->idle = true;
    c->deadline_ms = internal::NowMs() + options.read_timeout_ms;
    conns.push_back(std::move(c));
  }
}

void Server::Impl::FailRequest(const ConnPtr& c, int status, const std::string& text) {
  internal::GetSelfCounters().http_requests.fetch_add(1, std::memory_order_relaxed);
  internal::GetSelfCounters().http_rejected.fetch_add(1, std::memory_order_relaxed);
  internal::WriteNow(c->fd, c->ssl, internal::ErrorAnswer(status, text));
  if (c->ssl != nullptr) internal::TlsShutdown(c->ssl);
  shutdown(c->fd, SHUT_WR);
  c->state = Connection::State::kDraining;
  c->in.clear();
  c->in.shrink_to_fit();
  c->drained = 0;
  c->deadline_ms = internal::NowMs() + internal::kDrainMs;
}

void Server::Impl::OnReadable(const ConnPtr& c) {
  char buf[internal::kReadChunk];
  bool eof = false;
  for (;;) {
    ssize_t n = internal::ConnRecv(*c, buf, sizeof(buf));
    if (n > 0) {
      if (c->state == Connection::State::kDraining) {
        c->drained += static_cast<size_t>(n);
        if (c->drained > internal::kDrainMaxBytes) {
          eof = true;
          break;
        }
        continue;
      }
      if (c->idle) {
        c->idle = false;
        c->deadline_ms = internal::NowMs() + options.read_timeout_ms;
      }
      c->in.append(buf, static_cast<size_t>(n));
      // Never hold more than one request's worth; the parser decides.
      if (c->in.size() > options.max_header_bytes + (c->have_head ? c->head.content_length : 0) + 1) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    eof = true;  // 0 = peer closed; other errors end the connection too
    break;
  }
  if (c->state == Connection::State::kReading && !c->in.empty()) TryDispatch(c);
  if (eof && c->state != Connection::State::kBusy) {
    for (size_t i = 0; i < conns.size(); ++i) {
      if (conns[i] == c) {
        CloseConn(i);
        break;
      }
    }
  } else if (eof) {
    c->cancelled = true;
  }
}

void Server::Impl::TryDispatch(const ConnPtr& c) {
  if (!c->have_head) {
    internal::ParserLimits limits;
    limits.max_header_bytes = options.max_header_bytes;
    limits.max_body_bytes = options.max_body_bytes;
    int status = 0;
    std::string message;
    internal::ParseStatus ps = internal::ParseRequestHead(c->in, limits, &c->head, &status, &message);
    if (ps == internal::ParseStatus::kIncomplete) return;
    if (ps == internal::ParseStatus::kError) {
      FailRequest(c, status, message);
      return;
    }
    c->have_head = true;
  }
  size_t need = c->head.head_bytes + c->head.content_length;
  if (c->in.size() < need) {
    if (c->head.expect_continue && !c->sent_continue) {
      c->sent_continue = true;
      internal::WriteNow(c->fd, c->ssl, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    return;
  }
  Dispatch(c);
}

void Server::Impl::Dispatch(const ConnPtr& c) {
  Request request;
  request.method = std::move(c->head.method);
  request.target = std::move(c->head.target);
  // The own listener serves Prometheus at the conventional /metrics too.
  if (request.target == "/metrics" || request.target.compare(0, 9, "/metrics?") == 0) {
    request.target.insert(0, request.prefix);
  }
  request.headers = std::move(c->head.headers);
  request.body = c->in.substr(c->head.head_bytes, c->head.content_length);
  c->in.erase(0, c->head.head_bytes + c->head.content_length);
  bool keep_alive = c->head.keep_alive && options.keep_alive_timeout_ms > 0;
  bool http10 = c->head.minor_version == 0;
  bool head_only = request.method == "HEAD";
  c->have_head = false;
  c->long_request = internal::IsLongRequest(request.target);
  if (c->long_request) {
    if (long_in_flight.load() >= max_long) {
      internal::GetSelfCounters().http_long_refused.fetch_add(1, std::memory_order_relaxed);
      FailRequest(c, 429,
                  "Too many profiles that wait are running (" + std::to_string(max_long) +
                      ", Options::max_long_requests); retry when one ends");
      return;
    }
    long_in_flight.fetch_add(1);
    internal::GetSelfCounters().http_long_running.fetch_add(1, std::memory_order_relaxed);
  }
  c->state = Connection::State::kBusy;
  ConnPtr conn = c;
  bool queued = pool->Submit([this, conn, request = std::move(request), keep_alive, http10, head_only]() mutable {
    Serve(conn, std::move(request), keep_alive, http10, head_only);
  });
  if (!queued) {
    EndLong(c);
    c->state = Connection::State::kReading;
    FailRequest(c, 503, "Server busy");
  }
}

void Server::Impl::EndLong(const ConnPtr& c) {
  if (!c->long_request) return;
  c->long_request = false;
  long_in_flight.fetch_sub(1);
  internal::GetSelfCounters().http_long_running.fetch_sub(1, std::memory_order_relaxed);
}

void Server::Impl::Serve(const ConnPtr& c, Request request, bool keep_alive, bool http10, bool head_only) {
  Connection* raw = c.get();
  std::atomic<bool>* stop = &stopping;
  request.cancelled = [raw, stop] { return raw->cancelled.load(std::memory_order_relaxed) || stop->load(); };
  Response response = internal::HandleWithConfig(request, config);
  request.cancelled = nullptr;
  EndLong(c);
  keep_alive = keep_alive && !stopping.load() && !c->cancelled.load();
  // The loop sends it (OnWritable): a slow reader does not hold this worker.
  c->out_head = internal::SerializeResponseHead(response, keep_alive, http10);
  if (!head_only) c->out_body = std::move(response.body);
  c->keep_alive = keep_alive;
  {
    std::lock_guard<std::mutex> lock(returned_mu);
    returned.push_back(c);
  }
  Wake();
}

void Server::Impl::Loop() {
  bool is_private = false;
  if (want_private_fds) {
    is_private = internal::MakeFdTablePrivate({listen_fd, wake_fd});
    if (!is_private) {
      internal::RawLog(internal::LogLevel::kWarning,
                       "no private descriptor table for the endpoint (unshare: %s): it shares the host's and "
                       "cannot accept while the host is out of descriptors",
                       strerror(errno));
    }
  }
  private_fds = is_private;
  std::vector<pollfd> fds;
  std::vector<ConnPtr> polled;
  while (!stopping.load()) {
    int64_t now = internal::NowMs();
    fds.clear();
    polled.clear();
    fds.push_back({wake_fd, POLLIN, 0});
    bool accepting = now >= accept_paused_until;
    fds.push_back({accepting ? listen_fd : -1, POLLIN, 0});
    int64_t next_deadline = now + 1000;
    for (const ConnPtr& c : conns) {
      short events;
      if (c->state == Connection::State::kBusy) {
        if (c->cancelled.load()) continue;  // already known; nothing more to watch
        events = POLLRDHUP;
      } else if (c->state == Connection::State::kWriting) {
        events = POLLOUT;
        if (c->deadline_ms < next_deadline) next_deadline = c->deadline_ms;
      } else {
        events = POLLIN | POLLRDHUP;
        if (c->tls_want_write) events |= POLLOUT;  // a TLS handshake waits to write
        if (c->deadline_ms < next_deadline) next_deadline = c->deadline_ms;
      }
      fds.push_back({c->fd, events, 0});
      polled.push_back(c);
    }
    if (!accepting && accept_paused_until < next_deadline) next_deadline = accept_paused_until;
    int timeout = static_cast<int>(next_deadline > now ? next_deadline - now : 0);
    int r = poll(fds.data(), fds.size(), timeout);
    if (r < 0 && errno != EINTR) {
      internal::RawLog(internal::LogLevel::kError, "cpprof: poll: %s", strerror(errno));
      break;
    }
    if (stopping.load()) break;
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      while (read(wake_fd, &v, sizeof(v)) > 0) {
      }
    }
    // Events first, so a returned connection's fresh state is not mistaken
    // for the one polled.
    for (size_t i = 0; i < polled.size(); ++i) {
      short rev = fds[i + 2].revents;
      if (rev == 0) continue;
      const ConnPtr& c = polled[i];
      if (c->fd < 0) continue;  // closed earlier in this round
      if (c->state == Connection::State::kBusy) {
        if (rev & (POLLRDHUP | POLLHUP | POLLERR)) c->cancelled = true;
        continue;
      }
      if (c->state == Connection::State::kWriting) {
        if (rev & (POLLHUP | POLLERR | POLLNVAL)) {
          CloseConn(c);
        } else {
          OnWritable(c);
        }
        continue;
      }
      OnReadable(c);
    }
    TakeReturned();
    if (accepting && (fds[1].revents & POLLIN)) Accept();

    now = internal::NowMs();
    for (size_t i = 0; i < conns.size();) {
      Connection& c = *conns[i];
      if (c.state != Connection::State::kBusy && now >= c.deadline_ms) {
        if (c.state == Connection::State::kReading && !c.idle) {
          internal::GetSelfCounters().http_rejected.fetch_add(1, std::memory_order_relaxed);
          internal::WriteNow(c.fd, c.ssl, internal::ErrorAnswer(408, "Request timeout"));
        }
        if (c.state == Connection::State::kWriting) {
          internal::GetSelfCounters().http_write_timeouts.fetch_add(1, std::memory_order_relaxed);
        }
        CloseConn(i);
        continue;
      }
      ++i;
    }
  }
  // Stopping: no new connections; running requests see cancelled() and
  // end early.
  if (is_private) {
    close(listen_fd);  // the private copy; Stop() closes the host's
  } else {
    internal::CloseTracked(listen_fd);
  }
  listen_fd = -1;
  for (const ConnPtr& c : conns) c->cancelled = true;
  pool->Shutdown();
  TakeReturned();
  CloseAll();
  if (is_private) close(wake_fd);  // the private copy; Stop() closes the host's
}

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  return impl_->StartLocked();
}

void Server::Stop() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  impl_->StopLocked();
}

int Server::port() const { return impl_->bound_port.load(); }

}  // namespace cpprof
