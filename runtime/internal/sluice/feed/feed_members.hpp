// The members a change feed reads from when it is served through any
// member of a cluster (issue 16): each answers for the shards it holds,
// from its own changelog. The cluster component implements it (this member
// from its store, the others over the cluster's links); a feed hub given
// one serves cluster-wide subscriptions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sluice/result.hpp"
#include "sluice/store/changelog.hpp"

namespace sluice::feed {

/// Every member's part of a stage's changelog. Safe from any thread; calls
/// block (another member's answer is a round trip).
class feed_members {
public:
  virtual ~feed_members() = default;
  /// The members that may hold shards, this one first.
  virtual std::vector<std::string> names() = 0;
  /// Member `name`'s changes of the shards it holds. An error: it could
  /// not be asked (down, no link, stopping), or it failed to read.
  virtual result<member_changes> changes(const std::string& name,
                                         const std::string& stage,
                                         const member_read& req) = 0;
  /// Member `name`'s key states of the shards it holds, one chunk.
  virtual result<member_states> states(const std::string& name,
                                       const std::string& stage,
                                       const std::string& after_key, bool first,
                                       const std::string& prefix,
                                       std::size_t max) = 0;
};

} // namespace sluice::feed
