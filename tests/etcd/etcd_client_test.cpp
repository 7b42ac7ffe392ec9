// The etcd client and the controller's transactions against a real etcd 3.4
// (started by the test, etcd_process.hpp): leases, compare-and-swap races,
// watches across a restart and a compaction, endpoint failover, bad inputs.
#include <gtest/gtest.h>

#include <barrier>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "controller/assignment_plan.hpp"
#include "controller/etcd_client.hpp"
#include "controller/etcd_watch.hpp"
#include "etcd_process.hpp"
#include "sluice/placement.hpp"
#include "tcp_proxy.hpp"

namespace sluice::cluster {
namespace {

using namespace std::chrono_literals;
using sluice_test::etcd_process;
using sluice_test::free_port;
using sluice_test::silent_port;
using sluice_test::tcp_proxy;

etcd_client client_of(std::vector<std::string> endpoints) {
  etcd_options options;
  options.endpoints = std::move(endpoints);
  options.connect_timeout = 300ms;
  options.request_timeout = 1000ms;
  options.watch_idle_timeout = 3000ms;
  auto client = etcd_client::make(options);
  EXPECT_TRUE(client) << client.error().describe();
  return std::move(client).value();
}

std::string dead_url() {
  return "http://127.0.0.1:" + std::to_string(free_port());
}

/// What a watch delivered, for a test thread to wait on.
struct collected {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<etcd_event> events;
  std::vector<error> errors;

  etcd_client::event_handler on_event() {
    return [this](const etcd_event& e) {
      std::lock_guard<std::mutex> guard{mutex};
      events.push_back(e);
      changed.notify_all();
    };
  }
  etcd_client::error_handler on_error() {
    return [this](const error& e) {
      std::lock_guard<std::mutex> guard{mutex};
      errors.push_back(e);
      changed.notify_all();
    };
  }
  /// Waits until `done` holds, at most 15 s.
  template <class Done>
  bool wait(Done done) {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, 15s, [&] { return done(*this); });
  }
  /// The errors so far (the watch may add more meanwhile).
  std::vector<error> errors_now() {
    std::lock_guard<std::mutex> guard{mutex};
    return errors;
  }
  std::vector<std::string> trace() {
    std::lock_guard<std::mutex> guard{mutex};
    std::vector<std::string> out;
    for (const auto& e : events)
      out.push_back((e.what == etcd_event::kind::put ? "put " : "del ")
                    + e.kv.key + (e.kv.value.empty() ? "" : "=" + e.kv.value));
    return out;
  }
};

/// Waits (at most 10 s) until a watch "from now" knows which revision now
/// was: from then on it misses no change.
bool set_up(const etcd_watch& watch) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (watch.next_revision() == 0) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class Etcd : public ::testing::Test {
protected:
  etcd_process etcd;
};

TEST_F(Etcd, ALeaseIsKeptAliveThenExpiresAndTakesItsKeys) {
  auto c = client_of({etcd.url()});
  auto lease = c.grant_lease(1s);
  ASSERT_TRUE(lease) << lease.error().describe();
  ASSERT_TRUE(c.put("/t/member", "here", lease->id));
  for (int i = 0; i < 3; ++i) {
    auto ttl = c.keep_alive(lease->id);
    ASSERT_TRUE(ttl) << ttl.error().describe();
    EXPECT_EQ(*ttl, lease->ttl);
    std::this_thread::sleep_for(300ms);
  }
  ASSERT_EQ(c.get("/t/member")->kvs.size(), 1u); // kept alive past its TTL
  EXPECT_EQ(c.get("/t/member")->kvs[0].lease, lease->id);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!c.get("/t/member")->kvs.empty()
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(c.get("/t/member")->kvs.empty()) << "the key outlived its lease";
  auto expired = c.keep_alive(lease->id);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, errc::not_found);
  EXPECT_EQ(expired.error().message,
            "etcd " + etcd.url() + ": lease keepalive: lease "
                + std::to_string(lease->id) + " has expired or was revoked");
  auto other = c.grant_lease(5s);
  ASSERT_TRUE(other);
  ASSERT_TRUE(c.put("/t/other", "x", other->id));
  ASSERT_TRUE(c.revoke_lease(other->id));
  EXPECT_TRUE(c.get("/t/other")->kvs.empty());
  auto again = c.revoke_lease(other->id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::not_found);
  auto unknown = c.put("/t/x", "y", 12345);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("requested lease not found"),
            std::string::npos);
}

