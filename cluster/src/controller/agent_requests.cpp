// The requests' rounds, one loop for all: read etcd, plan on what was read,
// run the plan's txns; a few attempts, a short pause between those that
// etcd did not answer. Runs on the caller's thread; no state of its own.
#include "controller/agent_requests.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <thread>

#include "controller/table_snapshot.hpp"
#include "sluice/placement.hpp"

namespace sluice::cluster {

using namespace std::chrono_literals;

namespace {

constexpr int attempts = 5;

void pause(int attempt) {
  std::this_thread::sleep_for(100ms * (1 << attempt));
}

/// How a request's rounds go: what each reads before planning, and what a
/// failed txn does (the requests differ only there).
struct round_rules {
  std::string what;        ///< names the request in its final error
  std::string read_key;    ///< read before each planning step: this key,
  bool read_prefix = true; ///< or every key under it
  /// Why a txn that found its shards changed failed, for the final error.
  std::string conflict = "shards changed meanwhile";
  /// The round's later txns still run after such a txn (each stands
  /// alone); otherwise the round ends there.
  bool run_rest_after_conflict = false;
  /// The next round starts without a pause after such a txn (etcd
  /// answered; only the shard moved on).
  bool retry_conflict_at_once = false;
  /// A txn error other than errc::unavailable ends the request (within
  /// `what`); otherwise it is retried as an unanswered one is.
  bool txn_errors_end = false;
};

/// What the rounds wrote: the plan of the round that finished the job
/// (nullopt: the planning step found it done), and the shards compared in
/// the txns that succeeded, over every round.
struct rounds_done {
  std::optional<assignment_plan> last;
  std::size_t written = 0;
};

/// The planning step of a round: from what it read, the plan to write,
/// nullopt when the job is done already, or an error that ends the
/// request. `answer_lost`: a txn of an earlier round was not answered, so
/// it may have run.
using planning_step = std::function<result<std::optional<assignment_plan>>(
    const etcd_range& read, bool answer_lost)>;

/// Up to `attempts` rounds of: read, plan, run the plan's txns in order. A
/// read or txn etcd did not answer, or a txn that found its shards changed,
/// starts the next round from a fresh read (after a pause).
result<rounds_done> run_rounds(etcd_client& client, const round_rules& rules,
                               const planning_step& plan) {
  rounds_done out;
  bool answer_lost = false;
  error last = fail(errc::unavailable, "not tried");
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto read = rules.read_prefix ? client.get_prefix(rules.read_key)
                                  : client.get(rules.read_key);
    if (!read) {
      last = read.error();
      pause(attempt);
      continue;
    }
    auto planned = plan(*read, answer_lost);
    answer_lost = false;
    if (!planned)
      return planned.error();
    out.last = std::move(*planned);
    if (!out.last)
      return out;
    bool again = false, pause_next = true;
    for (const auto& txn : out.last->txns) {
      auto done = client.txn(txn);
      if (!done) {
        if (rules.txn_errors_end && done.error().code != errc::unavailable)
          return done.error().within(rules.what);
        last = done.error();
        answer_lost = again = true;
        pause_next = true;
        break;
      }
      if (done->succeeded) {
        out.written += txn.compare.size();
        continue;
      }
      last = fail(errc::unavailable, rules.conflict);
      again = true;
      pause_next = !rules.retry_conflict_at_once;
      if (!rules.run_rest_after_conflict)
        break;
    }
    if (!again)
      return out;
    if (pause_next)
      pause(attempt);
  }
  return fail(errc::unavailable, rules.what + ": not done after "
                                     + std::to_string(attempts)
                                     + " attempts; last: " + last.message);
}

} // namespace

result<void> change_isr_now(etcd_client& client, const controller_keys& keys,
                            const isr_request& request, bool add) {
  const auto where = "shard " + std::to_string(request.shard) + ": isr "
                     + (add ? "add" : "remove") + " of '" + request.member
                     + "'";
  if (request.shard >= shard_count)
    return fail(errc::invalid_argument, where + ": no such shard (there are "
                                            + std::to_string(shard_count)
                                            + ")");
  round_rules rules{.what = where,
                    .read_key = keys.shard(request.shard),
                    .read_prefix = false,
                    .conflict = "the shard changed meanwhile",
                    .retry_conflict_at_once = true,
                    .txn_errors_end = true};
  std::optional<shard_assignment> tried; // the last round's txn wrote
  auto done = run_rounds(
      client, rules,
      [&](const etcd_range& read,
          bool answer_lost) -> result<std::optional<assignment_plan>> {
        auto table = read_shard_table(keys, read);
        if (!table)
          return table.error().within(where);
        if (answer_lost && tried && table->contains(request.shard)
            && table->at(request.shard).value == *tried)
          return std::optional<assignment_plan>{}; // the lost answer's txn ran
        auto plan = add ? isr_add_plan(keys, *table, request)
                        : isr_remove_plan(keys, *table, request);
        if (!plan)
          return plan.error();
        if (!plan->changes.empty()) // one shard: one change, one txn
          tried = plan->changes.front().next;
        return std::optional{std::move(*plan)};
      });
  if (!done)
    return done.error();
  return {};
}

