// Behaviour timers against a real node: in-memory timers fire in order
// with the key's events and can be replaced or cancelled; durable timers
// are committed with the event that set them, survive a kill -9 and fire
// exactly once after the restart; a node with a timer an hour away stops
// at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;

namespace {

/// Scripted by the payload:
///   set:NAME:MS[:durable]  sets timer NAME, payload "p-NAME", MS from now
///   cancel:NAME            cancels timer NAME
///   anything else          recorded
/// The state records every event as "e:PAYLOAD," and every fired timer as
/// "t:NAME:PAYLOAD,". A fired timer "chain" sets timer "chained" (10 ms).
class timer_behaviour : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    auto parts = split(ev.payload);
    if (parts[0] == "set")
      ctx.set_timer(
          parts.at(1), std::chrono::milliseconds(std::stoi(parts.at(2))),
          "p-" + parts[1],
          parts.size() > 3 && parts[3] == "durable" ? timer_kind::durable
                                                    : timer_kind::in_memory);
    else if (parts[0] == "cancel")
      ctx.cancel_timer(parts.at(1));
    ctx.log(log_level::info, "event " + ev.payload);
    ctx.set_state(ctx.state() + "e:" + ev.payload + ",");
  }

  void on_timer(context& ctx, const event& ev) override {
    if (ev.timer == "chain")
      ctx.set_timer("chained", std::chrono::milliseconds(10));
    ctx.observe("timer_lag",
                std::chrono::microseconds((now() - ev.ingest_ts_ns) / 1000));
    ctx.set_state(ctx.state() + "t:" + ev.timer + ":" + ev.payload + ",");
    ctx.emit("out", ev.timer);
  }

private:
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out{""};
    for (char c : s)
      if (c == ':')
        out.emplace_back();
      else
        out.back().push_back(c);
    return out;
  }
  static std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

registry timer_registry() {
  registry reg;
  EXPECT_TRUE(reg.add<timer_behaviour>("test.timer"));
  EXPECT_TRUE(reg.add<count_behaviour>("test.count"));
  return reg;
}

/// first (test.timer, emits fired timer names to `out`) -> second.
topology timer_topology() {
  auto t = parse_topology("pipeline: timers\n"
                          "topics: [in, out]\n"
                          "stages:\n"
                          "  - name: first\n"
                          "    behaviour: test.timer\n"
                          "    subscribe: [{ topic: in }]\n"
                          "    emits: [out]\n"
                          "  - name: second\n"
                          "    behaviour: test.count\n"
                          "    subscribe: [{ topic: out }]\n",
                          "timers.yaml");
  EXPECT_TRUE(t) << t.error().describe();
  return *t;
}

std::size_t occurrences(const std::string& s, const std::string& part) {
  std::size_t n = 0;
  for (auto at = s.find(part); at != std::string::npos;
       at = s.find(part, at + 1))
    ++n;
  return n;
}

/// The state of `key` in stage first, read through another process's
/// store: for a node running in a child process. (A second LMDB
/// environment on the same files in the node's own process would break
/// LMDB's locks.)
std::string child_state(const std::string& dir, const std::string& key) {
  auto st = store::open({dir, std::uint64_t{1} << 30, true, true});
  if (!st)
    return "";
  // The child may not have registered its stages yet.
  auto stages = (*st)->stages();
  if (!stages || std::none_of(stages->begin(), stages->end(), [](auto& s) {
        return s.name == "first";
      }))
    return "";
  return committed_state(**st, "first", key);
}

/// The state of `key` in stage first of a node in this process, asked of
/// the node itself (the console's inspect).
std::string live_state(node& n, const std::string& key) {
  auto a = n.admin("inspect", {"first", key});
  if (a.code != admin_code::ok)
    return "";
  auto j = nlohmann::json::parse(a.json);
  return j.contains("state") && j["state"].is_string()
             ? j["state"].get<std::string>()
             : "";
}

} // namespace

