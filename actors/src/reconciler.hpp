// The reconciler: a periodic actor that finds keys stuck half-way through
// the pipeline (see sluice/reconcile.hpp) and re-drives them through the
// store actor.
#pragma once

#include <caf/fwd.hpp>

#include "node_env.hpp"

namespace sluice {

/// Spawns the reconciler, detached (its scan reads LMDB) and linked to
/// `parent`; it scans every `topology::reconcile_every`.
caf::actor spawn_reconciler(caf::event_based_actor* parent, node_env env,
                            caf::actor store_actor);

} // namespace sluice
