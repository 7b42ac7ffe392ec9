// The key-actor pool without an actor system: fake handles stand for key
// actors, and the hooks record what the supervisor would spawn and rebind.
#include "key_actor_pool.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

using sluice::stage_supervision::key_actor_pool;

namespace {

/// A key actor's handle: 0 is null.
struct fake_actor {
  int n = 0;
  int id() const { return n; }
  explicit operator bool() const { return n != 0; }
};

struct fake_entry {
  fake_actor actor;
  bool express = false;
  std::uint64_t started = 0;
  std::chrono::steady_clock::time_point idle_since =
      std::chrono::steady_clock::time_point::max();
  int busy = 0; ///< stands for in flight, recovering, blocked or parked
  bool forgettable() const { return busy == 0; }
};

/// A pool whose hooks number the actors they spawn and log every call.
struct pool_fixture : ::testing::Test {
  key_actor_pool<fake_entry> pool;
  int next = 0;
  std::vector<std::pair<std::string, bool>> spawned; ///< (key, express)
  std::vector<std::pair<int, std::string>> rebound;  ///< (actor, key)

  pool_fixture() {
    pool.set_hooks({[this](const std::string& key, bool express) {
                      spawned.emplace_back(key, express);
                      return fake_actor{++next};
                    },
                    [this](const fake_actor& a, const std::string& key) {
                      rebound.emplace_back(a.n, key);
                    }});
  }
};

using KeyActorPool = pool_fixture;

TEST_F(KeyActorPool, SpawnsOneActorPerKeyAndReusesItForTheSameKey) {
  auto a = pool.actor_of("a", false, 10);
  auto again = pool.actor_of("a", false, 10);
  auto b = pool.actor_of("b", false, 10);
  EXPECT_EQ(a.n, again.n);
  EXPECT_NE(a.n, b.n);
  ASSERT_EQ(spawned.size(), 2u);
  EXPECT_EQ(pool.size(), 2u);
  ASSERT_NE(pool.key_of(b.n), nullptr);
  EXPECT_EQ(*pool.key_of(b.n), "b");
  EXPECT_EQ(pool.find("a")->started, 1u);
  EXPECT_EQ(pool.find("b")->started, 2u);
}

TEST_F(KeyActorPool, BelowTheLimitANewKeyGetsANewActorEvenWhenOneIsIdle) {
  auto a = pool.actor_of("a", false, 10);
  pool.went_idle("a");
  auto b = pool.actor_of("b", false, 10);
  EXPECT_NE(a.n, b.n);
  EXPECT_TRUE(rebound.empty());
  EXPECT_EQ(pool.size(), 2u);
}

TEST_F(KeyActorPool, AtTheLimitTheOldestIdleActorIsRebound) {
  auto a = pool.actor_of("a", false, 2);
  auto b = pool.actor_of("b", false, 2);
  pool.went_idle("a");
  pool.went_idle("b");
  auto c = pool.actor_of("c", false, 2);
  EXPECT_EQ(c.n, a.n); // the oldest idle key's actor, not b's
  ASSERT_EQ(rebound.size(), 1u);
  EXPECT_EQ(rebound[0], std::make_pair(a.n, std::string("c")));
  EXPECT_EQ(spawned.size(), 2u);      // nothing spawned for c
  EXPECT_EQ(pool.find("a"), nullptr); // a's entry is gone
  ASSERT_NE(pool.key_of(a.n), nullptr);
  EXPECT_EQ(*pool.key_of(a.n), "c");
  EXPECT_EQ(pool.find("b")->actor.n, b.n);
}

TEST_F(KeyActorPool, AnIdleKeyThatIsBusyAgainOrExpressIsNotTakenOver) {
  pool.actor_of("busy", false, 2);
  pool.actor_of("fast", true, 2);
  pool.went_idle("busy");
  pool.went_idle("fast");
  pool.find("busy")->busy = 1; // a retry waits, say
  auto c = pool.actor_of("c", false, 2);
  EXPECT_TRUE(rebound.empty());
  EXPECT_EQ(c.n, 3); // spawned
  EXPECT_NE(pool.find("busy"), nullptr);
  EXPECT_NE(pool.find("fast"), nullptr);
}

TEST_F(KeyActorPool, AnExpressActorIsAlwaysSpawnedEvenAtTheLimit) {
  auto a = pool.actor_of("a", false, 1);
  pool.went_idle("a");
  auto u = pool.actor_of("u", true, 1);
  EXPECT_NE(u.n, a.n);
  EXPECT_TRUE(rebound.empty());
  EXPECT_TRUE(pool.find("u")->express);
  EXPECT_EQ(spawned.back(), std::make_pair(std::string("u"), true));
}

TEST_F(KeyActorPool, PassivationDropsIdleKeysBeyondTheLimitOldestFirst) {
  for (auto k : {"a", "b", "c", "d"})
    pool.actor_of(k, false, 10);
  pool.went_idle("c");
  pool.went_idle("a");
  pool.went_idle("d");
  auto stopped = pool.passivate(2);
  ASSERT_EQ(stopped.size(), 2u);
  EXPECT_EQ(stopped[0].n, 3); // c went idle first
  EXPECT_EQ(stopped[1].n, 1); // then a
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool.find("c"), nullptr);
  EXPECT_EQ(pool.find("a"), nullptr);
  EXPECT_NE(pool.find("d"), nullptr);
  EXPECT_EQ(pool.key_of(3), nullptr);
  EXPECT_EQ(pool.key_of(1), nullptr);
  EXPECT_TRUE(pool.passivate(2).empty()); // at the limit: nothing more
}

