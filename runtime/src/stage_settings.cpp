// Reading a stage's behaviour settings: typed values with errors that name
// the setting and what it expected.
#include "sluice/stage_settings.hpp"

#include <charconv>

#include "topology_yaml.hpp"

namespace sluice {

namespace {

error bad_setting(std::string_view name, const std::string& what) {
  return error{errc::config, "settings." + std::string(name) + ": " + what};
}

} // namespace

void stage_settings::set(std::string name, std::vector<std::string> values) {
  values_[std::move(name)] = std::move(values);
}

bool stage_settings::contains(std::string_view name) const {
  return values_.find(name) != values_.end();
}

result<std::string> stage_settings::one(std::string_view name) const {
  auto it = values_.find(name);
  if (it->second.size() != 1)
    return bad_setting(name, "expected one value, got a list of "
                                 + std::to_string(it->second.size()));
  return it->second.front();
}

result<std::string> stage_settings::text(std::string_view name,
                                         std::string fallback) const {
  if (!contains(name))
    return fallback;
  return one(name);
}

result<std::uint64_t> stage_settings::integer(std::string_view name,
                                              std::uint64_t fallback,
                                              std::uint64_t min,
                                              std::uint64_t max) const {
  if (!contains(name))
    return fallback;
  auto v = one(name);
  if (!v)
    return v.error();
  std::uint64_t n = 0;
  const char* end = v->data() + v->size();
  auto [ptr, ec] = std::from_chars(v->data(), end, n);
  if (v->empty() || ec != std::errc() || ptr != end || n < min || n > max)
    return bad_setting(name, "expected an integer in [" + std::to_string(min)
                                 + ", " + std::to_string(max) + "], got '" + *v
                                 + "'");
  return n;
}

result<bool> stage_settings::boolean(std::string_view name,
                                     bool fallback) const {
  if (!contains(name))
    return fallback;
  auto v = one(name);
  if (!v)
    return v.error();
  if (*v == "true")
    return true;
  if (*v == "false")
    return false;
  return bad_setting(name, "expected true or false, got '" + *v + "'");
}

result<std::chrono::milliseconds>
stage_settings::duration(std::string_view name,
                         std::chrono::milliseconds fallback) const {
  if (!contains(name))
    return fallback;
  auto v = one(name);
  if (!v)
    return v.error();
  std::string_view text = *v;
  std::chrono::milliseconds scale{0};
  if (!text.empty() && text.back() == 'h')
    scale = std::chrono::hours(1);
  if (scale.count() > 0) {
    std::uint64_t n = 0;
    const char* end = text.data() + text.size() - 1;
    auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (ec == std::errc() && ptr == end && n > 0 && n < 100'000)
      return scale * static_cast<std::int64_t>(n);
  } else if (auto d = topology_yaml::parse_duration(text);
             d && d->count() > 0) {
    return *d;
  }
  return bad_setting(name, "expected a positive duration such as 500ms, 30s, "
                           "5m or 1h, got '"
                               + *v + "'");
}

std::vector<std::string> stage_settings::list(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

result<void>
stage_settings::only(std::initializer_list<std::string_view> known) const {
  for (const auto& [name, values] : values_) {
    bool ok = false;
    for (auto k : known)
      ok = ok || k == name;
    if (ok)
      continue;
    if (known.size() == 0)
      return bad_setting(name, "this behaviour takes no settings");
    std::vector<std::string> names(known.begin(), known.end());
    return bad_setting(name, "unknown setting (known: "
                                 + topology_yaml::join(names, ", ") + ")");
  }
  return {};
}

std::string stage_settings::describe() const {
  if (values_.empty())
    return "(none)";
  std::vector<std::string> parts;
  for (const auto& [name, values] : values_)
    parts.push_back(name + " "
                    + (values.size() == 1
                           ? values.front()
                           : "[" + topology_yaml::join(values, ", ") + "]"));
  return topology_yaml::join(parts, ", ");
}

} // namespace sluice
