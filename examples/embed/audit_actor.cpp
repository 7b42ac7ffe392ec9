#include "audit_actor.hpp"

#include "sluice/caf/actor_stage.hpp"

namespace tally {

caf::behavior audit_actor(caf::event_based_actor*) {
  return {
      [](sluice::actor_event_atom, sluice::actor_request& rq) {
        // The state is "audit: <settlement>"; an empty payload is refused
        // (the event is retried, then dead-lettered with this error).
        if (rq.ev.payload.empty())
          return caf::result<sluice::actor_reply>(caf::make_error(
              caf::sec::invalid_argument, "empty settlement for " + rq.key));
        sluice::actor_reply r;
        r.set_state("audit: " + rq.ev.payload);
        return caf::result<sluice::actor_reply>(std::move(r));
      },
  };
}

} // namespace tally
