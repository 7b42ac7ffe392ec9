// key_processor against a real temporary store: an event becomes a completion
// with the new state, a failure is retried with backoff and then
// dead-lettered, skip-unchanged, and emits routed through subscriptions.
#include "sluice/key_processor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <unistd.h>

#include "sluice/event_codec.hpp"
#include "sluice/registry.hpp"
#include "sluice/topology.hpp"
#include "sluice/v1/store.pb.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

constexpr const char* pipeline_yaml = R"(pipeline: key_processor_test
topics: [in, out, audit, logs]
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
)";

constexpr std::size_t work = 0, plain = 1, sink_all = 2, sink_npm = 3,
                      logged = 4;

/// What the test behaviour does with each event, and what it saw.
struct script {
  enum class mode { ok, fail, fail_permanently } act = mode::ok;
  /// (topic, ecosystem attribute) pairs emitted on success.
  std::vector<std::pair<std::string, std::string>> emits;
  int calls = 0;
  std::vector<std::uint32_t> attempts_seen;
};

/// Sets the state to "seen:" + payload, emits what the script says, or
/// throws as it says.
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

std::int64_t now_ns() {
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

} // namespace

TEST_F(KeyProcessor, AProcessedEventBecomesACompletionWithTheNewState) {
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto pos = enqueue(ev);
  auto c = kp->process(pos, ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::done);
  EXPECT_EQ(c.stage_id, plan->stage_id(work));
  EXPECT_EQ(c.key, "k");
  EXPECT_EQ(c.consumed, pos);
  EXPECT_EQ(c.base_version, 0u);
  EXPECT_TRUE(c.retry.empty());
  EXPECT_TRUE(c.dead_letter.empty());
  auto ks = key_state(c);
  EXPECT_EQ(ks.state(), "seen:v1");
  EXPECT_EQ(ks.events_processed(), 1u);
  EXPECT_EQ(ks.content_hash(), content_hash("v1"));
  EXPECT_EQ(key_status(c).phase(), v1::PHASE_DONE);
  EXPECT_EQ(kp->version(), 1u);
  EXPECT_EQ(kp->state(), "seen:v1");

  auto rep = commit(std::move(c));
  ASSERT_EQ(rep.consumed.size(), 1u);
  EXPECT_EQ(queued(work), 0u);
  auto stored = st->read_state(plan->stage_id(work), "k");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->version, 1u);

  // The next event starts from the committed version.
  auto ev2 = make_event("e2", "v2");
  auto c2 = kp->process(enqueue(ev2), ev2, now_ns());
  EXPECT_EQ(c2.base_version, 1u);
  EXPECT_EQ(key_state(c2).state(), "seen:v2");
  EXPECT_EQ(commit(std::move(c2)).consumed.size(), 1u);
}

