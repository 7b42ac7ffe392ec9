// Private: `--tls-dir DIR` and `--http-client-certs` of `run`, `node`,
// `console` and `subscribe`: the TLS directory read and checked once (the
// error names the file; exit 2), its key file's mode checked, warnings
// logged; and the HTTPS server and client made from it. This header does
// not include httplib.h.
#pragma once

#include <memory>
#include <string>

#include "sluice/result.hpp"
#include "sluice/tls.hpp"

namespace httplib {
class Server;
class Client;
} // namespace httplib

namespace sluice::cli {

/// Whether HTTPS clients must present a certificate from the CA.
enum class client_certs {
  optional, ///< verified when presented; tokens authenticate as before
  required, ///< the TLS handshake fails without one
};

/// Loads `dir` (tls::load_dir), then logs the identity and its warnings
/// and warns when node.key is readable by others. Empty `dir`: null (TLS
/// off).
result<std::shared_ptr<const tls::identity>>
load_tls_option(const std::string& dir);

/// A client's --tls-dir: `dir`, or $SLUICE_TLS_DIR when `dir` is empty.
std::string client_tls_dir(const std::string& dir);

/// An HTTPS server with `id`'s certificate, trusting its CA for client
/// certificates; or an error naming what OpenSSL refused.
result<std::unique_ptr<httplib::Server>>
make_https_server(const tls::identity& id, client_certs clients);

/// An HTTPS client of host:port presenting `id`'s certificate and
/// checking the server's against its CA (and the host name).
std::unique_ptr<httplib::Client>
make_https_client(const tls::identity& id, const std::string& host, int port);

} // namespace sluice::cli
