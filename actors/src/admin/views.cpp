// The console's views of the node and its stages: `nodes`, `shards`,
// `stages` (counts, queues, rate, latency) and `metrics`. Used under the
// node's `admin_mtx`.
#include <unistd.h>

#include "session.hpp"

namespace sluice::node_admin {

command_result session::nodes() {
  auto s = owner_.stats();
  if (!s)
    return passed_on(s.error());
  auto up = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                          - p_.started_at)
                .count();
  json n = {{"name", p_.opts.name},
            {"listen", p_.opts.listen.empty() ? "" : p_.opts.listen},
            {"status", status_text(*s)},
            {"pid", static_cast<long>(::getpid())},
            {"uptime_s", static_cast<std::int64_t>(up)},
            {"stages", p_.plan()->stage_count()},
            {"queued", s->queued},
            {"timers_pending", s->timers_pending},
            {"commits", s->commits},
            {"data_dir", p_.opts.data_dir}};
  if (s->failed)
    n["failure"] = s->failure;
  return json{{"cluster", false}, {"nodes", json::array({n})}};
}

command_result session::shards() {
  return json{
      {"cluster", false},
      {"shards",
       json::array({{{"shard", "*"}, {"owner", p_.opts.name}, {"epoch", 0}}})},
      {"note", "a single node owns every key"}};
}

command_result session::stages() {
  auto supervisors = stage_supervisors();
  if (!supervisors)
    return supervisors.error();
  json out = json::array();
  auto now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < p_.plan()->stage_count(); ++i) {
    auto& spec = p_.plan()->topo().stages[i];
    labels l{{"stage", spec.name}};
    auto& m = p_.metrics;
    auto done = m.counter_value("sluice_stage_done_total", l);
    auto depth = p_.st->queue_depth(p_.plan()->stage_id(i));
    if (!depth)
      return passed_on(depth.error());
    msg::stage_snapshot snap;
    if (i < supervisors->size()) {
      auto s = snapshot((*supervisors)[i], 0);
      if (!s)
        return s.error();
      snap = std::move(*s);
    }
    // events/s: against the oldest sample of the last minute that is at
    // least a second old, else since the start.
    auto& samples = p_.rate_samples[spec.name];
    while (!samples.empty()
           && now - samples.front().first > std::chrono::minutes(1))
      samples.pop_front();
    std::pair<std::chrono::steady_clock::time_point, std::uint64_t> base{
        p_.started_at, 0};
    if (!samples.empty()
        && now - samples.front().first >= std::chrono::seconds(1))
      base = samples.front();
    double secs = std::chrono::duration<double>(now - base.first).count();
    double rate =
        secs > 0 ? static_cast<double>(done - base.second) / secs : 0.0;
    samples.emplace_back(now, done);
    out.push_back(
        {{"name", spec.name},
         {"behaviour", spec.behaviour},
         {"paused", snap.paused},
         {"in", m.counter_value("sluice_stage_in_total", l)},
         {"done", done},
         {"skipped", m.counter_value("sluice_stage_skipped_total", l)},
         {"retried", m.counter_value("sluice_stage_retries_total", l)},
         {"dead_lettered", m.counter_value("sluice_stage_failed_total", l)},
         {"queued_urgent", (*depth)[0]},
         {"queued_normal", (*depth)[1]},
         {"in_flight", snap.in_flight},
         {"live_keys", snap.live_keys},
         {"events_per_s", rate},
         {"latency",
          {{"normal", latency(spec.name, "normal")},
           {"urgent", latency(spec.name, "urgent")}}}});
  }
  // Input no stage took, and why (feeds and publishes).
  auto unrouted = json::array();
  if (p_.unrouted)
    for (auto& e : p_.unrouted->snapshot())
      unrouted.push_back(
          {{"source", e.source}, {"why", e.why}, {"records", e.records}});
  return json{{"stages", out}, {"unrouted", unrouted}};
}

command_result session::metrics(const args_t& args) {
  auto text = owner_.prometheus();
  if (args.empty())
    return json{{"text", text}};
  std::string kept;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string::npos)
      end = text.size();
    auto line = text.substr(at, end - at);
    if (line.find(args[0]) != std::string::npos)
      kept += line + "\n";
    at = end + 1;
  }
  return json{{"text", kept}};
}

} // namespace sluice::node_admin
