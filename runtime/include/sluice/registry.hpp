// Behaviours registered by name. Filled once at start-up, then read-only, so
// it may be shared by all actors without locking.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sluice/behaviour.hpp"
#include "sluice/result.hpp"

namespace sluice {

/// Creates a fresh behaviour instance for one key actor.
using behaviour_factory = std::function<std::unique_ptr<behaviour>()>;

/// A raw CAF actor that implements a stage, registered by name like a
/// behaviour. Opaque here, so this header stays free of CAF: the one
/// implementation is in `<sluice/caf/actor_stage.hpp>` (`add_actor_stage`).
class actor_stage_factory {
public:
  virtual ~actor_stage_factory() = default;
};

/// Name -> factory. Names are dotted, e.g. "package.parse". A name is
/// either a behaviour or an actor stage.
class registry {
public:
  /// Registers `factory` under `name`; a second registration of the same
  /// name is an error.
  result<void> add(const std::string& name, behaviour_factory factory);

  /// Registers a default-constructible behaviour type under `name`.
  template <class T>
  result<void> add(const std::string& name) {
    return add(name, [] { return std::make_unique<T>(); });
  }

  /// Registers an actor stage under `name` (see
  /// `<sluice/caf/actor_stage.hpp>`); a name registered before, of either kind,
  /// is an error.
  result<void> add_actor_stage(const std::string& name,
                               std::shared_ptr<const actor_stage_factory> f);

  /// The actor stage registered under `name`, or null.
  const actor_stage_factory* actor_stage(const std::string& name) const;

  /// True when `name` is a behaviour or an actor stage.
  bool contains(const std::string& name) const;

  /// A new instance, or `errc::not_found` naming the known behaviours.
  result<std::unique_ptr<behaviour>> create(const std::string& name) const;

  /// All registered names (behaviours and actor stages), sorted.
  std::vector<std::string> names() const;

  /// Notes a plugin loaded into it (`load_plugin`), for the message of an
  /// unknown behaviour.
  void note_plugin(std::string path);

private:
  result<void> check_new(const std::string& name) const;

  std::map<std::string, behaviour_factory> factories_;
  std::map<std::string, std::shared_ptr<const actor_stage_factory>> actors_;
  std::vector<std::string> plugins_; ///< loaded into it, in order
};

} // namespace sluice
