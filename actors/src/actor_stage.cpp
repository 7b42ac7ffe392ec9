// Actor stages: registration, spawning, and applying a reply as a
// behaviour's effects.
#include "actor_stage.hpp"
#include "exception_reason.hpp"

#include <caf/event_based_actor.hpp>

#include <stdexcept>

namespace sluice {

namespace {

/// Runs the team's init. An exception the actor does not catch ends it
/// with the exception's text as the reason (the init may set its own
/// handler instead).
caf::behavior run_actor_stage(caf::event_based_actor* self,
                              actor_stage_init init) {
  self->set_exception_handler(exception_reason);
  return init(self);
}

} // namespace

result<void> add_actor_stage(registry& reg, const std::string& name,
                             actor_stage_init init) {
  if (!init)
    return fail(errc::invalid_argument,
                "actor stage '" + name + "' has no init function");
  return reg.add_actor_stage(
      name, std::make_shared<caf_actor_stage>(std::move(init)));
}

void reply_behaviour::expect(actor_reply r) {
  reply_ = std::move(r);
  error_.clear();
}

void reply_behaviour::expect_failure(std::string why) {
  reply_ = actor_reply{};
  error_ = why.empty() ? "failed" : std::move(why);
}

void reply_behaviour::on_event(context& ctx, const event&) {
  if (!error_.empty())
    throw std::runtime_error(error_);
  switch (reply_.state_change()) {
  case actor_reply::change::keep:
    break;
  case actor_reply::change::set:
    ctx.set_state(reply_.state());
    break;
  case actor_reply::change::clear:
    ctx.clear_state();
    break;
  }
  for (auto& [topic, ev] : reply_.emits())
    ctx.emit(topic, ev);
}

void reply_behaviour::on_timer(context& ctx, const event& ev) {
  on_event(ctx, ev);
}

caf::actor spawn_actor_stage(caf::event_based_actor* parent,
                             const actor_stage_factory& f) {
  auto& init = dynamic_cast<const caf_actor_stage&>(f).init();
  return parent->spawn<caf::monitored>(run_actor_stage, init);
}

} // namespace sluice
