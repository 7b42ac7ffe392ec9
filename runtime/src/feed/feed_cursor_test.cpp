// Cursors round-trip, stay short on one node, and malformed ones are
// refused with what is wrong.
#include "sluice/feed/feed_cursor.hpp"

#include <gtest/gtest.h>

#include "sluice/placement.hpp"

using namespace sluice;

TEST(FeedCursor, RoundTripsWithAndWithoutShardExceptions) {
  feed::cursor c;
  c.stage_tag = feed::stage_tag("score");
  c.log_id = 0x0123456789abcdefULL;
  c.base = 1'234'567;
  auto text = feed::encode(c);
  EXPECT_LE(text.size(), 25u) << text; // a node's cursor: the base alone
  auto back = feed::decode(text);
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, c);
  c.shards = {{0, 5}, {17, 1'000'000}, {1023, 7}};
  back = feed::decode(feed::encode(c));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(back->at(17), 1'000'000u);
  EXPECT_EQ(back->at(16), 1'234'567u);
  EXPECT_EQ(back->lowest(), 5u);
}

TEST(FeedCursor, TellsStagesApart) {
  EXPECT_NE(feed::stage_tag("score"), feed::stage_tag("parse"));
}

TEST(FeedCursor, RefusesMalformedTextNamingWhy) {
  feed::cursor c;
  c.base = 42;
  auto good = feed::encode(c);
  auto expect_bad = [](const std::string& text, const std::string& why) {
    auto r = feed::decode(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, errc::invalid_argument);
    EXPECT_NE(r.error().message.find(why), std::string::npos)
        << r.error().message;
  };
  expect_bad("", "empty");
  expect_bad("2" + good.substr(1), "a cluster member's (version 2)");
  expect_bad("3" + good.substr(1), "unknown version '3'");
  expect_bad("1!!!", "not base64url");
  expect_bad("1AAAA", "too short");
  expect_bad(good.substr(0, good.size() - 1), "truncated");
  expect_bad(good + "AAAA", "trailing bytes");
}

TEST(FeedCursor, AClusterCursorHoldsEveryShardAndStaysShortPerMember) {
  feed::shard_cursor c;
  c.stage_tag = feed::stage_tag("score");
  c.at.assign(shard_count, (std::uint64_t{3} << 40) | 900'000);
  for (std::uint32_t s = 0; s < shard_count; s += 3)
    c.at[s] = (std::uint64_t{1} << 40) | 1'200'000; // another member's
  c.at[5] = 17;
  auto text = feed::encode(c);
  EXPECT_EQ(text[0], '2');
  EXPECT_LE(text.size(), 380u) << "1024 shards in 2 bits each, 3 offsets";
  auto back = feed::decode_shards(text);
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, c);
  // One offset for every shard: a few bytes.
  c.at.assign(shard_count, 42);
  back = feed::decode_shards(feed::encode(c));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, c);
  EXPECT_LE(feed::encode(c).size(), 20u);
  // A single node's cursor reads as its per-shard offsets.
  feed::cursor one;
  one.stage_tag = c.stage_tag;
  one.base = 77;
  one.shards = {{9, 70}};
  auto from_one = feed::decode_shards(feed::encode(one));
  ASSERT_TRUE(from_one) << from_one.error().describe();
  EXPECT_EQ(from_one->at[0], 77u);
  EXPECT_EQ(from_one->at[9], 70u);
  // Malformed: named.
  auto bad = feed::decode_shards(text.substr(0, text.size() - 4));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("truncated"), std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(feed::decode_shards("2!!"));
}
