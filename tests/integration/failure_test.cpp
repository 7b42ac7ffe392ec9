// Failure semantics against a real node: retries with backoff that keep
// per-key order, poisoned keys quarantined with every attempt, permanent
// errors, retries that survive a kill -9, and supervision: key actors
// restarted from committed state, and a stage that exceeds its restart
// intensity stopping the node instead of spinning.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <mutex>
#include <set>

#include "sluice/metrics.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::mutex crashed_mtx;
std::set<std::string> crashed_once; // "key/tag" that crashed already

/// Scripted by the payload "VERB:ARG:TAG" (or just "TAG"):
///   fail:N:t   throws while the event's attempt < N, then succeeds
///   poison:t   always throws
///   perm:t     throws sluice::permanent_error
///   crash:t    throws sluice::fatal_error (the key actor crashes)
///   crash1:t   fatal_error the first time only
/// On success the state gets "t@attempt," and `t` is emitted to `out`.
class scripted_behaviour : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    std::string verb, arg, tag = ev.payload;
    if (auto c1 = ev.payload.find(':'); c1 != std::string::npos) {
      verb = ev.payload.substr(0, c1);
      tag = ev.payload.substr(c1 + 1);
      if (verb == "fail") {
        auto c2 = tag.find(':');
        arg = tag.substr(0, c2);
        tag = tag.substr(c2 + 1);
      }
    }
    if (verb == "fail" && ev.attempt < std::stoul(arg))
      throw std::runtime_error("try " + std::to_string(ev.attempt) + " of "
                               + tag + " fails");
    if (verb == "poison")
      throw std::runtime_error("poisoned " + tag);
    if (verb == "perm")
      throw permanent_error("malformed " + tag);
    if (verb == "crash")
      throw fatal_error("crash on " + tag);
    if (verb == "crash1") {
      std::lock_guard<std::mutex> g{crashed_mtx};
      if (crashed_once.insert(ctx.key() + "/" + tag).second)
        throw fatal_error("first crash on " + tag);
    }
    ctx.set_state(ctx.state() + tag + "@" + std::to_string(ev.attempt) + ",");
    ctx.emit("out", tag);
  }
};

registry scripted_registry() {
  {
    std::lock_guard<std::mutex> g{crashed_mtx};
    crashed_once.clear(); // each test crashes afresh
  }
  registry reg;
  EXPECT_TRUE(reg.add<scripted_behaviour>("test.scripted"));
  EXPECT_TRUE(reg.add<count_behaviour>("test.count"));
  return reg;
}

/// first (test.scripted) -> second (test.count), with `first_extra` YAML
/// lines added to the first stage and `root_extra` at the top.
topology scripted(const std::string& first_extra,
                  const std::string& root_extra = "") {
  auto t = parse_topology("pipeline: failures\n"
                          "topics: [in, out]\n"
                              + root_extra
                              + "stages:\n"
                                "  - name: first\n"
                                "    behaviour: test.scripted\n"
                                "    subscribe: [{ topic: in }]\n"
                                "    emits: [out]\n"
                              + first_extra
                              + "  - name: second\n"
                                "    behaviour: test.count\n"
                                "    subscribe: [{ topic: out }]\n",
                          "failures.yaml");
  EXPECT_TRUE(t) << t.error().describe();
  return *t;
}

v1::KeyState stored_key_state(const store& st, const std::string& stage,
                              const std::string& key) {
  v1::KeyState ks;
  auto s = st.read_state(stage_id(st, stage), key);
  EXPECT_TRUE(s && *s) << "no state for " << key;
  if (s && *s) {
    EXPECT_TRUE(ks.ParseFromString((*s)->key_state));
  }
  return ks;
}

std::uint64_t metric(node& n, const std::string& name,
                     const std::string& stage) {
  return n.metrics().counter_value(name, {{"stage", stage}});
}

} // namespace

