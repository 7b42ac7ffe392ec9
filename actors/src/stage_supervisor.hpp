// The stage supervisor: reads its stage's durable queue against credits,
// dispatches events to key actors (spawned on demand, passivated when
// idle) and restarts a key actor that crashes.
#pragma once

#include <caf/fwd.hpp>

#include "node_env.hpp"

namespace sluice {

/// Spawns the supervisor of stage `stage_index`, linked to `parent`;
/// `paused`: it dispatches nothing until resumed (`pause_atom`).
caf::actor spawn_stage_supervisor(caf::event_based_actor* parent, node_env env,
                                  std::size_t stage_index,
                                  caf::actor store_actor, bool paused = false);

} // namespace sluice
