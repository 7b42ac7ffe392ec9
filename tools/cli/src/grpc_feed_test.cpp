// Change feeds over gRPC, against a running node: a client built from
// feed.proto follows a stage (snapshot, snapshot_end, changes), resumes from
// its cursor after cancelling and after the node restarts, with no change
// twice and none skipped; refusals carry the right status codes.
#include "grpc_feed.hpp"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "access_tokens.hpp"
#include "http_access.hpp"
#include "sluice/node.hpp"
#include "sluice/secret.hpp"
#include "sluice/v1/feed.grpc.pb.h"

using namespace sluice;
using namespace sluice::cli;
namespace fs = std::filesystem;

namespace {

/// Counts events per key, rendered as {"n": N}.
class grpc_counting : public behaviour {
public:
  void on_event(context& ctx, const event&) override {
    auto n = ctx.has_state() ? std::stoull(ctx.state()) : 0;
    ctx.set_state(std::to_string(n + 1));
  }
  std::string state_to_json(const std::string& s) const override {
    return "{\"n\":" + s + "}";
  }
};

struct GrpcFeed : ::testing::Test {
  fs::path dir;
  registry reg;
  std::unique_ptr<node> n;
  readiness state;
  std::shared_ptr<access_policy> access = std::make_shared<access_policy>();
  std::unique_ptr<grpc_endpoint> endpoint;
  int next_id = 0;

  void SetUp() override {
    dir = fs::temp_directory_path()
          / ("sluice_grpc_feed_" + std::to_string(::getpid()) + "_"
             + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    ASSERT_TRUE(reg.add<grpc_counting>("test.count"));
    auto tokens =
        token_set::parse("reader read sha256:" + to_hex(sha256_of("r-secret"))
                             + "\npublisher publish sha256:"
                             + to_hex(sha256_of("p-secret")) + "\n",
                         "tokens");
    ASSERT_TRUE(tokens) << tokens.error().message;
    access->tokens = std::move(*tokens);
    start_node();
  }
  void start_node() {
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
    state.started(*n);
    auto e = grpc_endpoint::start("127.0.0.1:0", state, access);
    ASSERT_TRUE(e) << e.error().message;
    endpoint = std::move(*e);
  }
  void stop_node() {
    state.stopped("test");
    endpoint->stop();
    state.detach();
    n->stop();
    n.reset();
  }
  void TearDown() override {
    if (n)
      stop_node();
    fs::remove_all(dir);
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(endpoint->port());
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
  /// Waits until every published event is committed.
  void settle() {
    for (int i = 0; i < 800; ++i) {
      auto s = n->stats();
      ASSERT_TRUE(s) << s.error().describe();
      bool idle = s->drained;
      for (auto& st : s->stages)
        idle = idle && st.in_flight == 0;
      if (idle)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL() << "the node did not drain in 20 s";
  }
  static std::vector<std::string> keys(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i)
      out.push_back("k" + std::to_string(i));
    return out;
  }

  /// Follows `stage` from `cursor` until `done` says so (or 20 s pass).
  std::vector<feed_event>
  follow(const std::string& cursor,
         const std::function<bool(const std::vector<feed_event>&)>& done,
         std::string* last_cursor = nullptr) {
    grpc_feed_client client(address(), nullptr);
    grpc_feed_request req;
    req.stage = "count";
    req.options.cursor = cursor;
    req.token = "r-secret";
    std::vector<feed_event> got;
    std::thread timer([&client] {
      std::this_thread::sleep_for(std::chrono::seconds(20));
      client.cancel();
    });
    timer.detach(); // the client outlives no test: cancel is harmless later
    auto end = client.follow(req, [&](const feed_event& e, bool) {
      got.push_back(e);
      if (last_cursor && !e.cursor.empty())
        *last_cursor = e.cursor;
      return !done(got);
    });
    EXPECT_TRUE(end.ok) << end.message;
    return got;
  }
};

/// The status of a raw Subscribe call, read until its first batch or end.
grpc::Status
call_status(const std::string& address, const v1::SubscribeRequest& req,
            const std::string& token,
            std::multimap<std::string, std::string>* trailers = nullptr) {
  auto stub = v1::Feeds::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  if (!token.empty())
    ctx.AddMetadata("authorization", "Bearer " + token);
  auto reader = stub->Subscribe(&ctx, req);
  v1::FeedBatch batch;
  if (reader->Read(&batch)) {
    ctx.TryCancel();
    while (reader->Read(&batch)) {
    }
  }
  auto st = reader->Finish();
  if (trailers)
    for (auto& [k, v] : ctx.GetServerTrailingMetadata())
      trailers->emplace(std::string(k.data(), k.size()),
                        std::string(v.data(), v.size()));
  return st;
}

} // namespace

TEST_F(GrpcFeed, FollowsAStageAndResumesFromItsCursor) {
  publish(keys(0, 100));
  settle();
  // Cold start: every key once, then snapshot_end with the cursor.
  std::string cursor;
  auto first = follow(
      "",
      [](const std::vector<feed_event>& got) {
        return !got.empty() && got.back().kind == feed_event_kind::snapshot_end;
      },
      &cursor);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back().keys, 100u);
  std::map<std::string, std::string> view;
  for (auto& e : first)
    if (e.kind == feed_event_kind::snapshot)
      view[e.key] = e.state_json;
  EXPECT_EQ(view.size(), 100u);
  EXPECT_EQ(view["k7"], "{\"n\":1}");
  ASSERT_FALSE(cursor.empty());

