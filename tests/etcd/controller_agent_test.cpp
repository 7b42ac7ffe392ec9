// Controller agents against a real etcd 3.4 (agents_against_etcd.hpp),
// several in one process as members a, b, c...: the first assignment, one
// controller, failover when an owner or the controller goes, a member cut
// off from etcd (tcp_proxy.hpp) stopping within its TTL, isr refusals,
// growth up to R. Absent members (`forget`, `replace_after`):
// controller_agent_absent_test.cpp.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

#include "agents_against_etcd.hpp"
#include "tcp_proxy.hpp"

namespace sluice::cluster {
namespace {

using namespace agents_test;
using sluice_test::tcp_proxy;

class Agents : public agents_against_etcd {
protected:
  std::vector<std::string> controllers() {
    std::vector<std::string> out;
    for (const auto& [name, agent] : agents)
      if (agent->is_controller())
        out.push_back(name);
    return out;
  }

  result<void> change_isr(const std::string& agent, isr_request r) {
    std::promise<result<void>> done;
    auto answer = done.get_future();
    agents.at(agent)->change_isr(std::move(r), true, [&](result<void> v) {
      done.set_value(std::move(v));
    });
    if (answer.wait_for(10s) != std::future_status::ready)
      return fail(errc::unavailable, "no answer within 10 s");
    return answer.get();
  }

  /// Up to `n` shards owned by `owner`, each given its second replica in
  /// the isr (as an owner does once a follower caught up).
  std::map<std::uint32_t, shard_assignment>
  with_second_in_sync(const std::string& owner, std::size_t n) {
    std::map<std::uint32_t, shard_assignment> chosen;
    for (const auto& [shard, entry] : table()) {
      if (entry.value.owner != owner || chosen.size() == n)
        continue;
      auto follower = entry.value.replicas[0] == owner
                          ? entry.value.replicas[1]
                          : entry.value.replicas[0];
      auto ok = change_isr(owner, {shard, owner, follower, {1, 0}, {1, 0}});
      EXPECT_TRUE(ok) << ok.error().describe();
      chosen[shard] = entry.value;
      chosen[shard].isr = {owner, follower};
    }
    return chosen;
  }

  /// Whether every chosen shard went to its other isr member at epoch + 1,
  /// and every other shard of `gone` was fenced (no owner, epoch + 1).
  bool failed_over(const std::map<std::uint32_t, shard_assignment>& chosen,
                   const shard_table& before, const std::string& gone) {
    auto now = table();
    for (const auto& [shard, entry] : before) {
      const auto& a = now.at(shard).value;
      if (entry.value.owner != gone) {
        if (a.owner != entry.value.owner || a.epoch != entry.value.epoch)
          return false;
        continue;
      }
      auto it = chosen.find(shard);
      auto expected = it == chosen.end() ? std::string() : it->second.isr[1];
      if (a.owner != expected || a.epoch != entry.value.epoch + 1)
        return false;
    }
    return true;
  }
};

TEST_F(Agents, ThreeAgentsAssignEveryShardToThreeReplicasUnderOneController) {
  start("a");
  start("b");
  start("c");
  auto proxy = options("p");
  proxy.hosts_shards = false;
  start(proxy);
  for (const auto& [name, s] : seen)
    ASSERT_TRUE(eventually(
        // Captured by name: clang 14 (clang-tidy's) cannot capture a
        // structured binding.
        [&reported = *s] {
          return fully_assigned(reported.table_now().get(), 3);
        },
        10s))
        << name << " never saw every shard with 3 replicas";
  EXPECT_EQ(controllers().size(), 1u);
  std::map<std::string, int> owned;
  for (const auto& [shard, entry] : table()) {
    ++owned[entry.value.owner];
    EXPECT_EQ(entry.value.epoch, 1u);
    EXPECT_EQ(entry.value.isr, std::vector<std::string>{entry.value.owner});
    for (const auto& r : entry.value.replicas)
      EXPECT_NE(r, "p") << "a proxy was made a replica of shard " << shard;
  }
  // Started together, all three share the shards from the start.
  for (const auto* name : {"a", "b", "c"})
    EXPECT_GT(owned[name], 200) << name;
  std::lock_guard<std::mutex> guard{seen["a"]->mutex};
  EXPECT_EQ(seen["a"]->members.size(), 4u);
  EXPECT_FALSE(seen["a"]->members.at("p").hosts_shards);
  ASSERT_FALSE(seen["a"]->leases.empty());
  EXPECT_TRUE(seen["a"]->leases.front().first);
}

TEST_F(Agents, AGoneOwnersShardsFailOverToAnotherIsrMemberAtTheNextEpoch) {
  for (const auto* name : {"a", "b", "c"})
    start(name);
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 3); }, 10s));
  ASSERT_TRUE(eventually([&] { return controllers().size() == 1; }, 3s));
  std::string gone = controllers()[0] == "a" ? "b" : "a";
  auto chosen = with_second_in_sync(gone, 4);
  ASSERT_EQ(chosen.size(), 4u);
  auto before = table();
  agents.erase(gone); // revokes its lease
  auto destroyed = clock_type::now();
  EXPECT_TRUE(eventually([&] { return failed_over(chosen, before, gone); }, 3s))
      << "not failed over within 3 s";
  EXPECT_LT(clock_type::now() - destroyed, 3s);
}

