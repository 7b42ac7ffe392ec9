// Makes a node a cluster member: membership over CAF networking, the shard
// map, forwarding of events to the owners of their keys, and hand-off of
// shards when the map changes. This header does not include CAF.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice {

class node_extension;
class placement;

/// How a node takes part in a cluster.
struct cluster_options {
  /// The node's name: unique in the cluster, and tied to its data
  /// directory (a restarted node comes back with the same name and data).
  std::string name;
  /// HOST:PORT to listen on for members (and consoles): a fixed port (not
  /// 0) on an address the others reach (not 0.0.0.0).
  std::string listen;
  /// HOST:PORT of members to join through (seeds); every member may be
  /// given the same list, its own address included (skipped). Only the
  /// first seed starts a new cluster (with a new data directory it owns
  /// every shard), once no other seed answers as a member; the others join
  /// through any seed that is a member. Empty, or only its own address:
  /// this node starts a new cluster at once.
  std::vector<std::string> seeds;
  /// How long the first seed waits for an answer from each other seed that
  /// does not answer at all before it starts a new cluster without it.
  std::chrono::milliseconds seed_timeout{5000};
  /// The shared secret every member must prove it knows (never sent).
  std::string secret;
  /// False: a proxy member, which takes input (feeds, HTTP) and forwards
  /// it to the owners but owns no shard itself.
  bool hosts_shards = true;
  /// How often members gossip their member table (heartbeats).
  std::chrono::milliseconds heartbeat{200};
  /// Silence before a member is suspected.
  std::chrono::milliseconds suspect_after{800};
  /// Silence before a member is down (it keeps its shards; others hold
  /// its events in their outboxes until it is back).
  std::chrono::milliseconds down_after{1500};
  /// Events per forwarded batch (one CAF message).
  std::size_t forward_batch = 2048;

  // -- replicated shards (docs/ARCHITECTURE.md "Replicated shards") --
  /// `http://HOST:PORT` of each etcd member. Empty: one copy per shard,
  /// ownership by gossip and hand-off (no replication). Set: etcd holds
  /// each shard's owner, epoch, replicas and in-sync replicas, and every
  /// commit is acknowledged only once `min_insync` replicas hold it.
  std::vector<std::string> controller;
  /// The cluster's name in etcd (keys under /sluice/CLUSTER/).
  std::string cluster_name = "sluice";
  /// R: copies of each shard, the owner's included (fewer while the
  /// cluster has fewer members).
  std::size_t replication_factor = 3;
  /// Copies that must hold a record before it is acknowledged (at most
  /// the shard's replica count).
  std::size_t min_insync = 2;
  /// The member's lease in etcd: a member silent this long is dead to the
  /// cluster and its shards fail over.
  std::chrono::milliseconds lease_ttl{2000};
  /// A follower that has not been caught up with the owner's log for this
  /// long leaves the in-sync set (so acknowledgements go on without it); a
  /// follower whose connection dropped leaves at once.
  std::chrono::milliseconds replica_lag_time{5000};
  /// The controller's rebalance (docs/ARCHITECTURE.md "Replicated
  /// shards"): each shard moves to the first R members of its ranking over
  /// the live members, owned by the first, with at most this many shards in
  /// motion at once (each costs a snapshot or two); 0 turns it off.
  std::size_t rebalance_moves = 32;
  /// Membership must hold still this long before the rebalance moves a
  /// shard, so that a member restarting does not cause churn.
  std::chrono::milliseconds rebalance_settle{10000};
  /// A member whose lease has been gone this long is forgotten as by the
  /// console's `forget NODE`: its replicas go to the next live members of
  /// each shard's ranking (re-replicated to restore R), but never where it
  /// is a shard's only in-sync copy besides other absent members. 0: never
  /// (only `forget`). CockroachDB's server.time_until_store_dead is 5 min.
  std::chrono::milliseconds replace_after{std::chrono::minutes(5)};
};

/// A running cluster member's extension; pass both to node::start through
/// node_options::extension and node_options::place.
struct cluster_member {
  /// For node_options::extension: membership, forwarding, hand-off.
  std::shared_ptr<node_extension> extension;
  /// For node_options::place: the shards this member owns, as the
  /// extension changes them.
  std::shared_ptr<sluice::placement> place;
};

/// Checks `opts` (name, addresses, seeds, secret) and makes the extension
/// and the placement it drives. Errors name the option and the value that
/// is wrong (a malformed or port-0 address, a proxy that could only start
/// a cluster). Resolves the host names of the seeds (blocking).
result<cluster_member> make_cluster_member(cluster_options opts);

/// Success while a member runs; once it gave up (e.g. the cluster refused
/// its secret), why, as errc::config. Safe from any thread.
result<void> cluster_running(const node_extension& ext);

/// True once a member left the cluster (`leave` from the console): every
/// shard handed off, its outbox empty. The node may stop then.
bool cluster_left(const node_extension& ext);

/// Success when a member is ready to serve: joined, and owning shards (a
/// proxy: joined). Else why not, as errc::unavailable ("not joined to the
/// cluster yet", "no shards assigned yet"). For /readyz. Safe from any
/// thread.
result<void> cluster_ready(const node_extension& ext);

} // namespace sluice
