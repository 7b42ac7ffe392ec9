// Private: what a feed hub shares with its subscriptions, which may outlive
// it (an HTTP stream still open as the node stops): the store behind a
// gate that `close` shuts, and each live subscription's figures.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "sluice/feed/feed_members.hpp"
#include "sluice/registry.hpp"

namespace sluice {

class store;

namespace feed {

/// A live subscription's figures, updated by it, read by the console.
struct subscriber_stats {
  std::uint64_t id = 0;
  std::string stage;
  std::uint32_t stage_id = 0;
  std::string client;
  std::int64_t since_ns = 0;
  std::atomic<int> phase{0}; ///< 0 snapshot, 1 catch-up, 2 live
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> position{0};
  std::atomic<std::uint64_t> head{0};
};

/// A change as a subscriber sends it: its state rendered as JSON.
struct rendered_change {
  std::string state_json; ///< empty when removed (or raw and unfiltered)
  std::string state;      ///< as stored (raw_state subscriptions only)
  std::string event_id;
  bool removed = false;
  std::int64_t ts_ns = 0; ///< the state's update time
  /// The attributes of the event behind the change.
  std::map<std::string, std::string> attributes;
};

/// The last changes rendered, per stage: subscribers following the head
/// read the same changes, so each is rendered (KeyState parsed, the
/// behaviour's state_to_json) once, not once per subscriber.
class render_cache {
public:
  /// Changes kept per stage, the newest (offsets only grow).
  static constexpr std::size_t per_stage = 16384;

  std::shared_ptr<const rendered_change> find(std::uint32_t stage,
                                              std::uint64_t offset) const {
    std::lock_guard<std::mutex> guard{mtx_};
    auto s = stages_.find(stage);
    if (s == stages_.end())
      return nullptr;
    auto i = s->second.find(offset);
    return i == s->second.end() ? nullptr : i->second;
  }
  void put(std::uint32_t stage, std::uint64_t offset,
           std::shared_ptr<const rendered_change> r) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& s = stages_[stage];
    s.emplace(offset, std::move(r));
    while (s.size() > per_stage)
      s.erase(s.begin());
  }

private:
  mutable std::mutex mtx_;
  std::map<std::uint32_t,
           std::map<std::uint64_t, std::shared_ptr<const rendered_change>>>
      stages_;
};

struct hub_state {
  const store* st = nullptr;
  const registry* reg = nullptr;
  std::size_t max = 0;
  /// Set first by close: a subscription waiting for commits stops.
  std::atomic<bool> closing{false};
  /// Held shared while a subscription reads the store; close takes it.
  std::shared_mutex gate;
  bool closed = false; ///< under `gate`
  mutable std::mutex list_mtx;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, std::shared_ptr<subscriber_stats>> live;
  /// Per stage, how long the last snapshot a subscriber finished took
  /// (the time a cold start takes, against the changelog's span).
  std::map<std::string, std::chrono::milliseconds> snapshot_took;
  render_cache rendered; ///< the changes rendered last, for every subscriber
  /// Set on a cluster member: subscriptions read every member's shards.
  std::shared_ptr<feed_members> members;
};

} // namespace feed
} // namespace sluice
