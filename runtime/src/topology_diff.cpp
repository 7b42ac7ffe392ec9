// Comparing two topologies field by field, with every difference in words.
#include "sluice/topology_diff.hpp"

#include <algorithm>
#include <sstream>

#include "topology_yaml.hpp"

namespace sluice {

namespace {

std::string comma_list(const std::vector<std::string>& items) {
  return topology_yaml::join(items, ", ");
}

std::string describe(const changelog_policy& c) {
  if (!c.enabled)
    return "none";
  if (c.retain_changes > 0)
    return "retain " + std::to_string(c.retain_changes) + " changes";
  return "retain " + std::to_string(c.retain_for.count()) + "ms";
}

std::string describe(const filter_policy& f) {
  std::vector<std::string> parts;
  for (auto& [attr, values] : f.accept)
    parts.push_back(attr + " in [" + comma_list({values.begin(), values.end()})
                    + "]");
  return comma_list(parts);
}

std::string describe(const priority_rule& p) {
  if (p.fixed)
    return std::string("always ") + to_string(*p.fixed);
  if (!p.attribute.empty())
    return "urgent when " + p.attribute + " in ["
           + comma_list({p.urgent_values.begin(), p.urgent_values.end()}) + "]";
  return {};
}

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

std::string describe(const retry_policy& r) {
  return std::to_string(r.max_attempts) + " attempts, backoff "
         + ms(r.backoff_min) + ".." + ms(r.backoff_max);
}

std::string describe(const supervision_policy& s) {
  return std::string(to_string(s.strategy)) + ", "
         + std::to_string(s.max_restarts) + " restarts within " + ms(s.within);
}

std::string describe_stage(const stage_spec& s) {
  std::vector<std::string> subs;
  for (auto& sub : s.subscribe)
    subs.push_back(describe(sub));
  auto out = "behaviour " + s.behaviour + ", takes " + comma_list(subs);
  if (!s.emits.empty())
    out += ", emits " + comma_list(s.emits);
  return out;
}

/// Records "field a -> b" when the two differ.
struct field_diff {
  std::vector<topology_change>& out;
  std::string subject;
  void operator()(const std::string& field, const std::string& a,
                  const std::string& b) {
    if (a != b)
      out.push_back({topology_change::kind::changed, subject,
                     field + " " + (a.empty() ? "(none)" : a) + " -> "
                         + (b.empty() ? "(none)" : b)});
  }
};

void diff_stage(const stage_spec& a, const stage_spec& b,
                std::vector<topology_change>& out) {
  auto subject = "stage " + a.name;
  field_diff f{out, subject};
  f("behaviour", a.behaviour, b.behaviour);
  f("emits", comma_list(a.emits), comma_list(b.emits));
  f("retry", describe(a.retry), describe(b.retry));
  f("supervision", describe(a.supervision), describe(b.supervision));
  f("stuck_after", ms(a.stuck_after), ms(b.stuck_after));
  f("skip_unchanged", a.skip_unchanged ? "true" : "false",
    b.skip_unchanged ? "true" : "false");
  f("state", a.stateless ? "none" : "kept", b.stateless ? "none" : "kept");
  f("max_in_flight", std::to_string(a.max_in_flight),
    std::to_string(b.max_in_flight));
  f("max_live_keys", std::to_string(a.max_live_keys),
    std::to_string(b.max_live_keys));
  f("passivate_after", ms(a.passivate_after), ms(b.passivate_after));
  f("changelog", describe(a.changelog), describe(b.changelog));
  f("settings", a.settings.describe(), b.settings.describe());
  // Subscriptions by topic (a stage takes a topic's event from its first
  // matching subscription; several per topic are compared in order).
  auto by_topic = [](const stage_spec& s) {
    std::map<std::string, std::vector<std::string>> m;
    for (auto& sub : s.subscribe)
      m[sub.topic].push_back(describe(sub));
    return m;
  };
  auto sa = by_topic(a), sb = by_topic(b);
  for (auto& [topic, subs] : sa) {
    auto sub_subject = subject + ": subscription to " + topic;
    auto i = sb.find(topic);
    if (i == sb.end())
      out.push_back(
          {topology_change::kind::removed, sub_subject, comma_list(subs)});
    else if (i->second != subs)
      out.push_back({topology_change::kind::changed, sub_subject,
                     comma_list(subs) + " -> " + comma_list(i->second)});
  }
  for (auto& [topic, subs] : sb)
    if (!sa.count(topic))
      out.push_back({topology_change::kind::added,
                     subject + ": subscription to " + topic, comma_list(subs)});
}

/// A source as the diff shows it: never its connection string (it may
/// hold a password).
std::string describe_source(const source_spec& s) {
  std::string out = "slot " + s.slot + ", tables " + comma_list(s.tables)
                    + " -> topic " + s.topic;
  if (s.create_slot)
    out += ", create_slot";
  if (s.snapshot)
    out += ", snapshot";
  return out + ", poll " + ms(s.poll) + ", batch " + std::to_string(s.batch);
}

void diff_sources(const std::vector<source_spec>& from,
                  const std::vector<source_spec>& to,
                  std::vector<topology_change>& out) {
  auto named = [](const std::vector<source_spec>& v, const std::string& n) {
    auto it = std::find_if(v.begin(), v.end(),
                           [&](const source_spec& s) { return s.name == n; });
    return it == v.end() ? nullptr : &*it;
  };
  for (auto& s : from)
    if (auto* t = named(to, s.name); !t)
      out.push_back({topology_change::kind::removed, "source " + s.name,
                     describe_source(s)});
    else if (describe_source(s) != describe_source(*t)
             || s.connection != t->connection || s.attributes != t->attributes)
      out.push_back(
          {topology_change::kind::changed, "source " + s.name,
           describe_source(s) + " -> " + describe_source(*t)
               + (s.connection != t->connection ? " (its connection changed)"
                                                : "")});
  for (auto& t : to)
    if (!named(from, t.name))
      out.push_back({topology_change::kind::added, "source " + t.name,
                     describe_source(t)});
}

} // namespace

std::string describe(const subscription& s) {
  auto out = s.topic;
  if (auto f = describe(s.filter); !f.empty())
    out += " where " + f;
  if (auto p = describe(s.priority); !p.empty())
    out += ", " + p;
  return out;
}

std::vector<topology_change> diff_topologies(const topology& from,
                                             const topology& to) {
  std::vector<topology_change> out;
  field_diff pipeline{out, "pipeline"};
  pipeline("name", from.name, to.name);
  pipeline("feed topic", from.feed.topic, to.feed.topic);
  pipeline("feed key", from.feed.key, to.feed.key);
  pipeline("feed attributes", comma_list(from.feed.attributes),
           comma_list(to.feed.attributes));
  pipeline("max_payload_bytes", std::to_string(from.max_payload_bytes),
           std::to_string(to.max_payload_bytes));
  pipeline("supervision", describe(from.supervision), describe(to.supervision));
  pipeline("reconciler interval", ms(from.reconcile_every),
           ms(to.reconcile_every));
  for (auto& t : from.topics)
    if (std::find(to.topics.begin(), to.topics.end(), t) == to.topics.end())
      out.push_back({topology_change::kind::removed, "topic " + t, {}});
  for (auto& t : to.topics)
    if (std::find(from.topics.begin(), from.topics.end(), t)
        == from.topics.end())
      out.push_back({topology_change::kind::added, "topic " + t, {}});
  for (auto& s : from.stages)
    if (!to.find_stage(s.name))
      out.push_back({topology_change::kind::removed, "stage " + s.name,
                     describe_stage(s)});
  for (auto& s : to.stages)
    if (!from.find_stage(s.name))
      out.push_back(
          {topology_change::kind::added, "stage " + s.name, describe_stage(s)});
  for (auto& s : from.stages)
    if (auto* t = to.find_stage(s.name))
      diff_stage(s, *t, out);
  diff_sources(from.sources, to.sources, out);
  return out;
}

std::string describe(const topology_change& c) {
  const char* mark = c.what == topology_change::kind::added     ? "+ "
                     : c.what == topology_change::kind::removed ? "- "
                                                                : "~ ";
  return mark + c.subject + (c.detail.empty() ? "" : ": " + c.detail);
}

} // namespace sluice
