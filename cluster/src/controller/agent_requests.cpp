// A few attempts, a short pause between those that etcd did not answer.
#include "controller/agent_requests.hpp"

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
