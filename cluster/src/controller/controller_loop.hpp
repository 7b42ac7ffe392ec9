// The controller's side of the agent: the election (whoever creates the
// `controller` key on its lease) and the loop's rounds: read the table, fail
// shards over, assign new ones once membership settled, forget members gone
// longer than replace_after, add replicas up to R,
// rebalance towards each shard's ranking, each as compare-and-swap txns
// fenced on the controller key, re-planned on conflict. Used from one thread
// (the agent's worker); `rebalance_state()` from any.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/absent_members.hpp"
#include "controller/assignment_plan.hpp"
#include "controller/etcd_client.hpp"
#include "controller/etcd_outage.hpp"
#include "controller/rebalance_plan.hpp"
#include "controller/table_snapshot.hpp"

namespace sluice::cluster {

struct controller_settings {
  std::string member;
  std::size_t replication_factor = 3;
  std::chrono::milliseconds settle{1500};
  /// The isr floor the rebalance keeps (rebalance_plan.hpp).
  std::size_t min_insync = 2;
  /// Shards the rebalance keeps in motion at most; 0: no rebalance.
  std::size_t rebalance_moves = 32;
  /// The rebalance starts this long after the membership last changed.
  std::chrono::milliseconds rebalance_settle{10000};
  /// A replica whose member's lease has been gone this long is forgotten
  /// (absent_members.hpp); 0: never (only `forget NODE`).
  std::chrono::milliseconds replace_after{std::chrono::minutes(5)};
};

class controller_loop {
public:
  using clock_type = std::chrono::steady_clock;

  controller_loop(etcd_client client, controller_keys keys,
                  controller_settings settings, etcd_outage& outage,
                  std::shared_ptr<spdlog::logger> log);

  /// Tries to create the controller key on `lease`. True when this member
  /// holds it (created now, or found with this lease); false when another
  /// does; an error when etcd could not say.
  result<bool> campaign(std::int64_t lease);

  /// One round of the loop, if `acting()` (checked before every write).
  /// Returns when nothing is left to do, after a few re-plans, or at the
  /// first error; false when the controller key is no longer this member's
  /// (it stopped being the controller). `recheck` is set to when the loop
  /// wants to run again even if nothing changes (the end of a settle).
  bool round(const std::function<bool()>& acting,
             clock_type::time_point& recheck);

  /// The rebalance as last planned (or why not). Any thread.
  rebalance_status rebalance_state() const;

private:
  enum class outcome { written, conflict, failed };
  /// Runs `changes` as txns fenced on the controller key.
  outcome write(const std::vector<shard_change>& changes,
                const std::function<bool()>& acting, const char* what);
  /// Logs `count` under `what` only when it differs from the last time.
  void log_count(std::size_t& last, std::size_t count, const char* what);
  /// The rebalance's part of a round, once growth is done: true when it
  /// wrote (plan again), false when the round is over (nothing to do, a
  /// settle to wait for, or a failed write).
  bool rebalance(const table_snapshot& s,
                 const std::vector<std::string>& hosting,
                 const std::function<bool()>& acting,
                 clock_type::time_point& recheck);

  /// `replace_after`'s part of a round: members gone long enough are
  /// forgotten, each shard only while a live member of its isr remains.
  /// nullopt: nothing to write.
  std::optional<outcome> replace_absent(const table_snapshot& s,
                                        const std::vector<std::string>& hosting,
                                        const std::function<bool()>& acting,
                                        clock_type::time_point now);

  etcd_client client_;
  controller_keys keys_;
  controller_settings settings_;
  etcd_outage& outage_;
  std::shared_ptr<spdlog::logger> log_;

  /// The controller key's create_revision when this member won it.
  std::int64_t key_revision_ = 0;
  clock_type::time_point became_{};
  clock_type::time_point membership_changed_{};
  std::vector<std::string> last_hosting_;
  absent_members absent_;
  /// Shards replace_after leaves alone (no live in-sync copy), last logged.
  std::size_t replace_waiting_ = 0;
  std::size_t without_owner_ = 0;
  std::size_t under_replicated_ = 0;
  std::size_t unreadable_ = 0;
  /// The rebalance's last logged state: why it waits, refusals, in motion.
  std::string rebalance_waiting_;
  std::size_t rebalance_refused_ = 0;
  /// Moves written since the rebalance was last done.
  bool rebalancing_ = false;
  mutable std::mutex status_mtx_;
  rebalance_status status_;
  /// Sets why the rebalance does not plan now.
  void rebalance_waits(std::string why);
};

} // namespace sluice::cluster
