// A few attempts, a short pause between those that etcd did not answer.
#include "controller/agent_requests.hpp"

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
  std::optional<shard_assignment> unknown; // written, outcome unknown
  error last = fail(errc::unavailable, where + ": not tried");
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto read = client.get(keys.shard(request.shard));
    if (!read) {
      last = read.error();
      pause(attempt);
      continue;
    }
    auto table = read_shard_table(keys, *read);
    if (!table)
      return table.error().within(where);
    if (unknown && table->contains(request.shard)
        && table->at(request.shard).value == *unknown)
      return {}; // the lost answer's txn did run
    unknown.reset();
    auto plan = add ? isr_add_plan(keys, *table, request)
                    : isr_remove_plan(keys, *table, request);
    if (!plan)
      return plan.error();
    auto done = client.txn(plan->txns.front());
    if (!done) {
      if (done.error().code != errc::unavailable)
        return done.error().within(where);
      unknown = plan->changes.front().next;
      last = done.error();
      pause(attempt);
      continue;
    }
    if (done->succeeded)
      return {};
    last = fail(errc::unavailable, "the shard changed meanwhile");
  }
  return fail(errc::unavailable, where + ": not done after "
                                     + std::to_string(attempts)
                                     + " attempts; last: " + last.message);
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

result<std::string> resign_now(etcd_client& client, const controller_keys& keys,
                               const std::string& member,
                               const std::vector<std::uint32_t>& shards) {
  error last = fail(errc::unavailable, "not tried");
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto read = client.get_prefix(keys.root());
    if (!read) {
      last = read.error();
      pause(attempt);
      continue;
    }
    std::vector<std::string> problems;
    auto s = read_snapshot(keys, *read, problems);
    shard_table mine;
    for (auto sh : shards)
      if (auto it = s.shards.find(sh);
          it != s.shards.end() && it->second.value.owner == member)
        mine.insert(*it);
    auto live = s.live();
    live.erase(member);
    auto plan = failover_plan(keys, mine, live, {});
    bool conflict = false;
    for (const auto& txn : plan.txns) {
      auto done = client.txn(txn);
      if (!done || !done->succeeded) {
        last = done ? fail(errc::unavailable, "shards changed meanwhile")
                    : done.error();
        conflict = true;
        break;
      }
    }
    if (!conflict)
      return "'" + member + "' gave up " + std::to_string(plan.changes.size())
             + " shards it holds no data of ("
             + std::to_string(plan.without_owner.size())
             + " left without owner until an in-sync copy is back)";
    pause(attempt);
  }
  return fail(errc::unavailable, "giving up shards: not done after "
                                     + std::to_string(attempts)
                                     + " attempts; last: " + last.message);
}

result<std::string> forget_now(etcd_client& client, const controller_keys& keys,
                               const std::string& member,
                               std::size_t replication_factor,
                               bool allow_data_loss) {
  if (auto ok = controller_keys::check_name("member name", member); !ok)
    return ok.error();
  std::size_t written = 0;
  error last = fail(errc::unavailable, "not tried");
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto read = client.get_prefix(keys.root());
    if (!read) {
      last = read.error();
      pause(attempt);
      continue;
    }
    std::vector<std::string> problems;
    auto s = read_snapshot(keys, *read, problems);
    auto plan = replacement_plan(keys, s.shards, member, s.live(),
                                 replication_factor, {}, allow_data_loss);
    if (!plan)
      return plan.error();
    bool conflict = false;
    for (const auto& txn : plan->txns) {
      auto done = client.txn(txn);
      if (!done) {
        last = done.error();
        conflict = true;
        break;
      }
      if (done->succeeded) {
        written += txn.compare.size();
      } else {
        last = fail(errc::unavailable, "shards changed meanwhile");
        conflict = true;
      }
    }
    if (!conflict) { // counts of the last round, which finished the job
      auto summary =
          "forgot '" + member + "': " + std::to_string(written)
          + " shards changed, " + std::to_string(plan->without_owner.size())
          + " without owner, " + std::to_string(plan->data_lost.size())
          + " restarted empty, " + std::to_string(plan->under_replicated.size())
          + " under-replicated, " + std::to_string(plan->refused.size())
          + " refused";
      if (!plan->refused.empty())
        summary += " (shard " + std::to_string(plan->refused.front().first)
                   + ": " + plan->refused.front().second + ")";
      return summary;
    }
    pause(attempt);
  }
  return fail(errc::unavailable, "forget '" + member + "': not done after "
                                     + std::to_string(attempts)
                                     + " attempts; last: " + last.message);
}

} // namespace sluice::cluster
