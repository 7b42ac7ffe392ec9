// Change feeds through a running node: `node::subscribe` follows what the
// pipeline commits (snapshot, snapshot_end, then changes, in commit order
// per key), the console's `subscribers` shows the subscription and the
// changelog, the cap holds, and stopping the node ends open subscriptions.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "sluice/node.hpp"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

/// Keeps a count of events per key, rendered as {"n": N}.
class feed_counting : public behaviour {
public:
  void on_event(context& ctx, const event&) override {
    auto n = ctx.has_state() ? std::stoull(ctx.state()) : 0;
    ctx.set_state(std::to_string(n + 1));
  }
  std::string state_to_json(const std::string& s) const override {
    return "{\"n\":" + s + "}";
  }
};

struct ChangeFeed : ::testing::Test {
  fs::path dir;
  registry reg;
  std::unique_ptr<node> n;
  int next_id = 0;

  void SetUp() override {
    dir = fs::temp_directory_path()
          / ("sluice_change_feed_" + std::to_string(::getpid()) + "_"
             + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    ASSERT_TRUE(reg.add<feed_counting>("test.count"));
    auto topo = parse_topology(R"(
pipeline: feeds
topics: [in]
stages:
  - name: count
    behaviour: test.count
    subscribe: [{ topic: in }]
    changelog: { retain: 10m }
  - name: plain
    behaviour: test.count
    subscribe: [{ topic: in }]
)",
                               "feeds.yaml");
    ASSERT_TRUE(topo) << topo.error().describe();
    node_options opts;
    opts.data_dir = (dir / "data").string();
    opts.sync = false;
    opts.max_feed_subscribers = 2;
    auto started = node::start(*topo, reg, opts);
    ASSERT_TRUE(started) << started.error().describe();
    n = std::move(*started);
  }
  void TearDown() override {
    if (n)
      n->stop();
    n.reset();
    fs::remove_all(dir);
  }
  void publish(const std::vector<std::string>& keys) {
    std::vector<event> evs;
    for (auto& k : keys) {
      event ev;
      ev.key = k;
      ev.id = "e" + std::to_string(++next_id);
      evs.push_back(ev);
    }
    ASSERT_TRUE(n->publish("in", std::move(evs)));
  }
  /// Events until `done` says stop, or 10 s.
  std::vector<feed_event>
  read_until(feed_subscription& s,
             const std::function<bool(const std::vector<feed_event>&)>& done) {
    std::vector<feed_event> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done(out) && std::chrono::steady_clock::now() < deadline) {
      auto r = s.next(out, 100, std::chrono::milliseconds(100));
      EXPECT_TRUE(r) << r.error().describe();
      if (!r)
        break;
    }
    return out;
  }
};

std::size_t count_of(const std::vector<feed_event>& es, feed_event_kind k) {
  return static_cast<std::size_t>(std::count_if(
      es.begin(), es.end(), [k](const feed_event& e) { return e.kind == k; }));
}

} // namespace

TEST_F(ChangeFeed, FollowsWhatThePipelineCommits) {
  publish({"a", "b", "a"});
  auto sub = n->subscribe("count", {});
  ASSERT_TRUE(sub) << sub.error().describe();
  // The three events may still be in flight: wait until the view has a at
  // 2 and b at 1, whichever way it came (snapshot or change).
  std::map<std::string, std::string> view;
  auto done = [&](const std::vector<feed_event>& es) {
    view.clear();
    bool ended = false;
    for (auto& e : es) {
      if (e.kind == feed_event_kind::snapshot_end)
        ended = true;
      if (e.kind == feed_event_kind::snapshot
          || e.kind == feed_event_kind::change)
        view[e.key] = e.state_json;
    }
    return ended && view["a"] == R"({"n":2})" && view["b"] == R"({"n":1})";
  };
  auto got = read_until(**sub, done);
  ASSERT_TRUE(done(got)) << got.size() << " events";
  EXPECT_EQ(count_of(got, feed_event_kind::snapshot_end), 1u);
  publish({"c", "a"});
  auto more = read_until(
      **sub, [](const std::vector<feed_event>& es) { return es.size() >= 2; });
  ASSERT_EQ(more.size(), 2u);
  // Keys commit in any order between them (each in order of its own).
  std::map<std::string, feed_event> by_key;
  for (auto& e : more) {
    EXPECT_EQ(e.kind, feed_event_kind::change);
    EXPECT_FALSE(e.cursor.empty());
    by_key[e.key] = e;
  }
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key["c"].state_json, R"({"n":1})");
  EXPECT_EQ(by_key["a"].state_json, R"({"n":3})");
  EXPECT_EQ(by_key["a"].version, 3u);
  EXPECT_LT(more[0].offset, more[1].offset);

  // The console sees it, and the changelog.
  auto a = n->admin("subscribers", {});
  ASSERT_EQ(a.code, admin_code::ok) << a.error;
  auto j = nlohmann::json::parse(a.json);
  ASSERT_EQ(j["subscribers"].size(), 1u);
  EXPECT_EQ(j["subscribers"][0]["stage"], "count");
  EXPECT_EQ(j["subscribers"][0]["phase"], "live");
  EXPECT_EQ(j["subscribers"][0]["lag_changes"], 0);
  ASSERT_EQ(j["changelogs"].size(), 1u);
  EXPECT_EQ(j["changelogs"][0]["stage"], "count");
  EXPECT_EQ(j["changelogs"][0]["changes"], 5);
  EXPECT_EQ(j["changelogs"][0]["retain_seconds"], 600.0);
  EXPECT_TRUE(j["changelogs"][0].contains("cold_start_seconds"));
  auto metrics = n->prometheus();
  EXPECT_NE(metrics.find("sluice_feed_subscribers{stage=\"count\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sluice_changelog_changes{stage=\"count\"} 5"),
            std::string::npos);
}

TEST_F(ChangeFeed, RefusesAStageWithoutChangelogAndBeyondTheCap) {
  auto plain = n->subscribe("plain", {});
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, errc::config);
  auto unknown = n->subscribe("nope", {});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, errc::not_found);
  EXPECT_NE(unknown.error().message.find("stages: count, plain"),
            std::string::npos);
  auto one = n->subscribe("count", {});
  auto two = n->subscribe("count", {});
  ASSERT_TRUE(one && two);
  auto three = n->subscribe("count", {});
  ASSERT_FALSE(three);
  EXPECT_EQ(three.error().code, errc::unavailable);
}

TEST_F(ChangeFeed, StoppingTheNodeEndsOpenSubscriptions) {
  auto sub = n->subscribe("count", {});
  ASSERT_TRUE(sub);
  std::vector<feed_event> out;
  ASSERT_TRUE((*sub)->next(out, 10, std::chrono::milliseconds(50)));
  n->stop();
  n.reset(); // the node is gone; the subscription is not
  out.clear();
  auto r = (*sub)->next(out, 10, std::chrono::milliseconds(50));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unavailable);
}
