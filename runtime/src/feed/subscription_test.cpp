// Change-feed subscriptions over a real store: snapshot then live, resume
// by cursor with no gap and no duplicate, a snapshot kept consistent while
// keys change under it, resets, the subscriber cap and closing (filters:
// subscription_filter_test.cpp).
#include <random>

#include "sluice/feed/feed_cursor.hpp"
#include "subscription_test_support.hpp"

using namespace sluice;
using sluice_feed_test::FeedTest;

TEST_F(FeedTest, SnapshotThenEndThenLiveChangesAndRemovals) {
  put("a", "1");
  put("b", "1");
  put("b", "2");
  auto s = subscribe();
  auto got = drain(*s);
  ASSERT_EQ(kinds(got), (std::vector<std::string>{"snapshot:a", "snapshot:b",
                                                  "snapshot_end:"}));
  EXPECT_EQ(got[1].state_json, R"({"v":"2"})");
  EXPECT_EQ(got[1].version, 2u);
  EXPECT_EQ(got[1].event_id, "b#2");
  EXPECT_TRUE(got[0].cursor.empty());
  EXPECT_EQ(got[2].keys, 2u);
  EXPECT_FALSE(got[2].cursor.empty());
  EXPECT_EQ(s->cursor(), got[2].cursor);
  put("c", "1");
  put("a", "", true);
  got = drain(*s);
  ASSERT_EQ(kinds(got), (std::vector<std::string>{"change:c", "removed:a"}));
  EXPECT_EQ(got[0].state_json, R"({"v":"1"})");
  EXPECT_LT(got[0].offset, got[1].offset);
  EXPECT_EQ(got[1].cursor, s->cursor());
  EXPECT_GT(got[0].ts_ns, 0);
}

TEST_F(FeedTest, AnEmptyStageStillSendsSnapshotEnd) {
  auto s = subscribe();
  auto got = drain(*s);
  ASSERT_EQ(kinds(got), (std::vector<std::string>{"snapshot_end:"}));
  EXPECT_EQ(got[0].keys, 0u);
  put("a", "1");
  EXPECT_EQ(kinds(drain(*s)), (std::vector<std::string>{"change:a"}));
}

TEST_F(FeedTest, ResumesFromAnyEventsCursorWithNoGapAndNoDuplicate) {
  auto s = subscribe();
  drain(*s);
  for (int i = 0; i < 20; ++i)
    put("k" + std::to_string(i % 5), std::to_string(i));
  auto all = drain(*s, 3);
  ASSERT_EQ(all.size(), 20u);
  for (std::size_t cut : {0, 7, 19}) {
    feed_options o;
    o.cursor = all[cut].cursor;
    auto r = subscribe(o);
    ASSERT_TRUE(r);
    auto rest = drain(*r);
    ASSERT_EQ(rest.size(), 19 - cut) << cut;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      EXPECT_EQ(rest[i].offset, all[cut + 1 + i].offset);
      EXPECT_EQ(rest[i].kind, feed_event_kind::change);
    }
  }
  // The cursor survives the store's restart.
  auto cursor = all[9].cursor;
  s.reset();
  open({1'000'000, {}});
  feed_options o;
  o.cursor = cursor;
  auto r = subscribe(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(drain(*r).size(), 10u);
}

TEST_F(FeedTest, ASnapshotReadInChunksWhileKeysChangeIsConsistent) {
  // Keys change between every call of a subscription that reads the
  // snapshot in chunks of three: the subscriber's view at snapshot_end
  // must be the store's state at that point, and every key's versions
  // must only rise (no change delivered twice, none skipped after it).
  std::mt19937 rng(7);
  for (int i = 0; i < 60; ++i)
    put("key" + std::to_string(i), "0");
  for (int round = 0; round < 5; ++round) {
    feed_options o;
    o.snapshot_chunk = 3;
    auto s = subscribe(o);
    ASSERT_TRUE(s);
    std::map<std::string, std::string> view;
    std::map<std::string, std::uint64_t> seen_version;
    bool ended = false;
    int writes = 0;
    for (int guard = 0; guard < 10000; ++guard) {
      std::vector<feed_event> out;
      ASSERT_TRUE(s->next(out, 2, std::chrono::milliseconds(5)));
      for (auto& e : out) {
        if (e.kind == feed_event_kind::snapshot_end) {
          ended = true;
          continue;
        }
        ASSERT_NE(e.kind, feed_event_kind::reset) << e.reason;
        ASSERT_GT(e.version, seen_version[e.key])
            << e.key << " went back or repeated";
        seen_version[e.key] = e.version;
        if (e.kind == feed_event_kind::removed)
          view.erase(e.key);
        else
          view[e.key] = e.state_json;
      }
      if (ended && out.empty())
        break;
      if (writes < 150) { // a few writes after each call
        for (int w = 0; w < 2; ++w, ++writes) {
          auto key = "key" + std::to_string(rng() % 70); // some new keys
          if (rng() % 10 == 0)
            put(key, "", true);
          else
            put(key, std::to_string(writes));
        }
      }
    }
    ASSERT_TRUE(ended);
    std::map<std::string, std::string> truth;
    ASSERT_TRUE(st->scan_states(
        stage, [&](const std::string& key, const stored_state& ss) {
          v1::KeyState ks;
          EXPECT_TRUE(ks.ParseFromString(ss.key_state));
          if (!ks.cleared())
            truth[key] = "{\"v\":" + json_quote(ks.state()) + "}";
          return true;
        }));
    EXPECT_EQ(view, truth) << "round " << round;
  }
}

