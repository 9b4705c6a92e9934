// SPDX-License-Identifier: Apache-2.0
//
// Optional TLS for the own listener (Options::tls_cert_file and
// tls_key_file), with OpenSSL: TLS 1.2 and 1.3 only, the library's default
// cipher suites, no client certificates. The event loop drives every
// session on non-blocking sockets: TlsRead/TlsWrite never block and say
// when the session needs the socket writable to go on (a handshake inside
// a read). Loop thread only; not signal-safe.

#ifndef CPPROF_SRC_HTTP_TLS_H_
#define CPPROF_SRC_HTTP_TLS_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "cpprof/status.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace cpprof {
namespace internal {

class TlsContext {
 public:
  // Loads a PEM certificate chain and its private key. Fails with a message
  // naming the file and OpenSSL's reason.
  static std::unique_ptr<TlsContext> Load(const std::string& cert_file, const std::string& key_file,
                                          Status* status);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server session on connected socket `fd`, or null.
  SSL* NewSession(int fd) const;

 private:
  TlsContext() = default;
  SSL_CTX* ctx_ = nullptr;
};

// Reads into buf: > 0 bytes read; 0 the peer closed; -1 with errno EAGAIN
// (nothing now; *want_write when the session must write first) or another
// error.
ssize_t TlsRead(SSL* ssl, void* buf, size_t len, bool* want_write);
// Writes from buf: > 0 bytes written; -1 with errno EAGAIN (try again when
// writable) or another error.
ssize_t TlsWrite(SSL* ssl, const void* buf, size_t len);
// Bytes already decrypted and buffered in the session.
size_t TlsPending(SSL* ssl);
// Sends close_notify if it can without blocking.
void TlsShutdown(SSL* ssl);
void TlsFree(SSL* ssl);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_TLS_H_