TEST_F(Etcd, CompareAndSwapWinsOnceWhenTwoClientsRace) {
  auto a = client_of({etcd.url()});
  auto b = client_of({etcd.url()});
  ASSERT_TRUE(a.put("/t/cas", "start"));
  constexpr int rounds = 40;
  std::barrier sync{2};
  std::vector<int> wins(rounds, 0);
  std::mutex mutex;
  auto racer = [&](etcd_client& c, std::string name) {
    for (int r = 0; r < rounds; ++r) {
      auto now = c.get("/t/cas");
      sync.arrive_and_wait(); // both have read before either writes
      etcd_txn txn;
      txn.compare.push_back(etcd_compare::mod_revision_is(
          "/t/cas",
          now && now->kvs.size() == 1 ? now->kvs[0].mod_revision : -1));
      txn.success.push_back(etcd_op::put("/t/cas", name));
      txn.failure.push_back(etcd_op::range("/t/cas"));
      auto result = c.txn(txn);
      {
        std::lock_guard<std::mutex> guard{mutex};
        if (!result)
          ADD_FAILURE() << result.error().describe();
        else if (result->succeeded)
          ++wins[r];
        else if (result->ranges.size() != 1 || result->ranges[0].kvs.empty())
          ADD_FAILURE() << "the failure branch read nothing";
      }
      sync.arrive_and_wait(); // both done before the next read
    }
  };
  std::thread ta([&] { racer(a, "a"); });
  std::thread tb([&] { racer(b, "b"); });
  ta.join();
  tb.join();
  for (int r = 0; r < rounds; ++r)
    EXPECT_EQ(wins[r], 1) << "round " << r;
}

TEST_F(Etcd, AWatchSeesPutsAndDeletesInOrderAndResumesAfterARestart) {
  auto c = client_of({etcd.url()});
  ASSERT_TRUE(c.put("/t/before", "old"));
  collected seen;
  auto watch = c.watch_prefix("/w/", 0, seen.on_event(), seen.on_error());
  ASSERT_TRUE(set_up(*watch));
  ASSERT_TRUE(c.put("/w/1", "one"));
  ASSERT_TRUE(c.put("/w/2", "two"));
  ASSERT_TRUE(c.put("/x/outside", "no"));
  ASSERT_EQ(c.erase("/w/1").value(), 1);
  etcd_txn txn;
  txn.success = {etcd_op::put("/w/3", "three"), etcd_op::put("/w/4", "four")};
  ASSERT_TRUE(c.txn(txn)->succeeded);
  ASSERT_TRUE(seen.wait([](auto& s) { return s.events.size() >= 5; }));
  std::vector<std::string> expected{"put /w/1=one", "put /w/2=two", "del /w/1",
                                    "put /w/3=three", "put /w/4=four"};
  EXPECT_EQ(seen.trace(), expected);
  etcd.stop();
  ASSERT_TRUE(seen.wait([](auto& s) { return !s.errors.empty(); }));
  EXPECT_EQ(seen.errors_now()[0].code, errc::unavailable)
      << seen.errors_now()[0].describe();
  etcd.start();
  ASSERT_TRUE(c.put("/w/5", "five"));
  ASSERT_TRUE(c.erase("/w/2"));
  ASSERT_TRUE(seen.wait([](auto& s) { return s.events.size() >= 7; }))
      << "after the restart: " << testing::PrintToString(seen.trace());
  expected.push_back("put /w/5=five");
  expected.push_back("del /w/2");
  std::this_thread::sleep_for(200ms); // nothing delivered twice
  EXPECT_EQ(seen.trace(), expected);
  EXPECT_TRUE(watch->running());
  for (const auto& e : seen.errors_now())
    EXPECT_EQ(e.code, errc::unavailable) << e.describe();
  watch->cancel();
  EXPECT_FALSE(watch->running());
}