std::vector<result<void>>
change_isr_batch_now(etcd_client& client, const controller_keys& keys,
                     const std::vector<isr_request>& requests, bool add) {
  std::vector<result<void>> out(requests.size());
  auto read = client.get_prefix(keys.shards_prefix());
  auto table =
      read ? read_shard_table(keys, *read) : result<shard_table>(read.error());
  if (!table) {
    for (auto& r : out)
      r = table.error();
    return out;
  }
  // Per shard, one change (several requests for one shard build on each
  // other), and which requests it carries.
  std::map<std::uint32_t, shard_change> merged;
  std::map<std::uint32_t, std::vector<std::size_t>> carried;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto plan = add ? isr_add_plan(keys, *table, requests[i])
                    : isr_remove_plan(keys, *table, requests[i]);
    if (!plan) {
      out[i] = plan.error();
      continue;
    }
    auto& ch = plan->changes.front();
    auto m = merged.find(ch.shard);
    if (m == merged.end())
      merged.emplace(ch.shard, ch);
    else
      m->second.next = ch.next;
    (*table)[ch.shard].value = ch.next; // the next request plans on top
    carried[ch.shard].push_back(i);
  }
  std::vector<shard_change> changes;
  changes.reserve(merged.size());
  for (auto& [shard, ch] : merged)
    changes.push_back(ch);
  const std::size_t per_txn = max_txn_ops - 1;
  auto txns = to_txns(keys, changes, per_txn);
  for (std::size_t t = 0; t < txns.size(); ++t) {
    auto done = client.txn(txns[t]);
    error why = fail(errc::unavailable, "the shard changed meanwhile");
    bool ok = done && done->succeeded;
    if (!done)
      why = done.error();
    if (ok)
      continue;
    for (std::size_t c = t * per_txn;
         c < std::min(changes.size(), (t + 1) * per_txn); ++c)
      for (auto i : carried[changes[c].shard])
        out[i] = why;
  }
  return out;
}

result<resign_outcome>
resign_now(etcd_client& client, const controller_keys& keys,
           const std::string& member, const std::vector<std::uint32_t>& shards,
           std::size_t min_insync, bool only_to_live_copy) {
  round_rules rules{.what = "giving up shards", .read_key = keys.root()};
  resign_outcome out;
  auto done = run_rounds(
      client, rules,
      [&](const etcd_range& read,
          bool) -> result<std::optional<assignment_plan>> {
        std::vector<std::string> problems;
        auto s = read_snapshot(keys, read, problems);
        auto live = s.live();
        live.erase(member);
        out.kept.clear();
        shard_table mine;
        for (auto sh : shards) {
          auto it = s.shards.find(sh);
          if (it == s.shards.end() || it->second.value.owner != member) {
            out.kept.push_back(sh);
            continue;
          }
          auto entry = *it;
          // It holds none of them (or a damaged copy): out of their isr.
          std::erase(entry.second.value.isr, member);
          if (only_to_live_copy
              && std::none_of(
                  entry.second.value.isr.begin(), entry.second.value.isr.end(),
                  [&](const std::string& m) { return live.count(m) > 0; })) {
            out.kept.push_back(sh);
            continue;
          }
          mine.insert(std::move(entry));
        }
        return std::optional{failover_plan(keys, mine, live, {}, min_insync)};
      });
  if (!done)
    return done.error();
  const auto& plan = *done->last;
  out.without_owner = plan.without_owner.size();
  out.moved = static_cast<std::size_t>(std::count_if(
      plan.changes.begin(), plan.changes.end(),
      [](const shard_change& c) { return !c.next.owner.empty(); }));
  return out;
}

result<std::size_t> leave_isr_now(etcd_client& client,
                                  const controller_keys& keys,
                                  const std::string& member,
                                  const std::vector<std::uint32_t>& shards) {
  round_rules rules{.what = "leaving the isr", .read_key = keys.root()};
  auto done = run_rounds(client, rules,
                         [&](const etcd_range& read,
                             bool) -> result<std::optional<assignment_plan>> {
                           std::vector<std::string> problems;
                           auto s = read_snapshot(keys, read, problems);
                           return std::optional{
                               leave_isr_plan(keys, s.shards, member, shards)};
                         });
  if (!done)
    return done.error();
  return done->written;
}

result<std::string> forget_now(etcd_client& client, const controller_keys& keys,
                               const std::string& member,
                               std::size_t replication_factor,
                               bool allow_data_loss) {
  if (auto ok = controller_keys::check_name("member name", member); !ok)
    return ok.error();
  round_rules rules{.what = "forget '" + member + "'",
                    .read_key = keys.root(),
                    .run_rest_after_conflict = true};
  auto done = run_rounds(client, rules,
                         [&](const etcd_range& read,
                             bool) -> result<std::optional<assignment_plan>> {
                           std::vector<std::string> problems;
                           auto s = read_snapshot(keys, read, problems);
                           auto plan = replacement_plan(
                               keys, s.shards, member, s.live(),
                               replication_factor, {}, allow_data_loss);
                           if (!plan)
                             return plan.error();
                           return std::optional{std::move(*plan)};
                         });
  if (!done)
    return done.error();
  // Counts of the last round, which finished the job; shards changed over
  // every round.
  const auto& plan = *done->last;
  auto summary =
      "forgot '" + member + "': " + std::to_string(done->written)
      + " shards changed, " + std::to_string(plan.without_owner.size())
      + " without owner, " + std::to_string(plan.data_lost.size())
      + " restarted empty, " + std::to_string(plan.under_replicated.size())
      + " under-replicated, " + std::to_string(plan.refused.size())
      + " refused";
  if (!plan.refused.empty())
    summary += " (shard " + std::to_string(plan.refused.front().first) + ": "
               + plan.refused.front().second + ")";
  return summary;
}

} // namespace sluice::cluster
