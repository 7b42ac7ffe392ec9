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
};

} // namespace feed
} // namespace sluice
