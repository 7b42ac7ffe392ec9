// tally.audit: a stage implemented by a raw CAF actor (Sluice's escape
// hatch, <sluice/caf/actor_stage.hpp>). It keeps, per customer, the last
// settlement it was told of, stamped with how many it has seen.
#pragma once

#include <caf/event_based_actor.hpp>

namespace tally {

inline constexpr const char* audit_name = "tally.audit";

/// The actor's behaviour; Sluice spawns it, restarts it if it dies, and
/// sends it every event of the `audit` stage.
caf::behavior audit_actor(caf::event_based_actor* self);

} // namespace tally
