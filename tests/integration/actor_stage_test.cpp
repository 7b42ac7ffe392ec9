// Actor stages (the escape hatch) against a real node: a team's raw CAF
// actor handles a stage's events with per-key order and committed effects;
// an error reply is retried and dead-lettered like a behaviour's failure;
// a crashed actor is restarted within the stage's intensity and the event
// it held is retried; beyond the intensity the node stops loudly.
#include <gtest/gtest.h>

#include <atomic>

#include "sluice/caf/actor_stage.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;

namespace {

/// Actors started so far (first start and restarts).
std::atomic<int> actor_starts{0};
/// Crashes left for payload "crash": it throws while this is above zero.
std::atomic<int> crashes_left{0};

/// Appends "PAYLOAD;" to the key's state and emits the payload to `out`.
/// Payload "err" answers with an error; "crash" throws (the actor dies)
/// while crashes_left > 0; "later" answers through a response promise.
caf::behavior journal_actor(caf::event_based_actor* self) {
  ++actor_starts;
  using later_atom = caf::atom_constant<caf::atom("later")>;
  return {
      [=](actor_event_atom, actor_request& rq) -> caf::result<actor_reply> {
        if (rq.ev.payload == "err")
          return caf::make_error(caf::sec::runtime_error,
                                 "journal refuses " + rq.key);
        if (rq.ev.payload == "crash" && crashes_left.fetch_sub(1) > 0)
          throw std::runtime_error("journal crashed on " + rq.key);
        actor_reply r;
        r.set_state((rq.has_state ? rq.state : "") + rq.ev.payload + ";");
        event out;
        out.payload = rq.ev.payload;
        r.emit("out", std::move(out));
        if (rq.ev.payload != "later")
          return r;
        auto rp = self->make_response_promise<actor_reply>();
        self->send(self, later_atom::value);
        self->become(caf::keep_behavior, [=](later_atom) mutable {
          rp.deliver(r);
          self->unbecome();
        });
        return rp;
      },
  };
}

registry actor_registry() {
  actor_starts = 0;
  registry reg;
  EXPECT_TRUE(add_actor_stage(reg, "test.journal", journal_actor));
  EXPECT_TRUE(reg.add<count_behaviour>("test.count"));
  return reg;
}

/// first (the actor stage, emits to `out`) -> second (test.count).
topology actor_topology(const std::string& first_extra = "") {
  auto t = parse_topology("pipeline: actors\n"
                          "topics: [in, out]\n"
                          "stages:\n"
                          "  - name: first\n"
                          "    behaviour: test.journal\n"
                          "    subscribe: [{ topic: in }]\n"
                          "    emits: [out]\n"
                              + first_extra
                              + "  - name: second\n"
                                "    behaviour: test.count\n"
                                "    subscribe: [{ topic: out }]\n",
                          "actors.yaml");
  EXPECT_TRUE(t) << t.error().describe();
  return *t;
}

} // namespace

TEST(ActorStages, ARawActorHandlesEachKeysEventsInOrderAndItsEffectsCommit) {
  auto dir = temp_dir("actor_order");
  auto reg = actor_registry();
  auto n = node::start(actor_topology(), reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  std::vector<event> evs;
  for (int i = 0; i < 40; ++i)
    for (int k = 0; k < 16; ++k)
      evs.push_back(make_event("k" + std::to_string(k),
                               i == 20 ? "later" : std::to_string(i)));
  ASSERT_TRUE((*n)->publish("in", std::move(evs)));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(60)));
  EXPECT_EQ(actor_starts.load(), 1);
  (*n)->stop();
  auto st = open_store(dir, true);
  std::string want;
  for (int i = 0; i < 40; ++i)
    want += (i == 20 ? "later" : std::to_string(i)) + ";";
  for (int k = 0; k < 16; ++k) {
    auto key = "k" + std::to_string(k);
    EXPECT_EQ(committed_state(*st, "first", key), want) << key;
    EXPECT_EQ(committed_state(*st, "second", key), "40") << key;
  }
}

TEST(ActorStages, AnErrorReplyIsRetriedThenDeadLetteredAndTheKeyGoesOn) {
  auto dir = temp_dir("actor_error");
  auto reg = actor_registry();
  auto n = node::start(
      actor_topology("    retry: { max_attempts: 3, backoff: 20ms..40ms }\n"),
      reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE((*n)->publish("in", {make_event("k", "a"), make_event("k", "err"),
                                   make_event("k", "b")}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  (*n)->stop();
  auto st = open_store(dir, true);
  EXPECT_EQ(committed_state(*st, "first", "k"), "a;b;");
  auto dls = dead_letters(*st);
  ASSERT_EQ(dls.size(), 1u);
  EXPECT_EQ(dls[0].key(), "k");
  ASSERT_EQ(dls[0].attempts_size(), 3);
  EXPECT_NE(dls[0].attempts(2).error().find("journal refuses k"),
            std::string::npos)
      << dls[0].attempts(2).error();
}

TEST(ActorStages, ACrashedActorIsRestartedAndTheEventItHeldIsRetried) {
  auto dir = temp_dir("actor_crash");
  auto reg = actor_registry();
  crashes_left = 1;
  auto n = node::start(
      actor_topology("    retry: { max_attempts: 3, backoff: 20ms..40ms }\n"),
      reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE(
      (*n)->publish("in", {make_event("k", "a"), make_event("k", "crash"),
                           make_event("k", "b"), make_event("m", "x")}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  EXPECT_EQ(actor_starts.load(), 2);
  EXPECT_EQ((*n)->metrics().counter_value("sluice_stage_key_restarts_total",
                                          {{"stage", "first"}}),
            1u);
  (*n)->stop();
  auto st = open_store(dir, true);
  EXPECT_EQ(committed_state(*st, "first", "k"), "a;crash;b;");
  EXPECT_EQ(committed_state(*st, "first", "m"), "x;");
  EXPECT_TRUE(dead_letters(*st).empty());
}

TEST(ActorStages, AnActorThatKeepsCrashingStopsTheNodeWithTheReason) {
  auto dir = temp_dir("actor_intensity");
  auto reg = actor_registry();
  crashes_left = 1000;
  auto n = node::start(
      actor_topology(
          "    retry: { max_attempts: 100, backoff: 1ms..2ms }\n"
          "    supervision: { strategy: one_for_one, max_restarts: 3, "
          "within: 60s }\n"),
      reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE((*n)->publish("in", {make_event("k", "crash")}));
  std::string failure;
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = (*n)->stats();
        if (s && s->failed)
          failure = s->failure;
        return s && s->failed;
      },
      std::chrono::seconds(30)));
  EXPECT_NE(failure.find("actor stage test.journal"), std::string::npos)
      << failure;
  (*n)->stop();
  crashes_left = 0;
  // The event is still queued: nothing was lost.
  auto st = open_store(dir, true);
  auto depth = st->queue_depth(stage_id(*st, "first"));
  ASSERT_TRUE(depth);
  EXPECT_EQ((*depth)[1], 1u);
}
