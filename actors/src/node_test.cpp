// A real node with small test behaviours: per-key order, urgent overtaking
// a backlog, bounded in-flight events, failing behaviours.
#include "sluice/node.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include "sluice/store/export.hpp"
#include "sluice/store/store.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;
namespace fs = std::filesystem;

namespace {

std::atomic<std::uint64_t> processed_order{0};

/// Records the global processing position of each event in the state.
class order_behaviour : public behaviour {
public:
  void on_event(context& ctx, const event&) override {
    ctx.set_state(std::to_string(processed_order.fetch_add(1)));
  }
};

/// Takes a little time per event, so a backlog keeps its stage busy.
class slow_behaviour : public behaviour {
public:
  void on_event(context&, const event&) override {
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
};

} // namespace

TEST(Node, ProcessesEachKeysEventsInOrderUnderConcurrency) {
  auto dir = temp_dir("order");
  auto reg = test_registry();
  constexpr int keys = 64, per_key = 60;
  {
    auto n = node::start(two_stage(128), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    // Interleave keys and publish in several batches from two threads.
    auto publish_range = [&](int from, int to) {
      for (int i = from; i < to; ++i) {
        std::vector<event> batch;
        batch.reserve(keys);
        for (int k = 0; k < keys; ++k)
          batch.push_back(
              make_event("k" + std::to_string(k), std::to_string(i)));
        ASSERT_TRUE((*n)->publish("in", std::move(batch)));
      }
    };
    std::thread t1{publish_range, 0, per_key / 2};
    t1.join(); // the second half must follow the first for per-key order
    std::thread t2{publish_range, per_key / 2, per_key};
    t2.join();
    ASSERT_TRUE(wait_until([&] {
      auto s = (*n)->stats();
      return s && s->queued == 0;
    }));
    auto s = (*n)->stats();
    EXPECT_EQ(s->stages[0].done, static_cast<std::uint64_t>(keys * per_key));
    EXPECT_EQ(s->stages[1].done, static_cast<std::uint64_t>(keys * per_key));
  }
  auto first = export_map(dir, "first", reg);
  auto second = export_map(dir, "second", reg);
  ASSERT_EQ(first.size(), static_cast<std::size_t>(keys));
  std::string expected = "\"";
  for (int i = 0; i < per_key; ++i)
    expected += std::to_string(i) + ",";
  expected += "\"";
  for (auto& [k, v] : first)
    EXPECT_EQ(v, expected) << "key " << k;
  for (auto& [k, v] : second)
    EXPECT_EQ(v, "\"" + std::to_string(per_key) + "\"") << "key " << k;
  fs::remove_all(dir);
}

TEST(Node, AThrowingBehaviourFailsOnlyItsEventAndTheKeyKeepsItsState) {
  auto dir = temp_dir("throw");
  auto reg = test_registry();
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_TRUE(
        (*n)->publish("in", {make_event("k", "a"), make_event("k", "boom"),
                             make_event("k", "b"), make_event("other", "x")}));
    ASSERT_TRUE(wait_until([&] {
      auto s = (*n)->stats();
      return s && s->queued == 0;
    }));
    auto s = (*n)->stats();
    EXPECT_EQ(s->stages[0].done, 3u);
    EXPECT_EQ(s->stages[0].failed, 1u);
  }
  auto first = export_map(dir, "first", reg);
  EXPECT_EQ(first["k"], "\"a,b,\"");
  EXPECT_EQ(first["other"], "\"x,\"");
  auto st = store::open({dir, std::uint64_t{1} << 30, true, true});
  ASSERT_TRUE(st);
  int letters = 0;
  ASSERT_TRUE((*st)->scan_dead_letters(
      [&](std::uint32_t, std::uint64_t, const std::string& bytes) {
        ++letters;
        EXPECT_NE(bytes.find("refusing payload boom"), std::string::npos);
        return true;
      }));
  EXPECT_EQ(letters, 1);
  fs::remove_all(dir);
}

TEST(Node, KeepsEventsInFlightUnderTheCreditLimit) {
  auto dir = temp_dir("credit");
  auto reg = test_registry();
  constexpr std::uint32_t cap = 64;
  auto n = node::start(two_stage(cap), reg, options_for(dir));
  ASSERT_TRUE(n);
  for (int b = 0; b < 20; ++b) {
    std::vector<event> batch;
    batch.reserve(500);
    for (int i = 0; i < 500; ++i)
      batch.push_back(
          make_event("k" + std::to_string(i % 300), std::to_string(b)));
    ASSERT_TRUE((*n)->publish("in", std::move(batch)));
  }
  ASSERT_TRUE(wait_until([&] {
    auto s = (*n)->stats();
    return s && s->queued == 0;
  }));
  auto s = (*n)->stats();
  for (auto& st : s->stages) {
    EXPECT_LE(st.in_flight_peak, static_cast<std::int64_t>(cap)) << st.name;
    EXPECT_GT(st.in_flight_peak, 0) << st.name;
    EXPECT_EQ(st.done, 10000u) << st.name;
  }
  (*n)->stop();
  fs::remove_all(dir);
}

TEST(Node, RefusesAnUnknownBehaviourNamingTheStage) {
  auto dir = temp_dir("unknown");
  registry reg;
  auto n = node::start(two_stage(), reg, options_for(dir));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("test.yaml"), std::string::npos);
  EXPECT_NE(n.error().message.find("unknown behaviour 'test.append'"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(Node, AnUrgentEventOvertakesABacklogOfOneHundredThousandNormalEvents) {
  auto dir = temp_dir("urgent");
  registry reg;
  ASSERT_TRUE(reg.add<order_behaviour>("test.order"));
  auto topo = parse_topology(R"(
pipeline: urgent
topics: [in]
stages:
  - name: only
    behaviour: test.order
    subscribe: [{ topic: in }]
)",
                             "urgent.yaml");
  ASSERT_TRUE(topo);
  processed_order = 0;
  auto n = node::start(*topo, reg, options_for(dir));
  ASSERT_TRUE(n);
  constexpr int backlog = 100000;
  for (int b = 0; b < backlog / 10000; ++b) {
    std::vector<event> batch;
    batch.reserve(10000);
    for (int i = 0; i < 10000; ++i)
      batch.push_back(make_event("n" + std::to_string(b * 10000 + i), "x"));
    ASSERT_TRUE((*n)->publish("in", std::move(batch)));
  }
  ASSERT_TRUE(
      (*n)->publish("in", {make_event("urgent-key", "now", priority::urgent)}));
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = (*n)->stats();
        return s && s->queued == 0;
      },
      std::chrono::seconds(20)))
      << [&] {
           auto s = (*n)->stats();
           return "in " + std::to_string(s->stages[0].in) + " done "
                  + std::to_string(s->stages[0].done) + " in_flight "
                  + std::to_string(s->stages[0].in_flight) + " live "
                  + std::to_string(s->stages[0].live_keys) + " queued "
                  + std::to_string(s->queued) + "\n"
                  + (*n)->metrics().render_prometheus();
         }();
  (*n)->stop();
  auto states = export_map(dir, "only", reg);
  ASSERT_EQ(states.size(), static_cast<std::size_t>(backlog + 1));
  auto pos = std::stoull(states["urgent-key"].substr(1));
  // It finished before most of the backlog it was queued behind.
  EXPECT_LT(pos, static_cast<std::uint64_t>(backlog / 2))
      << "urgent event processed at position " << pos;
  std::cout << "urgent event processed at position " << pos << " of "
            << backlog + 1 << "\n";
  fs::remove_all(dir);
}

