// Private: how the cluster actor publishes its state for other threads
// (the `cluster_view`: the console's `nodes` and `shards` as JSON, the
// drained check, a fatal refusal). Called on the cluster actor only.
#pragma once

#include <string>

#include "cluster_state.hpp"

namespace sluice::cluster {

/// Renders the member table and the shard counts into the view, sets the
/// member gauges, and says whether the member is busy.
void publish_view(cluster_actor* self);

/// The member cannot go on (e.g. the cluster refused its secret): logs
/// `why` and keeps the first such reason in the view for the node to stop.
void give_up(cluster_actor* self, const std::string& why);

} // namespace sluice::cluster
