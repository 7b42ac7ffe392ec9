// Which keys and states a subscription takes: a key prefix, a list of
// keys, a filter policy on the state's JSON fields (the topology's filter
// language: every listed field has one of its values), and one on the
// attributes of the event behind a change.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::feed {

/// A subscription's filters. Empty parts take everything.
class filter {
public:
  /// Reads the filters; invalid_argument naming what is wrong in `policy`
  /// (not a JSON object, a value list that is not strings, numbers or
  /// booleans, an empty field name).
  /// `attribute_policy`: the same on the attributes of the event behind
  /// a change (values are strings).
  static result<filter> make(std::string prefix, std::vector<std::string> keys,
                             const std::string& policy,
                             const std::string& attribute_policy = {});

  /// The prefix every key taken starts with.
  const std::string& prefix() const noexcept { return prefix_; }
  /// True when `key` passes the prefix and the key list.
  bool takes_key(std::string_view key) const;
  /// True when the state (as JSON) passes the policy; always true with no
  /// policy. A state that is not a JSON object has no fields: it passes
  /// only an empty policy.
  bool takes_state(const std::string& state_json) const;
  /// True when the attributes pass the attribute policy (every listed
  /// attribute present with one of its values); always true with none.
  bool
  takes_attributes(const std::map<std::string, std::string>& attributes) const;
  /// True when there is a policy on state fields.
  bool on_state() const noexcept { return !accept_.empty(); }

private:
  std::string prefix_;
  std::set<std::string, std::less<>> keys_;
  /// Field path (split at dots) -> accepted values, each as JSON text
  /// except strings, which are their bare text.
  std::vector<std::pair<std::vector<std::string>, std::set<std::string>>>
      accept_;
  /// Attribute -> accepted values.
  std::map<std::string, std::set<std::string>> attributes_;
};

} // namespace sluice::feed
