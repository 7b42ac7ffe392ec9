// The node's transport: CAF's middleman, plain or with CAF's TLS module;
// and two repairs of that module (at the end of this file).
#include "sluice/transport.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "sluice/private_files.hpp"
#include "sluice/tls.hpp"

namespace sluice {

namespace {

/// A sealed in-memory file holding `text`.
int memory_file(const char* name, const std::string& text) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(std::string("memfd_create: ")
                             + std::generic_category().message(errno));
  if (auto w = write_all(fd, text, name); !w) {
    ::close(fd);
    throw std::runtime_error(w.error().message);
  }
  return fd;
}

std::string fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

/// "127.0.0.1:4711" for the peer of a socket ("?" when unknown).
std::string peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return "?";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "?";
}

/// Why a handshake failed, from the error queue (left as it is: the
/// caller reads it after us).
std::string handshake_failure(SSL* ssl, int ret) {
  auto e = SSL_get_error(ssl, ret);
  if (e == SSL_ERROR_SSL) {
    if (auto code = ERR_peek_last_error()) {
      const char* reason = ERR_reason_error_string(code);
      std::string why = reason ? reason : "TLS error";
      if (why == "wrong version number" || why == "http request"
          || why == "packet length too long" || why == "record layer failure")
        why = "the peer does not speak TLS (" + why + ")";
      else if (why.rfind("tlsv1 alert", 0) == 0
               || why.rfind("sslv3 alert", 0) == 0
               || why.rfind("tlsv13 alert", 0) == 0)
        why = "the peer refused this side's certificate or the handshake ("
              + why + ")";
      auto verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK)
        why += ": " + std::string(X509_verify_cert_error_string(verify));
      return why;
    }
    return "TLS error";
  }
  if (e == SSL_ERROR_SYSCALL)
    return "the peer closed the connection during the TLS handshake";
  return {};
}

} // namespace

tls_files::tls_files(const tls::identity& id)
    : ca_(memory_file("sluice-ca.pem", id.ca_pem)),
      cert_(memory_file("sluice-node.pem", id.cert_pem)),
      key_(memory_file("sluice-node.key", id.key_pem)) {}

tls_files::~tls_files() {
  for (int fd : {ca_, cert_, key_})
    if (fd >= 0)
      ::close(fd);
}

std::string tls_files::ca_path() const {
  return fd_path(ca_);
}
std::string tls_files::cert_path() const {
  return fd_path(cert_);
}
std::string tls_files::key_path() const {
  return fd_path(key_);
}

result<std::shared_ptr<tls_files>>
configure_transport(caf::actor_system_config& cfg, const tls::identity* id) {
  cfg.load<caf::io::middleman>();
  if (!id)
    return std::shared_ptr<tls_files>{};
  std::shared_ptr<tls_files> files;
  try {
    files = std::make_shared<tls_files>(*id);
  } catch (const std::exception& e) {
    return fail(errc::io, std::string("TLS: ") + e.what());
  }
  cfg.load<caf::openssl::manager>();
  // All three set: CAF's module requires a certificate from both sides,
  // signed by the CA (its anonymous mode is used only when none is set).
  cfg.set("openssl.certificate", files->cert_path());
  cfg.set("openssl.key", files->key_path());
  cfg.set("openssl.cafile", files->ca_path());
  return files;
}

bool uses_tls(caf::actor_system& sys) {
  return sys.has_openssl_manager();
}

caf::io::middleman_actor connector(caf::actor_system& sys) {
  return uses_tls(sys) ? sys.openssl_manager().actor_handle()
                       : sys.middleman().actor_handle();
}

caf::expected<std::uint16_t> publish_actor(caf::actor_system& sys,
                                           const caf::actor& whom,
                                           std::uint16_t port,
                                           const std::string& host) {
  if (uses_tls(sys))
    return caf::openssl::publish(whom, port, host.c_str(), true);
  return sys.middleman().publish(whom, port, host.c_str(), true);
}

caf::expected<caf::actor> remote_actor_at(caf::actor_system& sys,
                                          const std::string& host,
                                          std::uint16_t port) {
  if (uses_tls(sys))
    return caf::openssl::remote_actor(sys, host, port);
  return sys.middleman().remote_actor(host, port);
}

} // namespace sluice

// Two repairs of CAF 0.17's TLS module, by wrapping libssl's calls (the
// executable's definitions come first in symbol lookup; each calls libssl's
// own and returns its result unchanged):
//
// 1. It never empties the thread's OpenSSL error queue (it would only read
//    it to log, and its logging is compiled out). A failure on one
//    connection (a redundant one CAF closes, a refused peer) leaves errors
//    that make the next SSL_get_error of *another* connection on the same
//    thread say SSL_ERROR_SSL for what is a harmless "want read": CAF then
//    closes a healthy link (measured: a member's second connection to a
//    peer dropped both). OpenSSL requires an empty queue before each I/O
//    call; these wrappers empty it.
// 2. It drops a connection whose handshake fails without a word: the
//    handshake wrappers log who was refused and why (from the queue, left
//    as it is for the caller).
//
// They apply to every TLS call of the process: CAF's links and the HTTPS
// endpoint (cpp-httplib), which is what both want.
namespace {

template <class Fn>
Fn next_ssl(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

/// One handshake step: the queue emptied, libssl's step, a log line (the
/// peer and the reason) when it failed for good.
int logged_handshake(SSL* ssl, int (*step)(SSL*), bool accepting) {
  ERR_clear_error();
  int ret = step(ssl);
  if (ret <= 0)
    if (auto why = sluice::handshake_failure(ssl, ret); !why.empty()) {
      auto peer = sluice::peer_of(SSL_get_fd(ssl));
      if (accepting)
        spdlog::warn("tls: refused a connection from {}: {}", peer, why);
      else
        spdlog::warn("tls: connection to {} failed: {}", peer, why);
    }
  return ret;
}

} // namespace

extern "C" int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto next = next_ssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return next(ssl, buf, num);
}

extern "C" int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto next =
      next_ssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return next(ssl, buf, num);
}

extern "C" int SSL_accept(SSL* ssl) {
  static const auto next = next_ssl<int (*)(SSL*)>("SSL_accept");
  return logged_handshake(ssl, next, true);
}

extern "C" int SSL_connect(SSL* ssl) {
  static const auto next = next_ssl<int (*)(SSL*)>("SSL_connect");
  return logged_handshake(ssl, next, false);
}
