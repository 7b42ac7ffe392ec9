// The admin protocol end to end: a real node publishes its admin actor on
// 127.0.0.1, an admin_client connects over CAF networking and checks each
// command's JSON field by field; a wrong token is refused; pause holds a
// stage's work in LMDB; a dead letter is redriven after the cause is fixed;
// drain stops the input.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "sluice/admin_client.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;
using json = nlohmann::json;

namespace {

/// While set, "flaky" payloads fail permanently (a bug, later fixed).
std::atomic<bool> refuse_flaky{true};

/// test.append, except that the payload "flaky" fails while refuse_flaky.
class flaky_append : public append_behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    if (ev.payload == "flaky" && refuse_flaky)
      throw permanent_error("flaky is refused today");
    append_behaviour::on_event(ctx, ev);
  }
};

registry admin_registry() {
  registry reg;
  EXPECT_TRUE(reg.add<flaky_append>("test.append"));
  EXPECT_TRUE(reg.add<count_behaviour>("test.count"));
  return reg;
}

constexpr const char* token = "s3cret-token";

struct admin_fixture : ::testing::Test {
  void SetUp() override {
    refuse_flaky = true;
    dir = temp_dir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto o = options_for(dir);
    o.name = "n1";
    o.listen = "127.0.0.1:0";
    o.admin_token = token;
    auto started = node::start(two_stage(), reg, o);
    ASSERT_TRUE(started) << started.error().describe();
    n = std::move(*started);
    ASSERT_GT(n->admin_port(), 0);
    address = "127.0.0.1:" + std::to_string(n->admin_port());
    auto c = admin_client::connect(address, token);
    ASSERT_TRUE(c) << c.error().describe();
    client = std::move(*c);
  }

  /// The command's JSON; fails the test on any other outcome.
  json ok(const std::string& cmd, std::vector<std::string> args = {}) {
    auto a = client->call(cmd, args);
    EXPECT_EQ(a.code, admin_code::ok) << cmd << ": " << a.error;
    return a.code == admin_code::ok ? json::parse(a.json) : json{};
  }

  json stage(const std::string& name) {
    auto all = ok("stages");
    for (auto& s : all["stages"])
      if (s["name"] == name)
        return s;
    ADD_FAILURE() << "no stage " << name;
    return {};
  }

  registry reg = admin_registry();
  std::string dir, address;
  std::unique_ptr<node> n;
  std::unique_ptr<admin_client> client;
};

} // namespace

TEST_F(admin_fixture, StagesInspectTraceAndActorsAnswerWithTheRealState) {
  ASSERT_TRUE(n->publish("in", {make_event("k", "a"), make_event("k", "b"),
                                make_event("m", "x")}));
  ASSERT_TRUE(wait_drained(*n, std::chrono::seconds(20)));

  auto first = stage("first");
  EXPECT_EQ(first["behaviour"], "test.append");
  EXPECT_EQ(first["in"], 3);
  EXPECT_EQ(first["done"], 3);
  EXPECT_EQ(first["skipped"], 0);
  EXPECT_EQ(first["dead_lettered"], 0);
  EXPECT_EQ(first["queued_normal"], 0);
  EXPECT_EQ(first["queued_urgent"], 0);
  EXPECT_EQ(first["paused"], false);
  EXPECT_EQ(first["latency"]["normal"]["count"], 3);
  EXPECT_GT(first["latency"]["normal"]["p99_ms"].get<double>(), 0.0);
  EXPECT_EQ(stage("second")["done"], 3);

  auto k = ok("inspect", {"first", "k"});
  EXPECT_EQ(k["key"], "k");
  EXPECT_EQ(k["state"], "a,b,"); // the behaviour's state, rendered as JSON
  EXPECT_EQ(k["version"], 2);
  EXPECT_EQ(k["events_processed"], 2);
  EXPECT_EQ(k["last_event_id"], "k:b");
  EXPECT_EQ(k["mailbox"]["normal"], 0);
  EXPECT_EQ(k["restarts"], 0);
  EXPECT_EQ(k["status"]["stage"], "second");
  EXPECT_EQ(k["status"]["phase"], "done");
  EXPECT_TRUE(k["dead_letters"].empty());

  auto t = ok("trace", {"k"});
  ASSERT_EQ(t["path"].size(), 2u);
  EXPECT_EQ(t["path"][0]["stage"], "first");
  EXPECT_EQ(t["path"][1]["stage"], "second");
  EXPECT_EQ(t["path"][1]["events_processed"], 2);
  EXPECT_LE(t["path"][0]["at"].get<std::string>(),
            t["path"][1]["at"].get<std::string>());
  EXPECT_EQ(t["now"]["phase"], "done");

  auto actors = ok("actors", {"first"});
  ASSERT_TRUE(actors["actors"].is_array());
  EXPECT_GE(actors["live_keys"].get<int>(), 1);
  for (auto& a : actors["actors"])
    EXPECT_EQ(a["stage"], "first");

  auto nodes = ok("nodes");
  ASSERT_EQ(nodes["nodes"].size(), 1u);
  EXPECT_EQ(nodes["nodes"][0]["name"], "n1");
  EXPECT_EQ(nodes["nodes"][0]["status"], "up");
  EXPECT_EQ(nodes["nodes"][0]["queued"], 0);

  auto m = ok("metrics", {"sluice_stage_done_total"});
  EXPECT_NE(m["text"].get<std::string>().find(
                "sluice_stage_done_total{stage=\"first\"} 3"),
            std::string::npos)
      << m["text"];
}

