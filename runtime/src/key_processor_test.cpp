// key_processor against a real temporary store: an event becomes a completion
// with the new state, a failure is retried with backoff and then
// dead-lettered, skip-unchanged, and emits routed through subscriptions.
#include "key_processor_test_support.hpp"

using namespace sluice;
using namespace sluice_key_processor_test;

TEST_F(KeyProcessor, AProcessedEventBecomesACompletionWithTheNewState) {
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto pos = enqueue(ev);
  auto c = kp->process(pos, ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::done);
  EXPECT_EQ(c.stage_id, plan->stage_id(work));
  EXPECT_EQ(c.key, "k");
  EXPECT_EQ(c.consumed, pos);
  EXPECT_EQ(c.base_version, 0u);
  EXPECT_TRUE(c.retry.empty());
  EXPECT_TRUE(c.dead_letter.empty());
  auto ks = key_state(c);
  EXPECT_EQ(ks.state(), "seen:v1");
  EXPECT_EQ(ks.events_processed(), 1u);
  EXPECT_EQ(ks.content_hash(), content_hash("v1"));
  EXPECT_EQ(key_status(c).phase(), v1::PHASE_DONE);
  EXPECT_EQ(kp->version(), 1u);
  EXPECT_EQ(kp->state(), "seen:v1");

  auto rep = commit(std::move(c));
  ASSERT_EQ(rep.consumed.size(), 1u);
  EXPECT_EQ(queued(work), 0u);
  auto stored = st->read_state(plan->stage_id(work), "k");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->version, 1u);

  // The next event starts from the committed version.
  auto ev2 = make_event("e2", "v2");
  auto c2 = kp->process(enqueue(ev2), ev2, now_ns());
  EXPECT_EQ(c2.base_version, 1u);
  EXPECT_EQ(key_state(c2).state(), "seen:v2");
  EXPECT_EQ(commit(std::move(c2)).consumed.size(), 1u);
}

TEST_F(KeyProcessor,
       AFailureIsRetriedWithBackoffThenDeadLetteredWhenTriesRunOut) {
  act->act = script::mode::fail;
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto pos = enqueue(ev);
  for (std::uint32_t attempt = 1; attempt < 3; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    auto now = now_ns();
    auto c = kp->process(pos, ev, now);
    EXPECT_EQ(kp->last_outcome(), outcome::retrying);
    EXPECT_NE(kp->last_error().find("threw: boom"), std::string::npos);
    EXPECT_TRUE(c.dead_letter.empty());
    ASSERT_FALSE(c.retry.empty());
    // backoff 100ms..1s: never sooner than the floor, never past the cap.
    EXPECT_GE(c.retry_due_ns - now, std::int64_t{100'000'000});
    EXPECT_LE(c.retry_due_ns - now, std::int64_t{1'000'000'000});
    v1::RetryRecord rec;
    ASSERT_TRUE(rec.ParseFromString(c.retry));
    EXPECT_EQ(rec.seq(), pos.seq);
    EXPECT_EQ(rec.attempts_size(), static_cast<int>(attempt));
    EXPECT_EQ(key_status(c).phase(), v1::PHASE_RETRYING);
    EXPECT_EQ(key_state(c).events_failed(), attempt);
    EXPECT_EQ(key_state(c).state(), ""); // the last good state is kept
    auto rep = commit(std::move(c));
    EXPECT_EQ(rep.retried.size(), 1u);
    EXPECT_EQ(queued(work), 1u); // stays queued for the next try
    auto r = st->read_retry(plan->stage_id(work), "k");
    ASSERT_TRUE(r && *r);
  }
  auto c = kp->process(pos, ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_TRUE(c.retry.empty());
  EXPECT_TRUE(c.clear_retry);
  ASSERT_FALSE(c.dead_letter.empty());
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(c.dead_letter));
  EXPECT_EQ(dl.stage(), "work");
  EXPECT_EQ(dl.key(), "k");
  EXPECT_EQ(dl.event().id(), "e1");
  EXPECT_EQ(dl.attempts_size(), 3);
  EXPECT_EQ(key_status(c).phase(), v1::PHASE_FAILED);
  // The behaviour saw how many tries came before each.
  EXPECT_EQ(act->attempts_seen, (std::vector<std::uint32_t>{0, 1, 2}));
  commit(std::move(c));
  EXPECT_EQ(queued(work), 0u);
  EXPECT_EQ(dead_letters(), 1u);
  auto r = st->read_retry(plan->stage_id(work), "k");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

TEST_F(KeyProcessor, APermanentErrorIsDeadLetteredAtOnce) {
  act->act = script::mode::fail_permanently;
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev), ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_NE(kp->last_error().find("failed permanently: malformed"),
            std::string::npos);
  EXPECT_TRUE(c.retry.empty());
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(c.dead_letter));
  EXPECT_EQ(dl.attempts_size(), 1);
  EXPECT_EQ(act->calls, 1);
  commit(std::move(c));
  EXPECT_EQ(queued(work), 0u);
  EXPECT_EQ(dead_letters(), 1u);
}

TEST_F(KeyProcessor, AnEmitToAnUndeclaredTopicFailsTheEventForGood) {
  act->emits = {{"in", "npm"}}; // work declares only out and audit
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev), ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_NE(kp->last_error().find("undeclared topic 'in' (it declares emits: "
                                  "[out, audit]"),
            std::string::npos)
      << kp->last_error();
  EXPECT_TRUE(c.emits.empty());
  EXPECT_FALSE(c.dead_letter.empty());
}

