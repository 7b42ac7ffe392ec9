// A real node whose data file reaches node_options::max_data_size (the
// LMDB map is full): it does not stop. Input pauses (publish refused at
// once with errc::no_space, input_paused says why, sluice_input_paused 1),
// reads are served, stop() ends the publish that waited, and every event
// whose publish succeeded is there and processed when the node starts
// again with a larger maximum. With stop_when_full (`sluice run`), the same
// commit stops the node, naming the cause.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "sluice/node.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t mib = std::uint64_t{1} << 20;

std::unique_ptr<node> start_with(const std::string& dir, const registry& reg,
                                 std::uint64_t max, bool stop_when_full) {
  node_options o = options_for(dir);
  o.threads = 2;
  o.sync = false;
  o.max_data_size = max;
  o.stop_when_full = stop_when_full;
  auto n = node::start(two_stage(), reg, o);
  EXPECT_TRUE(n) << n.error().describe();
  return n ? std::move(*n) : nullptr;
}

/// 20 events of 16 KiB for key `k<i>`.
std::vector<event> big_batch(int i) {
  std::vector<event> evs;
  evs.reserve(20);
  for (int j = 0; j < 20; ++j)
    evs.push_back(make_event("k" + std::to_string(i),
                             std::to_string(j) + std::string(16 << 10, 'x')));
  return evs;
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST(FullStore, AServingNodePausesInputKeepsServingReadsAndLosesNothing) {
  auto dir = temp_dir("full_store_serving");
  auto reg = test_registry();
  int accepted = 0;
  {
    auto n = start_with(dir, reg, 8 * mib, false);
    ASSERT_TRUE(n);
    ASSERT_TRUE(n->publish("in", {make_event("small", "a")}));
    ASSERT_TRUE(wait_drained(*n));
    // Publish until one waits (its commit found the map full).
    std::future<result<void>> waiting;
    for (int i = 0; i < 200; ++i) {
      auto f = std::async(std::launch::async,
                          [&n, i] { return n->publish("in", big_batch(i)); });
      if (f.wait_for(5s) == std::future_status::timeout) {
        waiting = std::move(f);
        break;
      }
      auto r = f.get();
      if (!r) { // paused by a stage's commit before this publish began
        EXPECT_EQ(r.error().code, errc::no_space) << r.error().describe();
        break;
      }
      ++accepted;
    }
    ASSERT_GT(accepted, 0);
    ASSERT_TRUE(wait_until([&] { return !n->input_paused().empty(); }, 30s));
    auto why = n->input_paused();
    EXPECT_TRUE(mentions(why, "input paused: " + dir)) << why;
    EXPECT_TRUE(mentions(why, "the LMDB map is full")) << why;
    EXPECT_TRUE(mentions(why, "tried again every second")) << why;

    // New input is refused at once, naming the cause.
    auto t0 = std::chrono::steady_clock::now();
    auto refused = n->publish("in", {make_event("late", "z")});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, errc::no_space);
    EXPECT_TRUE(mentions(refused.error().message, "input paused")) << why;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);

    // The node runs and serves reads.
    auto st = n->stats();
    ASSERT_TRUE(st);
    EXPECT_FALSE(st->failed) << st->failure;
    auto q = n->query("first", "small", {.wait = 0ms});
    ASSERT_TRUE(q) << q.error().describe();
    auto text = n->prometheus();
    EXPECT_TRUE(mentions(text, "\nsluice_input_paused 1\n")) << text;
    EXPECT_TRUE(mentions(text, "\nsluice_store_max_bytes 8388608\n"));
    // Still paused a few retries later: the map stays full.
    EXPECT_TRUE(holds_for([&] { return !n->input_paused().empty(); }, 2500ms));

    n->stop();
    if (waiting.valid()) {
      // Its commit never happened: the caller learns it was not accepted.
      ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
      EXPECT_FALSE(waiting.get());
    }
  }
  // A larger maximum: every accepted event is there and gets processed.
  auto n = start_with(dir, reg, 256 * mib, false);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->input_paused(), "");
  ASSERT_TRUE(wait_drained(*n));
  auto st = open_store(dir, true);
  ASSERT_TRUE(st);
  for (int i = 0; i < accepted; ++i)
    EXPECT_EQ(committed_state(*st, "second", "k" + std::to_string(i)), "20")
        << "k" << i;
  EXPECT_EQ(committed_state(*st, "second", "late"), "");
  n->stop();
  fs::remove_all(dir);
}

TEST(FullStore, WithStopWhenFullTheNodeStopsNamingTheCause) {
  auto dir = temp_dir("full_store_stop");
  auto reg = test_registry();
  auto n = start_with(dir, reg, 8 * mib, true);
  ASSERT_TRUE(n);
  for (int i = 0; i < 200; ++i) {
    auto f = std::async(std::launch::async,
                        [&n, i] { return n->publish("in", big_batch(i)); });
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    if (!f.get())
      break;
  }
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = n->stats();
        return s && s->failed;
      },
      30s));
  auto s = n->stats();
  ASSERT_TRUE(s);
  EXPECT_TRUE(mentions(s->failure, "the LMDB map is full")) << s->failure;
  n->stop();
  fs::remove_all(dir);
}
