// `subscribers`: the node's change-feed subscriptions and the changelogs
// they read.
#include "session.hpp"
#include "sluice/store/changelog.hpp"
#include "sluice/utc_time.hpp"

namespace sluice::node_admin {

command_result session::subscribers() {
  auto out = json::array();
  for (auto& s : owner_.feed_subscribers())
    out.push_back({{"id", s.id},
                   {"stage", s.stage},
                   {"client", s.client},
                   {"phase", s.phase},
                   {"since", utc_time(s.since_ns)},
                   {"delivered", s.delivered},
                   {"position", s.position},
                   {"head", s.head},
                   {"lag_changes", s.lag_changes},
                   {"lag_seconds", s.lag_seconds}});
  auto took = p_.feed_hub ? p_.feed_hub->snapshot_times()
                          : std::map<std::string, std::chrono::milliseconds>{};
  auto logs = json::array();
  changelog_reader log{*p_.st};
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  for (std::size_t i = 0; i < p_.plan()->stage_count(); ++i) {
    const auto& spec = p_.plan()->topo().stages[i];
    if (!spec.changelog.enabled)
      continue;
    auto span = log.span(p_.plan()->stage_id(i));
    if (!span)
      return passed_on(span.error());
    json l{{"stage", spec.name},
           {"changes", span->entries},
           {"low", span->low},
           {"head", span->head},
           {"span_seconds",
            span->oldest_ts_ns > 0
                ? static_cast<double>(now - span->oldest_ts_ns) / 1e9
                : 0.0}};
    if (spec.changelog.retain_changes > 0)
      l["retain_changes"] = spec.changelog.retain_changes;
    else
      l["retain_seconds"] =
          static_cast<double>(spec.changelog.retain_for.count()) / 1e3;
    if (auto t = took.find(spec.name); t != took.end())
      l["cold_start_seconds"] = static_cast<double>(t->second.count()) / 1e3;
    logs.push_back(std::move(l));
  }
  return json{{"subscribers", out}, {"changelogs", logs}};
}

} // namespace sluice::node_admin