TEST_F(KeyProcessor, AStageThatDeclaresNoEmitsMayNotEmit) {
  // plain has no `emits:`: its emit to out is refused, though sink_all
  // subscribes to out (the example's parse without `emits: [parsed]`).
  act->emits = {{"out", "npm"}};
  auto kp = processor(plain);
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev, plain), ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_NE(kp->last_error().find(
                "stage plain emitted to undeclared topic 'out' (it declares "
                "no emits; add the topic to the stage's emits in the "
                "topology)"),
            std::string::npos)
      << kp->last_error();
  EXPECT_TRUE(c.emits.empty());
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(c.dead_letter));
  ASSERT_GT(dl.attempts_size(), 0);
  EXPECT_NE(dl.attempts(0).error().find("undeclared topic 'out'"),
            std::string::npos);
  commit(std::move(c));
  EXPECT_EQ(queued(sink_all), 0u);
  EXPECT_EQ(dead_letters(), 1u);
}

TEST_F(KeyProcessor, AnUnchangedPayloadIsSkippedUnlessRefreshed) {
  auto kp = processor();
  auto first = make_event("e1", "same");
  commit(kp->process(enqueue(first), first, now_ns()));
  ASSERT_EQ(act->calls, 1);

  auto again = make_event("e2", "same");
  EXPECT_TRUE(kp->unchanged(again));
  auto pos = enqueue(again);
  auto c = kp->process(pos, again, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::skipped);
  EXPECT_EQ(act->calls, 1); // the behaviour did not run
  EXPECT_TRUE(c.ack_only);
  EXPECT_EQ(kp->version(), 1u); // nothing is written
  // Without a key actor, the stage supervisor decides the same.
  auto stored = st->read_state(plan->stage_id(work), "k");
  ASSERT_TRUE(stored && *stored);
  EXPECT_TRUE(
      skip_if_unchanged(*plan, work, "k", **stored, pos, again, now_ns()));
  EXPECT_EQ(commit(std::move(c)).consumed.size(), 1u);

  auto refresh = make_event("e3", "same");
  refresh.refresh = true;
  EXPECT_FALSE(kp->unchanged(refresh));
  EXPECT_FALSE(
      skip_if_unchanged(*plan, work, "k", **stored, pos, refresh, now_ns()));
  kp->process(enqueue(refresh), refresh, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::done);
  EXPECT_EQ(act->calls, 2);

  auto changed = make_event("e4", "other");
  EXPECT_FALSE(kp->unchanged(changed));
  kp->process(enqueue(changed), changed, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::done);
  EXPECT_EQ(act->calls, 3);
}

TEST_F(KeyProcessor, AStageWithoutSkipUnchangedRunsEveryEvent) {
  auto kp = processor(plain);
  for (auto id : {"e1", "e2"}) {
    auto ev = make_event(id, "same");
    EXPECT_FALSE(kp->unchanged(ev));
    commit(kp->process(enqueue(ev, plain), ev, now_ns()));
    EXPECT_EQ(kp->last_outcome(), outcome::done);
  }
  EXPECT_EQ(act->calls, 2);
}

