// Private: a change-feed event as the gRPC service's message
// (protocols/sluice/v1/feed.proto) and back.
#pragma once

#include "sluice/feed.hpp"
#include "sluice/v1/feed.pb.h"

namespace sluice::cli {

/// `e` as a FeedEvent; its strings are moved into `m`.
void to_message(feed_event&& e, v1::FeedEvent& m);

/// The event `m` carries.
feed_event from_message(const v1::FeedEvent& m);

} // namespace sluice::cli
