// The re-keying test pipeline's behaviours with test_context: route emits
// under the bucket key, tally keeps each package key once and counts a
// repeated one.
#include "rekey_behaviours.hpp"

#include <set>

#include <gtest/gtest.h>

#include "sluice/test_context.hpp"

namespace {

void handle(sluice::behaviour& b, sluice::test_context& ctx,
            const std::string& payload) {
  sluice::event ev;
  ev.id = "t:" + payload;
  ev.payload = payload;
  b.on_event(ctx, ev);
}

} // namespace

TEST(Rekey, RouteEmitsThePackageKeyUnderItsBucket) {
  rekey::route_behaviour b;
  sluice::test_context ctx("route", "npm/left-pad");
  handle(b, ctx, "{}");
  ASSERT_EQ(ctx.emitted.size(), 1u);
  EXPECT_EQ(ctx.emitted[0].first, "bucketed");
  EXPECT_EQ(ctx.emitted[0].second.key, rekey::bucket_of("npm/left-pad"));
  EXPECT_EQ(ctx.emitted[0].second.payload, "npm/left-pad");
  rekey::Routed r;
  ASSERT_TRUE(r.ParseFromString(ctx.state()));
  EXPECT_EQ(r.events(), 1u);
}

TEST(Rekey, BucketsSpreadOverManyKeys) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i)
    seen.insert(rekey::bucket_of("npm/p-" + std::to_string(i)));
  EXPECT_EQ(seen.size(), rekey::buckets);
}

TEST(Rekey, TallyKeepsKeysSortedOnceAndCountsARepeat) {
  rekey::tally_behaviour b;
  sluice::test_context ctx("tally", "bucket/07");
  for (auto k : {"npm/c", "npm/a", "npm/b", "npm/a"})
    handle(b, ctx, k);
  rekey::BucketTally t;
  ASSERT_TRUE(t.ParseFromString(ctx.state()));
  EXPECT_EQ(t.events(), 4u);
  ASSERT_EQ(t.keys_size(), 3);
  EXPECT_EQ(t.keys(0), "npm/a");
  EXPECT_EQ(t.keys(1), "npm/b");
  EXPECT_EQ(t.keys(2), "npm/c");
  EXPECT_EQ(t.repeated_keys(), 1u);
  ASSERT_EQ(t.repeats_size(), 1);
  EXPECT_EQ(t.repeats(0), "npm/a t:npm/a"); // the repeat's key and event id
}

TEST(Rekey, TallyRefusesAnEventWithoutAPackageKey) {
  rekey::tally_behaviour b;
  sluice::test_context ctx("tally", "bucket/07");
  EXPECT_THROW(handle(b, ctx, ""), sluice::permanent_error);
}
