// node::await_replicated on a real node whose store is replicated (a test
// extension plays the cluster: it owns every shard and raises the
// high-watermarks by hand): an on-demand answer waits for the watermark,
// and so do a subscription's reads of the changelog and of the states.
#include <gtest/gtest.h>

#include <caf/send.hpp>

#include <future>
#include <thread>

#include "messages.hpp"
#include "sluice/node.hpp"
#include "sluice/node_extension.hpp"
#include "sluice/placement.hpp"
#include "sluice/store/changelog.hpp"
#include "sluice_test/node_fixture.hpp"
#include "store_actor/replicated_answers.hpp"

using namespace sluice;
using namespace sluice_test;
namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

/// Owns every shard of a replicated store; sends nothing by itself.
class hand_cluster : public node_extension {
public:
  void configure(caf::actor_system_config&) override {}
  bool replicated() const override { return true; }
  result<void> prepare(store& st) override { return st.claim_all_shards(); }
  result<void> start(const node_context& ctx) override {
    store_actor = ctx.store_actor;
    st = ctx.st;
    return {};
  }
  bool busy() const override { return false; }
  std::optional<admin_answer> admin(const std::string&,
                                    const std::vector<std::string>&) override {
    return std::nullopt;
  }
  void stop() override { store_actor = nullptr; }

  /// The last replication seq written for `shard`.
  std::uint64_t head(std::uint32_t shard) const {
    auto pos = st->replog_position(shard);
    return pos && *pos ? (*pos)->seq : 0;
  }
  /// Raises the shard's high-watermark to `seq`, as the cluster does once
  /// min_insync replicas hold the records.
  void raise(std::uint32_t shard, std::uint64_t seq) {
    caf::anon_send(store_actor, ext::watermark_atom::value,
                   shard_positions{{{shard, seq}}});
  }
  void lose(std::uint32_t shard) {
    caf::anon_send(store_actor, ext::shards_lost_atom::value,
                   shard_positions{{{shard, 0}}});
  }

  caf::actor store_actor;
  store* st = nullptr;
};

struct replicated_node {
  std::string dir = temp_dir("replicated_read");
  registry reg = test_registry();
  std::shared_ptr<hand_cluster> ext = std::make_shared<hand_cluster>();
  std::unique_ptr<node> n;
  std::uint32_t shard = shard_of("k");

  explicit replicated_node(const topology& topo = two_stage()) {
    auto o = options_for(dir);
    o.extension = ext;
    auto r = node::start(topo, reg, o);
    EXPECT_TRUE(r) << r.error().describe();
    if (r)
      n = std::move(*r);
  }
  ~replicated_node() {
    n.reset();
    fs::remove_all(dir);
  }

  /// Publishes one event for "k", lets both stages process it, then
  /// acknowledges the publish's commit only: the stages' commits after it
  /// stay above the watermark. Returns the seq the watermark was raised to.
  std::uint64_t feed_unreplicated() {
    auto published = std::async(std::launch::async, [&] {
      return n->publish("in", {make_event("k", "a")});
    });
    EXPECT_TRUE(wait_until(
        [&] { return committed_state(*ext->st, "second", "k") == "1"; }, 20s));
    auto first = ext->st->read_replog(shard, 0, 1);
    EXPECT_TRUE(first && !first->empty());
    auto acked = first && !first->empty() ? first->front().seq : 0;
    ext->raise(shard, acked);
    auto r = published.get();
    EXPECT_TRUE(r) << r.error().describe();
    return acked;
  }
};

} // namespace

TEST(ReplicatedRead, WaitsUntilTheShardsWatermarkReachesWhatWasRead) {
  replicated_node t;
  ASSERT_TRUE(t.n);
  auto acked = t.feed_unreplicated();
  // Both stages committed "k" after the publish: records not replicated.
  auto head = t.ext->head(t.shard);
  ASSERT_GT(head, acked);
  auto early = t.n->await_replicated("k", 300ms);
  ASSERT_FALSE(early) << "answered from data no replica holds yet";
  EXPECT_EQ(early.error().code, errc::unavailable);
  EXPECT_NE(early.error().message.find("min_insync"), std::string::npos)
      << early.error().message;
  // Half way is not enough either; the whole head releases the read.
  t.ext->raise(t.shard, head - 1);
  EXPECT_FALSE(t.n->await_replicated("k", 200ms));
  auto later = std::async(std::launch::async,
                          [&] { return t.n->await_replicated("k", 10s); });
  std::this_thread::sleep_for(100ms);
  t.ext->raise(t.shard, head);
  auto r = later.get();
  EXPECT_TRUE(r) << r.error().describe();
  // Replicated now: a second read answers at once.
  EXPECT_TRUE(t.n->await_replicated("k", 1s));
}

