// The behaviour registry: name -> factory.
#include "sluice/registry.hpp"

namespace sluice {

result<void> registry::add(const std::string& name, behaviour_factory factory) {
  if (name.empty())
    return fail(errc::invalid_argument, "behaviour name must not be empty");
  if (!factory)
    return fail(errc::invalid_argument,
                "behaviour '" + name + "' has no factory");
  if (!factories_.emplace(name, std::move(factory)).second)
    return fail(errc::invalid_argument,
                "behaviour '" + name + "' is registered twice");
  return {};
}

bool registry::contains(const std::string& name) const {
  return factories_.count(name) > 0;
}

result<std::unique_ptr<behaviour>>
registry::create(const std::string& name) const {
  auto i = factories_.find(name);
  if (i == factories_.end()) {
    std::string known;
    for (auto& [n, f] : factories_)
      known += (known.empty() ? "" : ", ") + n;
    return fail(errc::not_found, "unknown behaviour '" + name
                                     + "' (registered: "
                                     + (known.empty() ? "none" : known) + ")");
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

std::vector<std::string> registry::names() const {
  std::vector<std::string> out;
  for (auto& [n, f] : factories_)
    out.push_back(n);
  return out;
}

} // namespace sluice
