// A stage with `state: none` against a real temporary store: its events
// commit their emits, status, retries and dead letters exactly once, and
// no state record is read, written or version-checked; a behaviour that
// sets state there fails the event for good.
#include "key_processor_test_support.hpp"

using namespace sluice;
using namespace sluice_key_processor_test;

TEST_F(KeyProcessor, AStageWithoutStateCommitsItsEffectsButNoStateRecord) {
  act->keeps_state = false;
  act->emits = {{"out", "npm"}};
  auto kp = processor(mapper);
  auto ev = make_event("e1", "v1");
  auto pos = enqueue(ev, mapper);
  auto c = kp->process(pos, ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::done);
  EXPECT_TRUE(c.stateless);
  EXPECT_TRUE(c.key_state.empty());
  ASSERT_EQ(c.emits.size(), 2u); // sink_all and sink_npm take npm
  EXPECT_EQ(key_status(c).phase(), v1::PHASE_QUEUED);
  EXPECT_EQ(key_status(c).from_stage(), "mapper");
  // Any base version commits: there is no state to order by.
  c.base_version = 7;
  auto again = c;
  auto rep = commit(std::move(c));
  ASSERT_EQ(rep.consumed.size(), 1u);
  EXPECT_TRUE(rep.deferred.empty());
  EXPECT_EQ(queued(mapper), 0u);
  EXPECT_EQ(queued(sink_all), 1u);
  EXPECT_EQ(queued(sink_npm), 1u);
  auto stored = st->read_state(plan->stage_id(mapper), "k");
  ASSERT_TRUE(stored) << stored.error().describe();
  EXPECT_FALSE(*stored);
  auto status = st->read_status("k");
  ASSERT_TRUE(status && *status);

  // The same completion again is a duplicate: its entry is consumed, so
  // nothing is emitted twice.
  auto dup = commit(std::move(again));
  EXPECT_EQ(dup.duplicates.size(), 1u);
  EXPECT_TRUE(dup.consumed.empty());
  EXPECT_EQ(queued(sink_all), 1u);

  // A later event of the key goes through the same way.
  auto ev2 = make_event("e2", "v2");
  auto c2 = kp->process(enqueue(ev2, mapper), ev2, now_ns());
  EXPECT_TRUE(c2.key_state.empty());
  EXPECT_EQ(commit(std::move(c2)).consumed.size(), 1u);
  EXPECT_EQ(queued(sink_all), 2u);
  stored = st->read_state(plan->stage_id(mapper), "k");
  ASSERT_TRUE(stored);
  EXPECT_FALSE(*stored);
}

TEST_F(KeyProcessor, ABehaviourThatSetsStateInAStageWithoutStateFailsForGood) {
  act->keeps_state = true;
  act->emits = {{"out", "npm"}};
  auto kp = processor(mapper);
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev, mapper), ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_NE(kp->last_error().find("stage mapper has state: none, but its "
                                  "behaviour test.work set or cleared the "
                                  "key's state"),
            std::string::npos)
      << kp->last_error();
  EXPECT_TRUE(c.retry.empty()); // permanent: no retry
  EXPECT_TRUE(c.emits.empty());
  EXPECT_FALSE(c.dead_letter.empty());
  commit(std::move(c));
  EXPECT_EQ(queued(mapper), 0u);
  EXPECT_EQ(queued(sink_all), 0u);
  EXPECT_EQ(dead_letters(), 1u);
  auto stored = st->read_state(plan->stage_id(mapper), "k");
  ASSERT_TRUE(stored);
  EXPECT_FALSE(*stored);
}

TEST_F(KeyProcessor, AFailureInAStageWithoutStateIsRetriedThenDeadLettered) {
  act->keeps_state = false;
  act->act = script::mode::fail;
  auto ev = make_event("e1", "v1");
  auto pos = enqueue(ev, mapper);
  {
    auto kp = processor(mapper);
    auto c = kp->process(pos, ev, now_ns());
    EXPECT_EQ(kp->last_outcome(), outcome::retrying);
    EXPECT_TRUE(c.key_state.empty());
    EXPECT_EQ(key_status(c).phase(), v1::PHASE_RETRYING);
    EXPECT_EQ(commit(std::move(c)).retried.size(), 1u);
  }
  auto stored = st->read_state(plan->stage_id(mapper), "k");
  ASSERT_TRUE(stored);
  EXPECT_FALSE(*stored);
  // After a restart (the store opened again), a new actor for the key
  // loads the pending retry, though the stage keeps no state: the second
  // try is the last (max_attempts 2).
  st.reset();
  auto reopened = store::open({dir});
  ASSERT_TRUE(reopened) << reopened.error().describe();
  st = std::move(*reopened);
  auto kp = processor(mapper);
  auto c = kp->process(pos, ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_EQ(act->attempts_seen, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_TRUE(c.clear_retry);
  commit(std::move(c));
  EXPECT_EQ(queued(mapper), 0u);
  EXPECT_EQ(dead_letters(), 1u);
  auto retry = st->read_retry(plan->stage_id(mapper), "k");
  ASSERT_TRUE(retry);
  EXPECT_FALSE(*retry);
}
