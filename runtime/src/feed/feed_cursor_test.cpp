// Cursors round-trip, stay short on one node, and malformed ones are
// refused with what is wrong.
#include "sluice/feed/feed_cursor.hpp"

#include <gtest/gtest.h>

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
  expect_bad("2" + good.substr(1), "unknown version '2'");
  expect_bad("1!!!", "not base64url");
  expect_bad("1AAAA", "too short");
  expect_bad(good.substr(0, good.size() - 1), "truncated");
  expect_bad(good + "AAAA", "trailing bytes");
}
