// An embedded Sluice node: one CAF actor system and one LMDB environment,
// running one pipeline. This header does not include CAF. Start and stop a
// node from one thread; publish, stats, admin and prometheus are safe from
// any thread while it runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/admin.hpp"
#include "sluice/event.hpp"
#include "sluice/event_done.hpp"
#include "sluice/feed.hpp"
#include "sluice/metrics.hpp"
#include "sluice/registry.hpp"
#include "sluice/result.hpp"
#include "sluice/topology.hpp"
#include "sluice/topology_diff.hpp"

namespace sluice {

class node_extension;
class placement;
namespace tls {
struct identity;
} // namespace tls

/// How to run a node.
struct node_options {
  /// The directory of the node's LMDB store, created with its parents if
  /// missing; relative to the working directory.
  std::string data_dir = "var/sluice";
  bool sync = true; ///< fsync every commit
  /// The largest the data directory's LMDB file may grow (the map is
  /// reserved at this size in virtual memory only; the file grows with
  /// its data). A directory already larger is refused at start.
  std::uint64_t max_data_size = std::uint64_t{64} << 30;
  /// A commit that fails for lack of space (the disk or `max_data_size`)
  /// stops the node (`sluice run` without --serve) instead of pausing its
  /// input: by default the node keeps what waits for the commit, refuses
  /// new events (`publish` answers errc::no_space, /readyz says why),
  /// keeps serving reads, and tries the commit again every second until it
  /// succeeds. Nothing accepted is lost either way.
  bool stop_when_full = false;
  std::vector<std::string> feeds; ///< files fed into the feed topic
  bool refeed = false;     ///< feed files that were fed completely once more
  std::size_t threads = 0; ///< scheduler threads; 0 = cores
  std::size_t max_commit_batch = 4096; ///< records per LMDB transaction
  /// Change-feed subscriptions served at once (`subscribe`); more are
  /// refused (errc::unavailable) until one ends.
  std::size_t max_feed_subscribers = 64;
  /// How long normal work may wait for more records to share its commit.
  /// Larger batches rewrite fewer LMDB pages per record; urgent work
  /// commits at once regardless.
  std::chrono::milliseconds commit_window{20};
  /// How long one normal commit should take: its batch is capped at the
  /// records that fit, by the recent time per record (never below 256,
  /// never above `max_commit_batch`), so urgent work, which commits alone
  /// and at once, never waits long behind one. Zero: only
  /// `max_commit_batch` caps a batch.
  std::chrono::milliseconds commit_budget{10};
  std::size_t feed_batch = 2048;     ///< records per feed read
  std::string scheduler = "sharing"; ///< CAF policy: sharing or stealing
  /// The node's name, as the console's `nodes` and `drain` show it.
  std::string name = "local";
  /// HOST:PORT where the admin actor is published for `sluice console`
  /// (CAF networking); empty: no console access. Port 0 picks a free one.
  std::string listen;
  /// The token a console must present; required with `listen`.
  std::string admin_token;
  /// Mutual TLS for every link of CAF networking (console access, cluster
  /// members), from a TLS directory read and checked by `tls::load_dir`
  /// (`sluice/tls.hpp`): the peer must present a certificate signed by its
  /// CA, and a plain connection is refused. Used with `listen` or a
  /// cluster extension (nothing else listens). Null: plain TCP.
  std::shared_ptr<const tls::identity> tls{};
  /// The on-demand source: a registry list (TSV with a `name` column) or a
  /// Debian package index, read like a feed and indexed by key into LMDB
  /// once (again only when the file changed). `query` ingests an unknown
  /// key from it. Empty: no on-demand source.
  std::string catalog;
  /// How long ids published with `publish_options::once` are remembered
  /// (pruned at start); a resend after that is queued again.
  std::chrono::hours dedupe_window{24 * 7};
  /// A cluster member's shard ownership (`cluster_member::place`, from
  /// `make_cluster_member` in `sluice/cluster.hpp`; opaque to embedders):
  /// events for shards owned elsewhere go to the outbox, and only owned
  /// shards are dispatched. Null: a single node, every key is local.
  std::shared_ptr<sluice::placement> place{};
  /// A component run beside the node's actors (the cluster:
  /// `cluster_member::extension`; opaque to embedders). With one, `listen`
  /// is the extension's to publish; the admin actor is handed to it instead.
  std::shared_ptr<node_extension> extension{};
};

/// Progress of one feed file.
struct feed_progress {
  std::string source;        ///< the file, as named in `node_options::feeds`
  std::uint64_t records = 0; ///< records committed in the current pass
  std::uint64_t offset = 0;  ///< bytes read, up to the last committed record
  std::uint64_t size = 0;    ///< the file's size in bytes when it was opened
  /// All of it is committed (with `refeed`: in this node's pass).
  bool finished = false;
  /// Records no stage's subscription took, since this node started (the
  /// feed's log lines say why).
  std::uint64_t unrouted = 0;
};

/// Counters of one stage.
struct stage_stats {
  std::string name;     ///< the stage's name in the topology
  std::uint64_t in = 0, ///< events dispatched from its queue to keys
      done = 0,         ///< events the behaviour handled without error
      skipped = 0,      ///< events skipped as unchanged
      failed = 0;       ///< events dead-lettered after their last try
  std::uint64_t queued_urgent = 0, ///< entries in its urgent queue
      queued_normal = 0;           ///< entries in its normal queue
  std::int64_t in_flight = 0,      ///< events dispatched and not yet committed
      in_flight_peak = 0;          ///< the most in flight at once
  std::int64_t live_keys = 0,      ///< keys held in memory (key actors)
      live_keys_peak = 0;          ///< the most live keys at once
};

/// A snapshot of a node.
struct node_stats {
  std::vector<stage_stats> stages;  ///< one per stage, in topology order
  std::vector<feed_progress> feeds; ///< one per feed, in the options' order
  std::uint64_t queued = 0;         ///< all stages, one consistent snapshot
  /// Events in the outbox, waiting for the nodes that own their keys.
  std::uint64_t outbox = 0;
  std::uint64_t commits = 0; ///< LMDB write transactions since start
  /// Durable timers not yet fired (in-memory ones do not hold a node up).
  std::uint64_t timers_pending = 0;
  /// Feeds finished, nothing queued, nothing in the outbox, no durable
  /// timer pending, and the extension (the cluster) idle.
  bool drained = false;
  bool failed = false; ///< the node stopped on an error
  std::string failure; ///< why it stopped; empty unless `failed`
};

/// How `node::publish` takes events.
struct publish_options {
  /// Publish each event id once: a resent event (same id) is acknowledged
  /// but dropped. Ids are kept for `node_options::dedupe_window`.
  bool once = false;
  /// Called once per event when it and every event it caused on this
  /// node have been processed (or it was dropped as a duplicate, the
  /// publish failed, or the node stopped first). Durable timers it set
  /// and reconciler re-drives are not part of it. Set: tracking costs a
  /// little per commit while tracked events are in flight; unset: none.
  done_callback on_done{};
};

/// How `node::query` treats a key.
struct query_options {
  /// Ingest the key again from the catalog even if the stage has its state
  /// (a refresh the user asked for: skip_unchanged does not skip it).
  bool refresh = false;
  /// How long to wait for the pipeline to finish the ingested key.
  std::chrono::milliseconds wait{2000};
  /// False: a key the stage has no state for is answered `not_found`
  /// without ingesting it (to ask first, and admit the ingestion after).
  bool ingest = true;
};

/// What `node::query` did.
enum class query_outcome {
  known,     ///< the stage has the key's state; nothing was ingested
  ingested,  ///< ingested on demand, and finished within the wait
  pending,   ///< ingested (or an ingestion under way joined), not finished
  not_found, ///< no state in the stage, and no catalog record for the key
};

/// The answer of `node::query`.
struct query_answer {
  query_outcome outcome = query_outcome::known; ///< what happened
  /// The id of the on-demand event (its emits' ids start with it); empty
  /// when nothing was ingested.
  std::string ingestion;
  std::chrono::microseconds took{0}; ///< from the call to the answer
};

/// An embedded node running one pipeline: owns its actor system, its store
/// and its metrics. Made by `start`; destroying it stops it. Drive it from
/// one thread (start, publish, stats, stop).
class node {
public:
  /// Opens the data directory, checks the topology against `reg` and the
  /// feeds, and starts all actors. `reg` must outlive the node.
  static result<std::unique_ptr<node>> start(topology topo, const registry& reg,
                                             node_options opts);
  ~node();

