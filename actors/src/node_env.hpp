// What every actor of a node shares: read-only plan and registry, the store
// (readers from any actor; writes only from the store actor), metrics and
// loggers. Owned by sluice::node, which outlives all actors.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "sluice/metrics.hpp"
#include "sluice/pipeline_plan.hpp"
#include "sluice/placement.hpp"
#include "sluice/registry.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

class unrouted_reasons;

class done_tracker;

struct node_env {
  store* st = nullptr;
  const pipeline_plan* plan = nullptr;
  const registry* reg = nullptr;
  sluice::metrics* metrics = nullptr;
  /// Shard ownership in a cluster (null on a single node: all is local).
  const sluice::placement* place = nullptr;
  /// Why input was taken by no stage (the node's; null in some tests).
  unrouted_reasons* unrouted = nullptr;
  /// Published events whose completion is waited for (the node's; null
  /// in some tests): the store actor tells it what each commit settled.
  done_tracker* done = nullptr;
  /// When urgent work was last seen anywhere in the node (steady clock,
  /// its ticks; the node's; null in some tests): the store and every stage
  /// supervisor keep to urgent mode for a while after it, so a stage is
  /// already letting out less normal work when an urgent event reaches it.
  std::atomic<std::int64_t>* urgent_seen = nullptr;
  std::size_t max_commit_batch = 4096;
  std::chrono::milliseconds commit_window{20};
  std::chrono::milliseconds commit_budget{10}; ///< node_options::commit_budget
  std::size_t feed_batch = 2048;
  bool refeed = false;
  /// node_options::stop_when_full: a commit failing for lack of space
  /// stops the node instead of pausing input.
  bool stop_when_full = false;

  /// The logger of a component, e.g. "store" or "stage.parse".
  std::shared_ptr<spdlog::logger> logger(const std::string& component) const;
};

std::int64_t now_ns() noexcept;

/// Notes urgent work seen at `now` (node_env::urgent_seen).
inline void note_urgent(const node_env& env,
                        std::chrono::steady_clock::time_point now) noexcept {
  if (env.urgent_seen != nullptr)
    env.urgent_seen->store(now.time_since_epoch().count(),
                           std::memory_order_relaxed);
}

/// Whether urgent work was seen anywhere in the node within `span` of
/// `now`.
inline bool urgent_within(const node_env& env,
                          std::chrono::steady_clock::time_point now,
                          std::chrono::steady_clock::duration span) noexcept {
  if (env.urgent_seen == nullptr)
    return false;
  auto seen = env.urgent_seen->load(std::memory_order_relaxed);
  return seen != 0 && now.time_since_epoch().count() - seen < span.count();
}

} // namespace sluice
