// The root of a node's supervision tree: starts the stage supervisors and
// feed sources, restarts a crashed stage supervisor (one-for-one, at most
// R restarts in T seconds, then the node stops loudly), and stops the node
// when the store fails.
#pragma once

#include <caf/fwd.hpp>

#include <string>
#include <vector>

#include "node_env.hpp"

namespace sluice {

caf::actor spawn_node_supervisor(caf::actor_system& sys, node_env env,
                                 caf::actor store_actor,
                                 std::vector<std::string> feeds);

} // namespace sluice