TEST_F(Agents, WhenTheControllerGoesAnotherAgentTakesOverAndFailsItsShards) {
  for (const auto* name : {"a", "b", "c"})
    start(name);
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 3); }, 10s));
  ASSERT_TRUE(eventually([&] { return controllers().size() == 1; }, 3s));
  auto gone = controllers()[0];
  auto chosen = with_second_in_sync(gone, 3);
  ASSERT_EQ(chosen.size(), 3u);
  auto before = table();
  agents.erase(gone);
  ASSERT_TRUE(eventually([&] { return controllers().size() == 1; }, 3s))
      << "no new controller";
  EXPECT_NE(controllers()[0], gone);
  EXPECT_TRUE(
      eventually([&] { return failed_over(chosen, before, gone); }, 3s));
}

TEST_F(Agents, AnAgentCutOffFromEtcdStopsWithinItsTtlAndComesBackLater) {
  tcp_proxy proxy{etcd.client_port()};
  auto& cut =
      start(options("a", "http://127.0.0.1:" + std::to_string(proxy.port())));
  ASSERT_TRUE(eventually([&] { return cut.is_controller(); }, 5s));
  start("b");
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["b"]->table_now().get(), 2); }, 10s));
  proxy.cut();
  auto at = clock_type::now();
  ASSERT_TRUE(
      eventually([&] { return seen["a"]->leases_now().size() >= 2; }, 3s));
  auto leases = seen["a"]->leases_now();
  EXPECT_FALSE(leases[1].first);
  EXPECT_LT(leases[1].second - at, 2000ms) << "later than the TTL";
  EXPECT_FALSE(cut.is_controller());
  // Its lease expires: b takes over and fails a's shards over (isr {a}:
  // fenced without owner).
  ASSERT_TRUE(eventually(
      [&] { return controllers() == std::vector<std::string>{"b"}; }, 5s));
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& [shard, entry] : table())
          if (entry.value.owner == "a")
            return false;
        return true;
      },
      3s));
  proxy.restore();
  ASSERT_TRUE(
      eventually([&] { return seen["a"]->leases_now().size() >= 3; }, 5s));
  EXPECT_TRUE(seen["a"]->leases_now()[2].first);
  auto c = etcd_client::make({{etcd.url()}});
  EXPECT_EQ(c->get(keys.member("a"))->kvs.size(), 1u) << "record not back";
  EXPECT_FALSE(cut.is_controller());
}

