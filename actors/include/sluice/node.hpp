// An embedded Sluice node: one CAF actor system and one LMDB environment,
// running one pipeline. This header does not include CAF. A node is driven
// from one thread (start, publish, stats, stop).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/metrics.hpp"
#include "sluice/registry.hpp"
#include "sluice/result.hpp"
#include "sluice/topology.hpp"

namespace sluice {

/// How to run a node.
struct node_options {
  std::string data_dir = "var/sluice";
  bool sync = true;               ///< fsync every commit
  std::vector<std::string> feeds; ///< files fed into the feed topic
  bool refeed = false;     ///< feed files that were fed completely once more
  std::size_t threads = 0; ///< scheduler threads; 0 = cores
  std::size_t max_commit_batch = 4096; ///< records per LMDB transaction
  /// How long normal work may wait for more records to share its commit.
  /// Larger batches rewrite fewer LMDB pages per record; urgent work
  /// commits at once regardless.
  std::chrono::milliseconds commit_window{20};
  std::size_t feed_batch = 2048;     ///< records per feed read
  std::string scheduler = "sharing"; ///< CAF policy: sharing or stealing
};

/// Progress of one feed file.
struct feed_progress {
  std::string source;
  std::uint64_t records = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  bool finished = false;
};

/// Counters of one stage.
struct stage_stats {
  std::string name;
  std::uint64_t in = 0, done = 0, skipped = 0, failed = 0;
  std::uint64_t queued_urgent = 0, queued_normal = 0;
  std::int64_t in_flight = 0, in_flight_peak = 0;
  std::int64_t live_keys = 0, live_keys_peak = 0;
};

/// A snapshot of a node.
struct node_stats {
  std::vector<stage_stats> stages;
  std::vector<feed_progress> feeds;
  std::uint64_t queued = 0; ///< all stages, one consistent snapshot
  std::uint64_t commits = 0;
  bool drained = false; ///< feeds finished and nothing queued
  bool failed = false;  ///< the node stopped on an error
  std::string failure;
};

class node {
public:
  /// Opens the data directory, checks the topology against `reg` and the
  /// feeds, and starts all actors. `reg` must outlive the node.
  static result<std::unique_ptr<node>> start(topology topo, const registry& reg,
                                             node_options opts);
  ~node();

  /// Publishes events on `topic` and returns once they are committed.
  result<void> publish(const std::string& topic, std::vector<event> events);

  /// A snapshot of counters, queue depths and feed progress.
  result<node_stats> stats() const;

  sluice::metrics& metrics() noexcept;

  /// Stops every actor and closes the store. Idempotent.
  void stop();

  struct impl;

private:
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice
