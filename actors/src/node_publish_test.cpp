// Waiting for a published event's completion on a real node: through every
// stage, per event (not per key), dead letters, publish-once duplicates,
// a wait that ends first, and a node that stops first.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "sluice/node.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;

TEST(NodePublish, AnEventIsDoneOnlyOnceEveryStageItReachedProcessedIt) {
  auto dir = temp_dir("done_chain");
  auto reg = test_registry();
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    auto done = (*n)->publish_and_wait("in", {make_event("k", "a")},
                                       std::chrono::seconds(30));
    ASSERT_TRUE(done) << done.error().describe();
    ASSERT_EQ(done->size(), 1u);
    auto& d = (*done)[0];
    EXPECT_EQ(d.id, "k:a");
    EXPECT_EQ(d.outcome, done_outcome::done);
    EXPECT_EQ(d.processed, 2u); // first, then its emit in second
    EXPECT_EQ(d.dead_lettered, 0u);
    EXPECT_GT(d.took.count(), 0);
    // Done means committed by the last stage: nothing is left anywhere.
    auto s = (*n)->stats();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stages[1].done, 1u);
    EXPECT_EQ(s->queued, 0u);
  }
  fs::remove_all(dir);
}

TEST(NodePublish, EachEventOfAKeyGetsItsOwnCompletion) {
  auto dir = temp_dir("done_per_event");
  auto reg = test_registry();
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    append_delay_ms = 100; // the key's later events wait behind each other
    std::mutex mtx;
    std::vector<event_done> got;
    publish_options opts;
    opts.on_done = [&](const event_done& d) {
      std::lock_guard<std::mutex> guard{mtx};
      got.push_back(d);
    };
    ASSERT_TRUE((*n)->publish("in", {make_event("k", "1")}, opts));
    ASSERT_TRUE((*n)->publish("in", {make_event("k", "2")}, opts));
    ASSERT_TRUE((*n)->publish("in", {make_event("k", "3")}, opts));
    ASSERT_TRUE(wait_until([&] {
      std::lock_guard<std::mutex> guard{mtx};
      return got.size() == 3;
    }));
    append_delay_ms = 0;
    std::lock_guard<std::mutex> guard{mtx};
    // In the key's order, each with its own two completions: a later event
    // of the key does not stand for an earlier one's.
    EXPECT_EQ(got[0].id, "k:1");
    EXPECT_EQ(got[1].id, "k:2");
    EXPECT_EQ(got[2].id, "k:3");
    for (auto& d : got) {
      EXPECT_EQ(d.outcome, done_outcome::done) << d.id;
      EXPECT_EQ(d.processed, 2u) << d.id;
    }
    EXPECT_LT(got[0].took, got[2].took);
  }
  fs::remove_all(dir);
}

TEST(NodePublish, DeadLettersDuplicatesAndShortWaitsAreReportedAsSuch) {
  auto dir = temp_dir("done_outcomes");
  auto reg = test_registry();
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    auto wait = std::chrono::seconds(30);
    auto boom = (*n)->publish_and_wait("in", {make_event("k", "boom")}, wait);
    ASSERT_TRUE(boom);
    EXPECT_EQ((*boom)[0].outcome, done_outcome::done);
    EXPECT_EQ((*boom)[0].processed, 1u); // no emit reached `second`
    EXPECT_EQ((*boom)[0].dead_lettered, 1u);

    publish_options once;
    once.once = true;
    auto first =
        (*n)->publish_and_wait("in", {make_event("j", "x")}, wait, once);
    ASSERT_TRUE(first);
    EXPECT_EQ((*first)[0].outcome, done_outcome::done);
    auto again =
        (*n)->publish_and_wait("in", {make_event("j", "x")}, wait, once);
    ASSERT_TRUE(again);
    EXPECT_EQ((*again)[0].outcome, done_outcome::duplicate);

    append_delay_ms = 400;
    auto slow = (*n)->publish_and_wait(
        "in", {make_event("s", "1"), make_event("t", "1")},
        std::chrono::milliseconds(50));
    ASSERT_TRUE(slow);
    ASSERT_EQ(slow->size(), 2u);
    EXPECT_EQ((*slow)[0].outcome, done_outcome::pending);
    EXPECT_EQ((*slow)[1].outcome, done_outcome::pending);
    append_delay_ms = 0;
    EXPECT_TRUE(wait_drained(**n));
  }
  fs::remove_all(dir);
}

TEST(NodePublish, AStoppingNodeAbandonsWhatIsStillTracked) {
  auto dir = temp_dir("done_abandoned");
  auto reg = test_registry();
  std::promise<event_done> outcome;
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    append_delay_ms = 300;
    publish_options opts;
    opts.on_done = [&](const event_done& d) { outcome.set_value(d); };
    // The first stage's actor sleeps on it; the second never gets it.
    ASSERT_TRUE((*n)->publish("in", {make_event("k", "1")}, opts));
    (*n)->stop();
    append_delay_ms = 0;
  }
  auto f = outcome.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto d = f.get();
  EXPECT_EQ(d.outcome, done_outcome::abandoned);
  fs::remove_all(dir);
}