TEST_F(Agents, AnAgentWhoseEtcdRestartsStopsMeanwhileThenKeepsItsLease) {
  auto& a = start("a");
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 1); }, 10s));
  ASSERT_TRUE(a.is_controller());
  auto c = etcd_client::make({{etcd.url()}});
  auto lease = c->get(keys.member("a"))->kvs.at(0).lease;
  auto before = table();
  etcd.stop();
  auto at = clock_type::now();
  ASSERT_TRUE(
      eventually([&] { return seen["a"]->leases_now().size() >= 2; }, 3s));
  EXPECT_LT(seen["a"]->leases_now()[1].second - at, 2000ms);
  EXPECT_FALSE(a.is_controller());
  etcd.start();
  // etcd renews every lease when it elects a leader: the same lease answers
  // again, so nothing was given away and nothing changes hands.
  ASSERT_TRUE(
      eventually([&] { return seen["a"]->leases_now().size() >= 3; }, 5s));
  EXPECT_TRUE(seen["a"]->leases_now()[2].first);
  EXPECT_TRUE(eventually([&] { return a.is_controller(); }, 3s));
  EXPECT_EQ(c->get(keys.member("a"))->kvs.at(0).lease, lease);
  EXPECT_EQ(table(), before);
}

TEST_F(Agents, AnIsrChangeAskedByAMemberThatIsNotTheOwnerIsRefused) {
  start("a");
  start("b");
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 2); }, 10s));
  auto t = table();
  auto shard = std::find_if(t.begin(), t.end(), [](const auto& e) {
                 return e.second.value.owner == "a";
               })->first;
  auto refused = change_isr("b", {shard, "b", "b", {1, 0}, {1, 0}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  EXPECT_EQ(refused.error().message,
            "shard " + std::to_string(shard)
                + ": 'b' is not its owner (the owner is 'a' at epoch 1)");
  auto behind = change_isr("a", {shard, "a", "b", {1, 4}, {1, 5}});
  ASSERT_FALSE(behind);
  EXPECT_NE(behind.error().message.find("has not caught up"),
            std::string::npos);
  auto no_shard = change_isr("a", {5000, "a", "b", {1, 0}, {1, 0}});
  ASSERT_FALSE(no_shard);
  EXPECT_EQ(no_shard.error().code, errc::invalid_argument);
  EXPECT_EQ(table(), t) << "a refusal changed the table";
  ASSERT_TRUE(change_isr("a", {shard, "a", "b", {1, 5}, {1, 5}}));
  EXPECT_EQ(table().at(shard).value.isr.size(), 2u);
}

TEST_F(Agents, AShardWithADamagedRecordGoesOnlyToALiveInSyncCopy) {
  start("a");
  start("b");
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 2); }, 10s));
  auto t = table();
  std::vector<std::uint32_t> mine;
  for (const auto& [shard, e] : t)
    if (e.value.owner == "a" && mine.size() < 2)
      mine.push_back(shard);
  ASSERT_EQ(mine.size(), 2u);
  // b is in sync for the first only: the second has no other copy.
  ASSERT_TRUE(change_isr("a", {mine[0], "a", "b", {1, 0}, {1, 0}}));
  std::promise<result<resign_outcome>> done;
  auto answer = done.get_future();
  agents.at("a")->resign(mine, true, [&](result<resign_outcome> r) {
    done.set_value(std::move(r));
  });
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  auto r = answer.get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->moved, 1u);
  EXPECT_EQ(r->without_owner, 0u);
  EXPECT_EQ(r->kept, std::vector<std::uint32_t>{mine[1]});
  auto now = table();
  EXPECT_EQ(now.at(mine[0]).value.owner, "b");
  EXPECT_EQ(now.at(mine[0]).value.epoch, 2u);
  EXPECT_EQ(now.at(mine[0]).value.isr, std::vector<std::string>{"b"});
  EXPECT_EQ(now.at(mine[1]).value, t.at(mine[1]).value)
      << "a shard without another in-sync copy was given up";
}

