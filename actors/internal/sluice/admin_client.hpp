// The console's end of the admin protocol: connects to a node's admin
// actor over CAF networking and sends it commands. No CAF in this header.
// Used from one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sluice/admin.hpp"
#include "sluice/result.hpp"

namespace sluice {

namespace tls {
struct identity;
} // namespace tls

/// A connection to one node's admin actor (`node_options::listen`).
class admin_client {
public:
  /// Connects to `host_port` ("HOST:PORT"), presenting `token` with each
  /// command; with `tls`, over mutual TLS with that identity (a node with
  /// TLS on refuses a plain console). An address that is not HOST:PORT, or
  /// a node that does not answer there, is an error naming the address.
  static result<std::unique_ptr<admin_client>>
  connect(const std::string& host_port, std::string token,
          std::shared_ptr<const tls::identity> tls = nullptr);
  ~admin_client();

  /// Runs `command` with `args` on the node. A lost connection is
  /// `admin_code::unreachable`; a wrong token `admin_code::refused`.
  admin_answer call(const std::string& command,
                    const std::vector<std::string>& args);

  /// The address it was connected to.
  const std::string& address() const noexcept;

  struct impl;

private:
  explicit admin_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice
