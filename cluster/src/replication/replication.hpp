// Private: the cluster actor's side of replicated shards (with
// `cluster_options::controller`): the controller's table applied to the
// store (assignments.cpp), the owner shipping each shard's log to its
// followers and raising the high-watermark (shipping.cpp, isr.cpp), and the
// follower applying what it receives (follower.cpp). The cluster actor's
// thread only.
#pragma once

#include <caf/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster_state.hpp"

namespace sluice::cluster {

// -- assignments.cpp --
/// The controller's table changed: the store is brought in line with it
/// (claim, promote, demote, drop copies), then the owner's bookkeeping.
void on_assignments(cluster_actor* self,
                    std::shared_ptr<const shard_table> table);
/// The agent could (true) or could not (false) confirm the lease.
void on_lease(cluster_actor* self, bool ok);
/// This member's request to leave the isr of shards it gives up ended:
/// roles are planned again, after a pause when it failed.
void on_left_isr(cluster_actor* self, bool ok);

// -- shipping.cpp --
/// A follower's copy at `at` takes the shard's log as this owner writes
/// it: at this epoch, or exactly where a promotion continued it from.
bool takes_log(const replicated_shard& r, const repl_position& at);
/// The store committed replication records (seq per shard).
void on_heads(cluster_actor* self, const shard_positions& heads);
/// Sends each follower what it lacks: probes, log records, snapshots.
void ship(cluster_actor* self);
/// Recomputes the high-watermarks; tells the store and releases held
/// acknowledgements.
void update_watermarks(cluster_actor* self);
/// Holds a forwarded batch's acknowledgement until `reqs` are below their
/// shards' high-watermarks (at once when empty or not replicated).
void hold_ack(cluster_actor* self,
              std::vector<std::pair<std::uint32_t, std::uint64_t>> reqs,
              std::function<void(bool)> answer);

// -- isr.cpp --
/// Every heartbeat: caught-up followers join the isr, lagging ones leave
/// it (Kafka's order: wait before etcd adds, etcd removes before we stop
/// waiting); logs are trimmed below the watermark.
void tend_isr(cluster_actor* self);

// -- repair.cpp --
/// Stages that read a damaged record of a shard owned here ask the
/// placement to fetch it again; this makes those requests messages to the
/// cluster actor (replicated members only), until the actor stops.
void watch_repairs(cluster_actor* self);
/// A damaged record of `shard` was read here: the shard goes to another
/// live in-sync replica (this member drops its records of it and takes a
/// snapshot back), or the placement is told it cannot.
void on_repair(cluster_actor* self, std::uint32_t shard,
               const std::string& why);
/// The agent's answer to on_repair's request.
void on_repair_done(cluster_actor* self, std::uint32_t shard, bool given,
                    const std::string& why_not);
/// Every heartbeat: refusals older than a while are lifted (the next
/// damaged read asks again).
void tend_repairs(cluster_actor* self);

// -- follower.cpp --
caf::result<std::string> receive_replicate(cluster_actor* self,
                                           const std::string& from,
                                           const v1::Replicate& m);
caf::result<std::string> receive_repl_snapshot(cluster_actor* self,
                                               const std::string& from,
                                               const v1::ReplSnapshot& m);

} // namespace sluice::cluster