TEST(ReplicatedRead, ASubscriptionReadsOnlyChangesTheReplicasHold) {
  // `second` keeps a changelog: its change of "k" is in the last commit,
  // above the watermark.
  auto topo = two_stage();
  topo.stages[1].changelog = {true, 1000, {}};
  replicated_node t{topo};
  ASSERT_TRUE(t.n);
  t.feed_unreplicated();
  changelog_reader log{*t.ext->st};
  auto id = log.stage("second");
  ASSERT_TRUE(id) << id.error().describe();
  auto span = log.span(*id);
  ASSERT_TRUE(span);
  ASSERT_EQ(span->entries, 1u) << "second's change of k is committed";
  member_read req;
  req.after = span->low;
  auto early = log.changes_held(*id, req);
  ASSERT_TRUE(early) << early.error().describe();
  EXPECT_TRUE(early->entries.empty()) << "read before a replica holds it";
  EXPECT_LT(early->view.head, span->head);
  // A snapshot leaves k's state out, as of a head before its change.
  auto states = log.states_held(*id, {}, true, {}, 100);
  ASSERT_TRUE(states) << states.error().describe();
  EXPECT_TRUE(states->states.empty()) << "a state no replica holds yet";
  EXPECT_TRUE(states->last);
  EXPECT_EQ(states->view.head, early->view.head);
  // Once the replicas hold every record, the change and the state are
  // there to read.
  t.ext->raise(t.shard, t.ext->head(t.shard));
  EXPECT_TRUE(wait_until(
      [&] {
        auto r = log.changes_held(*id, req);
        return r && r->entries.size() == 1 && r->entries[0].key == "k";
      },
      10s));
  states = log.states_held(*id, {}, true, {}, 100);
  ASSERT_TRUE(states) << states.error().describe();
  ASSERT_EQ(states->states.size(), 1u);
  EXPECT_EQ(states->states[0].key, "k");
  EXPECT_EQ(states->view.head, span->head);
}

TEST(ReplicatedRead, AShardNeverWrittenAnswersAtOnce) {
  replicated_node t;
  ASSERT_TRUE(t.n);
  std::string other = "other";
  for (int i = 0; shard_of(other) == t.shard; ++i)
    other = "other" + std::to_string(i);
  auto r = t.n->await_replicated(other, 1s);
  EXPECT_TRUE(r) << r.error().describe();
}

TEST(ReplicatedRead, FailsWhenTheShardGoesToAnotherMemberFirst) {
  replicated_node t;
  ASSERT_TRUE(t.n);
  t.feed_unreplicated();
  auto read = std::async(std::launch::async,
                         [&] { return t.n->await_replicated("k", 10s); });
  std::this_thread::sleep_for(100ms);
  t.ext->lose(t.shard);
  auto r = read.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unavailable);
  EXPECT_NE(r.error().message.find("another member"), std::string::npos)
      << r.error().message;
}

TEST(ReplicatedRead, ANodeThatIsNotReplicatedAnswersAtOnce) {
  auto dir = temp_dir("unreplicated_read");
  auto reg = test_registry();
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_TRUE((*n)->publish("in", {make_event("k", "a")}));
    ASSERT_TRUE(wait_drained(**n, 20s));
    EXPECT_TRUE((*n)->await_replicated("k", 1ms));
  }
  fs::remove_all(dir);
}

TEST(ReplicatedRead, ReadsBeyondTheCapAreRefusedAtOnce) {
  replicated_node t;
  ASSERT_TRUE(t.n);
  t.feed_unreplicated();
  auto head = t.ext->head(t.shard);
  // Askers that gave up leave their reads held until the shard catches up:
  // fill the store actor's held reads to the cap without waiting for each.
  for (std::size_t i = 0; i < replicated_answers::max_held_reads; ++i)
    caf::anon_send(t.ext->store_actor, msg::replicated_read_atom::value,
                   t.shard, head);
  auto t0 = std::chrono::steady_clock::now();
  auto r = t.n->await_replicated("k", 10s);
  ASSERT_FALSE(r) << "a read beyond the cap was held";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "not refused at once";
  EXPECT_EQ(r.error().code, errc::unavailable);
  EXPECT_NE(r.error().message.find("reads already wait"), std::string::npos)
      << r.error().message;
  // Once replicated, the held reads are released and reads answer again.
  t.ext->raise(t.shard, head);
  EXPECT_TRUE(
      wait_until([&] { return bool(t.n->await_replicated("k", 1s)); }, 20s));
}
