// Idle passivation: a stage's key actors idle for its `passivate_after`
// are stopped, and a key's next event starts one again with its state from
// LMDB; with `passivate_after: never` they stay (up to max_live_keys).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "sluice/node.hpp"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

/// What the counting behaviour last counted, per key.
std::mutex seen_mtx;
std::map<std::string, std::uint64_t> seen;

/// Keeps a count of events per key in its state.
class counting : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    auto n = ctx.has_state() ? std::stoull(ctx.state()) : 0;
    ctx.set_state(std::to_string(n + 1));
    std::lock_guard<std::mutex> g{seen_mtx};
    seen[ev.key] = n + 1;
  }
};

constexpr int keys_fed = 300;

struct Passivation : ::testing::Test {
  fs::path dir;
  registry reg;
  std::unique_ptr<node> n;
  int next_id = 0;

  void SetUp() override {
    dir = fs::temp_directory_path()
          / ("sluice_passivation_" + std::to_string(::getpid()) + "_"
             + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    std::lock_guard<std::mutex> g{seen_mtx};
    seen.clear();
    ASSERT_TRUE(reg.add<counting>("test.count"));
  }
  void TearDown() override {
    if (n)
      n->stop();
    n.reset();
    fs::remove_all(dir);
  }

  /// Starts a node whose stage passivates after `after`.
  void start(const std::string& after) {
    auto topo = parse_topology(R"(
pipeline: passivation
topics: [registry]
stages:
  - name: count
    behaviour: test.count
    subscribe: [{ topic: registry }]
    passivate_after: )" + after + "\n",
                               "passivation.yaml");
    ASSERT_TRUE(topo) << topo.error().describe();
    node_options opts;
    opts.data_dir = (dir / "data").string();
    opts.sync = false;
    auto started = node::start(*topo, reg, opts);
    ASSERT_TRUE(started) << started.error().describe();
    n = std::move(*started);
  }

  /// Publishes one event for each of `keys` and waits until the stage has
  /// done `total` events in all.
  void publish(const std::vector<std::string>& keys, std::uint64_t total) {
    std::vector<event> evs;
    evs.reserve(keys.size());
    for (auto& k : keys) {
      event e;
      e.id = "e" + std::to_string(++next_id);
      e.key = k;
      e.payload = "x";
      evs.push_back(std::move(e));
    }
    auto r = n->publish("registry", std::move(evs));
    ASSERT_TRUE(r) << r.error().describe();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (done() < total) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "only " << done() << " of " << total << " events done";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::uint64_t done() {
    auto st = n->stats();
    EXPECT_TRUE(st);
    return st ? st->stages.at(0).done : 0;
  }
  std::int64_t live() {
    auto st = n->stats();
    EXPECT_TRUE(st);
    return st ? st->stages.at(0).live_keys : -1;
  }
  std::uint64_t passivated() {
    return n->metrics().counter_value("sluice_stage_passivated_total",
                                      {{"stage", "count"}});
  }

  static std::vector<std::string> all_keys() {
    std::vector<std::string> out;
    out.reserve(keys_fed);
    for (int i = 0; i < keys_fed; ++i)
      out.push_back("pkg" + std::to_string(i));
    return out;
  }
};

TEST_F(Passivation, KeyActorsIdleForPassivateAfterAreStoppedAndStartAgain) {
  start("300ms");
  publish(all_keys(), keys_fed);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(live(), 0) << "idle key actors were left running";
  EXPECT_EQ(passivated(), static_cast<std::uint64_t>(keys_fed));
  // The next events start pkg0's actor again, from its state in LMDB.
  publish({"pkg0", "pkg0", "pkg0"}, keys_fed + 3);
  {
    std::lock_guard<std::mutex> g{seen_mtx};
    EXPECT_EQ(seen["pkg0"], 4u);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(live(), 0);
  EXPECT_EQ(passivated(), static_cast<std::uint64_t>(keys_fed + 1));
}

TEST_F(Passivation, WithNeverIdleKeyActorsStayUpToMaxLiveKeys) {
  start("never");
  publish(all_keys(), keys_fed);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(live(), keys_fed);
  EXPECT_EQ(passivated(), 0u);
}

} // namespace