TEST_F(KeyProcessor,
       AFailureIsRetriedWithBackoffThenDeadLetteredWhenTriesRunOut) {
  act->act = script::mode::fail;
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto pos = enqueue(ev);
  for (std::uint32_t attempt = 1; attempt < 3; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    auto now = now_ns();
    auto c = kp->process(pos, ev, now);
    EXPECT_EQ(kp->last_outcome(), outcome::retrying);
    EXPECT_NE(kp->last_error().find("threw: boom"), std::string::npos);
    EXPECT_TRUE(c.dead_letter.empty());
    ASSERT_FALSE(c.retry.empty());
    // backoff 100ms..1s: never sooner than the floor, never past the cap.
    EXPECT_GE(c.retry_due_ns - now, std::int64_t{100'000'000});
    EXPECT_LE(c.retry_due_ns - now, std::int64_t{1'000'000'000});
    v1::RetryRecord rec;
    ASSERT_TRUE(rec.ParseFromString(c.retry));
    EXPECT_EQ(rec.seq(), pos.seq);
    EXPECT_EQ(rec.attempts_size(), static_cast<int>(attempt));
    EXPECT_EQ(key_status(c).phase(), v1::PHASE_RETRYING);
    EXPECT_EQ(key_state(c).events_failed(), attempt);
    EXPECT_EQ(key_state(c).state(), ""); // the last good state is kept
    auto rep = commit(std::move(c));
    EXPECT_EQ(rep.retried.size(), 1u);
    EXPECT_EQ(queued(work), 1u); // stays queued for the next try
    auto r = st->read_retry(plan->stage_id(work), "k");
    ASSERT_TRUE(r && *r);
  }
  auto c = kp->process(pos, ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_TRUE(c.retry.empty());
  EXPECT_TRUE(c.clear_retry);
  ASSERT_FALSE(c.dead_letter.empty());
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(c.dead_letter));
  EXPECT_EQ(dl.stage(), "work");
  EXPECT_EQ(dl.key(), "k");
  EXPECT_EQ(dl.event().id(), "e1");
  EXPECT_EQ(dl.attempts_size(), 3);
  EXPECT_EQ(key_status(c).phase(), v1::PHASE_FAILED);
  // The behaviour saw how many tries came before each.
  EXPECT_EQ(act->attempts_seen, (std::vector<std::uint32_t>{0, 1, 2}));
  commit(std::move(c));
  EXPECT_EQ(queued(work), 0u);
  EXPECT_EQ(dead_letters(), 1u);
  auto r = st->read_retry(plan->stage_id(work), "k");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

TEST_F(KeyProcessor, APermanentErrorIsDeadLetteredAtOnce) {
  act->act = script::mode::fail_permanently;
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev), ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_NE(kp->last_error().find("failed permanently: malformed"),
            std::string::npos);
  EXPECT_TRUE(c.retry.empty());
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(c.dead_letter));
  EXPECT_EQ(dl.attempts_size(), 1);
  EXPECT_EQ(act->calls, 1);
  commit(std::move(c));
  EXPECT_EQ(queued(work), 0u);
  EXPECT_EQ(dead_letters(), 1u);
}

TEST_F(KeyProcessor, AnEmitToAnUndeclaredTopicFailsTheEventForGood) {
  act->emits = {{"in", "npm"}}; // work declares only out and audit
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev), ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_NE(kp->last_error().find("undeclared topic 'in' (it declares emits: "
                                  "[out, audit]"),
            std::string::npos)
      << kp->last_error();
  EXPECT_TRUE(c.emits.empty());
  EXPECT_FALSE(c.dead_letter.empty());
}

TEST_F(KeyProcessor, AStageThatDeclaresNoEmitsMayNotEmit) {
  // plain has no `emits:`: its emit to out is refused, though sink_all
  // subscribes to out (the example's parse without `emits: [parsed]`).
  act->emits = {{"out", "npm"}};
  auto kp = processor(plain);
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev, plain), ev, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::failed);
  EXPECT_NE(kp->last_error().find(
                "stage plain emitted to undeclared topic 'out' (it declares "
                "no emits; add the topic to the stage's emits in the "
                "topology)"),
            std::string::npos)
      << kp->last_error();
  EXPECT_TRUE(c.emits.empty());
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(c.dead_letter));
  ASSERT_GT(dl.attempts_size(), 0);
  EXPECT_NE(dl.attempts(0).error().find("undeclared topic 'out'"),
            std::string::npos);
  commit(std::move(c));
  EXPECT_EQ(queued(sink_all), 0u);
  EXPECT_EQ(dead_letters(), 1u);
}

TEST_F(KeyProcessor, AnUnchangedPayloadIsSkippedUnlessRefreshed) {
  auto kp = processor();
  auto first = make_event("e1", "same");
  commit(kp->process(enqueue(first), first, now_ns()));
  ASSERT_EQ(act->calls, 1);

  auto again = make_event("e2", "same");
  EXPECT_TRUE(kp->unchanged(again));
  auto pos = enqueue(again);
  auto c = kp->process(pos, again, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::skipped);
  EXPECT_EQ(act->calls, 1); // the behaviour did not run
  EXPECT_TRUE(c.ack_only);
  EXPECT_EQ(kp->version(), 1u); // nothing is written
  // Without a key actor, the stage supervisor decides the same.
  auto stored = st->read_state(plan->stage_id(work), "k");
  ASSERT_TRUE(stored && *stored);
  EXPECT_TRUE(
      skip_if_unchanged(*plan, work, "k", **stored, pos, again, now_ns()));
  EXPECT_EQ(commit(std::move(c)).consumed.size(), 1u);

  auto refresh = make_event("e3", "same");
  refresh.refresh = true;
  EXPECT_FALSE(kp->unchanged(refresh));
  EXPECT_FALSE(
      skip_if_unchanged(*plan, work, "k", **stored, pos, refresh, now_ns()));
  kp->process(enqueue(refresh), refresh, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::done);
  EXPECT_EQ(act->calls, 2);

  auto changed = make_event("e4", "other");
  EXPECT_FALSE(kp->unchanged(changed));
  kp->process(enqueue(changed), changed, now_ns());
  EXPECT_EQ(kp->last_outcome(), outcome::done);
  EXPECT_EQ(act->calls, 3);
}

