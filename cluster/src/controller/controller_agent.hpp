// A member's agent in etcd: its lease and member record (kept alive), the
// election of one controlling member, the controller's loop (first
// assignment, replicas added as members join, failover when an owner's
// lease is gone, the rebalance, isr changes asked by owners, `forget`), and a
// watch that reports the shard table. Plain C++ on threads of its own, no CAF;
// the callbacks run on those threads and must only hand the values over.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controller/agent_requests.hpp"
#include "controller/assignment_plan.hpp"
#include "controller/controller_table.hpp"
#include "controller/etcd_client.hpp"
#include "controller/rebalance_plan.hpp"
#include "sluice/result.hpp"

namespace spdlog {
class logger;
}

namespace sluice::cluster {

struct controller_agent_options {
  etcd_options etcd;
  /// The cluster's name: the keys live under /sluice/<cluster>/.
  std::string cluster;
  /// This member's name and record (address, incarnation; its
  /// `hosts_shards` is taken from `hosts_shards` below).
  std::string member;
  member_record self;
  /// False: a proxy member; it keeps a lease (so it is seen) but is never
  /// made a replica.
  bool hosts_shards = true;
  /// The member's lease; kept alive every ttl/4. etcd raises a TTL below
  /// its minimum (1.5 s with default election settings).
  std::chrono::milliseconds lease_ttl{2000};
  /// R: replicas per shard (fewer while the cluster has fewer members).
  std::size_t replication_factor = 3;
  /// The controller waits this long after it took over (and after a new
  /// member appeared) before the first assignment, so that members started
  /// together share the shards from the start.
  std::chrono::milliseconds settle{1500};
  /// Replicas that must hold a record before it is acknowledged: the isr
  /// floor (a failover keeps dead members in the isr rather than go below
  /// it; a rebalance never writes it smaller).
  std::size_t min_insync = 2;
  /// The rebalance (rebalance_plan.hpp): shards in motion at most (0: no
  /// rebalance), and how long membership must hold still before it moves
  /// anything.
  std::size_t rebalance_moves = 32;
  std::chrono::milliseconds rebalance_settle{10000};
  /// A replica whose member's lease has been gone this long is forgotten
  /// as by `forget` (never its shards' last live in-sync copy); 0: never.
  std::chrono::milliseconds replace_after{std::chrono::minutes(5)};
  std::shared_ptr<spdlog::logger> log;
};

/// What the agent reports. Each runs on one of the agent's threads; none
/// may block for long.
struct controller_callbacks {
  /// The whole shard table, after the first read and after every change
  /// the watch saw (in revision order).
  std::function<void(std::shared_ptr<const shard_table>)> on_table;
  /// The members alive in etcd (their lease-bound keys), after each change.
  std::function<void(std::map<std::string, member_record>)> on_members;
  /// false as soon as this member cannot be sure its lease is alive (the
  /// last confirmed keepalive is older than 3/4 of the TTL, or etcd said it
  /// expired): the member stops acknowledging and committing its shards,
  /// since the controller may give them away once the lease is gone. true
  /// again once a (new) lease is confirmed.
  std::function<void(bool)> on_lease;
};

class controller_agent {
public:
  /// Connects, grants the lease, writes the member record and starts the
  /// threads. Errors: an unreachable etcd (errc::unavailable, naming the
  /// endpoints), a bad cluster or member name (errc::invalid_argument).
  static result<std::unique_ptr<controller_agent>>
  start(controller_agent_options options, controller_callbacks callbacks);

  /// Stops the threads and revokes the lease (the member's key goes, so the
  /// controller fails its shards over at once rather than after the TTL).
  ~controller_agent();
  controller_agent(const controller_agent&) = delete;
  controller_agent& operator=(const controller_agent&) = delete;

  /// An owner asks to add a caught-up follower to a shard's isr (`add`) or
  /// to remove a lagging one. Runs on the agent's thread as a
  /// compare-and-swap from a fresh read; `done` gets the outcome
  /// (errc::invalid_argument when the plan refuses, errc::unavailable when
  /// etcd cannot be reached).
  void change_isr(isr_request request, bool add,
                  std::function<void(result<void>)> done);

  /// The same for many requests at once (an owner with many shards): one
  /// read, then transactions of up to 127 shards. `done` gets one outcome
  /// per request, in order; a transaction that met a change (or no answer)
  /// gives its requests errc::unavailable: ask again.
  void change_isr_batch(std::vector<isr_request> requests, bool add,
                        std::function<void(std::vector<result<void>>)> done);

  /// This member owns `shards` in the table but holds no data of them (its
  /// data directory was lost and it came back within its lease), or a
  /// damaged record of them (`only_to_live_copy`): they go to other
  /// in-sync replicas (see resign_now). `done` gets what changed.
  void resign(std::vector<std::uint32_t> shards, bool only_to_live_copy,
              std::function<void(result<resign_outcome>)> done);

  /// This member, a former owner of `shards`, leaves their isr before it
  /// drops its records of them (see leave_isr_now). `done` gets how many
  /// changed.
  void leave_isr(std::vector<std::uint32_t> shards,
                 std::function<void(result<std::size_t>)> done);

  /// `forget NODE`: gives the stopped member's replicas to the next live
  /// members of each shard's ranking (see replacement_plan). `done` gets a
  /// one-line summary or the refusal.
  void forget(std::string member, bool allow_data_loss,
              std::function<void(result<std::string>)> done);

  /// Whether this member holds the controller key now.
  bool is_controller() const;

  /// The rebalance as this member's controller loop last planned it (only
  /// meaningful while `is_controller()`).
  rebalance_status rebalance_state() const;

  struct impl;

private:
  explicit controller_agent(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice::cluster