TEST(Timers,
     AnInMemoryTimerFiresOnceInOrderWithTheKeysEventsAndItsEffectsFlow) {
  auto dir = temp_dir("timer_mem");
  auto reg = timer_registry();
  auto n = node::start(timer_topology(), reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  auto set_at = std::chrono::steady_clock::now();
  ASSERT_TRUE((*n)->publish(
      "in", {make_event("k", "set:a:300"), make_event("k", "after")}));
  ASSERT_TRUE(wait_until(
      [&] { return live_state(**n, "k").find(",t:a:") != std::string::npos; },
      std::chrono::seconds(20)));
  auto fired_after = std::chrono::steady_clock::now() - set_at;
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(20)));
  // Not before it was due.
  EXPECT_GE(fired_after, std::chrono::milliseconds(300));
  // The timer's emit reached the next stage, and its lag was observed.
  auto& lag = (*n)->metrics().get_histogram(
      "sluice_behaviour_timer_lag_seconds", {{"stage", "first"}});
  EXPECT_EQ(lag.count(), 1u);
  EXPECT_EQ((*n)->metrics().counter_value("sluice_stage_timers_fired_total",
                                          {{"stage", "first"}}),
            1u);
  (*n)->stop();
  auto st = open_store(dir, true);
  EXPECT_EQ(committed_state(*st, "first", "k"), "e:set:a:300,e:after,t:a:p-a,");
  EXPECT_EQ(committed_state(*st, "second", "k"), "1");
}

TEST(Timers, ASetReplacesTheTimerOfItsNameAndACancelStopsIt) {
  auto dir = temp_dir("timer_replace");
  auto reg = timer_registry();
  auto n = node::start(timer_topology(), reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  // a is set twice (the second replaces the first, durable replacing
  // in-memory); b is set, then cancelled; c fires and sets another timer
  // from its handler; h is an hour away. z, durable and due after all the
  // others, marks the end: the stage fires every timer due (in memory and
  // in LMDB) at each wake, so once z fired, a replaced a or a cancelled b
  // that had survived would have fired too.
  ASSERT_TRUE((*n)->publish(
      "in", {make_event("k", "set:a:100"), make_event("k", "set:a:400:durable"),
             make_event("k", "set:b:100:durable"), make_event("k", "cancel:b"),
             make_event("k", "set:chain:50"), make_event("k", "set:h:3600000"),
             make_event("k", "set:z:600:durable")}));
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = live_state(**n, "k");
        return s.find(",t:a:") != std::string::npos
               && s.find(",t:chained:") != std::string::npos
               && s.find(",t:z:") != std::string::npos;
      },
      std::chrono::seconds(20)));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(20)));
  auto stop_at = std::chrono::steady_clock::now();
  (*n)->stop();
  // A timer an hour away does not hold the node up.
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at,
            std::chrono::seconds(5));
  auto st = open_store(dir, true);
  auto s = committed_state(*st, "first", "k");
  EXPECT_EQ(occurrences(s, ",t:a:"), 1u) << s;
  EXPECT_EQ(occurrences(s, ",t:b:"), 0u) << s;
  EXPECT_EQ(occurrences(s, ",t:chain:p-chain,"), 1u) << s;
  EXPECT_EQ(occurrences(s, ",t:chained:,"), 1u) << s;
  EXPECT_EQ(occurrences(s, ",t:h:"), 0u) << s;
  // Only the durable timers that are still pending are in LMDB: none (h
  // is in memory, so it is gone with the node).
  auto pending = st->read_timers(stage_id(*st, "first"), "k");
  ASSERT_TRUE(pending) << pending.error().describe();
  EXPECT_TRUE(pending->empty());
}

