// The console's control commands: `pause`/`resume` a stage, `drain` the
// node, `topology diff|apply` and `log-level`. Used under the node's
// `admin_mtx`.
#include <caf/send.hpp>

#include <spdlog/spdlog.h>

#include "session.hpp"
#include "sluice/audit.hpp"

namespace sluice::node_admin {

command_result session::pause(const args_t& args, bool paused) {
  auto i = stage_index(args[0]);
  if (!i)
    return i.error();
  caf::anon_send(p_.supervisor, msg::pause_atom::value, *i, paused);
  return json{{"stage", args[0]}, {"paused", paused}};
}

command_result session::drain(const args_t& args) {
  if (args[0] != p_.opts.name)
    return fail(errc::not_found,
                "no node '" + args[0] + "' (nodes: " + p_.opts.name + ")");
  p_.draining = true;
  caf::anon_send(p_.supervisor, msg::drain_atom::value);
  return json{{"node", args[0]}, {"draining", true}};
}

/// topology diff|apply PATH: a topology file on the node's machine. On a
/// cluster member, `apply` goes to every member (each reads PATH on its
/// machine) or to none.
command_result session::topology(const args_t& args) {
  if (args[0] == "apply" && p_.extension_started) {
    auto applied = p_.extension->apply_topology(args[1]);
    if (!applied)
      return passed_on(applied.error());
    return json{{"changes", applied->changes},
                {"applied", !applied->changes.empty()},
                {"members", applied->members}};
  }
  auto next = load_topology(args[1]);
  if (!next)
    return passed_on(next.error());
  std::vector<topology_change> changes;
  if (args[0] == "diff") {
    changes = diff_topologies(p_.plan()->topo(), *next);
  } else {
    auto applied = apply_topology_here(p_, std::move(*next));
    if (!applied)
      return passed_on(applied.error());
    changes = std::move(*applied);
  }
  json out = json::array();
  for (auto& c : changes)
    out.push_back(describe(c));
  return json{{"changes", out},
              {"applied", args[0] == "apply" && !changes.empty()}};
}

command_result session::log_level(const args_t& args) {
  set_log_level(args[0]); // every logger; the audit trail stays at info
  return json{{"level", args[0]}};
}

} // namespace sluice::node_admin