TEST(Node, UrgentWorkAnywhereMakesEveryStageLetOutLessNormalWork) {
  auto dir = temp_dir("urgent_everywhere");
  registry reg;
  ASSERT_TRUE(reg.add<slow_behaviour>("test.slow"));
  ASSERT_TRUE(reg.add<order_behaviour>("test.order"));
  // Two stages that share nothing: urgent work reaches only `first`.
  auto topo = parse_topology(R"(
pipeline: urgent_everywhere
topics: [bulk, asks]
stages:
  - name: first
    behaviour: test.order
    subscribe: [{ topic: asks }]
  - name: busy
    behaviour: test.slow
    subscribe: [{ topic: bulk }]
    max_in_flight: 512
)",
                             "urgent_everywhere.yaml");
  ASSERT_TRUE(topo);
  auto n = node::start(*topo, reg, options_for(dir));
  ASSERT_TRUE(n);
  for (int b = 0; b < 4; ++b) {
    std::vector<event> batch;
    batch.reserve(5000);
    for (int i = 0; i < 5000; ++i)
      batch.push_back(make_event("n" + std::to_string(b * 5000 + i), "x"));
    ASSERT_TRUE((*n)->publish("bulk", std::move(batch)));
  }
  auto busy_in_flight = [&] {
    auto s = (*n)->stats();
    return s ? s->stages[1].in_flight : std::int64_t{-1};
  };
  // `busy` works through its backlog with far more than an eighth of its
  // max_in_flight out at once...
  ASSERT_TRUE(wait_until([&] { return busy_in_flight() > 256; }));
  // ...until an urgent event is published for `first`: then `busy`, which
  // never sees urgent work itself, lets out at most an eighth (64) while
  // its backlog lasts.
  ASSERT_TRUE(
      (*n)->publish("asks", {make_event("ask", "now", priority::urgent)}));
  EXPECT_TRUE(wait_until([&] { return busy_in_flight() <= 64; },
                         std::chrono::seconds(2)))
      << "busy still has " << busy_in_flight() << " events in flight";
  auto s = (*n)->stats();
  ASSERT_TRUE(s);
  EXPECT_GT(s->queued, 0u) << "the backlog ran out before the check";
  (*n)->stop();
  fs::remove_all(dir);
}

