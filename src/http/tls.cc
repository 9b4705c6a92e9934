// SPDX-License-Identifier: Apache-2.0

#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>

namespace cpprof {
namespace internal {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

}  // namespace

std::unique_ptr<TlsContext> TlsContext::Load(const std::string& cert_file, const std::string& key_file,
                                             Status* status) {
  std::unique_ptr<TlsContext> t(new TlsContext());
  t->ctx_ = SSL_CTX_new(TLS_server_method());
  if (t->ctx_ == nullptr) {
    *status = Status(StatusCode::kUnavailable, "TLS: cannot create a context: " + OpenSslError());
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(t->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(t->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(t->ctx_, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(t->ctx_, cert_file.c_str()) != 1) {
    *status = Status(StatusCode::kInvalidArgument,
                     "TLS: cannot load the certificate " + cert_file + ": " + OpenSslError());
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(t->ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *status = Status(StatusCode::kInvalidArgument, "TLS: cannot load the key " + key_file + ": " + OpenSslError());
    return nullptr;
  }
  if (SSL_CTX_check_private_key(t->ctx_) != 1) {
    *status = Status(StatusCode::kInvalidArgument,
                     "TLS: the key " + key_file + " does not match the certificate " + cert_file);
    return nullptr;
  }
  *status = Status();
  return t;
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

SSL* TlsContext::NewSession(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

ssize_t TlsRead(SSL* ssl, void* buf, size_t len, bool* want_write) {
  *want_write = false;
  size_t n = 0;
  ERR_clear_error();
  if (SSL_read_ex(ssl, buf, len, &n) == 1) return static_cast<ssize_t>(n);
  switch (SSL_get_error(ssl, 0)) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      *want_write = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default:
      ERR_clear_error();
      errno = ECONNRESET;  // a failed handshake (plain HTTP on the TLS port), a bad record
      return -1;
  }
}

ssize_t TlsWrite(SSL* ssl, const void* buf, size_t len) {
  size_t n = 0;
  ERR_clear_error();
  if (SSL_write_ex(ssl, buf, len, &n) == 1) return static_cast<ssize_t>(n);
  switch (SSL_get_error(ssl, 0)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    default:
      ERR_clear_error();
      errno = EPIPE;
      return -1;
  }
}

size_t TlsPending(SSL* ssl) { return static_cast<size_t>(SSL_pending(ssl)); }

void TlsShutdown(SSL* ssl) {
  if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
  ERR_clear_error();
}

void TlsFree(SSL* ssl) { SSL_free(ssl); }

}  // namespace internal
}  // namespace cpprof