TEST_F(KeyProcessor, EmitsAreRoutedToTheSubscribedStagesThroughTheirFilters) {
  act->emits = {{"out", "npm"}, {"out", "pypi"}, {"audit", "npm"}};
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev), ev, now_ns());
  ASSERT_EQ(kp->last_outcome(), outcome::done);
  // npm: both sinks (sink_npm at its subscription's urgent class); pypi:
  // sink_all only; audit: no subscriber.
  ASSERT_EQ(c.emits.size(), 3u);
  EXPECT_EQ(c.emits[0].stage_id, plan->stage_id(sink_all));
  EXPECT_EQ(c.emits[0].priority, priority::normal);
  EXPECT_EQ(c.emits[1].stage_id, plan->stage_id(sink_npm));
  EXPECT_EQ(c.emits[1].priority, priority::urgent);
  EXPECT_EQ(c.emits[2].stage_id, plan->stage_id(sink_all));
  auto out = decode_event(c.emits[2].event_bytes, "test");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->id, "e1>work.1");
  EXPECT_EQ(out->key, "k"); // inherited from the event that caused it
  EXPECT_EQ(out->topic, "out");
  EXPECT_EQ(out->attributes.at("ecosystem"), "pypi");
  EXPECT_EQ(out->content_hash, content_hash("from v1"));
  auto counts = kp->take_counts();
  EXPECT_EQ(counts, (std::vector<std::pair<std::string, std::uint64_t>>{
                        {"unrouted", 1}}));
  // The key's status waits in the first stage an emit went to.
  EXPECT_EQ(c.status_emit, 0);
  auto status = key_status(c);
  EXPECT_EQ(status.phase(), v1::PHASE_QUEUED);
  EXPECT_EQ(status.stage(), "sink_all");
  EXPECT_EQ(status.from_stage(), "work");

  commit(std::move(c));
  EXPECT_EQ(queued(sink_all), 2u);
  EXPECT_EQ(queued(sink_npm), 1u);
}

TEST_F(KeyProcessor, AStageWithAChangelogKeepsTheAttributesBehindItsState) {
  auto ev = make_event("e1", "v1");
  ev.attributes = {{"tier", "gold"}, {"region", "eu"}};
  auto kp = processor(logged);
  auto c = kp->process(enqueue(ev, logged), ev, now_ns());
  ASSERT_EQ(kp->last_outcome(), outcome::done);
  auto ks = key_state(c);
  ASSERT_EQ(ks.last_attributes().size(), 2u);
  EXPECT_EQ(ks.last_attributes().at("tier"), "gold");
  commit(c);
  // The next event's attributes replace them (none left over).
  auto ev2 = make_event("e2", "v2");
  ev2.attributes = {{"tier", "free"}};
  auto c2 = kp->process(enqueue(ev2, logged), ev2, now_ns());
  auto ks2 = key_state(c2);
  ASSERT_EQ(ks2.last_attributes().size(), 1u);
  EXPECT_EQ(ks2.last_attributes().at("tier"), "free");
  // A stage without a changelog keeps none.
  auto other = processor(plain);
  auto c3 = other->process(enqueue(ev, plain), ev, now_ns());
  EXPECT_TRUE(key_state(c3).last_attributes().empty());
}

TEST_F(KeyProcessor, ARebindRunsAnotherKeyAsANewProcessorWould) {
  act->emits = {{"out", "npm"}};
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  commit(kp->process(enqueue(ev), ev, now_ns()));
  ASSERT_EQ(kp->version(), 1u);
  ASSERT_TRUE(kp->has_state());

  // The other key has committed state of its own (version 1, "seen:x").
  auto other = std::make_unique<key_processor>(*plan, work, "k2",
                                               std::make_unique<scripted>(act));
  ASSERT_TRUE(other->load(*st));
  auto ev_x = make_event("x1", "x");
  ev_x.key = "k2";
  commit(other->process(enqueue(ev_x), ev_x, now_ns()));

  auto fresh = std::make_shared<script>();
  kp->rebind("k2", std::make_unique<scripted>(fresh));
  EXPECT_EQ(kp->key(), "k2");
  ASSERT_TRUE(kp->load(*st));
  EXPECT_EQ(kp->version(), 1u);
  EXPECT_EQ(kp->state(), "seen:x"); // k2's, nothing of k's
  auto ev2 = make_event("x2", "y");
  ev2.key = "k2";
  auto c = kp->process(enqueue(ev2), ev2, now_ns());
  EXPECT_EQ(c.key, "k2");
  EXPECT_EQ(c.base_version, 1u);
  EXPECT_EQ(key_state(c).state(), "seen:y");
  EXPECT_EQ(key_state(c).events_processed(), 2u);
  EXPECT_TRUE(c.emits.empty()); // the new behaviour's script emits nothing
  EXPECT_EQ(fresh->calls, 1);
  EXPECT_EQ(commit(std::move(c)).consumed.size(), 1u);
}
