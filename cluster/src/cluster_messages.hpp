// Every message of the cluster component, named in one place. Between
// nodes only (cluster_atom, std::string ClusterMessage) and (gossip_atom,
// std::string) cross the wire, so nothing needs CAF type registration.
#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <memory>

#include "controller/controller_table.hpp"
#include "sluice/pipeline_plan.hpp"

namespace sluice::cluster {

/// Between members: (cluster_atom, ClusterMessage bytes) -> reply bytes.
using cluster_atom = caf::atom_constant<caf::atom("cluster")>;
/// Between members, one-way: (gossip_atom, ClusterMessage{gossip} bytes).
using gossip_atom = caf::atom_constant<caf::atom("gossip")>;
/// To itself, every heartbeat interval.
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
/// Hand-off sender -> cluster actor: (handoff_atom, transfer id, caf::error):
/// no error when the hand-off finished, else what stopped it (a "sluice"
/// error, see caf_error.hpp).
using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
/// Hand-off sender -> cluster actor: (relay_atom, member name, bytes) ->
/// the member's answer. Requests to other members go through the actor
/// that holds the links (measured: a blocking actor's remote requests
/// were lost after a peer restarted).
using relay_atom = caf::atom_constant<caf::atom("relay")>;
/// Cluster actor -> itself: a graceful leave begins.
using leave_atom = caf::atom_constant<caf::atom("leave")>;

/// Controller agent -> cluster actor: (table_atom, table_update): the
/// controller's shard table changed.
using table_atom = caf::atom_constant<caf::atom("ctable")>;
/// Controller agent -> cluster actor: (lease_atom, bool): the member's
/// lease is (not) confirmed.
using lease_atom = caf::atom_constant<caf::atom("lease")>;
/// Controller agent -> cluster actor: (isr_done_atom, u32 shard, member,
/// bool add, bool ok, std::string why): an isr change asked is answered.
using isr_done_atom = caf::atom_constant<caf::atom("isrdone")>;
/// Placement -> cluster actor: (repair_atom, u32 shard, std::string why): a
/// stage read a damaged record of a shard owned here.
using repair_atom = caf::atom_constant<caf::atom("repair")>;
/// Controller agent -> cluster actor: (repair_done_atom, u32 shard, bool
/// given, std::string why not): the shard went to an in-sync replica, or
/// could not.
using repair_done_atom = caf::atom_constant<caf::atom("repairdone")>;

/// Controller agent -> cluster actor: (left_isr_atom, bool ok): this
/// member's request to leave the isr of shards it gives up ended; roles
/// are planned again (after a pause when it failed).
using left_isr_atom = caf::atom_constant<caf::atom("leftisr")>;
/// Extension -> cluster actor: (agent_atom, agent_handle): the member's
/// agent in etcd runs (the extension owns it, and destroys it only after
/// the actor stopped).
using agent_atom = caf::atom_constant<caf::atom("agent")>;

/// Extension -> cluster actor: (topology_atom, path) -> JSON answer of a
/// cluster-wide `topology apply` (topology_apply.cpp).
using topology_atom = caf::atom_constant<caf::atom("topology")>;
/// A member's topology check, done on its own thread -> cluster actor:
/// (topology_done_atom, request id, TopologyVerdict bytes).
using topology_done_atom = caf::atom_constant<caf::atom("topodone")>;
/// Extension -> cluster actor: (plan_atom, plan_update): a live apply
/// changed the plan and the node supervisor.
using plan_atom = caf::atom_constant<caf::atom("plan")>;

/// The node's new plan and supervisor after a live apply.
struct plan_update {
  const pipeline_plan* plan = nullptr;
  caf::actor supervisor;
};

/// The controller's table as the agent read it (shared, immutable).
struct table_update {
  std::shared_ptr<const shard_table> table;
};

class controller_agent;
struct agent_handle {
  controller_agent* agent = nullptr;
};

} // namespace sluice::cluster

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::cluster::table_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::cluster::agent_handle)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::cluster::plan_update)