TEST(Retries, AnEventThatFailsTwiceSucceedsOnItsThirdTryAndItsKeyKeepsOrder) {
  auto dir = temp_dir("retry_ok");
  auto reg = scripted_registry();
  auto n = node::start(
      scripted("    retry: { max_attempts: 5, backoff: 100ms..200ms }\n"), reg,
      options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE(
      (*n)->publish("in", {make_event("k", "fail:2:a"), make_event("k", "b"),
                           make_event("k", "c"), make_event("m", "x")}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  EXPECT_EQ(metric(**n, "sluice_stage_retries_total", "first"), 2u);
  EXPECT_EQ(metric(**n, "sluice_stage_failed_total", "first"), 0u);
  (*n)->stop();
  auto st = open_store(dir, true);
  // a ran on its third try (attempt 2); b and c waited behind it.
  auto k = stored_key_state(*st, "first", "k");
  EXPECT_EQ(k.state(), "a@2,b@0,c@0,");
  EXPECT_EQ(k.events_failed(), 2u);
  // The other key was not held up: done before k's first retry was due.
  auto m = stored_key_state(*st, "first", "m");
  EXPECT_EQ(m.state(), "x@0,");
  EXPECT_LT(m.updated_ts_ns(), k.updated_ts_ns() - 100'000'000);
  EXPECT_TRUE(dead_letters(*st).empty());
  EXPECT_TRUE(st->scan_retries(stage_id(*st, "first"))->empty());
  EXPECT_EQ(stored_key_state(*st, "second", "k").state(), "3");
}

TEST(Retries, APoisonedEventIsDeadLetteredWithEveryAttemptAndItsKeyGoesOn) {
  auto dir = temp_dir("retry_poison");
  auto reg = scripted_registry();
  auto n = node::start(
      scripted("    retry: { max_attempts: 3, backoff: 50ms..80ms }\n"), reg,
      options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE(
      (*n)->publish("in", {make_event("k", "a"), make_event("k", "poison:p"),
                           make_event("k", "b")}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  (*n)->stop();
  auto st = open_store(dir, true);
  auto dls = dead_letters(*st);
  ASSERT_EQ(dls.size(), 1u);
  auto& dl = dls.front();
  EXPECT_EQ(dl.stage(), "first");
  EXPECT_EQ(dl.key(), "k");
  EXPECT_EQ(dl.event().payload(), "poison:p");
  EXPECT_EQ(dl.event().id(), "k:poison:p");
  ASSERT_EQ(dl.attempts_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dl.attempts(i).attempt(), static_cast<std::uint32_t>(i + 1));
    EXPECT_NE(dl.attempts(i).error().find("poisoned p"), std::string::npos);
  }
  // Tries were spaced by at least the backoff floor.
  EXPECT_GE(dl.attempts(1).at_ts_ns() - dl.attempts(0).at_ts_ns(), 50'000'000);
  EXPECT_GE(dl.attempts(2).at_ts_ns() - dl.attempts(1).at_ts_ns(), 50'000'000);
  // The key kept its last good state and went on with b.
  EXPECT_EQ(stored_key_state(*st, "first", "k").state(), "a@0,b@0,");
  EXPECT_EQ(stored_key_state(*st, "second", "k").state(), "2");
}

TEST(Retries, APermanentErrorIsDeadLetteredAtOnce) {
  auto dir = temp_dir("retry_permanent");
  auto reg = scripted_registry();
  auto n = node::start(
      scripted("    retry: { max_attempts: 5, backoff: 10s..20s }\n"), reg,
      options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE(
      (*n)->publish("in", {make_event("k", "perm:x"), make_event("k", "y")}));
  // With a 10 s backoff, draining within 5 s proves there was no retry.
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(5)));
  (*n)->stop();
  auto st = open_store(dir, true);
  auto dls = dead_letters(*st);
  ASSERT_EQ(dls.size(), 1u);
  ASSERT_EQ(dls.front().attempts_size(), 1);
  EXPECT_NE(dls.front().attempts(0).error().find("failed permanently"),
            std::string::npos);
  EXPECT_EQ(stored_key_state(*st, "first", "k").state(), "y@0,");
}

TEST(Retries, APendingRetrySurvivesKillDashNineWithItsAttempts) {
  auto dir = temp_dir("retry_kill");
  auto reg = scripted_registry();
  // Two tries in all; the first fails before the kill, the second after.
  auto topo = scripted("    retry: { max_attempts: 2, backoff: 1s..1s }\n");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto n = node::start(topo, reg, options_for(dir));
    if (!n
        || !(*n)->publish("in",
                          {make_event("k", "fail:5:a"), make_event("k", "b")}))
      ::_exit(3);
    for (;;)
      ::pause(); // until killed
  }
  // Wait until the first failure is committed as a pending retry.
  bool pending = wait_until(
      [&] {
        auto st = store::open({dir, std::uint64_t{1} << 30, true, true});
        if (!st)
          return false;
        auto stages = (*st)->stages();
        if (!stages || stages->empty())
          return false;
        for (auto& s : *stages)
          if (s.name == "first")
            if (auto r = (*st)->read_retry(s.id, "k"); r && *r)
              return true;
        return false;
      },
      std::chrono::seconds(30));
  auto killed_at = now_ns();
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(pending) << "no retry was recorded before the kill";
  ASSERT_TRUE(WIFSIGNALED(status));

  auto n = node::start(topo, reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  (*n)->stop();
  auto st = open_store(dir, true);
  auto dls = dead_letters(*st);
  ASSERT_EQ(dls.size(), 1u);
  // The attempt made before the kill counts: one more try after the
  // restart reached max_attempts.
  ASSERT_EQ(dls.front().attempts_size(), 2);
  EXPECT_LT(dls.front().attempts(0).at_ts_ns(), killed_at);
  EXPECT_GT(dls.front().attempts(1).at_ts_ns(), killed_at);
  // b waited behind the retried event and ran once, after it.
  auto k = stored_key_state(*st, "first", "k");
  EXPECT_EQ(k.state(), "b@0,");
  EXPECT_GT(k.updated_ts_ns(), dls.front().attempts(1).at_ts_ns());
}

TEST(Supervision, ACrashedKeyActorRestartsFromCommittedStateAndRedoesItsEvent) {
  auto dir = temp_dir("sup_restart");
  auto reg = scripted_registry();
  auto n = node::start(scripted(""), reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE(
      (*n)->publish("in", {make_event("k", "a"), make_event("k", "crash1:b"),
                           make_event("k", "c")}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  EXPECT_EQ(metric(**n, "sluice_stage_key_restarts_total", "first"), 1u);
  auto s = (*n)->stats();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->failed);
  (*n)->stop();
  auto st = open_store(dir, true);
  EXPECT_EQ(stored_key_state(*st, "first", "k").state(), "a@0,b@0,c@0,");
  EXPECT_TRUE(dead_letters(*st).empty());
}

/// Under `strategy`, keys a, b and c each process one event (their actors
/// start in that order and stay alive); then `crashing` crashes once on its
/// second event. `restarts` is how many key actors that restarted.
void crash_one_of_three(const std::string& strategy,
                        const std::string& crashing, std::string& dir,
                        std::uint64_t& restarts) {
  dir = temp_dir("sup_" + strategy);
  auto reg = scripted_registry();
  auto n = node::start(scripted("    supervision: { strategy: " + strategy
                                + ", max_restarts: 5, within: 10s }\n"),
                       reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE((*n)->publish("in", {make_event("a", "1"), make_event("b", "1"),
                                   make_event("c", "1")}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  auto before = metric(**n, "sluice_stage_key_restarts_total", "first");
  ASSERT_TRUE((*n)->publish("in", {make_event(crashing, "crash1:2")}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  restarts = metric(**n, "sluice_stage_key_restarts_total", "first") - before;
  (*n)->stop();
}

TEST(Supervision, OneForAllRestartsEveryKeyActorOfTheStage) {
  std::string dir;
  std::uint64_t restarts = 0;
  ASSERT_NO_FATAL_FAILURE(
      crash_one_of_three("one_for_all", "a", dir, restarts));
  // a crashed; b and c, alive and idle, were restarted with it.
  EXPECT_GE(restarts, 3u);
  auto st = open_store(dir, true);
  EXPECT_EQ(stored_key_state(*st, "first", "a").state(), "1@0,2@0,");
  EXPECT_EQ(stored_key_state(*st, "first", "b").state(), "1@0,");
}

TEST(Supervision, AStageBeyondItsIntensityEscalatesAndTheNodeStopsLoudly) {
  auto dir = temp_dir("sup_escalate");
  auto reg = scripted_registry();
  // The stage tolerates 2 key-actor restarts in 10 s; the node tolerates
  // 1 stage restart in 60 s. A key that always crashes exhausts both.
  auto n = node::start(
      scripted("    supervision: { max_restarts: 2, within: 10s }\n",
               "supervision: { strategy: one_for_one, max_restarts: 1, "
               "within: 60s }\n"),
      reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE((*n)->publish(
      "in", {make_event("k", "crash:x"), make_event("m", "fine")}));
  node_stats last;
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = (*n)->stats();
        if (s)
          last = *s;
        return s && s->failed;
      },
      std::chrono::seconds(30)))
      << "the node kept restarting instead of stopping";
  EXPECT_NE(last.failure.find("stage first"), std::string::npos)
      << last.failure;
  EXPECT_NE(last.failure.find("exceed the intensity"), std::string::npos)
      << last.failure;
  // The crashing event is still queued: nothing was lost or dropped.
  (*n)->stop();
  auto st = open_store(dir, true);
  auto depth = st->queue_depth(stage_id(*st, "first"));
  ASSERT_TRUE(depth);
  EXPECT_EQ((*depth)[1], 1u);
}

TEST(Supervision, RestForOneRestartsTheCrashedKeyActorAndThoseStartedAfterIt) {
  std::string dir;
  std::uint64_t restarts = 0;
  ASSERT_NO_FATAL_FAILURE(
      crash_one_of_three("rest_for_one", "b", dir, restarts));
  // b and c (started after b) restart; a does not.
  EXPECT_EQ(restarts, 2u);
  auto st = open_store(dir, true);
  EXPECT_EQ(stored_key_state(*st, "first", "b").state(), "1@0,2@0,");
}
