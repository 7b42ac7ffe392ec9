// The store actor: the single LMDB writer of a node. Runs detached (its own
// thread) because commits fsync.
#pragma once

#include <caf/fwd.hpp>

#include "node_env.hpp"

namespace sluice {

/// Spawns the store actor. Group commit: it commits when its mailbox is
/// empty, when the batch holds `env.max_commit_batch` records, or at once
/// for an urgent completion. After each commit it tells every stage
/// supervisor what was consumed and appended. A storage failure stops it with
/// an error.
caf::actor spawn_store_actor(caf::actor_system& sys, const node_env& env);

} // namespace sluice
