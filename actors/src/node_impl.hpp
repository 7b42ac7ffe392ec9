// Private: what a sluice::node owns, shared by node.cpp (start, publish,
// stats, stop) and the admin (admin.cpp, admin/: the console's commands).
// Driven from the thread that owns the node; `failure` is written by an actor's
// exit hook.
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "caller_pool.hpp"
#include "done_tracker.hpp"
#include "node_env.hpp"
#include "sluice/feed/feed_hub.hpp"
#include "sluice/node.hpp"
#include "sluice/node_extension.hpp"
#include "sluice/pipeline_plan.hpp"
#include "sluice/store/store.hpp"
#include "sluice/topology_diff.hpp"
#include "unrouted_reasons.hpp"

namespace sluice {

class tls_files;

struct node::impl {
  node_options opts;
  const registry* reg = nullptr;
  sluice::metrics metrics;
  std::unique_ptr<store> st;
  /// Change-feed subscriptions over `st` (node_feeds.cpp); closed first
  /// when the node stops.
  std::unique_ptr<feed::hub> feed_hub;
  /// Every plan the node was bound to (a topology applied live adds one).
  /// Old ones stay alive: actors and other threads may still read them.
  std::vector<std::unique_ptr<pipeline_plan>> plans;
  std::atomic<const pipeline_plan*> current_plan{nullptr};
  /// The plan the node runs now.
  const pipeline_plan* plan() const {
    return current_plan.load(std::memory_order_acquire);
  }
  /// What the node's actors share (the plan changes with a live apply).
  node_env env;
  /// Why feeds' and publishes' input was taken by no stage.
  std::unique_ptr<unrouted_reasons> unrouted;
  /// Published events whose completion someone waits for.
  std::unique_ptr<done_tracker> done = std::make_unique<done_tracker>();
  /// node_env::urgent_seen.
  std::unique_ptr<std::atomic<std::int64_t>> urgent_seen =
      std::make_unique<std::atomic<std::int64_t>>(0);
  /// One live topology change at a time; the node supervisor's exit is
  /// expected then, not a failure.
  std::mutex apply_mtx;
  std::atomic<bool> swapping{false};
  /// Node supervisors started: the exit of an older one is no failure.
  std::atomic<std::uint64_t> supervisors_started{0};
  /// CAF's TLS module reads these at every connection: they outlive it.
  std::shared_ptr<tls_files> tls;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  /// Makes the blocking calls of publish and admin (see caller_pool.hpp).
  std::unique_ptr<caller_pool> callers = std::make_unique<caller_pool>(4);
  caf::actor store_actor;
  caf::actor supervisor;
  std::vector<std::string> feeds;
  /// With --refeed, the pass each finished feed must get past before the
  /// node counts as drained; 0 when nothing is awaited.
  std::vector<std::uint32_t> awaited_pass;
  std::atomic<bool> stopped{false};
  mutable std::mutex failure_mtx;
  std::string failure;
  std::chrono::steady_clock::time_point started_at =
      std::chrono::steady_clock::now();
  /// `drain`: the feeds were stopped; drained once nothing is queued.
  std::atomic<bool> draining{false};
  /// One admin command at a time (the admin actor and embedders).
  std::mutex admin_mtx;
  /// The port the admin actor is published on; 0 without `listen`.
  std::uint16_t admin_port = 0;
  caf::actor admin_actor;
  /// On-demand ingestions under way, by key: later queries for the key
  /// join them instead of publishing again.
  struct ingestion {
    std::string id; ///< the on-demand event's id
    std::chrono::steady_clock::time_point started;
  };
  std::mutex ingestions_mtx;
  std::map<std::string, ingestion> ingestions;
  /// The cluster, when the node is a member (node_options::extension).
  std::shared_ptr<node_extension> extension;
  bool extension_started = false;
  /// Per stage: (when, done count) samples taken by `stages`, the last
  /// minute's, for a recent events/s that does not depend on how often
  /// someone asks.
  std::map<std::string,
           std::deque<
               std::pair<std::chrono::steady_clock::time_point, std::uint64_t>>>
      rate_samples;
};

/// Spawns the node supervisor (stages, feeds, reconciler) from `p.env`,
/// recording its failure in `p.failure` unless `p.swapping`.
void start_supervisor(node::impl& p);

/// How apply_topology_here takes a topology: apply it on a single node,
/// only check it (every refusal, and the new plan bound), or apply it as
/// one member of a cluster-wide apply.
enum class topology_mode { apply, check, cluster_apply };

/// node::apply_topology on the calling thread (a caller-pool thread: the
/// admin's `topology apply` is one already).
result<std::vector<topology_change>>
apply_topology_here(node::impl& p, topology next,
                    topology_mode mode = topology_mode::apply);

/// node_context::topology_here: the topology file at `path` loaded, its
/// files' digest, and the changes checked (and, given `apply_digest` equal
/// to the digest, applied).
result<topology_verdict> topology_here(node::impl& p, const std::string& path,
                                       const std::string& apply_digest);

} // namespace sluice
