// The node's change feeds: subscriptions to a stage of the plan it runs,
// served by its feed hub over its store.
#include "node_impl.hpp"

#include <map>

#include "sluice/store/changelog.hpp"

namespace sluice {

result<std::unique_ptr<feed_subscription>>
node::subscribe(const std::string& stage, feed_options opts) {
  auto& p = *impl_;
  if (p.stopped || !p.feed_hub)
    return fail(errc::unavailable, "the node is stopped");
  const auto& topo = p.plan()->topo();
  const auto* spec = topo.find_stage(stage);
  if (!spec) {
    std::string known;
    for (auto& s : topo.stages)
      known += (known.empty() ? "" : ", ") + s.name;
    return fail(errc::not_found, "no stage '" + stage + "' (stages: "
                                     + (known.empty() ? "none" : known) + ")");
  }
  return p.feed_hub->subscribe(stage, spec->behaviour, std::move(opts));
}

std::vector<feed_subscriber> node::feed_subscribers() const {
  auto& p = *impl_;
  if (!p.feed_hub)
    return {};
  return p.feed_hub->subscribers();
}

void node::feed_metrics() {
  auto& p = *impl_;
  if (!p.feed_hub)
    return;
  struct per_stage {
    std::int64_t subscribers = 0, lag_changes = 0, lag_ms = 0;
  };
  std::map<std::string, per_stage> stages;
  for (auto& s : p.feed_hub->subscribers()) {
    auto& f = stages[s.stage];
    ++f.subscribers;
    f.lag_changes =
        std::max(f.lag_changes, static_cast<std::int64_t>(s.lag_changes));
    f.lag_ms =
        std::max(f.lag_ms, static_cast<std::int64_t>(s.lag_seconds * 1000));
  }
  auto took = p.feed_hub->snapshot_times();
  changelog_reader log{*p.st};
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  for (std::size_t i = 0; i < p.plan()->stage_count(); ++i) {
    const auto& spec = p.plan()->topo().stages[i];
    if (!spec.changelog.enabled)
      continue;
    labels l{{"stage", spec.name}};
    auto& f = stages[spec.name];
    auto gauge = [&](const char* name, const char* help, std::int64_t v) {
      p.metrics.get_gauge(name, l, help).set(v);
    };
    gauge("sluice_feed_subscribers", "Change-feed subscribers of the stage",
          f.subscribers);
    gauge("sluice_feed_lag_changes",
          "Changes the furthest-behind subscriber has not passed yet",
          f.lag_changes);
    gauge("sluice_feed_lag_milliseconds",
          "Age of the oldest change a subscriber has not passed yet", f.lag_ms);
    if (auto t = took.find(spec.name); t != took.end())
      gauge("sluice_feed_snapshot_milliseconds",
            "How long the last cold start (snapshot and catch-up) took",
            t->second.count());
    if (auto span = log.span(p.plan()->stage_id(i))) {
      gauge("sluice_changelog_changes", "Changes the stage's changelog keeps",
            static_cast<std::int64_t>(span->entries));
      gauge("sluice_changelog_span_milliseconds",
            "Age of the oldest change the changelog keeps: a cursor older "
            "than this gets a new snapshot",
            span->oldest_ts_ns > 0 ? now - span->oldest_ts_ns / 1000000 : 0);
    }
  }
}

} // namespace sluice
