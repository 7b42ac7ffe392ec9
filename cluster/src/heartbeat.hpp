// Private: the cluster actor's heartbeat, and gossip. Every heartbeat it
// runs the failure detector, keeps a link to every member, gossips the
// member table to each ready link and drives the forwarder, hand-offs and
// a graceful leave. Called on the cluster actor only.
#pragma once

#include "cluster_state.hpp"

namespace sluice::cluster {

/// One heartbeat; arms the next one.
void heartbeat(cluster_actor* self);

/// A member's gossip: it was heard from, and its table is merged into ours.
void on_gossip(cluster_actor* self, const v1::Gossip& g);

} // namespace sluice::cluster
