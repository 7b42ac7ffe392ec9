// Each round reads the whole table in one range (members, controller key and
// shards at one revision) and does one kind of change at a time, failovers
// first since they are urgent, the rebalance last; the next read sees what it
// wrote. Every txn
// also compares the controller key's create_revision, so a member that lost
// the key (its lease expired and another won) can no longer write.
#include "controller/controller_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sluice/placement.hpp"

namespace sluice::cluster {

namespace {

/// Re-plans in one round before waiting for the next change or tick.
constexpr int max_plans = 6;

} // namespace

controller_loop::controller_loop(etcd_client client, controller_keys keys,
                                 controller_settings settings,
                                 etcd_outage& outage,
                                 std::shared_ptr<spdlog::logger> log)
    : client_(std::move(client)), keys_(std::move(keys)),
      settings_(std::move(settings)), outage_(outage), log_(std::move(log)),
      absent_(settings_.replace_after) {}

result<bool> controller_loop::campaign(std::int64_t lease) {
  etcd_txn txn;
  txn.compare.push_back(etcd_compare::missing(keys_.controller()));
  txn.success.push_back(
      etcd_op::put(keys_.controller(), settings_.member, lease));
  txn.failure.push_back(etcd_op::range(keys_.controller()));
  auto r = client_.txn(txn);
  if (!r) {
    outage_.failed(r.error());
    return r.error();
  }
  outage_.recovered();
  std::int64_t created = r->revision; // the put's, when it ran
  if (!r->succeeded) {
    if (r->ranges.empty() || r->ranges.back().kvs.empty())
      return false; // deleted again meanwhile: the next change says
    const auto& kv = r->ranges.back().kvs.front();
    // Ours already (an earlier answer lost, or the lease confirmed again).
    if (kv.value != settings_.member || kv.lease != lease)
      return false;
    created = kv.create_revision;
  }
  if (created != key_revision_) {
    key_revision_ = created;
    became_ = clock_type::now();
    membership_changed_ = became_;
    last_hosting_.clear();
    absent_.clear();
    replace_waiting_ = 0;
    without_owner_ = under_replicated_ = unreadable_ = 0;
    rebalance_waiting_.clear();
    rebalance_refused_ = 0;
    rebalancing_ = false;
    rebalance_waits("not planned yet");
    log_->info("controller agent: {} is the controller (revision {})",
               settings_.member, key_revision_);
  }
  return true;
}

void controller_loop::log_count(std::size_t& last, std::size_t count,
                                const char* what) {
  if (count != last && count > 0)
    log_->warn("controller: {} shards {}", count, what);
  else if (count != last)
    log_->info("controller: no shard {} any more", what);
  last = count;
}

controller_loop::outcome
controller_loop::write(const std::vector<shard_change>& changes,
                       const std::function<bool()>& acting, const char* what) {
  // One operation of each list is the fence: 127 shards per txn.
  auto txns = to_txns(keys_, changes, max_txn_ops - 1);
  std::size_t done = 0, conflicts = 0;
  for (std::size_t i = 0; i < txns.size(); ++i) {
    auto& txn = txns[i];
    auto shards = txn.compare.size();
    if (!acting())
      return outcome::failed;
    txn.compare.push_back({keys_.controller(),
                           etcd_compare::target::create_revision,
                           etcd_compare::relation::equal,
                           {},
                           key_revision_});
    auto r = client_.txn(txn);
    if (!r) {
      outage_.failed(r.error());
      log_->info("controller: {}: {} of {} shards written, then {}", what, done,
                 changes.size(), r.error().describe());
      return outcome::failed;
    }
    outage_.recovered();
    (r->succeeded ? done : conflicts) += shards;
  }
  log_->info("controller: {}: {} shards written{}", what, done,
             conflicts ? ", " + std::to_string(conflicts)
                             + " changed meanwhile (planned again)"
                       : std::string());
  return conflicts ? outcome::conflict : outcome::written;
}

bool controller_loop::round(const std::function<bool()>& acting,
                            clock_type::time_point& recheck) {
  for (int plan = 0; plan < max_plans; ++plan) {
    if (!acting())
      return true;
    auto range = client_.get_prefix(keys_.root());
    if (!range) {
      outage_.failed(range.error());
      return true;
    }
    outage_.recovered();
    std::vector<std::string> problems;
    auto s = read_snapshot(keys_, *range, problems);
    if (!s.controller || s.controller->create_revision != key_revision_) {
      log_->info("controller agent: {} is no longer the controller",
                 settings_.member);
      key_revision_ = 0;
      return false;
    }
    log_count(unreadable_, s.unreadable.size(),
              "with an assignment that does not decode (left alone)");
    auto now = clock_type::now();
    auto hosting = s.hosting();
    if (hosting != last_hosting_) {
      if (!last_hosting_.empty()) // not the first look since it won
        membership_changed_ = now;
      last_hosting_ = hosting;
      log_->info("controller: {} live members host shards", hosting.size());
    }
    absent_.observe(s.shards, s.live(), now);
    if (auto due = absent_.next_due(now))
      recheck = std::min(recheck, *due);
    // Failovers first, whatever the settle: a shard without a live owner
    // accepts nothing.
    auto failover =
        failover_plan(keys_, s.shards, s.live(), {}, settings_.min_insync);
    log_count(without_owner_, failover.without_owner.size(),
              "without owner (no member of their isr is live)");
    if (!failover.changes.empty() || !failover.without_owner.empty())
      rebalance_waits("failovers first");
    if (!failover.changes.empty()) {
      if (write(failover.changes, acting, "failover") == outcome::failed)
        return true;
      continue;
    }
    auto settled = std::max(became_, membership_changed_) + settings_.settle;
    if (now < settled) {
      recheck = std::min(recheck, settled);
      rebalance_waits("membership changed less than the settle time ago");
      return true;
    }
    if (hosting.empty())
      return true;
    auto existing = s.shards;
    for (auto [shard, revision] : s.unreadable)
      existing[shard] = {}; // there: never assigned as if missing
    if (existing.size() < shard_count) {
      rebalance_waits("first assignment first");
      auto initial =
          initial_plan(keys_, existing, hosting, settings_.replication_factor);
      if (!initial) {
        log_->error("controller: no initial assignment: {}",
                    initial.error().describe());
        return true;
      }
      if (write(initial->changes, acting, "first assignment")
          == outcome::failed)
        return true;
      continue;
    }
    if (auto r = replace_absent(s, hosting, acting, now)) {
      if (*r == outcome::failed)
        return true;
      continue; // planned again from a fresh read
    }
    auto grow =
        grow_plan(keys_, s.shards, hosting, settings_.replication_factor);
    log_count(under_replicated_, grow.under_replicated.size(),
              "with fewer replicas than R (too few members)");
    if (grow.changes.empty()) {
      if (!rebalance(s, hosting, acting, recheck))
        return true;
      continue;
    }
    rebalance_waits("growth to R replicas first");
    if (write(grow.changes, acting, "replicas added") == outcome::failed)
      return true;
  }
  return true;
}

std::optional<controller_loop::outcome> controller_loop::replace_absent(
    const table_snapshot& s, const std::vector<std::string>& hosting,
    const std::function<bool()>& acting, clock_type::time_point now) {
  constexpr const char* kept = "keep an absent member past replace_after (no "
                               "live in-sync copy besides it)";
  auto due = absent_.due(now);
  if (due.empty()) {
    log_count(replace_waiting_, 0, kept);
    return std::nullopt;
  }
  auto plan = absent_replacement_plan(keys_, s.shards, due, hosting,
                                      settings_.replication_factor);
  std::string names;
  for (const auto& m : plan.forgotten)
    names += (names.empty() ? "'" : ", '") + m + "'";
  auto waiting = plan.refused.size();
  auto& changes = plan.changes;
  log_count(replace_waiting_, waiting, kept);
  if (changes.empty())
    return std::nullopt;
  log_->warn("controller: replacing {} (lease gone longer than "
             "replace_after, {} ms): {} shards re-replicated",
             names, settings_.replace_after.count(), changes.size());
  return write(changes, acting, "replace_after");
}

rebalance_status controller_loop::rebalance_state() const {
  std::lock_guard<std::mutex> guard{status_mtx_};
  return status_;
}

void controller_loop::rebalance_waits(std::string why) {
  std::lock_guard<std::mutex> guard{status_mtx_};
  status_.waiting = std::move(why);
}

bool controller_loop::rebalance(const table_snapshot& s,
                                const std::vector<std::string>& hosting,
                                const std::function<bool()>& acting,
                                clock_type::time_point& recheck) {
  if (settings_.rebalance_moves == 0) {
    rebalance_waits("turned off (--rebalance-moves 0)");
    return false;
  }
  // A member restarting (or several joining) changes membership more than
  // once: only a membership that held still for a while is balanced over.
  auto settled =
      std::max(became_, membership_changed_) + settings_.rebalance_settle;
  if (clock_type::now() < settled) {
    recheck = std::min(recheck, settled);
    rebalance_waits("membership changed less than the rebalance settle time "
                    "ago");
    return false;
  }
  auto rb = rebalance_plan(keys_, s.shards, hosting,
                           {settings_.replication_factor, settings_.min_insync,
                            settings_.rebalance_moves});
  {
    std::lock_guard<std::mutex> guard{status_mtx_};
    status_.waiting = rb.waiting;
    status_.in_motion = rb.in_motion;
    status_.unbalanced = rb.unbalanced;
  }
  if (rb.waiting != rebalance_waiting_) {
    if (!rb.waiting.empty())
      log_->info("controller: rebalance waits: {}", rb.waiting);
    rebalance_waiting_ = rb.waiting;
  }
  log_count(rebalance_refused_, rb.plan.refused.size(),
            "cannot move to their preferred owner (see rebalance_plan.hpp)");
  if (!rb.waiting.empty())
    return false;
  if (rb.plan.changes.empty()) {
    if (rb.unbalanced == 0 && rebalancing_)
      log_->info("controller: rebalance done: every shard has its target "
                 "replicas and its preferred owner");
    rebalancing_ = rb.unbalanced > 0 && rebalancing_;
    return false;
  }
  rebalancing_ = true;
  auto what = fmt::format(
      "rebalance ({} replicas added, {} owners moved, {} replica sets "
      "trimmed; {} shards in motion, {} not at their target)",
      rb.added, rb.owners_moved, rb.dropped, rb.in_motion, rb.unbalanced);
  auto done = write(rb.plan.changes, acting, what.c_str());
  if (done == outcome::written) {
    std::lock_guard<std::mutex> guard{status_mtx_};
    status_.added += rb.added;
    status_.owners_moved += rb.owners_moved;
    status_.dropped += rb.dropped;
  }
  return done != outcome::failed;
}

} // namespace sluice::cluster
