// Private (actors, cluster): how a node's actor system reaches other
// processes: CAF's middleman, plain or with CAF's TLS module (mutual TLS
// with the cluster's CA). One place decides; every publish and connect of
// the node, the cluster and the console goes through it.
#pragma once

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "sluice/result.hpp"

namespace sluice {

namespace tls {
struct identity;
} // namespace tls

/// What CAF's TLS module reads its files from: copies in memory of the
/// identity's PEM texts (CAF reads them at every new connection and aborts
/// on a file it cannot load; these never change). Keep it alive as long as
/// the actor system.
class tls_files {
public:
  explicit tls_files(const tls::identity& id);
  ~tls_files();
  tls_files(const tls_files&) = delete;
  tls_files& operator=(const tls_files&) = delete;

  std::string ca_path() const;
  std::string cert_path() const;
  std::string key_path() const;

private:
  int ca_ = -1, cert_ = -1, key_ = -1;
};

/// Loads CAF's middleman into `cfg` and, with `id`, CAF's TLS module set
/// up for mutual TLS with it (never its anonymous mode). Returns the files
/// to keep alive (null without TLS), or errc::io when they cannot be made.
result<std::shared_ptr<tls_files>>
configure_transport(caf::actor_system_config& cfg, const tls::identity* id);

/// True when `sys` speaks TLS to other processes.
bool uses_tls(caf::actor_system& sys);

/// The actor that opens connections (connect_atom) for `sys`: the TLS
/// module's when TLS is on.
caf::io::middleman_actor connector(caf::actor_system& sys);

/// Publishes `whom` on host:port (TLS when on); the port, or why not.
caf::expected<std::uint16_t> publish_actor(caf::actor_system& sys,
                                           const caf::actor& whom,
                                           std::uint16_t port,
                                           const std::string& host);

/// The actor published at host:port (TLS when on).
caf::expected<caf::actor> remote_actor_at(caf::actor_system& sys,
                                          const std::string& host,
                                          std::uint16_t port);

} // namespace sluice