TEST(Timers, ADurableTimerSurvivesKillDashNineAndFiresOnceAfterTheRestart) {
  auto dir = temp_dir("timer_kill");
  auto reg = timer_registry();
  auto topo = timer_topology();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto n = node::start(topo, reg, options_for(dir));
    if (!n
        || !(*n)->publish("in", {make_event("k", "set:d:1500:durable"),
                                 make_event("k", "set:m:1500")}))
      ::_exit(3);
    for (;;)
      ::pause(); // until killed
  }
  // Wait until both sets are committed, then kill before they are due.
  bool committed = wait_until(
      [&] {
        return child_state(dir, "k") == "e:set:d:1500:durable,e:set:m:1500,";
      },
      std::chrono::seconds(30));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(committed) << "the timers were not set before the kill";
  ASSERT_TRUE(WIFSIGNALED(status));
  {
    auto st = open_store(dir, true);
    auto pending = st->read_timers(stage_id(*st, "first"), "k");
    ASSERT_TRUE(pending) << pending.error().describe();
    ASSERT_EQ(pending->size(), 1u); // the durable one only
    EXPECT_EQ((*pending)[0].name, "d");
  }

  auto n = node::start(topo, reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  // m, had it survived, could only be in LMDB, due when d was. A durable
  // timer of another key with m's delay, set now, is due after that: once
  // it fired, every durable timer due before it fired too.
  ASSERT_TRUE((*n)->publish("in", {make_event("z", "set:z:1500:durable")}));
  ASSERT_TRUE(wait_until(
      [&] {
        return live_state(**n, "k").find(",t:d:") != std::string::npos
               && live_state(**n, "z").find(",t:z:") != std::string::npos;
      },
      std::chrono::seconds(20)));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(20)));
  EXPECT_EQ((*n)->metrics().counter_value("sluice_store_timers_fired_total"),
            2u); // d and z
  (*n)->stop();
  auto st = open_store(dir, true);
  EXPECT_EQ(committed_state(*st, "first", "k"),
            "e:set:d:1500:durable,e:set:m:1500,t:d:p-d,");
  auto pending = st->read_timers(stage_id(*st, "first"), "k");
  ASSERT_TRUE(pending);
  EXPECT_TRUE(pending->empty());

  // A second restart fires nothing again: a durable timer due at once,
  // set after the restart, fires in a sweep of LMDB's due timers that
  // would have taken d along had it been left there.
  auto again = node::start(topo, reg, options_for(dir));
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_TRUE((*again)->publish("in", {make_event("z", "set:y:0:durable")}));
  ASSERT_TRUE(wait_until(
      [&] {
        return live_state(**again, "z").find(",t:y:") != std::string::npos;
      },
      std::chrono::seconds(20)));
  ASSERT_TRUE(wait_drained(**again, std::chrono::seconds(20)));
  EXPECT_EQ(
      (*again)->metrics().counter_value("sluice_store_timers_fired_total"), 1u);
  (*again)->stop();
  auto st2 = open_store(dir, true);
  EXPECT_EQ(occurrences(committed_state(*st2, "first", "k"), ",t:d:"), 1u);
}

TEST(Timers, AStageThatSetsTimersWithoutOnTimerDeadLettersTheFiredTimer) {
  // count_behaviour has no on_timer; a hand-queued timer event for it must
  // be dead-lettered with a clear reason, not crash or vanish.
  auto dir = temp_dir("timer_no_handler");
  auto reg = timer_registry();
  auto n = node::start(timer_topology(), reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  auto ev = make_event("k", "x");
  ev.timer = "stray";
  ASSERT_TRUE((*n)->publish("out", {ev}));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(20)));
  (*n)->stop();
  auto st = open_store(dir, true);
  auto dls = dead_letters(*st);
  ASSERT_EQ(dls.size(), 1u);
  ASSERT_GE(dls[0].attempts_size(), 1);
  EXPECT_NE(dls[0].attempts(0).error().find("has no on_timer"),
            std::string::npos)
      << dls[0].attempts(0).error();
}
