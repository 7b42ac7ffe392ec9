#include "sluice/placement.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice {
namespace {

TEST(PlacementRepair, WithoutAHandlerADamagedRecordCannotBeFetchedAgain) {
  placement p;
  EXPECT_FALSE(p.ask_repair("npm/left-pad", "damaged"));
  EXPECT_FALSE(p.ask_repair("npm/left-pad", "damaged")); // refused stays
}

TEST(PlacementRepair, TheHandlerIsCalledOncePerShardUntilTheRepairIsOver) {
  placement p;
  std::vector<std::pair<std::uint32_t, std::string>> asked;
  p.on_repair([&](std::uint32_t shard, const std::string& why) {
    asked.emplace_back(shard, why);
  });
  EXPECT_TRUE(p.ask_repair("npm/left-pad", "the state fails its checksum"));
  EXPECT_TRUE(p.ask_repair("npm/left-pad", "again")); // still waiting
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].first, shard_of("npm/left-pad"));
  EXPECT_EQ(asked[0].second, "the state fails its checksum");
  p.repair_over(shard_of("npm/left-pad"));
  EXPECT_TRUE(p.ask_repair("npm/left-pad", "damaged once more"));
  EXPECT_EQ(asked.size(), 2u);
}

TEST(PlacementRepair, ARefusalMakesEveryKeyOfTheShardDeadLetterUntilOver) {
  placement p;
  int calls = 0;
  p.on_repair([&](std::uint32_t, const std::string&) { ++calls; });
  ASSERT_TRUE(p.ask_repair("k", "damaged"));
  p.repair_refused(shard_of("k"));
  EXPECT_FALSE(p.ask_repair("k", "damaged"));
  // Another shard is not concerned.
  std::string other = "other-0";
  for (int i = 1; shard_of(other) == shard_of("k"); ++i)
    other = "other-" + std::to_string(i);
  EXPECT_TRUE(p.ask_repair(other, "damaged"));
  p.repair_over(shard_of("k"));
  EXPECT_TRUE(p.ask_repair("k", "damaged"));
  EXPECT_EQ(calls, 3);
}

TEST(PlacementRepair, AHandlerSetLaterAnswersShardsRefusedForWantOfOne) {
  placement p;
  EXPECT_FALSE(p.ask_repair("k", "damaged"));
  int calls = 0;
  p.on_repair([&](std::uint32_t, const std::string&) { ++calls; });
  EXPECT_TRUE(p.ask_repair("k", "damaged"));
  p.on_repair({}); // cleared (the cluster stopped): refused from now on
  p.repair_over(shard_of("k"));
  EXPECT_FALSE(p.ask_repair("k", "damaged"));
  EXPECT_EQ(calls, 1);
}

TEST(PlacementRepair, ManyThreadsAskingForOneShardCallTheHandlerOnce) {
  placement p;
  std::atomic<int> calls{0};
  p.on_repair([&](std::uint32_t, const std::string&) { ++calls; });
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> yes{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (p.ask_repair("k", "damaged"))
          ++yes;
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(yes.load(), 4000);
}

} // namespace
} // namespace sluice