TEST_F(KeyActorPool, PassivationKeepsKeysThatHoldMoreThanLmdb) {
  pool.actor_of("a", false, 10);
  pool.actor_of("b", false, 10);
  pool.went_idle("a");
  pool.find("a")->busy = 1;
  EXPECT_TRUE(pool.passivate(0).empty());
  EXPECT_EQ(pool.size(), 2u);
}

TEST_F(KeyActorPool, PassivationCountsAnEntryWithoutAnActor) {
  pool.entry("blocked"); // e.g. loaded as blocked, then unblocked
  pool.went_idle("blocked");
  auto stopped = pool.passivate(0);
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_FALSE(stopped[0]);
  EXPECT_EQ(pool.size(), 0u);
}

TEST_F(KeyActorPool, RetireDetachesTheActorButKeepsTheEntry) {
  auto u = pool.actor_of("u", true, 10);
  auto& e = *pool.find("u");
  auto a = pool.retire(e);
  EXPECT_EQ(a.n, u.n);
  EXPECT_FALSE(e.actor);
  EXPECT_FALSE(e.express);
  EXPECT_EQ(pool.key_of(u.n), nullptr); // its DOWN names no key
  EXPECT_NE(pool.find("u"), nullptr);
  EXPECT_FALSE(pool.retire(e)); // nothing left to retire
  auto again = pool.actor_of("u", false, 10);
  EXPECT_NE(again.n, u.n); // a fresh actor
}

TEST_F(KeyActorPool, AKeyWhoseActorWasRetiredIsNotTakenOver) {
  auto a = pool.actor_of("a", false, 1);
  pool.went_idle("a");
  pool.retire(*pool.find("a"));
  // a is idle but has no actor left to take over.
  auto again = pool.actor_of("a", false, 0);
  EXPECT_TRUE(rebound.empty());
  EXPECT_NE(again.n, a.n);
}

TEST_F(KeyActorPool, ForgetDropsTheEntryAndReturnsItsActor) {
  auto a = pool.actor_of("a", false, 10);
  auto gone = pool.forget("a");
  EXPECT_EQ(gone.n, a.n);
  EXPECT_EQ(pool.find("a"), nullptr);
  EXPECT_EQ(pool.key_of(a.n), nullptr);
  EXPECT_FALSE(pool.forget("a"));
}

TEST_F(KeyActorPool, KeysIdleSinceTheCutoffArePassivatedOthersStay) {
  using clock = key_actor_pool<fake_entry>::clock;
  auto t0 = clock::now();
  auto at = [&](int s) { return t0 + std::chrono::seconds(s); };
  for (auto k : {"old", "busy", "again", "recent"})
    pool.actor_of(k, false, 10);
  pool.went_idle("old", at(0));
  pool.went_idle("busy", at(1));
  pool.find("busy")->busy = 1;    // a retry waits, say
  pool.went_idle("again", at(2)); // then busy, and idle again at 50
  pool.went_idle("recent", at(40));
  pool.went_idle("again", at(50));
  auto stopped = pool.passivate_idle(at(30));
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].n, 1); // "old" only
  EXPECT_EQ(pool.find("old"), nullptr);
  EXPECT_EQ(pool.key_of(1), nullptr);
  EXPECT_NE(pool.find("busy"), nullptr);
  EXPECT_NE(pool.find("again"), nullptr);
  EXPECT_NE(pool.find("recent"), nullptr);
  // Later, "again" and "recent" have been idle long enough; "busy" never
  // went idle again, so it stays until it does.
  stopped = pool.passivate_idle(at(60));
  ASSERT_EQ(stopped.size(), 2u);
  EXPECT_EQ(stopped[0].n, 4); // recent went idle (40) before again (50)
  EXPECT_EQ(stopped[1].n, 3);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_TRUE(pool.passivate_idle(at(1000)).empty());
}

TEST_F(KeyActorPool, AKeyPassivatedByCountIsNotPassivatedAgainByTime) {
  using clock = key_actor_pool<fake_entry>::clock;
  auto t0 = clock::now();
  pool.actor_of("a", false, 10);
  pool.went_idle("a", t0);
  ASSERT_EQ(pool.passivate(0).size(), 1u);
  auto again = pool.actor_of("a", false, 10); // a new event for it
  EXPECT_TRUE(pool.passivate_idle(t0 + std::chrono::hours(1)).empty());
  EXPECT_EQ(pool.find("a")->actor.n, again.n);
}

} // namespace