  // The changes after the cursor, and nothing else.
  publish(keys(0, 30));
  settle();
  std::uint64_t last_offset = 0;
  auto second = follow(
      cursor,
      [](const std::vector<feed_event>& got) { return got.size() >= 30; },
      &cursor);
  ASSERT_EQ(second.size(), 30u);
  for (auto& e : second) {
    EXPECT_EQ(e.kind, feed_event_kind::change);
    EXPECT_EQ(e.state_json, "{\"n\":2}") << e.key;
    EXPECT_EQ(e.version, 2u);
    EXPECT_GT(e.offset, last_offset);
    last_offset = e.offset;
    EXPECT_FALSE(e.cursor.empty());
  }

  // The node restarts: the cursor resumes with the changes made since.
  stop_node();
  start_node();
  publish(keys(0, 10));
  settle();
  auto third = follow(cursor, [](const std::vector<feed_event>& got) {
    return got.size() >= 10;
  });
  ASSERT_EQ(third.size(), 10u);
  for (auto& e : third) {
    EXPECT_EQ(e.kind, feed_event_kind::change);
    EXPECT_EQ(e.version, 3u) << e.key;
    EXPECT_GT(e.offset, last_offset);
  }
}

TEST_F(GrpcFeed, RawStatesComeAsStoredForTypedClients) {
  publish(keys(0, 3));
  settle();
  auto stub = v1::Feeds::NewStub(
      grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer r-secret");
  v1::SubscribeRequest req;
  req.set_stage("count");
  req.set_raw_state(true);
  auto reader = stub->Subscribe(&ctx, req);
  v1::FeedBatch batch;
  std::vector<v1::FeedEvent> got;
  while (reader->Read(&batch)) {
    got.insert(got.end(), batch.events().begin(), batch.events().end());
    if (!got.empty() && got.back().kind() == v1::FeedEvent::SNAPSHOT_END)
      break;
  }
  ctx.TryCancel();
  reader->Finish();
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].kind(), v1::FeedEvent::SNAPSHOT);
    EXPECT_EQ(got[i].state(), "1"); // the behaviour's own bytes
    EXPECT_TRUE(got[i].state_json().empty());
  }
}

TEST_F(GrpcFeed, RefusalsCarryTheirStatusCodes) {
  v1::SubscribeRequest req;
  req.set_stage("count");
  auto st = call_status(address(), req, "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << st.error_message();
  EXPECT_NE(st.error_message().find("scope 'read'"), std::string::npos)
      << st.error_message();
  st = call_status(address(), req, "not-a-token");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  st = call_status(address(), req, "p-secret");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << st.error_message();
  EXPECT_NE(st.error_message().find("token 'publisher' has publish"),
            std::string::npos)
      << st.error_message();

  auto with = [&](auto change) {
    v1::SubscribeRequest r;
    r.set_stage("count");
    change(r);
    return call_status(address(), r, "r-secret");
  };
  st = with([](auto& r) { r.set_cursor("not a cursor!"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("cursor"), std::string::npos)
      << st.error_message();
  st = with([](auto& r) { r.set_filter("{\"n\": 3"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("filter"), std::string::npos)
      << st.error_message();
  st = with([](auto& r) { r.set_max_rate(-1); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  st = with([](auto& r) { r.set_stage("nope"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(st.error_message().find("stages: count, plain"), std::string::npos)
      << st.error_message();
  st = with([](auto& r) { r.set_stage("plain"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << st.error_message();
  st = with([](auto& r) { r.clear_stage(); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The node's limit (2 subscribers): the third is UNAVAILABLE, told when
  // to come back.
  grpc_feed_client a(address(), nullptr), b(address(), nullptr);
  grpc_feed_request r;
  r.stage = "count";
  r.token = "r-secret";
  std::atomic<int> open{0};
  auto hold = [&](grpc_feed_client& c) {
    return std::thread([&] {
      c.follow(r, [&](const feed_event& e, bool) {
        if (e.kind == feed_event_kind::snapshot_end)
          ++open;
        return true;
      });
    });
  };
  auto ta = hold(a), tb = hold(b);
  for (int i = 0; i < 200 && open < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_EQ(open.load(), 2);
  std::multimap<std::string, std::string> trailers;
  st = call_status(address(), req, "r-secret", &trailers);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE)
      << st.error_message();
  auto after = trailers.find("retry-after");
  EXPECT_TRUE(after != trailers.end() && after->second == "5");
  a.cancel();
  b.cancel();
  ta.join();
  tb.join();
}

TEST_F(GrpcFeed, StoppingTheNodeEndsOpenStreams) {
  grpc_feed_client c(address(), nullptr);
  grpc_feed_request r;
  r.stage = "count";
  r.token = "r-secret";
  std::atomic<bool> live{false};
  grpc_feed_end end;
  std::thread t([&] {
    end = c.follow(r, [&](const feed_event&, bool) {
      live = true;
      return true;
    });
  });
  for (int i = 0; i < 200 && !live; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_TRUE(live.load());
  auto t0 = std::chrono::steady_clock::now();
  stop_node();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_FALSE(end.ok);
  EXPECT_TRUE(end.retry) << end.message;
}

TEST_F(GrpcFeed, AnAddressInUseIsRefusedWithItsName) {
  auto taken = address();
  auto e = grpc_endpoint::start(taken, state, access);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find(taken), std::string::npos)
      << e.error().message;
  e = grpc_endpoint::start("127.0.0.1", state, access);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("expected HOST:PORT"), std::string::npos);
}
