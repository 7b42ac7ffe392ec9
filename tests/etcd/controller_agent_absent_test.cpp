// Absent members against a real etcd 3.4 (agents_against_etcd.hpp): a
// stopped member forgotten (`forget`), and one gone longer than
// `replace_after` replaced, each only where another copy is in sync.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "agents_against_etcd.hpp"

namespace sluice::cluster {
namespace {

using namespace agents_test;

using AbsentMembers = agents_against_etcd;

TEST_F(AbsentMembers,
       ForgettingAStoppedMemberReplacesItWhereAnotherCopyIsInSync) {
  for (const auto* name : {"a", "b", "c", "d"})
    start(name);
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 3); }, 10s));
  std::promise<result<std::string>> refused;
  agents.at("a")->forget("d", false, [&](result<std::string> r) {
    refused.set_value(std::move(r));
  });
  auto live = refused.get_future().get();
  ASSERT_FALSE(live);
  EXPECT_EQ(live.error().message,
            "'d' still holds its lease: stop it before forgetting it");
  agents.erase("d");
  auto before = table();
  std::size_t owned_by_d = 0, replica_of_d = 0;
  for (const auto& [shard, entry] : before) {
    auto& r = entry.value.replicas;
    owned_by_d += entry.value.isr == std::vector<std::string>{"d"};
    replica_of_d += std::find(r.begin(), r.end(), "d") != r.end();
  }
  ASSERT_GT(owned_by_d, 0u);
  ASSERT_GT(replica_of_d, owned_by_d);
  std::promise<result<std::string>> forgot;
  agents.at("b")->forget("d", false, [&](result<std::string> r) {
    forgot.set_value(std::move(r));
  });
  auto summary = forgot.get_future().get();
  ASSERT_TRUE(summary) << summary.error().describe();
  EXPECT_EQ(summary->substr(0, 11), "forgot 'd':") << *summary;
  EXPECT_NE(summary->find(std::to_string(replica_of_d - owned_by_d)
                          + " shards changed"),
            std::string::npos)
      << *summary;
  EXPECT_NE(summary->find(std::to_string(owned_by_d) + " refused"),
            std::string::npos)
      << *summary;
  for (const auto& [shard, entry] : table()) {
    const auto& a = entry.value;
    auto has_d = std::find(a.replicas.begin(), a.replicas.end(), "d")
                 != a.replicas.end();
    // Its only in-sync copy was on d: kept (no data loss allowed).
    EXPECT_EQ(has_d,
              before.at(shard).value.isr == std::vector<std::string>{"d"})
        << "shard " << shard;
    EXPECT_EQ(a.replicas.size(), 3u);
  }
}

TEST_F(AbsentMembers,
       AMemberGoneLongerThanReplaceAfterIsReplacedWhereACopyIsInSync) {
  for (const auto* name : {"a", "b", "c", "d"}) {
    auto o = options(name);
    o.replace_after = 1500ms;
    start(o);
  }
  ASSERT_TRUE(eventually(
      [&] { return fully_assigned(seen["a"]->table_now().get(), 3); }, 10s));
  agents.erase("d"); // revokes its lease
  auto gone = clock_type::now();
  auto before = table();
  auto has_d = [](const shard_assignment& a) {
    return std::find(a.replicas.begin(), a.replicas.end(), "d")
           != a.replicas.end();
  };
  std::size_t only_d = 0, replica_of_d = 0;
  for (const auto& [shard, entry] : before) {
    only_d += entry.value.isr == std::vector<std::string>{"d"};
    replica_of_d += has_d(entry.value);
  }
  ASSERT_GT(only_d, 0u);
  ASSERT_GT(replica_of_d, only_d);
  // Not before replace_after: d keeps its places (a restart is no loss).
  std::this_thread::sleep_for(900ms);
  auto early = table();
  if (clock_type::now() - gone < 1400ms) {
    std::size_t still = 0;
    for (const auto& [shard, entry] : early)
      still += has_d(entry.value);
    EXPECT_EQ(still, replica_of_d) << "replaced before replace_after";
  }
  // Then replaced wherever a live member of the isr holds the records;
  // a shard whose only in-sync copy was on d keeps it (no data loss).
  auto replaced = [&] {
    for (const auto& [shard, entry] : table())
      if (has_d(entry.value)
          != (before.at(shard).value.isr == std::vector<std::string>{"d"}))
        return false;
    return true;
  };
  ASSERT_TRUE(eventually(replaced, 10s)) << "d not replaced within 10 s";
  for (const auto& [shard, entry] : table()) {
    EXPECT_EQ(entry.value.replicas.size(), 3u) << "shard " << shard;
    EXPECT_TRUE(check(entry.value)) << "shard " << shard;
  }
}

} // namespace
} // namespace sluice::cluster
