// The topology schema's leaf values read from located YAML fields: stage and
// topic names, priorities, filters, priority rules, retry and supervision
// policies, durations. Pure functions; errors name the field.
#include "topology_values.hpp"

#include <algorithm>
#include <limits>
#include <set>

#include "sluice/supervision.hpp"

namespace sluice::topology_yaml {

namespace {

constexpr std::size_t max_stage_name_length = 64;

bool is_stage_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

result<std::set<std::string>> parse_value_set(const field& f) {
  auto items = f.items_or_scalar();
  if (!items)
    return items.error();
  std::set<std::string> values;
  for (const field& item : *items) {
    auto text = item.text();
    if (!text)
      return text.error();
    values.insert(std::move(*text));
  }
  if (values.empty())
    return f.fail("an empty list accepts nothing; list at least one value");
  return values;
}

result<void> parse_backoff(const field& f, retry_policy& retry) {
  auto read = f.text();
  if (!read)
    return read.error();
  const std::string text = std::move(*read);
  const std::string usage =
      " (expected MIN..MAX with ms, s or m units, e.g. 200ms..30s)";
  const std::size_t dots = text.find("..");
  if (dots == std::string::npos)
    return f.fail("bad backoff '" + text + "'" + usage);
  const auto low = parse_duration(std::string_view(text).substr(0, dots));
  const auto high = parse_duration(std::string_view(text).substr(dots + 2));
  if (!low || !high)
    return f.fail("bad duration in backoff '" + text + "'" + usage);
  if (*low > *high)
    return f.fail("backoff minimum exceeds its maximum in '" + text + "'");
  retry.backoff_min = *low;
  retry.backoff_max = *high;
  return {};
}

} // namespace

result<std::string> check_stage_name(const field& f) {
  auto name = f.text();
  if (!name)
    return name;
  if (!std::all_of(name->begin(), name->end(), is_stage_name_char)) {
    return f.fail("bad stage name '" + *name + "' (use only a-z, 0-9 and _)");
  }
  if (name->size() > max_stage_name_length) {
    return f.fail("stage name is " + std::to_string(name->size())
                  + " characters long (at most "
                  + std::to_string(max_stage_name_length) + ")");
  }
  return name;
}

result<std::string> check_topic_name(const field& f) {
  auto name = f.text();
  if (!name)
    return name;
  const auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  if (std::any_of(name->begin(), name->end(), blank)) {
    return f.fail("bad topic name '" + *name + "' (no whitespace allowed)");
  }
  return name;
}

result<priority> parse_priority(const field& f) {
  auto text = f.text();
  if (!text)
    return text.error();
  if (*text == "urgent")
    return priority::urgent;
  if (*text == "normal")
    return priority::normal;
  return f.fail("bad priority '" + *text + "' (expected urgent or normal)");
}

result<filter_policy> parse_filter(const field& f) {
  auto entries = f.entries();
  if (!entries)
    return entries.error();
  filter_policy policy;
  for (const auto& [key, value] : *entries) {
    auto values = parse_value_set(value);
    if (!values)
      return values.error();
    policy.accept.emplace(key.node().Scalar(), std::move(*values));
  }
  return policy;
}

result<void> parse_priority_from(const field& f, priority_rule& rule) {
  auto m = f.fields({"attribute", "urgent"});
  if (!m)
    return m.error();
  auto attribute = m->require("attribute");
  if (!attribute)
    return attribute.error();
  auto text = attribute->text();
  if (!text)
    return text.error();
  rule.attribute = std::move(*text);
  auto urgent = m->require("urgent");
  if (!urgent)
    return urgent.error();
  auto values = parse_value_set(*urgent);
  if (!values)
    return values.error();
  rule.urgent_values = std::move(*values);
  return {};
}

result<std::chrono::milliseconds> parse_duration_field(const field& f) {
  auto text = f.text();
  if (!text)
    return text.error();
  auto d = parse_duration(*text);
  if (!d || d->count() == 0)
    return f.fail("bad duration '" + *text
                  + "' (expected a positive number with ms, s or m, e.g. 30s)");
  return *d;
}

result<supervision_policy> parse_supervision(const field& f,
                                             supervision_policy base) {
  auto m = f.fields({"strategy", "max_restarts", "within"});
  if (!m)
    return m.error();
  if (auto v = m->get("strategy")) {
    auto text = v->text();
    if (!text)
      return text.error();
    auto s = parse_restart_strategy(*text);
    if (!s)
      return v->fail("unknown strategy '" + *text
                     + "' (expected one_for_one, one_for_all or rest_for_one)");
    base.strategy = *s;
  }
  if (auto v = m->get("max_restarts")) {
    auto n = v->integer(0, u32_max);
    if (!n)
      return n.error();
    base.max_restarts = static_cast<std::uint32_t>(*n);
  }
  if (auto v = m->get("within")) {
    auto d = parse_duration_field(*v);
    if (!d)
      return d.error();
    base.within = *d;
  }
  return base;
}

result<retry_policy> parse_retry(const field& f) {
  auto m = f.fields({"max_attempts", "backoff"});
  if (!m)
    return m.error();
  retry_policy retry;
  if (auto v = m->get("max_attempts")) {
    auto n = v->integer(1, u32_max);
    if (!n)
      return n.error();
    retry.max_attempts = static_cast<std::uint32_t>(*n);
  }
  if (auto v = m->get("backoff"))
    if (auto r = parse_backoff(*v, retry); !r)
      return r.error();
  return retry;
}

} // namespace sluice::topology_yaml
