// The fixture of the key processor tests: a real temporary store, a
// pipeline of test stages (one keeping no state), a scripted behaviour, and
// helpers to queue, process and commit. Header-only; one test binary.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sluice/event_codec.hpp"
#include "sluice/key_processor.hpp"
#include "sluice/registry.hpp"
#include "sluice/topology.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice_key_processor_test {

using namespace sluice;
namespace fs = std::filesystem;

constexpr const char* pipeline_yaml = R"(pipeline: key_processor_test
topics: [in, out, audit, logs, rows]
stages:
  - name: work
    behaviour: test.work
    subscribe: [{ topic: in }]
    emits: [out, audit]
    retry: { max_attempts: 3, backoff: 100ms..1s }
    skip_unchanged: true
  - name: plain
    behaviour: test.work
    subscribe: [{ topic: in }]
  - name: sink_all
    behaviour: test.sink
    subscribe: [{ topic: out }]
  - name: sink_npm
    behaviour: test.sink
    subscribe:
      - { topic: out, filter: { ecosystem: [npm] }, priority: urgent }
  - name: logged
    behaviour: test.work
    subscribe: [{ topic: logs }]
    changelog: { retain: 100 }
  - name: mapper
    behaviour: test.work
    subscribe: [{ topic: rows }]
    emits: [out]
    retry: { max_attempts: 2, backoff: 100ms..1s }
    state: none
)";

constexpr std::size_t work = 0, plain = 1, sink_all = 2, sink_npm = 3,
                      logged = 4, mapper = 5;

/// What the test behaviour does with each event, and what it saw.
struct script {
  enum class mode { ok, fail, fail_permanently } act = mode::ok;
  bool keeps_state = true; ///< false: the behaviour never sets state
  /// (topic, ecosystem attribute) pairs emitted on success.
  std::vector<std::pair<std::string, std::string>> emits;
  int calls = 0;
  std::vector<std::uint32_t> attempts_seen;
};

/// Sets the state to "seen:" + payload (unless told not to), emits what the
/// script says, or throws as it says.
class scripted : public behaviour {
public:
  explicit scripted(std::shared_ptr<script> s) : s_(std::move(s)) {}
  void on_event(context& ctx, const event& ev) override {
    ++s_->calls;
    s_->attempts_seen.push_back(ev.attempt);
    if (s_->act == script::mode::fail)
      throw std::runtime_error("boom");
    if (s_->act == script::mode::fail_permanently)
      throw permanent_error("malformed");
    if (s_->keeps_state)
      ctx.set_state("seen:" + ev.payload);
    for (auto& [topic, ecosystem] : s_->emits) {
      event out;
      out.payload = "from " + ev.payload;
      out.attributes["ecosystem"] = ecosystem;
      ctx.emit(topic, std::move(out));
    }
  }

private:
  std::shared_ptr<script> s_;
};

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct KeyProcessor : ::testing::Test {
  std::string dir;
  std::unique_ptr<store> st;
  std::optional<pipeline_plan> plan;
  std::shared_ptr<script> act = std::make_shared<script>();

  void SetUp() override {
    dir =
        (fs::temp_directory_path()
         / ("sluice_key_processor_test_" + std::to_string(::getpid()) + "_"
            + ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    fs::remove_all(dir);
    auto s = store::open({dir});
    ASSERT_TRUE(s) << s.error().describe();
    st = std::move(*s);
    auto topo = parse_topology(pipeline_yaml, "key_processor_test.yaml");
    ASSERT_TRUE(topo) << topo.error().describe();
    registry reg;
    ASSERT_TRUE(reg.add("test.work", [] {
      return std::make_unique<scripted>(std::make_shared<script>());
    }));
    ASSERT_TRUE(reg.add("test.sink", [] {
      return std::make_unique<scripted>(std::make_shared<script>());
    }));
    auto p = pipeline_plan::bind(std::move(*topo), reg, *st);
    ASSERT_TRUE(p) << p.error().describe();
    plan.emplace(std::move(*p));
  }
  void TearDown() override {
    st.reset();
    fs::remove_all(dir);
  }

  /// A processor of `stage` for key "k" running the test's script, loaded.
  std::unique_ptr<key_processor> processor(std::size_t stage = work) {
    auto kp = std::make_unique<key_processor>(*plan, stage, "k",
                                              std::make_unique<scripted>(act));
    auto r = kp->load(*st);
    EXPECT_TRUE(r) << r.error().describe();
    return kp;
  }

  static event make_event(const std::string& id, const std::string& payload) {
    event ev;
    ev.id = id;
    ev.key = "k";
    ev.payload = payload;
    ev.content_hash = content_hash(payload);
    return ev;
  }

  /// Queues `ev` for `stage` and returns its queue position.
  keys::queue_pos enqueue(const event& ev, std::size_t stage = work) {
    write_batch b;
    b.appends.push_back(
        {plan->stage_id(stage), ev.priority, encode_event(ev), ev.key});
    auto r = st->commit(b);
    EXPECT_TRUE(r) << r.error().describe();
    auto q = st->read_queue(plan->stage_id(stage), {ev.priority, 0}, 100);
    EXPECT_TRUE(q && !q->empty());
    return q && !q->empty() ? q->back().pos : keys::queue_pos{};
  }

  commit_report commit(completion c) {
    write_batch b;
    b.completions.push_back(std::move(c));
    auto r = st->commit(b);
    EXPECT_TRUE(r) << r.error().describe();
    return r ? std::move(*r) : commit_report{};
  }

  std::size_t queued(std::size_t stage) {
    auto d = st->queue_depth(plan->stage_id(stage));
    EXPECT_TRUE(d);
    return d ? (*d)[0] + (*d)[1] : 0;
  }

  std::size_t dead_letters() {
    std::size_t n = 0;
    auto r = st->scan_dead_letters(
        [&](std::uint32_t, std::uint64_t, const std::string&) {
          ++n;
          return true;
        });
    EXPECT_TRUE(r);
    return n;
  }

  static v1::KeyState key_state(const completion& c) {
    v1::KeyState ks;
    EXPECT_TRUE(ks.ParseFromString(c.key_state));
    return ks;
  }
  static v1::KeyStatus key_status(const completion& c) {
    v1::KeyStatus ks;
    EXPECT_TRUE(ks.ParseFromString(c.key_status));
    return ks;
  }
};

} // namespace sluice_key_processor_test
