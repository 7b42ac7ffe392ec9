// The behaviour registry: name -> factory.
#include "sluice/registry.hpp"

#include <algorithm>

namespace sluice {

result<void> registry::check_new(const std::string& name) const {
  if (name.empty())
    return fail(errc::invalid_argument, "behaviour name must not be empty");
  if (contains(name))
    return fail(errc::invalid_argument,
                "behaviour '" + name + "' is registered twice");
  return {};
}

result<void> registry::add(const std::string& name, behaviour_factory factory) {
  if (auto r = check_new(name); !r)
    return r;
  if (!factory)
    return fail(errc::invalid_argument,
                "behaviour '" + name + "' has no factory");
  factories_.emplace(name, std::move(factory));
  return {};
}

result<void>
registry::add_actor_stage(const std::string& name,
                          std::shared_ptr<const actor_stage_factory> f) {
  if (auto r = check_new(name); !r)
    return r;
  if (!f)
    return fail(errc::invalid_argument,
                "actor stage '" + name + "' has no factory");
  actors_.emplace(name, std::move(f));
  return {};
}

const actor_stage_factory*
registry::actor_stage(const std::string& name) const {
  auto i = actors_.find(name);
  return i == actors_.end() ? nullptr : i->second.get();
}

bool registry::contains(const std::string& name) const {
  return factories_.count(name) > 0 || actors_.count(name) > 0;
}

result<std::unique_ptr<behaviour>>
registry::create(const std::string& name) const {
  if (actors_.count(name) > 0)
    return fail(errc::invalid_argument,
                "'" + name + "' is an actor stage, not a behaviour");
  auto i = factories_.find(name);
  if (i == factories_.end()) {
    std::string known;
    for (auto& n : names())
      known += (known.empty() ? "" : ", ") + n;
    std::string loaded;
    for (auto& p : plugins_)
      loaded += (loaded.empty() ? "" : ", ") + p;
    return fail(
        errc::not_found,
        "unknown behaviour '" + name
            + "' (registered: " + (known.empty() ? "none" : known) + "; "
            + (loaded.empty() ? "no plugin loaded: a behaviour built as a "
                                "shared library needs --plugin PATH"
                              : "plugins loaded: " + loaded)
            + ")");
  }
  try {
    auto b = i->second();
    if (!b)
      return fail(errc::behaviour,
                  "factory of behaviour '" + name + "' returned null");
    return b;
  } catch (const std::exception& e) {
    return fail(errc::behaviour,
                "factory of behaviour '" + name + "' threw: " + e.what());
  }
}

void registry::note_plugin(std::string path) {
  plugins_.push_back(std::move(path));
}

std::vector<std::string> registry::names() const {
  std::vector<std::string> out;
  for (auto& [n, f] : factories_)
    out.push_back(n);
  for (auto& [n, f] : actors_)
    out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace sluice