TEST_F(Etcd, AWatchCutOffFromEtcdMissesNothingWrittenMeanwhile) {
  tcp_proxy proxy{etcd.client_port()};
  auto direct = client_of({etcd.url()});
  auto through =
      client_of({"http://127.0.0.1:" + std::to_string(proxy.port())});
  collected seen;
  auto watch = through.watch_prefix("/w/", 0, seen.on_event(), seen.on_error());
  ASSERT_TRUE(set_up(*watch));
  ASSERT_TRUE(direct.put("/w/a", "1"));
  ASSERT_TRUE(seen.wait([](auto& s) { return s.events.size() == 1; }));
  proxy.cut();
  ASSERT_TRUE(seen.wait([](auto& s) { return !s.errors.empty(); }));
  // Written while the watch cannot reach etcd: it must catch up on them.
  ASSERT_TRUE(direct.put("/w/b", "2"));
  ASSERT_TRUE(direct.erase("/w/a"));
  ASSERT_TRUE(direct.put("/w/c", "3"));
  proxy.restore();
  ASSERT_TRUE(seen.wait([](auto& s) { return s.events.size() >= 4; }))
      << testing::PrintToString(seen.trace());
  std::this_thread::sleep_for(200ms); // nothing delivered twice
  EXPECT_EQ(seen.trace(), (std::vector<std::string>{"put /w/a=1", "put /w/b=2",
                                                    "del /w/a", "put /w/c=3"}));
  EXPECT_TRUE(watch->running());
}

TEST_F(Etcd, AWatchFromACompactedRevisionStopsWithNotFound) {
  auto c = client_of({etcd.url()});
  std::int64_t first = c.put("/w/k", "1").value();
  ASSERT_TRUE(c.put("/w/k", "2"));
  auto last = c.put("/w/k", "3").value();
  ASSERT_TRUE(c.compact(last));
  auto old_read = c.get("/w/k"); // the current revision is still readable
  ASSERT_TRUE(old_read);
  collected seen;
  auto watch = c.watch_prefix("/w/", first, seen.on_event(), seen.on_error());
  ASSERT_TRUE(seen.wait([](auto& s) { return !s.errors.empty(); }));
  auto compacted = seen.errors_now()[0];
  EXPECT_EQ(compacted.code, errc::not_found);
  EXPECT_NE(compacted.message.find("revision " + std::to_string(first)
                                   + " was compacted"),
            std::string::npos)
      << compacted.message;
  for (int i = 0; i < 100 && watch->running(); ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(watch->running());
  EXPECT_TRUE(seen.trace().empty());
}

TEST_F(Etcd, CallsFailOverFromADeadFirstEndpointAndRememberTheLiveOne) {
  auto c = client_of({dead_url(), etcd.url()});
  ASSERT_TRUE(c.put("/t/a", "1"));
  EXPECT_EQ(c.current_endpoint(), etcd.url());
  auto read = c.get("/t/a");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->kvs.at(0).value, "1");
  collected seen; // a watch fails over the same way
  auto watch = c.watch_prefix("/t/", 0, seen.on_event(), seen.on_error());
  ASSERT_TRUE(set_up(*watch));
  ASSERT_TRUE(c.put("/t/b", "2"));
  ASSERT_TRUE(seen.wait([](auto& s) { return !s.events.empty(); }));
}

TEST_F(Etcd, ASilentEndpointTimesOutReadsFailOverWritesSayOutcomeUnknown) {
  silent_port silent;
  auto url = "http://127.0.0.1:" + std::to_string(silent.port());
  auto c = client_of({url, etcd.url()});
  auto start = std::chrono::steady_clock::now();
  auto read = c.get("/t/none");
  ASSERT_TRUE(read) << read.error().describe();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto writer = client_of({url, etcd.url()});
  auto write = writer.put("/t/w", "v");
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, errc::unavailable);
  EXPECT_EQ(write.error().message,
            "etcd " + url
                + ": put: no answer within 1000 ms (or the connection was "
                  "lost); the outcome is unknown");
}