TEST(Node, SkipsUnchangedEventsInOrderWithTheKeysOtherEvents) {
  auto dir = temp_dir("skip");
  auto reg = test_registry();
  auto topo = parse_topology(R"(
pipeline: skip
topics: [in, out]
stages:
  - name: first
    behaviour: test.append
    subscribe: [{ topic: in }]
    emits: [out]
    skip_unchanged: true
  - name: second
    behaviour: test.count
    subscribe: [{ topic: out }]
)",
                             "skip.yaml");
  ASSERT_TRUE(topo) << topo.error().describe();
  {
    auto n = node::start(*topo, reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_TRUE((*n)->publish("in", {make_event("k", "a")}));
    ASSERT_TRUE(wait_drained(**n));
  }
  // A fresh node has no key actor for k: the unchanged event is skipped by
  // the stage supervisor itself, the changed one waits for that commit,
  // then the first payload comes again.
  auto n = node::start(*topo, reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  ASSERT_TRUE((*n)->publish("in", {make_event("k", "a"), make_event("k", "b"),
                                   make_event("k", "a")}));
  ASSERT_TRUE(wait_drained(**n));
  auto s = (*n)->stats();
  EXPECT_EQ(s->stages[0].skipped, 1u);
  EXPECT_EQ(s->stages[0].done, 2u);
  EXPECT_EQ(s->stages[1].done, 2u); // nothing emitted for the skipped one
  (*n)->stop();
  EXPECT_EQ(export_map(dir, "first", reg)["k"], "\"a,b,a,\"");
  EXPECT_EQ(export_map(dir, "second", reg)["k"], "\"3\"");
  fs::remove_all(dir);
}

TEST(Node, RefusesAnOversizedPublishedPayloadNamingTheEventAndTheLimit) {
  auto dir = temp_dir("oversized");
  auto reg = test_registry();
  auto topo = two_stage();
  topo.max_payload_bytes = 8;
  auto n = node::start(topo, reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  auto r = (*n)->publish(
      "in", {make_event("k", "fits"), make_event("k", "far-too-long-payload")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_NE(r.error().message.find("event k:far-too-long-payload: payload of "
                                   "20 bytes exceeds max_payload_bytes 8"),
            std::string::npos)
      << r.error().message;
  // Nothing of the refused batch was accepted.
  auto s = (*n)->stats();
  EXPECT_EQ(s->queued, 0u);
  (*n)->stop();
  fs::remove_all(dir);
}

TEST(Node, StopsWhileAThreadThatPublishedAndAskedIsStillAlive) {
  // Embedders publish from threads of their own that outlive the call
  // (HTTP handlers do). Such a thread never becomes a CAF actor: the node's
  // caller pool makes the call. Before it, stop() hung in ~actor_system.
  auto dir = temp_dir("stop_other_thread");
  auto reg = test_registry();
  auto n = node::start(two_stage(), reg, options_for(dir));
  ASSERT_TRUE(n) << n.error().describe();
  std::mutex mtx;
  std::condition_variable cv;
  bool done = false, release = false;
  std::thread other([&] {
    EXPECT_TRUE((*n)->publish("in", {make_event("k", "a")}));
    EXPECT_EQ((*n)->admin("inspect", {"first", "nope"}).code,
              admin_code::failed);
    std::unique_lock lock{mtx};
    done = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; }); // alive until stop returned
  });
  {
    std::unique_lock lock{mtx};
    cv.wait(lock, [&] { return done; });
  }
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 200 && !finished; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!finished) {
      std::fprintf(stderr, "node::stop hung while another thread lives\n");
      std::_Exit(3);
    }
  });
  (*n)->stop();
  finished = true;
  watchdog.join();
  {
    std::lock_guard lock{mtx};
    release = true;
  }
  cv.notify_all();
  other.join();
}
