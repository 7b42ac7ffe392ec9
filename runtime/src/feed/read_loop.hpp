// Private: the loop both kinds of subscription (one node's and a
// cluster's) read with: steps until events come, the wait ends or the
// node stops; with nothing to send, waits for this member's next commit,
// a slice at a time, so that a closing hub is noticed.
#pragma once

#include <algorithm>
#include <chrono>
#include <shared_mutex>
#include <vector>

#include "hub_state.hpp"
#include "sluice/feed.hpp"
#include "sluice/result.hpp"
#include "sluice/store/changelog.hpp"

namespace sluice::feed {

/// `step(log, limit)` adds events to `out` up to `limit` in all, and says
/// whether to read again at once (it moved on: a phase, a chunk, a member
/// with more). Returns once `out` grew, or after `wait` with nothing.
template <typename Step>
result<void> read_loop(hub_state& hub, subscriber_stats& stats,
                       std::vector<feed_event>& out, std::size_t max,
                       std::chrono::milliseconds wait,
                       std::chrono::milliseconds slice, Step&& step) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  auto before = out.size();
  for (;;) {
    {
      std::shared_lock<std::shared_mutex> gate{hub.gate};
      if (hub.closed)
        return fail(errc::unavailable, "the node stopped");
      changelog_reader log{*hub.st};
      auto seen = log.commits();
      result<bool> r = step(log, before + std::max<std::size_t>(max, 1));
      if (!r)
        return r.error();
      stats.delivered.fetch_add(out.size() - before, std::memory_order_relaxed);
      if (out.size() > before)
        return {};
      if (*r)
        continue;
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline)
        return {};
      auto part =
          std::min<std::chrono::steady_clock::duration>(deadline - now, slice);
      log.wait(seen, std::chrono::duration_cast<std::chrono::milliseconds>(part)
                         + std::chrono::milliseconds(1));
    }
    if (hub.closing.load())
      return fail(errc::unavailable, "the node stopped");
  }
}

} // namespace sluice::feed