TEST_F(admin_fixture, AWrongOrMissingTokenIsRefused) {
  for (std::string bad : {"", "s3cret-tokeN", "s3cret-token-longer"}) {
    auto c = admin_client::connect(address, bad);
    ASSERT_TRUE(c) << c.error().describe();
    auto a = (*c)->call("stages", {});
    EXPECT_EQ(a.code, admin_code::refused) << "token '" << bad << "'";
    EXPECT_NE(a.error.find("refused"), std::string::npos) << a.error;
    EXPECT_TRUE(a.json.empty());
  }
  // The right token still works on the same node.
  EXPECT_EQ(client->call("nodes", {}).code, admin_code::ok);
}

TEST_F(admin_fixture, BadCommandsAndArgumentsGetOneClearLine) {
  auto a = client->call("frobnicate", {});
  EXPECT_EQ(a.code, admin_code::bad_usage);
  EXPECT_NE(a.error.find("unknown command 'frobnicate'"), std::string::npos);
  a = client->call("inspect", {"first"});
  EXPECT_EQ(a.code, admin_code::bad_usage);
  EXPECT_NE(a.error.find("usage: inspect STAGE KEY"), std::string::npos)
      << a.error;
  a = client->call("inspect", {"nope", "k"});
  EXPECT_EQ(a.code, admin_code::failed);
  EXPECT_NE(a.error.find("no stage 'nope' (stages: first, second)"),
            std::string::npos)
      << a.error;
  a = client->call("inspect", {"first", "never-seen"});
  EXPECT_EQ(a.code, admin_code::failed);
  EXPECT_NE(a.error.find("unknown in stage first"), std::string::npos);
  a = client->call("dlq", {"show", "x:y"});
  EXPECT_EQ(a.code, admin_code::failed);
  a = client->call("log-level", {"loud"});
  EXPECT_EQ(a.code, admin_code::bad_usage);
  // The node is unharmed.
  EXPECT_EQ(client->call("stages", {}).code, admin_code::ok);
}

TEST_F(admin_fixture, APausedStageKeepsItsWorkQueuedUntilResumed) {
  ok("pause", {"second"});
  // The pause reaches the stage through the node supervisor.
  ASSERT_TRUE(wait_until([&] { return stage("second")["paused"] == true; },
                         std::chrono::seconds(10)));
  ASSERT_TRUE(n->publish("in", {make_event("k", "a"), make_event("k", "b")}));
  // Both events reach the paused stage's queue (committed with first's work).
  ASSERT_TRUE(wait_until([&] { return stage("second")["queued_normal"] == 2; },
                         std::chrono::seconds(10)));
  // Nothing to wait for here: the test asserts that the paused stage takes
  // nothing, so it watches for 200 ms (an unpaused stage dispatches within
  // a few ms) that nothing is in flight or done and both stay queued.
  EXPECT_TRUE(holds_for(
      [&] {
        auto second = stage("second");
        return second["done"] == 0 && second["in_flight"] == 0
               && second["queued_normal"] == 2;
      },
      std::chrono::milliseconds(200)))
      << stage("second").dump();
  ok("resume", {"second"});
  ASSERT_TRUE(wait_drained(*n, std::chrono::seconds(20)));
  EXPECT_EQ(stage("second")["done"], 2);
}

TEST_F(admin_fixture, ADeadLetterIsListedShownAndRedrivenOnceTheCauseIsFixed) {
  ASSERT_TRUE(
      n->publish("in", {make_event("k", "a"), make_event("k", "flaky")}));
  ASSERT_TRUE(wait_drained(*n, std::chrono::seconds(20)));
  auto list = ok("dlq", {"list", "--stage", "first"});
  ASSERT_EQ(list["dead_letters"].size(), 1u);
  auto id = list["dead_letters"][0]["id"].get<std::string>();
  EXPECT_EQ(list["dead_letters"][0]["key"], "k");
  EXPECT_NE(list["dead_letters"][0]["last_error"].get<std::string>().find(
                "flaky is refused today"),
            std::string::npos);
  EXPECT_EQ(ok("dlq", {"show", id})["payload"], "flaky");
  EXPECT_EQ(ok("inspect", {"first", "k"})["dead_letters"][0], id);

  refuse_flaky = false; // the fix is deployed
  EXPECT_EQ(ok("dlq", {"redrive", id})["redriven"], 1);
  ASSERT_TRUE(wait_until(
      [&] {
        return ok("inspect", {"first", "k"})["state"] == "a,flaky,";
      },
      std::chrono::seconds(20)));
  EXPECT_TRUE(ok("dlq", {"list"})["dead_letters"].empty());
  ASSERT_TRUE(wait_drained(*n, std::chrono::seconds(20)));
  EXPECT_EQ(stage("second")["done"], 2);
}

TEST_F(admin_fixture, DrainStopsTheInputAndTheNodeReportsDrained) {
  auto a = client->call("drain", {"other"});
  EXPECT_EQ(a.code, admin_code::failed);
  EXPECT_NE(a.error.find("no node 'other' (nodes: n1)"), std::string::npos);
  EXPECT_EQ(ok("drain", {"n1"})["draining"], true);
  ASSERT_TRUE(
      wait_until([&] { return ok("nodes")["nodes"][0]["status"] == "drained"; },
                 std::chrono::seconds(10)));
  auto s = n->stats();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->drained);
}
