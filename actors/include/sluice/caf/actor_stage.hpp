// The escape hatch: a stage implemented by a team's own raw CAF actor,
// for work the behaviour API does not fit (asynchronous calls to another
// service, batching across keys, an existing CAF actor). Opt-in: this is
// the one public header that includes CAF (a team's actor is CAF code by
// nature), so it sits apart in sluice/caf/; nothing else public includes it.
//
//   caf::behavior audit(caf::event_based_actor* self) {
//     return {[=](sluice::actor_event_atom, sluice::actor_request& rq) {
//       sluice::actor_reply r;
//       r.set_state(rq.state + rq.ev.payload);
//       return r;
//     }};
//   }
//   sluice::add_actor_stage(reg, "audit.log", audit);
//
// and in the topology, `behaviour: audit.log` names it like any behaviour.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice {

/// The atom of the request an actor stage's raw actor gets for each event:
/// `(actor_event_atom, actor_request) -> actor_reply`.
using actor_event_atom = caf::atom_constant<caf::atom("sl_event")>;

/// One event of one key, sent to the stage's raw actor. A key's events come in
/// order, one at a time: the next one is sent when this one is answered.
/// Different keys' events arrive concurrently.
struct actor_request {
  std::string stage;      ///< the stage's name
  std::string key;        ///< the key the event belongs to
  sluice::event ev;       ///< the event (ev.timer is never set)
  bool has_state = false; ///< the key has committed state
  std::string state;      ///< its bytes, when has_state
};

/// What handling one event did. Committed like a behaviour's effects: the
/// state change, the emits and the event's removal from its queue in one
/// LMDB transaction, or none of them.
class actor_reply {
public:
  /// Replaces the key's state with `bytes`.
  void set_state(std::string bytes) {
    change_ = change::set;
    state_ = std::move(bytes);
  }
  /// Removes the key's state.
  void clear_state() {
    change_ = change::clear;
    state_.clear();
  }
  /// Emits `ev` to `topic`; key, tenant and priority default to the
  /// handled event's when left empty, as for `context::emit`.
  void emit(std::string topic, sluice::event ev) {
    emits_.emplace_back(std::move(topic), std::move(ev));
  }

  /// How the state changes: kept (the default), replaced or removed.
  enum class change : std::uint8_t { keep, set, clear };
  /// The state change this reply asks for.
  change state_change() const noexcept { return change_; }
  /// The new state, for `change::set`.
  const std::string& state() const noexcept { return state_; }
  /// The emitted events, in order.
  const std::vector<std::pair<std::string, sluice::event>>&
  emits() const noexcept {
    return emits_;
  }

private:
  change change_ = change::keep;
  std::string state_;
  std::vector<std::pair<std::string, sluice::event>> emits_;
};

/// Makes the behaviour of a stage's raw actor. Called once when the stage
/// starts and again for each restart.
using actor_stage_init = std::function<caf::behavior(caf::event_based_actor*)>;

/// Registers a stage implemented by a raw CAF actor under `name`.
///
/// The stage supervisor spawns one such actor (monitored) and sends it
/// every event as a request. A reply commits its effects. An error reply
/// (`caf::make_error(...)`), a thrown exception or the actor's death fails
/// the event: it is retried with the stage's backoff up to
/// `retry.max_attempts`, then dead-lettered, as a behaviour's failure is.
/// A dead actor is restarted at once, counted against the stage's restart
/// intensity (`supervision:`); beyond it the stage stops and the node
/// supervisor decides. The actor may answer later through
/// `self->make_response_promise()`, but must answer every request: the
/// key's next event waits for it. It must not block.
result<void> add_actor_stage(registry& reg, const std::string& name,
                             actor_stage_init init);

} // namespace sluice

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actor_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actor_reply)
