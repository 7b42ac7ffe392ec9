// Subscription filters: key prefix, key list, and a filter policy on the
// state's JSON fields.
#include "sluice/feed/feed_filter.hpp"

#include <nlohmann/json.hpp>

namespace sluice::feed {

namespace {

error bad_filter(const std::string& what) {
  return {errc::invalid_argument, "bad filter: " + what};
}

/// A scalar as the policy compares it: strings bare, others as JSON.
std::string policy_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::vector<std::string> split_field_path(const std::string& field) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto dot = field.find('.', start);
    out.push_back(field.substr(start, dot - start));
    if (dot == std::string::npos)
      return out;
    start = dot + 1;
  }
}

/// The attribute policy `{"tier": ["gold"]}`: attribute -> accepted
/// values, each a string.
result<std::map<std::string, std::set<std::string>>>
attribute_policy_of(const std::string& policy) {
  auto bad = [](const std::string& what) {
    return error{errc::invalid_argument, "bad attributes filter: " + what};
  };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(policy);
  } catch (const nlohmann::json::parse_error& e) {
    return bad("not JSON (" + std::string(e.what()) + ")");
  }
  if (!doc.is_object() || doc.empty())
    return bad("expected a JSON object of attribute -> accepted values, "
               "e.g. {\"tier\": [\"gold\", \"silver\"]}");
  std::map<std::string, std::set<std::string>> out;
  for (auto& item : doc.items()) {
    const auto& name = item.key();
    if (name.empty())
      return bad("an attribute has an empty name");
    auto values = item.value().is_array()
                      ? item.value()
                      : nlohmann::json::array({item.value()});
    if (values.empty())
      return bad("attribute '" + name + "' accepts no value");
    auto& accepted = out[name];
    for (auto& v : values) {
      if (!v.is_string())
        return bad("attribute '" + name
                   + "': values are strings (attributes are text), not "
                   + v.dump());
      accepted.insert(v.get<std::string>());
    }
  }
  return out;
}

} // namespace

result<filter> filter::make(std::string prefix, std::vector<std::string> keys,
                            const std::string& policy,
                            const std::string& attribute_policy) {
  filter f;
  f.prefix_ = std::move(prefix);
  f.keys_.insert(keys.begin(), keys.end());
  if (!attribute_policy.empty()) {
    auto a = attribute_policy_of(attribute_policy);
    if (!a)
      return a.error();
    f.attributes_ = std::move(*a);
  }
  if (policy.empty())
    return f;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(policy);
  } catch (const nlohmann::json::parse_error& e) {
    return bad_filter("not JSON (" + std::string(e.what()) + ")");
  }
  if (!doc.is_object())
    return bad_filter(
        "expected a JSON object of field -> accepted values, e.g. "
        "{\"ecosystem\": [\"npm\"]}");
  for (auto& item : doc.items()) {
    const std::string& field = item.key();
    const auto& values = item.value();
    auto path = split_field_path(field);
    for (auto& part : path)
      if (part.empty())
        return bad_filter("field '" + field + "' has an empty name part");
    std::set<std::string> accepted;
    auto take = [&](const nlohmann::json& v) -> result<void> {
      if (!v.is_string() && !v.is_number() && !v.is_boolean())
        return bad_filter("field '" + field
                          + "': values are strings, numbers or booleans, not "
                          + v.dump());
      accepted.insert(policy_text(v));
      return {};
    };
    if (values.is_array()) {
      if (values.empty())
        return bad_filter("field '" + field + "' accepts no value");
      for (auto& v : values)
        if (auto r = take(v); !r)
          return r.error();
    } else if (auto r = take(values); !r) {
      return r.error();
    }
    f.accept_.emplace_back(std::move(path), std::move(accepted));
  }
  return f;
}

bool filter::takes_key(std::string_view key) const {
  if (key.substr(0, prefix_.size()) != prefix_)
    return false;
  return keys_.empty() || keys_.find(key) != keys_.end();
}

bool filter::takes_attributes(
    const std::map<std::string, std::string>& attributes) const {
  for (auto& [name, accepted] : attributes_) {
    auto i = attributes.find(name);
    if (i == attributes.end() || !accepted.count(i->second))
      return false;
  }
  return true;
}

bool filter::takes_state(const std::string& state_json) const {
  if (accept_.empty())
    return true;
  auto doc = nlohmann::json::parse(state_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return false;
  for (auto& [path, accepted] : accept_) {
    const nlohmann::json* at = &doc;
    for (auto& part : path) {
      if (!at->is_object())
        return false;
      auto i = at->find(part);
      if (i == at->end())
        return false;
      at = &*i;
    }
    if (at->is_object() || at->is_array() || at->is_null()
        || !accepted.count(policy_text(*at)))
      return false;
  }
  return true;
}

} // namespace sluice::feed
