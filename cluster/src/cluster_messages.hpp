// Every message of the cluster component, named in one place. Between
// nodes only (cluster_atom, std::string ClusterMessage) and (gossip_atom,
// std::string) cross the wire, so nothing needs CAF type registration.
#pragma once

#include <caf/atom.hpp>

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

} // namespace sluice::cluster
