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

/// Name -> factory. Names are dotted, e.g. "package.parse".
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

  bool contains(const std::string& name) const;

  /// A new instance, or `errc::not_found` naming the known behaviours.
  result<std::unique_ptr<behaviour>> create(const std::string& name) const;

  /// All registered names, sorted.
  std::vector<std::string> names() const;

private:
  std::map<std::string, behaviour_factory> factories_;
};

} // namespace sluice
