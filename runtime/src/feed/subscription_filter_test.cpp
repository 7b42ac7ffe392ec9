// Filtered change-feed subscriptions over a real store: key prefixes and
// lists, filters on state fields and on event attributes (the cursor still
// passes what they leave out), and raw states sent as stored.
#include "subscription_test_support.hpp"

using namespace sluice;
using sluice_feed_test::FeedTest;

TEST_F(FeedTest, FiltersTakeMatchingKeysAndTheCursorPassesTheRest) {
  feed_options o;
  o.filter = R"({"v": ["yes"]})";
  o.prefix = "p/";
  put("p/a", "yes");
  put("p/b", "no");
  put("q/c", "yes");
  auto s = subscribe(o);
  auto got = drain(*s);
  ASSERT_EQ(kinds(got),
            (std::vector<std::string>{"snapshot:p/a", "snapshot_end:"}));
  for (int i = 0; i < 5; ++i)
    put("q/c", "yes"); // outside the prefix
  got = drain(*s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, feed_event_kind::progress);
  auto passed = got[0].cursor;
  put("p/b", "yes");
  put("p/a", "no");     // no longer matches: left out
  put("p/a", "", true); // a removal always passes
  got = drain(*s);
  EXPECT_EQ(kinds(got),
            (std::vector<std::string>{"change:p/b", "removed:p/a"}));
  // Resumed after the progress event: the same, nothing before it.
  o.cursor = passed;
  auto r = subscribe(o);
  EXPECT_EQ(kinds(drain(*r)),
            (std::vector<std::string>{"change:p/b", "removed:p/a"}));
  // A list of keys.
  feed_options k;
  k.keys = {"p/b", "nope"};
  auto only = subscribe(k);
  EXPECT_EQ(kinds(drain(*only)),
            (std::vector<std::string>{"snapshot:p/b", "snapshot_end:"}));
}

TEST_F(FeedTest, AttributeFiltersTakeChangesOfMatchingEventsAndResume) {
  using attrs = std::map<std::string, std::string>;
  put("a", "1", false, attrs{{"tier", "gold"}});
  put("b", "1", false, attrs{{"tier", "free"}});
  put("c", "1"); // an event without attributes
  feed_options o;
  o.attributes = R"({"tier": ["gold", "silver"]})";
  auto s = subscribe(o);
  auto got = drain(*s);
  ASSERT_EQ(kinds(got),
            (std::vector<std::string>{"snapshot:a", "snapshot_end:"}));
  EXPECT_EQ(got[0].attributes, (attrs{{"tier", "gold"}}));
  put("b", "2", false, attrs{{"tier", "silver"}, {"region", "eu"}});
  put("a", "2", false, attrs{{"tier", "free"}}); // made by a free event
  put("c", "2");
  got = drain(*s);
  ASSERT_EQ(kinds(got), (std::vector<std::string>{"change:b"}));
  EXPECT_EQ(got[0].attributes, (attrs{{"region", "eu"}, {"tier", "silver"}}));
  auto after_b = got[0].cursor;
  put("c", "3", false, attrs{{"tier", "free"}});
  got = drain(*s);
  ASSERT_EQ(got.size(), 1u); // filtered out: the cursor moves on
  EXPECT_EQ(got[0].kind, feed_event_kind::progress);
  put("a", "", true, attrs{{"tier", "gold"}}); // a removal by a gold event
  put("b", "", true, attrs{{"tier", "free"}}); // by a free one: left out
  EXPECT_EQ(kinds(drain(*s)), (std::vector<std::string>{"removed:a"}));
  // Resumed after change:b: what followed it, and nothing before.
  o.cursor = after_b;
  auto r = subscribe(o);
  EXPECT_EQ(kinds(drain(*r)), (std::vector<std::string>{"removed:a"}));
  // Both filters at once: the state's fields and the event's attributes.
  put("d", "yes", false, attrs{{"tier", "gold"}});
  put("e", "no", false, attrs{{"tier", "gold"}});
  put("f", "yes", false, attrs{{"tier", "free"}});
  feed_options both;
  both.attributes = R"({"tier": "gold"})";
  both.filter = R"({"v": ["yes"]})";
  auto b = subscribe(both);
  EXPECT_EQ(kinds(drain(*b)),
            (std::vector<std::string>{"snapshot:d", "snapshot_end:"}));
  feed_options bad;
  bad.attributes = R"({"tier": [1]})";
  auto refused = hub->subscribe("score", "obj", bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("bad attributes filter"),
            std::string::npos)
      << refused.error().message;
}

TEST_F(FeedTest, RawStatesGoOutAsStoredWithoutRendering) {
  put("a", "yes");
  put("b", "no");
  feed_options o;
  o.raw_state = true;
  auto s = subscribe(o);
  auto got = drain(*s);
  ASSERT_EQ(kinds(got), (std::vector<std::string>{"snapshot:a", "snapshot:b",
                                                  "snapshot_end:"}));
  EXPECT_EQ(got[0].state, "yes");
  EXPECT_TRUE(got[0].state_json.empty());
  put("a", "again");
  got = drain(*s);
  ASSERT_EQ(kinds(got), (std::vector<std::string>{"change:a"}));
  EXPECT_EQ(got[0].state, "again");
  EXPECT_TRUE(got[0].state_json.empty());
  // A JSON subscriber of the same change is rendered as ever.
  auto json = subscribe();
  got = drain(*json);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].state_json, R"({"v":"again"})");
  EXPECT_TRUE(got[0].state.empty());
  // A field filter still applies (the state is rendered to test it).
  o.filter = R"({"v": ["again"]})";
  auto filtered = subscribe(o);
  got = drain(*filtered);
  ASSERT_EQ(kinds(got),
            (std::vector<std::string>{"snapshot:a", "snapshot_end:"}));
  EXPECT_EQ(got[0].state, "again");
}