  /// The topology the node runs.
  const sluice::topology& pipeline() const noexcept;

  /// Publishes events on `topic` and returns once they are committed.
  /// Safe from several threads at once (each call waits for its commit).
  /// With `opts.once`, an event whose id was published once before (with
  /// `once`, within `node_options::dedupe_window`) is dropped: a resent
  /// webhook body is acknowledged again but queued once. While input is
  /// paused (`input_paused`), refused at once with errc::no_space.
  result<void> publish(const std::string& topic, std::vector<event> events,
                       publish_options opts = {});

  /// Publishes like `publish`, then waits up to `wait` until each event
  /// and everything it caused on this node has been processed. One
  /// outcome per event, in order: `pending` for those not done in time
  /// (they go on). Errors: those of `publish` (then nothing was
  /// committed). `opts.on_done` is not used.
  result<std::vector<event_done>>
  publish_and_wait(const std::string& topic, std::vector<event> events,
                   std::chrono::milliseconds wait, publish_options opts = {});

  /// Why the node takes no new events now: its last commit failed for
  /// lack of space (the disk, or `node_options::max_data_size`) and is
  /// tried again every second; empty while it takes them. Reads, queries
  /// of known keys and the console keep working meanwhile. Any thread.
  std::string input_paused() const;

  /// Makes sure `stage` knows `key`: if it has no state for the key (or
  /// `opts.refresh`), the key's catalog record is published as an urgent
  /// event, and the call waits up to `opts.wait` until the pipeline has
  /// finished with it (the key's status is done or failed, for this
  /// event). Concurrent calls for one key share one ingestion. An unknown
  /// stage is an error naming the stages. Safe from any thread.
  result<query_answer> query(const std::string& stage, const std::string& key,
                             query_options opts = {});

