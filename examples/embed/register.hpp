// Registers the team's behaviour and actor stage, for the linked binary
// and the plugin alike.
#pragma once

#include "audit_actor.hpp"
#include "sluice/caf/actor_stage.hpp"
#include "tally_behaviour.hpp"

namespace tally {

inline bool register_all(sluice::registry& reg) {
  return reg.add<sum_behaviour>(sum_behaviour::name)
         && sluice::add_actor_stage(reg, audit_name, audit_actor);
}

} // namespace tally