TEST_F(FeedTest, ACursorWhoseChangesWerePrunedGetsResetAndASnapshot) {
  open({5, {}});
  auto s = subscribe();
  drain(*s);
  put("a", "1");
  auto first = drain(*s);
  ASSERT_EQ(first.size(), 1u);
  for (int i = 0; i < 20; ++i)
    put("b", std::to_string(i));
  auto span = changelog_reader{*st}.span(stage);
  ASSERT_TRUE(span);
  EXPECT_EQ(span->entries, 5u); // retention: the last five changes
  feed_options o;
  o.cursor = first[0].cursor;
  auto r = subscribe(o);
  auto got = drain(*r);
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got[0].kind, feed_event_kind::reset);
  EXPECT_NE(got[0].reason.find("left the changelog"), std::string::npos)
      << got[0].reason;
  EXPECT_EQ(
      kinds({got.begin() + 1, got.end()}),
      (std::vector<std::string>{"snapshot:a", "snapshot:b", "snapshot_end:"}));
  // A live subscriber that falls behind the retention is reset too.
  auto slow = subscribe();
  drain(*slow);
  for (int i = 0; i < 20; ++i)
    put("c", std::to_string(i));
  got = drain(*slow);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].kind, feed_event_kind::reset);
  EXPECT_NE(got[0].reason.find("fell behind"), std::string::npos);
}

TEST_F(FeedTest, AChangelogMadeAgainResetsItsOldCursors) {
  put("a", "1");
  auto s = subscribe();
  auto got = drain(*s);
  auto cursor = got.back().cursor;
  s.reset();
  open({}); // changelog: removed from the stage
  auto refused = hub->subscribe("score", "obj", {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::config);
  EXPECT_NE(refused.error().message.find("keeps no changelog"),
            std::string::npos);
  open({100, {}}); // and added again: a new, empty log
  feed_options o;
  o.cursor = cursor;
  auto r = subscribe(o);
  got = drain(*r);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].kind, feed_event_kind::reset);
  EXPECT_NE(got[0].reason.find("another changelog"), std::string::npos);
}

TEST_F(FeedTest, RefusesBadRequestsAndSubscribersBeyondTheCap) {
  auto expect = [&](const std::string& stage, feed_options o, errc code,
                    const std::string& why) {
    auto s = hub->subscribe(stage, "obj", std::move(o));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, code);
    EXPECT_NE(s.error().message.find(why), std::string::npos)
        << s.error().message;
  };
  expect("nope", {}, errc::not_found, "no stage 'nope' (stages: score)");
  feed_options bad_cursor;
  bad_cursor.cursor = "1%%%";
  expect("score", bad_cursor, errc::invalid_argument, "malformed cursor");
  feed::cursor other;
  other.stage_tag = feed::stage_tag("parse");
  feed_options wrong_stage;
  wrong_stage.cursor = feed::encode(other);
  expect("score", wrong_stage, errc::invalid_argument, "another stage");
  feed_options bad_filter;
  bad_filter.filter = "[";
  expect("score", bad_filter, errc::invalid_argument, "bad filter");
  std::vector<std::unique_ptr<feed_subscription>> live;
  live.reserve(4);
  for (int i = 0; i < 4; ++i)
    live.push_back(subscribe());
  EXPECT_EQ(hub->subscribers().size(), 4u);
  expect("score", {}, errc::unavailable, "4 feed subscribers already");
  live.pop_back(); // one leaves: room for another
  EXPECT_TRUE(hub->subscribe("score", "obj", {}));
}

TEST_F(FeedTest, TheConsoleSeesPositionsAndLag) {
  auto s = subscribe();
  drain(*s);
  for (int i = 0; i < 10; ++i)
    put("a", std::to_string(i));
  auto subs = hub->subscribers();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].stage, "score");
  EXPECT_EQ(subs[0].phase, "live");
  EXPECT_EQ(subs[0].lag_changes, 10u);
  EXPECT_GE(subs[0].lag_seconds, 0.0);
  drain(*s);
  subs = hub->subscribers();
  EXPECT_EQ(subs[0].lag_changes, 0u);
  EXPECT_EQ(subs[0].delivered, 11u); // snapshot_end and ten changes
}

TEST_F(FeedTest, ClosingTheHubEndsWaitingSubscriptionsAtOnce) {
  auto s = subscribe();
  drain(*s);
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    hub->close();
  });
  auto t0 = std::chrono::steady_clock::now();
  std::vector<feed_event> out;
  auto r = s->next(out, 10, std::chrono::seconds(30));
  closer.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // The subscription outlives the hub and the store safely.
  hub.reset();
  st.reset();
  out.clear();
  EXPECT_FALSE(s->next(out, 10, std::chrono::milliseconds(1)));
}

TEST_F(FeedTest, ARetentionBySpanKeepsTheChangesOfThatSpan) {
  open({0, std::chrono::milliseconds(300)});
  put("a", "1");
  put("a", "2");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  put("b", "1");
  auto span = changelog_reader{*st}.span(stage);
  ASSERT_TRUE(span);
  EXPECT_EQ(span->entries, 1u); // the two older than 300 ms were pruned
  put("b", "2");
  span = changelog_reader{*st}.span(stage);
  EXPECT_EQ(span->entries, 2u); // never less than the span
  EXPECT_LT(span->low, span->head);
}
