// Private: the state of the cluster actor, the one actor of a member that
// owns the member table, the links to other members, the forwarder's
// bookkeeping and the hand-offs. Shared by the files that implement its
// parts (cluster_actor.cpp, handshake.cpp, heartbeat.cpp, links.cpp,
// seeds.cpp, view_publisher.cpp, forwarder.cpp, handoff_receiver.cpp); only
// the cluster actor touches it.
#pragma once

#include <caf/actor.hpp>
#include <caf/node_id.hpp>
#include <caf/stateful_actor.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster_messages.hpp"
#include "cluster_view.hpp"
#include "controller/controller_agent.hpp"
#include "membership.hpp"
#include "seed_list.hpp"
#include "shard_map.hpp"
#include "sluice/cluster.hpp"
#include "sluice/metrics.hpp"
#include "sluice/node_extension.hpp"
#include "sluice/store/replication.hpp"
#include "sluice/v1/cluster.pb.h"

namespace sluice::cluster {

using clock = std::chrono::steady_clock;

/// This member's connection to another, by the address it listens on.
struct link {
  enum class phase { idle, connecting, handshaking, ready, refused };
  std::string address;
  std::string name; ///< once the handshake told it
  caf::actor handle;
  phase at = phase::idle;
  clock::time_point next_try{};
  std::chrono::milliseconds backoff{100};
};

/// A server-side handshake under way, by the peer's CAF node.
struct pending_hello {
  std::string nonce; ///< ours, for the client's proof
  member who;
};

/// A hand-off coming in, by transfer id.
struct incoming_transfer {
  std::string from;
  std::vector<std::uint32_t> shards;
  std::uint64_t epoch = 0;
};

/// Owner side: what this member knows of one follower of a shard it owns.
struct follower_state {
  /// The follower's copy is at (unknown until it answered a probe).
  std::optional<repl_position> acked;
  bool has_copy = false;
  /// It needs a snapshot (no copy, another epoch, a gap in the log).
  bool needs_snapshot = false;
  clock::time_point last_heard{}; ///< its last answer (or when tracked)
  /// The owner's log head when it last sent everything up to it.
  std::uint64_t offered = 0;
  /// When it last held everything offered (Kafka's "caught up" time: a
  /// follower that has not been caught up for `replica_lag_time` lags).
  clock::time_point caught_up_at{};
  /// It refused the shard's records (it owns the shard, or knows a newer
  /// epoch): nothing is sent to it for the shard until then.
  clock::time_point paused_until{};
};

/// Owner side: a shard this member owns in a replicated cluster.
struct replicated_shard {
  std::uint64_t epoch = 0; ///< owned here at
  std::uint64_t head = 0;  ///< the last replication seq written here
  /// Where a promotion continued the shard from (its store record): a
  /// follower whose copy is there takes this epoch's records as they are.
  std::optional<repl_position> base;
  std::vector<std::string> replicas; ///< from the controller's table
  std::vector<std::string> isr;      ///< from the controller's table
  /// Followers every acknowledgement waits for: the table's isr (without
  /// this member) plus those added here before etcd confirmed them.
  std::set<std::string> waited;
  std::map<std::string, follower_state> followers;
  /// isr changes asked of the controller and not answered yet, and when
  /// (an ask unanswered for long is given up and asked again).
  std::map<std::string, clock::time_point> isr_asked;
  std::uint64_t hw = 0;      ///< the high-watermark last told to the store
  std::uint64_t trimmed = 0; ///< its log was trimmed up to this seq
};

/// A forwarded batch's acknowledgement, held until its shards' records
/// are below their high-watermarks.
struct held_ack {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> reqs;
  std::function<void(bool)> answer; ///< false: a shard was lost meanwhile
};

struct cluster_state {
  cluster_options opts;
  node_context ctx;
  std::shared_ptr<placement> place;
  std::shared_ptr<cluster_view> view;
  std::shared_ptr<spdlog::logger> log;
  std::optional<membership> table;
  /// Our address as others reach it (HOST:actual port).
  std::string address;
  /// Links by address: seeds first, then every member learned.
  std::map<std::string, link> links;
  /// Nodes that proved the secret to us (server side), by CAF node.
  std::map<caf::node_id, std::string> trusted;
  std::map<caf::node_id, pending_hello> pending;
  shard_map desired;
  /// We know the cluster: started it, or were welcomed by a member.
  bool joined = false;
  bool stopping = false;

  // -- seeds (seeds.cpp), until joined --
  seed_plan seeds;
  std::vector<seed_state> seed_states; ///< one per seeds.others
  bool forming = false;                ///< claiming every shard (first seed)
  clock::time_point started{};
  clock::time_point next_wait_log{};

  // -- forwarder --
  std::set<keys::queue_pos> sending; ///< outbox entries on their way
  /// Taken by their owner, their delete not yet committed: the next batch
  /// to the owner goes meanwhile, without them.
  std::set<keys::queue_pos> settling;
  std::set<std::string> busy_targets; ///< one batch in flight per target
  std::map<std::uint32_t, clock::time_point> refused_until;
  bool outbox_dirty = true;

