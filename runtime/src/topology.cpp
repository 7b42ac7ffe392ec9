// The topology's public face: loading a pipeline from YAML (the reading is in
// topology_loader.cpp) and the routing questions the runtime asks of it:
// which stages take an event, and at which priority. Pure functions.
#include "sluice/topology.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "topology_loader.hpp"
#include "topology_yaml.hpp"

namespace sluice {

namespace fs = std::filesystem;

// ---- runtime queries --------------------------------------------------------

bool filter_policy::matches(
    const std::map<std::string, std::string>& attributes) const {
  return std::all_of(accept.begin(), accept.end(), [&](const auto& entry) {
    const auto found = attributes.find(entry.first);
    return found != attributes.end() && entry.second.contains(found->second);
  });
}

priority priority_rule::apply(const event& ev) const {
  if (fixed)
    return *fixed;
  if (!attribute.empty()) {
    const auto found = ev.attributes.find(attribute);
    if (found != ev.attributes.end() && urgent_values.contains(found->second)) {
      return priority::urgent;
    }
  }
  return ev.priority;
}

const stage_spec* topology::find_stage(const std::string& stage_name) const {
  for (const stage_spec& stage : stages) {
    if (stage.name == stage_name)
      return &stage;
  }
  return nullptr;
}

std::vector<topology::route> topology::routes(const std::string& topic,
                                              const event& ev) const {
  std::vector<route> out;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    for (const subscription& sub : stages[i].subscribe) {
      if (sub.topic == topic && sub.filter.matches(ev.attributes)) {
        out.push_back(route{i, sub.priority.apply(ev)});
        break;
      }
    }
  }
  return out;
}

namespace {

/// "a", "a or b", "a, b or c".
std::string one_of(const std::set<std::string>& values) {
  std::string out;
  std::size_t i = 0;
  for (const std::string& v : values) {
    if (i > 0)
      out += i + 1 == values.size() ? " or " : ", ";
    out += v;
    ++i;
  }
  return out;
}

} // namespace

std::string topology::why_unrouted(const std::string& topic,
                                   const event& ev) const {
  std::set<std::string> refused; // the event's side, once each
  std::string takes;             // the subscriptions' side, in stage order
  for (const stage_spec& stage : stages) {
    for (const subscription& sub : stage.subscribe) {
      if (sub.topic != topic)
        continue;
      for (const auto& [name, values] : sub.filter.accept) {
        auto found = ev.attributes.find(name);
        if (found != ev.attributes.end() && values.contains(found->second))
          continue;
        refused.insert(found == ev.attributes.end()
                           ? name + " (missing)"
                           : name + "=" + found->second);
        takes += (takes.empty() ? "" : "; ") + stage.name + " takes " + name
                 + " " + one_of(values);
        break; // the first attribute it refuses names the subscription
      }
    }
  }
  if (takes.empty())
    return "no stage subscribes to topic '" + topic + "'";
  std::string what;
  for (const std::string& r : refused)
    what += (what.empty() ? "" : ", ") + r;
  return what + " matched no subscription: " + takes;
}

// ---- public entry points ----------------------------------------------------

namespace {

/// Runs `load`, turning an exception from a library underneath (yaml-cpp,
/// std::filesystem, allocation) into a config error naming `origin`. The
/// loader itself reports every error as a value.
template <class Load>
result<topology> guarded(const std::string& origin, Load load) {
  try {
    return load();
  } catch (const YAML::Exception& e) {
    return fail(errc::config,
                topology_yaml::location(origin, e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return fail(errc::config, origin + ": " + e.what());
  } catch (...) {
    return fail(errc::config,
                origin + ": unexpected error while loading the topology");
  }
}

} // namespace

result<topology> parse_topology(const std::string& yaml_text,
                                const std::string& origin,
                                const std::string& base_dir) {
  return guarded(origin, [&] {
    return topology_yaml::load_pipeline(yaml_text, origin, base_dir, "");
  });
}

result<topology> load_topology(const std::string& path) {
  return guarded(path, [&]() -> result<topology> {
    std::error_code ec;
    if (!fs::exists(path, ec))
      return fail(errc::not_found, path + ": no such file");
    if (!fs::is_regular_file(path, ec))
      return fail(errc::io, path + ": not a regular file");
    const auto text = topology_yaml::read_text(path);
    if (!text)
      return fail(errc::io, path + ": cannot read the file");
    const fs::path canonical = fs::weakly_canonical(path, ec);
    return topology_yaml::load_pipeline(*text, path,
                                        fs::path(path).parent_path(),
                                        ec ? path : canonical.string());
  });
}

} // namespace sluice
