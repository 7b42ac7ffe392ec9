// Reading a pipeline's stage definitions: name, behaviour, subscriptions
// (filters, priority rules), emits and the optional policies, in the order
// they are checked; a repeated stage name is an error naming both places.
// Pure functions of the YAML read.
#include <algorithm>
#include <limits>

#include "topology_loader.hpp"
#include "topology_values.hpp"

namespace sluice::topology_yaml {

namespace {

constexpr std::uint64_t max_in_flight_limit = 1'000'000;
/// A changelog's `retain` when none is given: the last million changes.
constexpr std::uint64_t default_changelog_retain = 1'000'000;
constexpr std::uint64_t max_changelog_retain = 1'000'000'000'000;

} // namespace

result<stage_spec> stage_reader::read(const field& f) {
  auto m = f.fields({"name", "behaviour", "subscribe", "emits", "retry",
                     "skip_unchanged", "max_in_flight", "max_live_keys",
                     "passivate_after", "supervision", "stuck_after",
                     "changelog", "state", "settings"});
  if (!m)
    return m.error();
  stage_spec stage;
  auto name = m->require("name");
  if (!name)
    return name.error();
  auto checked = check_stage_name(*name);
  if (!checked)
    return checked.error();
  stage.name = std::move(*checked);
  const auto [at, fresh] = stage_at_.emplace(stage.name, f.where());
  if (!fresh) {
    return name->fail("duplicate stage name '" + stage.name
                      + "' (first defined at " + at->second + ")");
  }
  auto behaviour = m->require("behaviour");
  if (!behaviour)
    return behaviour.error();
  auto behaviour_name = behaviour->text();
  if (!behaviour_name)
    return behaviour_name.error();
  stage.behaviour = std::move(*behaviour_name);
  auto subscribe = m->require("subscribe");
  if (!subscribe)
    return subscribe.error();
  auto items = subscribe->items();
  if (!items)
    return items.error();
  for (const field& item : *items) {
    auto sub = read_subscription(item);
    if (!sub)
      return sub.error();
    stage.subscribe.push_back(std::move(*sub));
  }
  if (stage.subscribe.empty())
    return subscribe->fail("list at least one subscription");
  if (auto r = read_options(*m, stage); !r)
    return r.error();
  stage.source_file = f.file();
  stage.source_line = f.line();
  return stage;
}

/// The stage's optional fields, in the order they are checked.
result<void> stage_reader::read_options(const strict_map& m,
                                        stage_spec& stage) {
  if (auto v = m.get("emits")) {
    auto emits = read_emits(*v);
    if (!emits)
      return emits.error();
    stage.emits = std::move(*emits);
  }
  if (auto v = m.get("retry")) {
    auto retry = parse_retry(*v);
    if (!retry)
      return retry.error();
    stage.retry = *retry;
  }
  if (auto v = m.get("supervision")) {
    auto s = parse_supervision(*v, stage.supervision);
    if (!s)
      return s.error();
    stage.supervision = *s;
  }
  if (auto v = m.get("stuck_after")) {
    auto d = parse_duration_field(*v);
    if (!d)
      return d.error();
    stage.stuck_after = *d;
  }
  if (auto v = m.get("skip_unchanged")) {
    auto b = v->boolean();
    if (!b)
      return b.error();
    stage.skip_unchanged = *b;
  }
  if (auto v = m.get("max_in_flight")) {
    auto n = v->integer(1, max_in_flight_limit);
    if (!n)
      return n.error();
    stage.max_in_flight = static_cast<std::uint32_t>(*n);
  }
  if (auto v = m.get("max_live_keys")) {
    auto n = v->integer(1, u32_max);
    if (!n)
      return n.error();
    stage.max_live_keys = static_cast<std::uint32_t>(*n);
  }
  if (auto v = m.get("passivate_after")) {
    auto text = v->text();
    if (!text)
      return text.error();
    auto d = parse_duration(*text);
    if (*text == "never")
      stage.passivate_after = std::chrono::milliseconds(0);
    else if (d && d->count() > 0)
      stage.passivate_after = *d;
    else
      return v->fail("bad duration '" + *text
                     + "' (expected a positive number with ms, s or m, "
                       "e.g. 2m, or never)");
  }
  if (auto v = m.get("changelog")) {
    auto c = read_changelog(*v);
    if (!c)
      return c.error();
    stage.changelog = *c;
  }
  if (auto v = m.get("state")) {
    auto r = read_state(*v, stage);
    if (!r)
      return r.error();
  }
  if (auto v = m.get("settings")) {
    auto s = read_settings(*v);
    if (!s)
      return s.error();
    stage.settings = std::move(*s);
  }
  return {};
}

/// `state: none | kept` (default kept). A stage without state cannot
/// skip unchanged payloads (the hash is kept in the state) nor offer its
/// state as a change feed: such a stage is refused here, naming both.
result<void> stage_reader::read_state(const field& f, stage_spec& stage) {
  auto text = f.text();
  if (!text)
    return text.error();
  if (*text == "kept")
    return {};
  if (*text != "none")
    return f.fail("bad state '" + *text
                  + "' (expected none, for a stage whose behaviour keeps "
                    "no state between events, or kept, the default)");
  if (stage.skip_unchanged)
    return f.fail("state: none cannot go with skip_unchanged: true (the "
                  "payload hash it compares is kept in the key's state); "
                  "drop one of them");
  if (stage.changelog.enabled)
    return f.fail("state: none cannot go with changelog: (a change feed "
                  "serves the stage's state); drop one of them");
  stage.stateless = true;
  return {};
}

/// `settings: { name: value, name: [a, b] }`: scalars or lists of them,
/// read as text; the behaviour checks their meaning when it is bound.
result<stage_settings> stage_reader::read_settings(const field& f) {
  auto entries = f.entries();
  if (!entries)
    return entries.error();
  stage_settings out;
  for (const auto& [name, value] : *entries) {
    auto key = name.text();
    if (!key)
      return key.error();
    auto items = value.items_or_scalar();
    if (!items)
      return items.error();
    std::vector<std::string> values;
    for (const field& item : *items) {
      auto text = item.text();
      if (!text)
        return text.error();
      values.push_back(std::move(*text));
    }
    out.set(std::move(*key), std::move(values));
  }
  return out;
}

result<changelog_policy> stage_reader::read_changelog(const field& f) {
  auto m = f.fields({"retain"});
  if (!m)
    return m.error();
  changelog_policy c;
  c.enabled = true;
  c.retain_changes = default_changelog_retain;
  auto v = m->get("retain");
  if (!v)
    return c;
  auto text = v->text();
  if (!text)
    return text.error();
  if (text->find_first_not_of("0123456789") == std::string::npos) {
    auto n = v->integer(1, max_changelog_retain);
    if (!n)
      return n.error();
    c.retain_changes = *n;
    return c;
  }
  // A log is kept for hours or days, too: h and d besides ms, s and m.
  auto d = parse_duration(*text);
  for (auto [unit, factor] : {std::pair{'h', 3600}, std::pair{'d', 86400}})
    if (!d && text->size() > 1 && text->back() == unit)
      if (auto n = parse_duration(text->substr(0, text->size() - 1) + "s"))
        d = *n * factor;
  if (!d || d->count() <= 0)
    return v->fail("bad retain '" + *text
                   + "' (expected a count of changes, e.g. 100000, or a "
                     "span with ms, s, m, h or d, e.g. 10m)");
  c.retain_changes = 0;
  c.retain_for = *d;
  return c;
}

result<subscription> stage_reader::read_subscription(const field& f) {
  auto m = f.fields({"topic", "filter", "priority", "priority_from"});
  if (!m)
    return m.error();
  subscription sub;
  auto topic = m->require("topic");
  if (!topic)
    return topic.error();
  auto topic_name = topic->text();
  if (!topic_name)
    return topic_name.error();
  sub.topic = std::move(*topic_name);
  topic_refs_.push_back(*topic);
  if (auto v = m->get("filter")) {
    auto filter = parse_filter(*v);
    if (!filter)
      return filter.error();
    sub.filter = std::move(*filter);
  }
  const auto fixed = m->get("priority");
  const auto from = m->get("priority_from");
  if (fixed && from)
    return from->fail("cannot be combined with priority; use one of them");
  if (fixed) {
    auto p = parse_priority(*fixed);
    if (!p)
      return p.error();
    sub.priority.fixed = *p;
  }
  if (from)
    if (auto r = parse_priority_from(*from, sub.priority); !r)
      return r.error();
  return sub;
}

result<std::vector<std::string>> stage_reader::read_emits(const field& f) {
  auto items = f.items();
  if (!items)
    return items.error();
  std::vector<std::string> topics;
  for (const field& item : *items) {
    auto topic = item.text();
    if (!topic)
      return topic.error();
    if (std::find(topics.begin(), topics.end(), *topic) != topics.end()) {
      return item.fail("topic '" + *topic + "' is listed twice");
    }
    topic_refs_.push_back(item);
    topics.push_back(std::move(*topic));
  }
  return topics;
}

} // namespace sluice::topology_yaml
