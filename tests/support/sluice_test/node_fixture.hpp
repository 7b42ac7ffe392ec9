// Shared fixtures for tests that run a real node: small test behaviours, a
// two-stage topology, temp data directories, waiting for a drain, and
// reading results back from the store. Header-only; one test binary each.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/cfg/env.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice/node.hpp"
#include "sluice/store/export.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice_test {

using namespace sluice;
namespace fs = std::filesystem;

/// SPDLOG_LEVEL=debug turns on the runtime's logs in a test run.
struct env_log_levels : ::testing::Environment {
  void SetUp() override { spdlog::cfg::load_env_levels(); }
};
inline const auto* log_env =
    ::testing::AddGlobalTestEnvironment(new env_log_levels);

/// Milliseconds each `test.append` event sleeps: lets a test stop a node
/// while events are in flight and a backlog is queued.
inline std::atomic<int> append_delay_ms{0};

/// Appends "<payload>," to its state and forwards the payload to `out`;
/// throws on the payload "boom".
class append_behaviour : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    if (auto ms = append_delay_ms.load(); ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (ev.payload == "boom")
      throw std::runtime_error("refusing payload boom");
    ctx.set_state(ctx.state() + ev.payload + ",");
    ctx.emit("out", ev.payload);
  }
};

/// Counts events; the state is the count as text.
class count_behaviour : public behaviour {
public:
  void on_event(context& ctx, const event&) override {
    auto n = ctx.has_state() ? std::stoull(ctx.state()) : 0;
    ctx.set_state(std::to_string(n + 1));
  }
};

inline registry test_registry() {
  registry reg;
  EXPECT_TRUE(reg.add<append_behaviour>("test.append"));
  EXPECT_TRUE(reg.add<count_behaviour>("test.count"));
  return reg;
}

/// first (test.append, emits to `out`) -> second (test.count).
inline topology two_stage(std::uint32_t max_in_flight = 2048) {
  auto cap = std::to_string(max_in_flight);
  auto t = parse_topology("pipeline: test\n"
                          "topics: [in, out]\n"
                          "stages:\n"
                          "  - name: first\n"
                          "    behaviour: test.append\n"
                          "    subscribe: [{ topic: in }]\n"
                          "    emits: [out]\n"
                          "    max_in_flight: "
                              + cap
                              + "\n"
                                "  - name: second\n"
                                "    behaviour: test.count\n"
                                "    subscribe: [{ topic: out }]\n"
                                "    max_in_flight: "
                              + cap + "\n",
                          "test.yaml");
  EXPECT_TRUE(t) << t.error().describe();
  return *t;
}

/// A fresh, empty directory path under the system temp directory.
inline std::string temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path()
           / ("sluice_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  return d.string();
}

inline node_options options_for(const std::string& dir) {
  node_options o;
  o.data_dir = dir;
  return o;
}

inline event make_event(const std::string& key, const std::string& payload,
                        priority p = priority::normal) {
  event ev;
  ev.key = key;
  ev.id = key + ":" + payload;
  ev.payload = payload;
  ev.priority = p;
  return ev;
}

/// Polls `pred` every 20 ms until it holds (true) or `timeout` passes.
template <class Pred>
bool wait_until(Pred pred,
                std::chrono::seconds timeout = std::chrono::seconds(120)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// True if `pred` holds at every check (each 20 ms) for all of `span`,
/// false as soon as it does not. For a test that asserts that something
/// does NOT happen, where there is no event to wait for instead.
template <class Pred>
bool holds_for(Pred pred, std::chrono::milliseconds span) {
  auto end = std::chrono::steady_clock::now() + span;
  do {
    if (!pred())
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < end);
  return pred();
}

/// Waits until nothing is queued in any stage; false on timeout or when the
/// node stopped on an error.
inline bool
wait_drained(node& n,
             std::chrono::seconds timeout = std::chrono::seconds(120)) {
  bool failed = false;
  bool ok = wait_until(
      [&] {
        auto s = n.stats();
        failed = !s || s->failed;
        return failed || s->queued == 0;
      },
      timeout);
  return ok && !failed;
}

inline std::unique_ptr<store> open_store(const std::string& dir,
                                         bool read_only) {
  auto st = store::open({dir, std::uint64_t{1} << 30, true, read_only});
  EXPECT_TRUE(st) << st.error().describe();
  return st ? std::move(*st) : nullptr;
}

inline std::uint32_t stage_id(const store& st, const std::string& name) {
  auto stages = st.stages();
  EXPECT_TRUE(stages) << stages.error().describe();
  for (auto& s : *stages)
    if (s.name == name)
      return s.id;
  ADD_FAILURE() << "no stage " << name << " in " << st.dir();
  return 0;
}

inline std::vector<v1::DeadLetter> dead_letters(const store& st) {
  std::vector<v1::DeadLetter> out;
  auto r = st.scan_dead_letters([&](std::uint32_t, std::uint64_t,
                                    const std::string& bytes) {
    v1::DeadLetter dl;
    EXPECT_TRUE(dl.ParseFromString(bytes)) << "a dead letter does not parse";
    out.push_back(std::move(dl));
    return true;
  });
  EXPECT_TRUE(r) << r.error().describe();
  return out;
}

/// The behaviour's state bytes of (stage, key); empty when it has none.
inline std::string committed_state(const store& st, const std::string& stage,
                                   const std::string& key) {
  auto s = st.read_state(stage_id(st, stage), key);
  if (!s || !*s)
    return "";
  v1::KeyState ks;
  EXPECT_TRUE(ks.ParseFromString((*s)->key_state)) << "state of " << key;
  return ks.state();
}

/// `sluice export` of a stage as key -> JSON.
inline std::map<std::string, std::string> export_map(const std::string& dir,
                                                     const std::string& stage,
                                                     const registry& reg) {
  auto st = open_store(dir, true);
  std::map<std::string, std::string> out;
  if (!st)
    return out;
  std::ostringstream os;
  auto n = export_stage(*st, stage, reg, os);
  EXPECT_TRUE(n) << n.error().describe();
  std::istringstream is(os.str());
  std::string line;
  while (std::getline(is, line)) {
    auto tab = line.find('\t');
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

} // namespace sluice_test
