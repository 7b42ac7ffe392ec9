// A console command's run on a node: dispatch by name, and the helpers the
// commands share (stage lookup, questions to the stage supervisors). Used
// under the node's `admin_mtx`.
#include "session.hpp"

namespace sluice::node_admin {

command_result session::run(const std::string& cmd, const args_t& args) {
  if (cmd == "nodes")
    return nodes();
  if (cmd == "shards")
    return shards();
  if (cmd == "leave" || cmd == "forget" || cmd == "digests")
    return fail(errc::unavailable,
                cmd
                    + ": this node is not a cluster member (a member runs as "
                      "`sluice node`)");
  if (cmd == "stages")
    return stages();
  if (cmd == "subscribers")
    return subscribers();
  if (cmd == "actors")
    return actors(args);
  if (cmd == "inspect")
    return inspect(args);
  if (cmd == "trace")
    return trace(args);
  if (cmd == "dlq")
    return dlq(args);
  if (cmd == "pause" || cmd == "resume")
    return pause(args, cmd == "pause");
  if (cmd == "drain")
    return drain(args);
  if (cmd == "metrics")
    return metrics(args);
  if (cmd == "log-level")
    return log_level(args);
  if (cmd == "topology")
    return topology(args);
  return fail(errc::invalid_argument, "unknown command '" + cmd + "'");
}

result<std::size_t> session::stage_index(const std::string& name) const {
  auto& stages = p_.plan()->topo().stages;
  std::string known;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].name == name)
      return i;
    known += (known.empty() ? "" : ", ") + stages[i].name;
  }
  return fail(errc::not_found,
              "no stage '" + name + "' (stages: " + known + ")");
}

result<std::vector<caf::actor>> session::stage_supervisors() {
  return ask<std::vector<caf::actor>>(p_.supervisor, "the node",
                                      msg::stages_atom::value);
}

result<msg::stage_snapshot> session::snapshot(const caf::actor& stage,
                                              std::size_t limit) {
  return ask<msg::stage_snapshot>(stage, "the stage", msg::actors_atom::value,
                                  limit);
}

std::string session::status_text(const node_stats& s) const {
  if (s.failed)
    return "failed";
  if (p_.draining)
    return s.queued == 0 ? "drained" : "draining";
  return "up";
}

json session::latency(const std::string& stage, const char* prio) {
  auto& h = p_.metrics.get_histogram("sluice_stage_latency_seconds",
                                     {{"stage", stage}, {"priority", prio}});
  return {{"count", h.count()},
          {"p50_ms", static_cast<double>(h.quantile_us(0.5)) / 1000.0},
          {"p99_ms", static_cast<double>(h.quantile_us(0.99)) / 1000.0}};
}

} // namespace sluice::node_admin