TEST_F(Etcd, TheInitialPlanWritesAllShardsOnceAndAStalePlanFails) {
  auto c = client_of({etcd.url()});
  auto keys = *controller_keys::make("it");
  auto plan = initial_plan(keys, {}, {"n1", "n2", "n3"}, 3);
  ASSERT_TRUE(plan);
  for (const auto& txn : plan->txns) { // 128 shards per txn is accepted
    auto r = c.txn(txn);
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_TRUE(r->succeeded);
  }
  auto range = c.get_prefix(keys.shards_prefix());
  ASSERT_TRUE(range);
  auto table = read_shard_table(keys, *range);
  ASSERT_TRUE(table) << table.error().describe();
  ASSERT_EQ(table->size(), shard_count);
  for (const auto& change : plan->changes)
    EXPECT_EQ(table->at(change.shard).value, change.next);
  // A second controller with the same stale plan loses every shard, and
  // its failure branches return what is there.
  auto again = c.txn(plan->txns[0]);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->succeeded);
  ASSERT_EQ(again->ranges.size(), 128u);
  EXPECT_EQ(again->ranges[5].kvs.at(0).key, keys.shard(5));
  // A failover planned on the fresh table wins; replayed, it loses.
  auto failover = failover_plan(keys, *table, {"n2", "n3"}, {}, 1);
  ASSERT_FALSE(failover.changes.empty());
  for (const auto& txn : failover.txns)
    EXPECT_TRUE(c.txn(txn)->succeeded);
  EXPECT_FALSE(c.txn(failover.txns[0])->succeeded);
  // etcd refuses a txn of more than 128 operations: why plans batch.
  auto too_big = to_txns(keys, plan->changes, 129);
  auto refused = c.txn(too_big[0]);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("too many operations"),
            std::string::npos)
      << refused.error().message;
}

TEST(EtcdClient, UnreachableEndpointsGiveAnErrorNamingEach) {
  auto one = dead_url(), two = dead_url();
  auto c = client_of({one, two});
  auto read = c.get("/x");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, errc::unavailable);
  EXPECT_EQ(read.error().message, "etcd: range: no endpoint answered: " + one
                                      + ": cannot connect; " + two
                                      + ": cannot connect");
  EXPECT_FALSE(c.grant_lease(2s));
  EXPECT_FALSE(c.txn({}));
}

TEST(EtcdClient, MalformedEndpointsAreRefusedBeforeAnyCall) {
  auto why = [](std::vector<std::string> endpoints) {
    auto c = etcd_client::make({std::move(endpoints)});
    EXPECT_FALSE(c);
    return c ? std::string() : c.error().message;
  };
  EXPECT_EQ(why({}), "etcd: no endpoint given");
  EXPECT_EQ(why({"localhost:2379"}),
            "etcd endpoint 'localhost:2379': expected http://HOST:PORT");
  EXPECT_EQ(why({"http://127.0.0.1:2379", "http://127.0.0.1"}),
            "etcd endpoint 'http://127.0.0.1': no port (etcd's client port "
            "is usually 2379)");
  EXPECT_EQ(why({"http://h:99999"}), "etcd endpoint 'http://h:99999': bad "
                                     "port '99999'");
  EXPECT_EQ(why({"https://h:2379"}),
            "etcd endpoint 'https://h:2379': https is not supported yet; use "
            "http://HOST:PORT");
  EXPECT_EQ(why({"http://:2379"}), "etcd endpoint 'http://:2379': bad host ''");
  EXPECT_TRUE(etcd_client::make({{"http://[::1]:2379/"}}));
}

TEST(EtcdClient, AnEndpointAnsweringGarbageGivesAParseErrorNotACrash) {
  httplib::Server server;
  server.Post(".*", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>not etcd</html>", "text/html");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  auto url = "http://127.0.0.1:" + std::to_string(port);
  auto c = client_of({url});
  auto read = c.get("/x");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, errc::parse);
  EXPECT_EQ(read.error().message,
            "etcd " + url
                + ": range: answer (HTTP 200) is not a JSON object: '<html>not "
                  "etcd</html>'");
  collected seen;
  auto watch = c.watch_prefix("/", 0, seen.on_event(), seen.on_error());
  ASSERT_TRUE(seen.wait([](auto& s) { return !s.errors.empty(); }));
  auto garbage = seen.errors_now()[0];
  EXPECT_EQ(garbage.code, errc::parse) << garbage.describe();
  watch.reset();
  server.stop();
  serving.join();
}

} // namespace
} // namespace sluice::cluster