TEST_F(Agents,
       AnOwnersIsrChangesInOneBatchLandTogetherAndRefusalsComeBackEach) {
  start("a");
  start("b");
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 2); }, 10s));
  auto t = table();
  std::vector<isr_request> adds;
  for (const auto& [shard, e] : t)
    if (e.value.owner == "a")
      adds.push_back({shard, "a", "b", {1, 0}, {1, 0}});
  ASSERT_GT(adds.size(), 300u); // more than two transactions' worth
  adds.push_back({adds.front().shard, "b", "b", {1, 0}, {1, 0}}); // not owner
  std::promise<std::vector<result<void>>> done;
  auto answer = done.get_future();
  agents.at("a")->change_isr_batch(
      adds, true, [&](std::vector<result<void>> v) { done.set_value(v); });
  ASSERT_EQ(answer.wait_for(20s), std::future_status::ready);
  auto outcomes = answer.get();
  ASSERT_EQ(outcomes.size(), adds.size());
  for (std::size_t i = 0; i + 1 < adds.size(); ++i)
    EXPECT_TRUE(outcomes[i]) << outcomes[i].error().describe();
  ASSERT_FALSE(outcomes.back());
  EXPECT_EQ(outcomes.back().error().code, errc::invalid_argument);
  auto now = table();
  for (std::size_t i = 0; i + 1 < adds.size(); ++i)
    EXPECT_EQ(now.at(adds[i].shard).value.isr,
              (std::vector<std::string>{"a", "b"}))
        << "shard " << adds[i].shard;
}

TEST_F(Agents, AThirdAgentGrowsTwoReplicasToThreeAndAFourthGrowsNothing) {
  start("a");
  start("b");
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 2); }, 10s));
  auto two = table();
  start("c");
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 3); }, 5s))
      << "not grown to 3 replicas";
  auto three = table();
  for (const auto& [shard, entry] : three) {
    const auto& old = two.at(shard).value;
    EXPECT_EQ(entry.value.replicas.back(), "c");
    EXPECT_EQ(entry.value.owner, old.owner);
    EXPECT_EQ(entry.value.epoch, old.epoch);
    EXPECT_EQ(entry.value.isr, old.isr) << "c is not in sync yet";
  }
  start("d");
  ASSERT_TRUE(eventually([&] { return seen["a"]->members_now() == 4; }, 3s));
  std::this_thread::sleep_for(1200ms); // past the settle, several rounds
  EXPECT_EQ(table(), three) << "a fourth member changed the table";
}

TEST(ControllerAgent, StartRefusesBadNamesAndAnUnreachableEtcd) {
  auto dead = "http://127.0.0.1:" + std::to_string(sluice_test::free_port());
  controller_agent_options o;
  o.etcd.endpoints = {dead};
  o.etcd.connect_timeout = 200ms;
  o.cluster = "t";
  o.member = "a";
  auto unreachable = controller_agent::start(o, {});
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, errc::unavailable);
  EXPECT_EQ(unreachable.error().message,
            "controller agent of 'a': etcd: lease grant: no endpoint "
            "answered: "
                + dead + ": cannot connect");
  o.member = "a b";
  auto bad_member = controller_agent::start(o, {});
  ASSERT_FALSE(bad_member);
  EXPECT_EQ(bad_member.error().code, errc::invalid_argument);
  EXPECT_EQ(bad_member.error().message,
            "member name 'a b' has a '/', a space or a control character");
  o.member = "a";
  o.cluster = "";
  auto bad_cluster = controller_agent::start(o, {});
  ASSERT_FALSE(bad_cluster);
  EXPECT_EQ(bad_cluster.error().message, "cluster name is empty");
  o.cluster = "t";
  o.etcd.endpoints = {};
  EXPECT_EQ(controller_agent::start(o, {}).error().message,
            "etcd: no endpoint given");
}

} // namespace
} // namespace sluice::cluster