TEST_F(KeyProcessor, AStageWithoutSkipUnchangedRunsEveryEvent) {
  auto kp = processor(plain);
  for (auto id : {"e1", "e2"}) {
    auto ev = make_event(id, "same");
    EXPECT_FALSE(kp->unchanged(ev));
    commit(kp->process(enqueue(ev, plain), ev, now_ns()));
    EXPECT_EQ(kp->last_outcome(), outcome::done);
  }
  EXPECT_EQ(act->calls, 2);
}

TEST_F(KeyProcessor, EmitsAreRoutedToTheSubscribedStagesThroughTheirFilters) {
  act->emits = {{"out", "npm"}, {"out", "pypi"}, {"audit", "npm"}};
  auto kp = processor();
  auto ev = make_event("e1", "v1");
  auto c = kp->process(enqueue(ev), ev, now_ns());
  ASSERT_EQ(kp->last_outcome(), outcome::done);
  // npm: both sinks (sink_npm at its subscription's urgent class); pypi:
  // sink_all only; audit: no subscriber.
  ASSERT_EQ(c.emits.size(), 3u);
  EXPECT_EQ(c.emits[0].stage_id, plan->stage_id(sink_all));
  EXPECT_EQ(c.emits[0].priority, priority::normal);
  EXPECT_EQ(c.emits[1].stage_id, plan->stage_id(sink_npm));
  EXPECT_EQ(c.emits[1].priority, priority::urgent);
  EXPECT_EQ(c.emits[2].stage_id, plan->stage_id(sink_all));
  auto out = decode_event(c.emits[2].event_bytes, "test");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->id, "e1>work.1");
  EXPECT_EQ(out->key, "k"); // inherited from the event that caused it
  EXPECT_EQ(out->topic, "out");
  EXPECT_EQ(out->attributes.at("ecosystem"), "pypi");
  EXPECT_EQ(out->content_hash, content_hash("from v1"));
  auto counts = kp->take_counts();
  EXPECT_EQ(counts, (std::vector<std::pair<std::string, std::uint64_t>>{
                        {"unrouted", 1}}));
  // The key's status waits in the first stage an emit went to.
  EXPECT_EQ(c.status_emit, 0);
  auto status = key_status(c);
  EXPECT_EQ(status.phase(), v1::PHASE_QUEUED);
  EXPECT_EQ(status.stage(), "sink_all");
  EXPECT_EQ(status.from_stage(), "work");

  commit(std::move(c));
  EXPECT_EQ(queued(sink_all), 2u);
  EXPECT_EQ(queued(sink_npm), 1u);
}

TEST_F(KeyProcessor, AStageWithAChangelogKeepsTheAttributesBehindItsState) {
  auto ev = make_event("e1", "v1");
  ev.attributes = {{"tier", "gold"}, {"region", "eu"}};
  auto kp = processor(logged);
  auto c = kp->process(enqueue(ev, logged), ev, now_ns());
  ASSERT_EQ(kp->last_outcome(), outcome::done);
  auto ks = key_state(c);
  ASSERT_EQ(ks.last_attributes().size(), 2u);
  EXPECT_EQ(ks.last_attributes().at("tier"), "gold");
  commit(c);
  // The next event's attributes replace them (none left over).
  auto ev2 = make_event("e2", "v2");
  ev2.attributes = {{"tier", "free"}};
  auto c2 = kp->process(enqueue(ev2, logged), ev2, now_ns());
  auto ks2 = key_state(c2);
  ASSERT_EQ(ks2.last_attributes().size(), 1u);
  EXPECT_EQ(ks2.last_attributes().at("tier"), "free");
  // A stage without a changelog keeps none.
  auto other = processor(plain);
  auto c3 = other->process(enqueue(ev, plain), ev, now_ns());
  EXPECT_TRUE(key_state(c3).last_attributes().empty());
}