  /// Subscribes to the changes of `stage`'s key states (see
  /// sluice/feed.hpp); the stage needs `changelog:` in the topology.
  /// Errors: not_found (no such stage), config (no changelog),
  /// invalid_argument (a malformed cursor or filter), unavailable
  /// (`max_feed_subscribers` live, or the node stopping). The subscription
  /// may outlive the node: its `next` then fails (unavailable). Safe from
  /// any thread.
  result<std::unique_ptr<feed_subscription>> subscribe(const std::string& stage,
                                                       feed_options opts);

  /// The live change-feed subscriptions, with their positions and lag.
  std::vector<feed_subscriber> feed_subscribers() const;

  /// On a replicated member: waits until every record this member holds
  /// of `key`'s shard (as of the call) is below the shard's high-watermark,
  /// i.e. held by `min_insync` replicas, so an answer drawn from what was
  /// read before the call shows no commit a failover could undo. Call it
  /// after the read, before answering. Returns at once on a node that is
  /// not replicated and for a shard not owned here. Errors: unavailable
  /// when the watermark does not get there within `timeout` (the shard has
  /// too few replicas in sync) or the shard went to another member. Safe
  /// from any thread.
  result<void> await_replicated(const std::string& key,
                                std::chrono::milliseconds timeout);

  /// Runs `next` from now on, without stopping the node and without
  /// losing queued events: returns what changed (nothing: nothing done).
  /// Refused (errc::invalid_argument, with the reason) when a stage to
  /// remove still has queued events, retries or durable timers; an
  /// unknown behaviour is errc::config. The stages restart on the new
  /// plan: events in flight run again from LMDB, pauses are lifted.
  /// Not on a cluster member yet (errc::unavailable). Safe from any
  /// thread; one at a time.
  result<std::vector<topology_change>> apply_topology(topology next);

  /// A snapshot of counters, queue depths and feed progress.
  result<node_stats> stats() const;

  /// The node's metrics registry, which its actors update. The reference
  /// stays valid for the node's lifetime, after `stop` too; its metrics
  /// are safe to read from any thread.
  sluice::metrics& metrics() noexcept;

  /// Every metric in the Prometheus text format, with the gauges read
  /// from LMDB (queue depth per stage and priority, durable timers
  /// pending) refreshed first. What `GET /metrics` serves.
  std::string prometheus();

  /// Runs one console command (see `admin_commands()`) and returns its
  /// answer as JSON, or why it failed. Safe from any thread while the node
  /// runs; what `sluice console` and the admin actor call.
  admin_answer admin(const std::string& command,
                     const std::vector<std::string>& args);

  /// The port the admin actor listens on (useful with port 0); 0 when the
  /// node was started without `listen`.
  std::uint16_t admin_port() const noexcept;

  /// Stops every actor and closes the store. Idempotent.
  void stop();

  struct impl;

private:
  /// Refreshes the change feeds' gauges (node_feeds.cpp).
  void feed_metrics();
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice
