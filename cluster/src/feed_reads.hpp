// Private: change feeds through any member (issue 16). Another member's
// FeedRead answered from this member's changelog (on the cluster actor),
// and the feed_members a subscription here reads every member through:
// this one from its store, the others by FeedRead over the links.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <string>

#include "cluster_state.hpp"
#include "cluster_view.hpp"
#include "sluice/feed/feed_members.hpp"

namespace sluice::cluster {

/// Answers a FeedRead from this member's store: FeedData, or a Reply with
/// the error (a stage unknown here, or one without a changelog).
std::string receive_feed_read(cluster_actor* self, const v1::FeedRead& r);

/// The members a subscription to this node reads: this one (`self`) from
/// `st`, the others (members of `view` that are up and hold shards)
/// through the cluster actor.
std::shared_ptr<feed::feed_members>
make_feed_members(caf::actor_system& sys, caf::actor cluster_actor,
                  const store& st, std::string self,
                  std::shared_ptr<cluster_view> view);

} // namespace sluice::cluster
