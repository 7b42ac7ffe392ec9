// The key actor: the one actor that owns a (stage, key) pair and processes
// that key's events in order.
#pragma once

#include <caf/fwd.hpp>

#include <string>

#include "node_env.hpp"

namespace sluice {

/// The behaviour of a key actor for `key` in stage `stage_index`. It loads
/// the key's state on first use, runs the behaviour per event and sends
/// each outcome to `store_actor` at the event's priority. In an actor
/// stage, `raw_actor` (the stage's raw CAF actor) handles each event in
/// place of a behaviour; it is null otherwise.
caf::behavior key_actor(caf::event_based_actor* self, node_env env,
                        std::size_t stage_index, std::string key,
                        caf::actor store_actor, caf::actor raw_actor);

} // namespace sluice
