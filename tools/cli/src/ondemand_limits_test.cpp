// On-demand admission: token buckets per client and per token refill at
// their rate, the in-flight cap gives 503, a client's ingestions under way
// are bounded and forgotten when settled or expired.
#include "ondemand_limits.hpp"

#include <gtest/gtest.h>

using namespace sluice::cli;
using namespace std::chrono_literals;

TEST(TokenBuckets, AllowABurstThenRefillAtTheRate) {
  token_buckets b{10, 20};
  auto t = token_buckets::clock::now();
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(b.take("a", t), 0) << i;
  EXPECT_EQ(b.take("a", t), 1); // empty: retry after about 0.1 s, said 1
  EXPECT_EQ(b.take("b", t), 0); // another client has its own bucket
  EXPECT_EQ(b.take("a", t + 100ms), 0);
  EXPECT_GT(b.take("a", t + 100ms), 0);
  EXPECT_EQ(b.take("a", t + 1100ms), 0);
}

TEST(OnDemandLimits, RateLimitsEachClientAndEachToken) {
  ondemand_limits l{{.rate = 1, .burst = 2, .max_in_flight = 100}};
  auto t = ondemand_limits::clock::now();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(l.admit("10.0.0.1", "", t).status, 0);
    l.finished("10.0.0.1", "", t);
  }
  auto d = l.admit("10.0.0.1", "", t);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.reason, "rate_limited");
  EXPECT_GE(d.retry_after, 1);
  EXPECT_NE(d.message.find("10.0.0.1"), std::string::npos);
  // One token from many addresses is limited by the token's bucket.
  EXPECT_EQ(l.admit("10.0.0.2", "shared", t).status, 0);
  EXPECT_EQ(l.admit("10.0.0.3", "shared", t).status, 0);
  auto byt = l.admit("10.0.0.4", "shared", t);
  EXPECT_EQ(byt.status, 429);
  EXPECT_NE(byt.message.find("token 'shared'"), std::string::npos);
}

TEST(OnDemandLimits, CapsRequestsInFlightWith503) {
  ondemand_limits l{{.rate = 1000, .burst = 1000, .max_in_flight = 2}};
  auto t = ondemand_limits::clock::now();
  EXPECT_EQ(l.admit("a", "", t).status, 0);
  EXPECT_EQ(l.admit("b", "", t).status, 0);
  auto d = l.admit("c", "", t);
  EXPECT_EQ(d.status, 503);
  EXPECT_EQ(d.reason, "in_flight");
  l.finished("a", "", t);
  EXPECT_EQ(l.admit("c", "", t).status, 0);
}

TEST(OnDemandLimits, BoundsAClientsIngestionsUnderWayUntilSettledOrExpired) {
  ondemand_limits l{{.rate = 1000,
                     .burst = 1000,
                     .max_in_flight = 100,
                     .max_pending_per_client = 2,
                     .pending_ttl = 10s}};
  auto t = ondemand_limits::clock::now();
  for (auto k : {"s/k1", "s/k2"}) {
    ASSERT_EQ(l.admit("a", "", t).status, 0);
    l.finished("a", k, t); // answered 202: still under way
  }
  auto d = l.admit("a", "", t);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.reason, "client_backlog");
  EXPECT_EQ(l.admit("b", "", t).status, 0); // others are not affected
  l.finished("b", "", t);
  l.settled("a", "s/k1");
  EXPECT_EQ(l.admit("a", "", t).status, 0);
  l.finished("a", "s/k3", t);
  EXPECT_EQ(l.admit("a", "", t).status, 429);
  EXPECT_EQ(l.admit("a", "", t + 11s).status, 0); // both expired
}
