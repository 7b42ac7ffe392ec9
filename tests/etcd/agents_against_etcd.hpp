// Shared by the controller agent tests against a real etcd 3.4
// (etcd_process.hpp): several agents in one process as members a, b, c...,
// what each one reported, and the shard table as etcd has it. The fixture
// runs on the test's thread; `observed` locks, as agents call it from
// their own threads.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controller/controller_agent.hpp"
#include "etcd_process.hpp"
#include "sluice/placement.hpp"

namespace sluice::cluster::agents_test {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using sluice_test::etcd_process;

/// Polls `done` every 20 ms until it holds or `limit` passed.
template <class Done>
bool eventually(Done done, std::chrono::milliseconds limit) {
  auto deadline = clock_type::now() + limit;
  while (!done()) {
    if (clock_type::now() > deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// What one agent reported.
struct observed {
  std::mutex mutex;
  std::shared_ptr<const shard_table> table;
  std::map<std::string, member_record> members;
  std::vector<std::pair<bool, clock_type::time_point>> leases;

  controller_callbacks callbacks() {
    return {[this](std::shared_ptr<const shard_table> t) {
              std::lock_guard<std::mutex> guard{mutex};
              table = std::move(t);
            },
            [this](std::map<std::string, member_record> m) {
              std::lock_guard<std::mutex> guard{mutex};
              members = std::move(m);
            },
            [this](bool ok) {
              std::lock_guard<std::mutex> guard{mutex};
              leases.emplace_back(ok, clock_type::now());
            }};
  }
  std::shared_ptr<const shard_table> table_now() {
    std::lock_guard<std::mutex> guard{mutex};
    return table;
  }
  std::size_t members_now() {
    std::lock_guard<std::mutex> guard{mutex};
    return members.size();
  }
  std::vector<std::pair<bool, clock_type::time_point>> leases_now() {
    std::lock_guard<std::mutex> guard{mutex};
    return leases;
  }
};

/// Every shard assigned, with `replicas` replicas and its owner in its isr.
inline bool fully_assigned(const shard_table* t, std::size_t replicas) {
  if (t == nullptr || t->size() != shard_count)
    return false;
  for (const auto& [shard, entry] : *t) {
    const auto& a = entry.value;
    if (a.owner.empty() || a.replicas.size() != replicas
        || std::find(a.isr.begin(), a.isr.end(), a.owner) == a.isr.end())
      return false;
  }
  return true;
}

/// Agents started by name against one etcd of the test's own, each with
/// what it reported; `table()` reads the shard table back from etcd.
class agents_against_etcd : public ::testing::Test {
protected:
  etcd_process etcd;
  std::map<std::string, std::unique_ptr<observed>> seen;
  std::map<std::string, std::unique_ptr<controller_agent>> agents;
  const controller_keys keys = *controller_keys::make("t");

  controller_agent_options options(const std::string& name,
                                   std::string endpoint = {}) {
    controller_agent_options o;
    o.etcd.endpoints = {endpoint.empty() ? etcd.url() : endpoint};
    o.etcd.connect_timeout = 300ms;
    o.etcd.request_timeout = 1000ms;
    o.etcd.watch_idle_timeout = 3000ms;
    o.cluster = "t";
    o.member = name;
    o.self = {"127.0.0.1:" + std::to_string(7000 + name[0]), 1};
    o.lease_ttl = 2000ms;
    o.replication_factor = 3;
    o.settle = 300ms;
    return o;
  }

  controller_agent& start(controller_agent_options o) {
    auto name = o.member;
    seen[name] = std::make_unique<observed>();
    auto agent = controller_agent::start(std::move(o), seen[name]->callbacks());
    EXPECT_TRUE(agent) << agent.error().describe();
    agents[name] = std::move(agent).value();
    return *agents[name];
  }
  controller_agent& start(const std::string& name) {
    return start(options(name));
  }

  /// The table as etcd has it now.
  shard_table table() {
    auto c = etcd_client::make({{etcd.url()}});
    auto range = c->get_prefix(keys.shards_prefix());
    EXPECT_TRUE(range) << range.error().describe();
    auto t = read_shard_table(keys, *range);
    EXPECT_TRUE(t) << t.error().describe();
    return t ? *t : shard_table{};
  }
};

} // namespace sluice::cluster::agents_test
