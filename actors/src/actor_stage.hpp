// Private side of actor stages (<sluice/caf/actor_stage.hpp>): the factory
// that add_actor_stage registers, and the behaviour through which a key
// actor commits what the stage's raw actor answered. Used by one key actor
// each.
#pragma once

#include <caf/fwd.hpp>

#include <string>

#include "sluice/behaviour.hpp"
#include "sluice/caf/actor_stage.hpp"

namespace sluice {

/// The registry entry behind `add_actor_stage`.
class caf_actor_stage final : public actor_stage_factory {
public:
  explicit caf_actor_stage(actor_stage_init init) : init_(std::move(init)) {}
  const actor_stage_init& init() const noexcept { return init_; }

private:
  actor_stage_init init_;
};

/// Runs in a key actor's key_processor in place of a behaviour: it applies
/// the reply (or the failure) that the key actor received for the event,
/// so the commit, retries and dead letters are those of any behaviour.
class reply_behaviour final : public behaviour {
public:
  /// The next call applies `r`.
  void expect(actor_reply r);
  /// The next call fails the event with `why`.
  void expect_failure(std::string why);

  void on_event(context& ctx, const event& ev) override;
  void on_timer(context& ctx, const event& ev) override;

private:
  actor_reply reply_;
  std::string error_;
};

/// The actor stage's raw actor made by `f` (from the registry), spawned
/// monitored by `parent`, the stage supervisor.
caf::actor spawn_actor_stage(caf::event_based_actor* parent,
                             const actor_stage_factory& f);

} // namespace sluice
