// The admin actor: the node's end of the debug console, published with
// CAF's middleman on `node_options::listen`. It checks the token and
// answers each AdminRequest with node::admin. Detached: the commands block
// on questions to the stages.
#pragma once

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>

#include "sluice/node.hpp"
#include "sluice/result.hpp"

namespace sluice {

/// The message a console sends: (admin_atom, AdminRequest bytes) ->
/// AdminResponse bytes.
using admin_atom = caf::atom_constant<caf::atom("admin")>;

/// Spawns the admin actor for `n`, unpublished (a cluster's endpoint
/// passes console requests on to it).
caf::actor spawn_admin(caf::actor_system& sys, node& n,
                       const std::string& token,
                       std::shared_ptr<spdlog::logger> log);

/// Spawns the admin actor for `n` and publishes it on `listen` (HOST:PORT;
/// port 0 picks one), logging to `log`. `token` is not empty (node::start
/// checked both before loading the middleman). Returns the port, or an
/// error naming the address.
result<std::uint16_t> publish_admin(caf::actor_system& sys, node& n,
                                    const std::string& listen,
                                    const std::string& token,
                                    std::shared_ptr<spdlog::logger> log,
                                    caf::actor& out);

/// Splits "HOST:PORT"; an error names the text when it is not that.
result<std::pair<std::string, std::uint16_t>>
parse_host_port(const std::string& text);

} // namespace sluice
