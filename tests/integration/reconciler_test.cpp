// The reconciler against a real stuck key: a node is killed while a key's
// event waits in the second stage, that queued event is deleted behind the
// runtime's back (a lost message), and a restarted node's reconciler finds
// the key and re-drives it through the first stage's reconcile().
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;

namespace {

/// Keeps the last payload as its state and forwards it; reconcile()
/// forwards the state again.
class keep_last : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    ctx.set_state(ev.payload);
    ctx.emit("out", ev.payload);
  }
  bool reconcile(context& ctx) override {
    if (!ctx.has_state())
      return false;
    ctx.emit("out", ctx.state());
    return true;
  }
};

/// Never returns: holds the second stage so its events stay queued.
class hold_forever : public behaviour {
public:
  void on_event(context&, const event&) override {
    for (;;)
      std::this_thread::sleep_for(std::chrono::seconds(1));
  }
};

/// Records every payload it sees.
class record_all : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    ctx.set_state(ctx.state() + ev.payload + ",");
  }
};

topology reconciling() {
  auto t = parse_topology("pipeline: reconcile\n"
                          "topics: [in, out]\n"
                          "reconciler: { interval: 100ms }\n"
                          "stages:\n"
                          "  - name: first\n"
                          "    behaviour: test.keep_last\n"
                          "    subscribe: [{ topic: in }]\n"
                          "    emits: [out]\n"
                          "  - name: second\n"
                          "    behaviour: test.second\n"
                          "    subscribe: [{ topic: out }]\n"
                          "    stuck_after: 300ms\n",
                          "reconcile.yaml");
  EXPECT_TRUE(t) << t.error().describe();
  return *t;
}

v1::KeyStatus status_of(const store& st, const std::string& key) {
  v1::KeyStatus s;
  auto bytes = st.read_status(key);
  EXPECT_TRUE(bytes && *bytes) << "no status for " << key;
  if (bytes && *bytes) {
    EXPECT_TRUE(s.ParseFromString(**bytes));
  }
  return s;
}

} // namespace

TEST(Reconciler, ReDrivesAKeyWhoseQueuedEventWasLostAndOnlyThatKey) {
  auto dir = temp_dir("reconcile");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    registry reg;
    (void)reg.add<keep_last>("test.keep_last");
    (void)reg.add<hold_forever>("test.second");
    auto n = node::start(reconciling(), reg, options_for(dir));
    if (!n
        || !(*n)->publish("in",
                          {make_event("k", "alpha"), make_event("m", "beta")}))
      ::_exit(3);
    for (;;)
      ::pause();
  }
  // Both keys finished the first stage and wait in the second.
  auto both_wait = [&] {
    auto st = store::open({dir, std::uint64_t{1} << 30, true, true});
    if (!st)
      return false;
    auto depth = (*st)->stages();
    if (!depth || depth->size() < 2)
      return false;
    for (auto& s : *depth)
      if (s.name == "second")
        if (auto d = (*st)->queue_depth(s.id); d && (*d)[1] == 2)
          return true;
    return false;
  };
  bool ready = wait_until(both_wait, std::chrono::seconds(30));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(ready) << "the events never reached the second stage";

  // Lose k's queued event behind the runtime's back.
  {
    auto st = open_store(dir, false);
    ASSERT_TRUE(st);
    auto s = status_of(*st, "k");
    EXPECT_EQ(s.stage(), "second");
    EXPECT_EQ(s.phase(), v1::PHASE_QUEUED);
    EXPECT_EQ(s.from_stage(), "first");
    ASSERT_TRUE(s.queued_known());
    auto gone = st->delete_entry(
        stage_id(*st, "second"),
        {static_cast<priority>(s.queued_priority()), s.queued_seq()});
    ASSERT_TRUE(gone && *gone);
  }

  registry reg;
  ASSERT_TRUE(reg.add<keep_last>("test.keep_last"));
  ASSERT_TRUE(reg.add<record_all>("test.second"));
  auto n = node::start(reconciling(), reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  // m flows on its own; k only comes back through the reconciler.
  ASSERT_TRUE(wait_until(
      [&] {
        return (*n)->metrics().counter_value("sluice_reconciler_redriven_total")
               >= 1;
      },
      std::chrono::seconds(30)));
  ASSERT_TRUE(wait_drained(**n, std::chrono::seconds(30)));
  // Three whole scans after the drain (the counter counts a scan as it
  // begins, so four) re-drive nothing more: nothing else is stuck.
  auto scans = [&] {
    return (*n)->metrics().counter_value("sluice_reconciler_scans_total");
  };
  auto scanned = scans();
  ASSERT_TRUE(wait_until([&] { return scans() >= scanned + 4; },
                         std::chrono::seconds(30)));
  EXPECT_EQ((*n)->metrics().counter_value("sluice_reconciler_redriven_total"),
            1u);
  EXPECT_GE((*n)->metrics().counter_value("sluice_reconciler_stuck_total"), 1u);
  (*n)->stop();
  auto second = export_map(dir, "second", reg);
  EXPECT_EQ(second["k"], "\"alpha,\""); // re-derived from first's state
  EXPECT_EQ(second["m"], "\"beta,\"");  // delivered once, not re-driven
  auto st = open_store(dir, true);
  auto k = status_of(*st, "k");
  EXPECT_EQ(k.stage(), "second");
  EXPECT_EQ(k.phase(), v1::PHASE_DONE);
}
