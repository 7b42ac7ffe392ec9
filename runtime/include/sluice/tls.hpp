// TLS material: a TLS directory (ca.pem, node.pem, node.key) read and
// checked once at start, and a cluster's own certificate authority (what
// `sluice certs init` and `sluice certs issue` make). OpenSSL's libcrypto;
// no CAF. Give the identity to `node_options::tls` to encrypt and
// authenticate member links and console links (mutual TLS).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::tls {

/// The files of a TLS directory.
inline constexpr const char* ca_file = "ca.pem";     ///< trusted CAs
inline constexpr const char* cert_file = "node.pem"; ///< this side's chain
inline constexpr const char* key_file = "node.key";  ///< its private key

/// A TLS directory's contents as read at start: later changes to the files
/// are not seen until a restart (rotation: docs/OPERATIONS.md).
struct identity {
  std::string dir;      ///< the directory it was read from
  std::string ca_pem;   ///< the trusted CA certificates (several in a rotation)
  std::string cert_pem; ///< this side's certificate, then any intermediates
  std::string key_pem;  ///< its private key (PEM, not encrypted)
  std::string name;     ///< the certificate's common name
  std::vector<std::string> hosts; ///< its subject alternative names
  std::chrono::system_clock::time_point not_after; ///< node.pem's expiry
  std::size_t trusted_cas = 0;                     ///< certificates in ca.pem
};

/// Reads and checks `dir`: the three files present and readable, PEM that
/// parses, every certificate valid now (neither expired nor not yet
/// valid), ca.pem holding CA certificates only, node.pem signed by one of
/// them, node.key its key (and not encrypted). Each error names the file
/// and the problem (errc::not_found, io, config).
result<identity> load_dir(const std::string& dir);

/// Warnings about an identity that works: a certificate that expires within
/// 30 days (with the date).
std::vector<std::string> warnings(const identity& id);

/// What `init_ca` makes.
struct ca_options {
  std::string name = "Sluice cluster CA"; ///< the CA's common name
  int days = 3650;                        ///< validity
};

/// Makes a certificate authority in `dir` (created 0700 if missing, with
/// its parents):
/// ca.pem (its certificate) and ca.key (its private key, 0600). Refuses to
/// overwrite either file.
result<void> init_ca(const std::string& dir, const ca_options& o = {});

/// What `issue` makes.
struct issue_options {
  std::string name; ///< the common name: a member's name, "console", ...
  /// DNS names and IP addresses (subject alternative names) a client may
  /// check: the addresses the member listens and serves HTTPS on.
  std::vector<std::string> hosts;
  int days = 825; ///< validity
  /// When validity starts, from now: an hour back tolerates clock skew
  /// between members (tests move it further, to make expired certificates).
  std::chrono::seconds starts{-3600};
};

/// Makes `out_dir` (created 0700 if missing, with its parents) a complete
/// TLS directory: a
/// new P-256 key (node.key, 0600), a certificate for it signed by the CA
/// in `ca_dir` (node.pem; for server and client use) and a copy of the
/// CA's certificate (ca.pem). Refuses to overwrite node.pem or node.key.
result<void> issue(const std::string& ca_dir, const issue_options& o,
                   const std::string& out_dir);

} // namespace sluice::tls
