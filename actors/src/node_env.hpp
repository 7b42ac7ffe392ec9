// What every actor of a node shares: read-only plan and registry, the store
// (readers from any actor; writes only from the store actor), metrics and
// loggers. Owned by sluice::node, which outlives all actors.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
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

} // namespace sluice