  // -- hand-off --
  caf::actor handoff; ///< the outgoing transfer, when one runs
  std::uint64_t handoff_transfer = 0;
  clock::time_point handoff_started{};
  clock::time_point handoff_retry{};
  /// Incoming hand-offs by (sender, transfer id).
  std::map<std::pair<std::string, std::uint64_t>, incoming_transfer> incoming;
  /// Outbox positions of the batch in flight, per target member: given
  /// back at once when the link to it drops.
  /// (batch number, positions); a late answer to a forgotten batch does
  /// not release the target's next one.
  std::map<std::string, std::pair<std::uint64_t, std::vector<keys::queue_pos>>>
      in_flight_batches;
  std::uint64_t batches_sent = 0;
  std::map<std::string, std::uint32_t> stage_ids; ///< by name
  // -- cluster-wide topology apply (topology_apply.cpp) --
  std::uint64_t topology_requests = 0;
  /// Checks and applies running here, by request id: what gets the verdict.
  std::map<std::uint64_t, std::function<void(v1::TopologyVerdict)>>
      topology_waiting;
  std::map<std::uint32_t, std::string> stage_names;

  // -- replicated shards (replication/), with opts.controller --
  bool replicated = false;
  std::shared_ptr<const shard_table> assignments; ///< the controller's table
  controller_agent* agent = nullptr;              ///< owned by the extension
  bool lease_ok = false; ///< the agent confirmed this member's lease
  std::map<std::uint32_t, replicated_shard> repl; ///< owned here
  /// Followers with log records or probes in flight (one message each).
  std::set<std::string> shipping;
  /// Followers with a snapshot in flight (one each, beside the records).
  std::set<std::string> snapshotting;
  /// Outbox entries below it were written by commits that are below their
  /// shards' high-watermarks (the store actor's replication gate).
  std::uint64_t outbox_fence = 0;
  std::vector<held_ack> held_acks;
  bool roles_busy = false;  ///< a role change runs on the store
  bool roles_again = false; ///< the table changed meanwhile
  /// A request to leave the isr of shards given up is under way (one at
  /// a time; assignments.cpp).
  bool leaving_isr = false;
  /// When this member last trimmed its shards' logs (isr.cpp).
  clock::time_point last_trim{};
  /// Shards given to a replica for a damaged record here, and when
  /// (repair.cpp): one damaged again soon after is not given again.
  std::map<std::uint32_t, clock::time_point> repaired_at;
  /// Shards whose repair was refused, and when: asked again after a while.
  std::map<std::uint32_t, clock::time_point> repair_refused_at;

  counter* forwarded = nullptr;
  counter* forwarded_bytes = nullptr;
  counter* received = nullptr;
  counter* duplicates = nullptr;
  counter* refusals = nullptr;
  counter* handoffs_out = nullptr;
  counter* handoffs_in = nullptr;
  counter* shards_moved = nullptr;
  histogram* handoff_time = nullptr;
  gauge* members_up = nullptr;
  gauge* owned_shards = nullptr;
  counter* promoted = nullptr;       ///< shards taken over from a copy
  counter* snapshots_sent = nullptr; ///< shard snapshots sent to followers
  gauge* under_replicated = nullptr; ///< shards owned here, under-replicated
  gauge* follower_lag = nullptr;     ///< the largest follower lag, records
  counter* repairs = nullptr;        ///< shards given up for a damaged record

  static inline const char* name = "cluster";
};

using cluster_actor = caf::stateful_actor<cluster_state>;

// -- cluster_actor.cpp --
/// Recomputes the shard map from the member table, publishes the view.
void recompute(cluster_actor* self);

// -- forwarder.cpp --
/// The link to `target` dropped: its batch in flight will never be
/// answered; its entries are sent again once it is back.
void forget_batch(cluster_actor* self, const std::string& target);
/// Shards moved away from their owners in `before` (the map was `before`
/// until now): their batches in flight are forgotten, so each moved
/// shard's entries go to its new owner again in outbox order (a late
/// answer of the old owner still deletes what it took).
void forget_moved_batches(cluster_actor* self, const shard_map& before);
/// Sends outbox entries to the owners of their shards, a batch at a time
/// per owner; deletes them once acknowledged.
void pump_outbox(cluster_actor* self);
/// Another member forwarded events: queue them here (or refuse shards not
/// owned here), answer with a ForwardAck.
caf::result<std::string> receive_forward(cluster_actor* self,
                                         const std::string& from,
                                         const v1::ForwardBatch& batch);

// -- handoff_receiver.cpp --
caf::result<std::string> receive_handoff(cluster_actor* self,
                                         const std::string& from,
                                         v1::ClusterMessage& m);
/// Starts the next outgoing hand-off when one is due.
void maybe_hand_off(cluster_actor* self);

// -- topology_apply.cpp --
/// `topology apply PATH` from this member to every member: checks on all,
/// then applies on all, or refuses on all; answers a JSON object (ok,
/// error, changes, members).
caf::result<std::string> apply_everywhere(cluster_actor* self,
                                          const std::string& path);
/// Another member asks this one to check (or apply) a topology file.
caf::result<std::string> receive_topology_check(cluster_actor* self,
                                                const v1::TopologyCheck& c);
/// A check or apply that ran on its own thread is done.
void topology_done(cluster_actor* self, std::uint64_t id,
                   const std::string& bytes);
/// The node applied a topology: new plan, new node supervisor.
void plan_changed(cluster_actor* self, const plan_update& u);

/// Runs `fn` on the node's store actor; `then` gets its outcome (a CAF
/// failure of the hop as errc::unavailable, see `sluice/caf_error.hpp`).
void call_store(cluster_actor* self, store_call fn,
                std::function<void(const result<void>&)> then,
                bool urgent = false);

} // namespace sluice::cluster
