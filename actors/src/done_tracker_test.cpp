// Completion tracking counted from what commits settle: fan-out, chains of
// emits, the outbox, duplicates, failures and a stopping node.
#include "done_tracker.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace sluice;

namespace {

struct recorder {
  std::vector<event_done> got;
  done_callback cb() {
    return [this](const event_done& d) { got.push_back(d); };
  }
};

settled_event settled(std::string id, std::uint32_t queued = 0,
                      std::uint32_t forwarded = 0, bool dead = false) {
  return {std::move(id), queued, forwarded, dead};
}

} // namespace

TEST(DoneTracker, AnEventQueuedForTwoStagesIsDoneWhenBothProcessedIt) {
  done_tracker t;
  recorder r;
  t.begin("e1", 2, r.cb(), done_tracker::clock::now());
  EXPECT_TRUE(t.active());
  t.settle({settled("e1")});
  EXPECT_TRUE(r.got.empty());
  t.settle({settled("other")}); // not tracked: ignored
  EXPECT_TRUE(r.got.empty());
  t.settle({settled("e1")});
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.got[0].id, "e1");
  EXPECT_EQ(r.got[0].outcome, done_outcome::done);
  EXPECT_EQ(r.got[0].processed, 2u);
  EXPECT_FALSE(t.active());
}

TEST(DoneTracker, EmitsKeepTheRootOpenUntilEveryDescendantIsProcessed) {
  done_tracker t;
  recorder r;
  t.begin("r", 1, r.cb(), done_tracker::clock::now());
  t.settle({settled("r", 2)}); // queued two emits
  t.settle({settled("r>a.0", 1)});
  t.settle({settled("r>a.1")});
  EXPECT_TRUE(r.got.empty()); // r>a.0's emit is still queued
  t.settle({settled("r>a.0>b.0", 0, 0, true)});
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.got[0].processed, 4u);
  EXPECT_EQ(r.got[0].dead_lettered, 1u);
}

TEST(DoneTracker, ADescendantBelongsToTheShortestTrackedRoot) {
  done_tracker t;
  recorder a, b;
  t.begin("a", 1, a.cb(), done_tracker::clock::now());
  t.begin("a>s.0", 1, b.cb(), done_tracker::clock::now());
  t.settle({settled("a>s.0>t.0")}); // a's, not the other's
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_TRUE(b.got.empty());
  t.settle({settled("a>s.0")}); // now the other's own completion
  ASSERT_EQ(b.got.size(), 1u);
}

TEST(DoneTracker, ForwardedAppendsEndTheirPartHere) {
  done_tracker t;
  recorder r;
  auto ticket = t.begin("e", 2, r.cb(), done_tracker::clock::now());
  t.forwarded(ticket);
  t.settle({settled("e", 0, 3)});
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.got[0].forwarded, 4u);
  EXPECT_EQ(r.got[0].processed, 1u);
}

TEST(DoneTracker, DuplicatesFailuresAndForgottenTicketsEndOnlyTheirWaiter) {
  done_tracker t;
  recorder first, again, failed;
  auto now = done_tracker::clock::now();
  t.begin("e", 1, first.cb(), now);
  auto dup = t.begin("e", 1, again.cb(), now);
  t.duplicate(dup); // the second publish of "e" was dropped
  ASSERT_EQ(again.got.size(), 1u);
  EXPECT_EQ(again.got[0].outcome, done_outcome::duplicate);
  EXPECT_TRUE(first.got.empty());
  t.settle({settled("e")}); // the first one's routes alone remain
  ASSERT_EQ(first.got.size(), 1u);
  EXPECT_EQ(first.got[0].outcome, done_outcome::done);

  auto f = t.begin("x", 3, failed.cb(), now);
  t.failed(f);
  ASSERT_EQ(failed.got.size(), 1u);
  EXPECT_EQ(failed.got[0].outcome, done_outcome::failed);
  EXPECT_EQ(t.size(), 0u);

  recorder gone;
  auto g = t.begin("y", 1, gone.cb(), now);
  t.forget(g);
  EXPECT_EQ(t.size(), 0u);
  t.settle({settled("y")});
  EXPECT_TRUE(gone.got.empty());
}

TEST(DoneTracker, AnEventNoStageTookIsDoneAtOnceAndClosingAbandonsTheRest) {
  done_tracker t;
  recorder none, open;
  t.begin("unrouted", 0, none.cb(), done_tracker::clock::now());
  ASSERT_EQ(none.got.size(), 1u);
  EXPECT_EQ(none.got[0].outcome, done_outcome::done);
  EXPECT_EQ(none.got[0].processed, 0u);
  t.begin("left", 1, open.cb(), done_tracker::clock::now());
  t.close();
  ASSERT_EQ(open.got.size(), 1u);
  EXPECT_EQ(open.got[0].outcome, done_outcome::abandoned);
  EXPECT_FALSE(t.active());
}
