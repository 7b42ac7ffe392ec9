// Binding a topology to a store, and routing published events.
#include "sluice/pipeline_plan.hpp"

#include "sluice/event_codec.hpp"

namespace sluice {

namespace {

std::string where(const stage_spec& s) {
  return s.source_file + ":" + std::to_string(s.source_line);
}

} // namespace

result<pipeline_plan> pipeline_plan::bind(topology topo, const registry& reg,
                                          store& st) {
  pipeline_plan plan;
  for (auto& s : topo.stages) {
    if (!reg.contains(s.behaviour)) {
      auto made = reg.create(s.behaviour); // for the message naming the known
      return fail(errc::config, where(s) + ": stages." + s.name
                                    + ".behaviour: " + made.error().message);
    }
    if (!reg.actor_stage(s.behaviour)) {
      auto made = reg.create(s.behaviour);
      if (!made)
        return made.error().within(where(s) + ": stages." + s.name
                                   + ".behaviour");
      if (auto ok = (*made)->configure(s.settings); !ok) {
        const auto& why = ok.error().message;
        return fail(errc::config,
                    where(s) + ": stages." + s.name
                        + (why.starts_with("settings.") ? "." : ".settings: ")
                        + why);
      }
    } else if (!s.settings.empty()) {
      return fail(errc::config, where(s) + ": stages." + s.name
                                    + ".settings: an actor stage takes no "
                                      "settings");
    }
    changelog_retention keep;
    if (s.changelog.enabled) {
      keep.changes = s.changelog.retain_changes;
      keep.span = s.changelog.retain_for;
    }
    auto id = st.register_stage(s.name, s.behaviour, keep);
    if (!id)
      return id.error();
    plan.ids_.push_back(*id);
  }
  plan.topo_ = std::move(topo);
  return plan;
}

result<void> pipeline_plan::check_payload_size(std::size_t size) const {
  if (size <= topo_.max_payload_bytes)
    return {};
  return fail(errc::invalid_argument,
              "payload of " + std::to_string(size)
                  + " bytes exceeds max_payload_bytes "
                  + std::to_string(topo_.max_payload_bytes));
}

std::vector<queue_append>
pipeline_plan::route(const std::string& topic, event ev,
                     std::size_t* first_stage,
                     std::string* why_unrouted) const {
  std::vector<queue_append> out;
  ev.topic = topic;
  auto routes = topo_.routes(topic, ev);
  if (routes.empty() && why_unrouted)
    *why_unrouted = topo_.why_unrouted(topic, ev);
  if (first_stage && !routes.empty())
    *first_stage = routes.front().stage;
  for (auto& r : routes) {
    ev.priority = r.priority;
    out.push_back({ids_[r.stage], r.priority, encode_event(ev), ev.key});
  }
  return out;
}

} // namespace sluice
