// A subscription through any member (issue 16), over two real members'
// stores: the snapshot takes each shard from the member holding it, live
// changes come from both, and a shard handed from one member to the other
// mid-stream goes on with no gap and no duplicate, for the live
// subscription and for one resumed from a cursor taken before the
// hand-off. A member that cannot be asked holds up its shards only.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "../store/cluster_store_test_support.hpp"
#include "sluice/feed/feed_cursor.hpp"
#include "sluice/feed/feed_hub.hpp"
#include "sluice/feed/feed_members.hpp"

using namespace sluice;
using namespace sluice::cluster_store_test;

namespace {

/// The members as the subscription sees them: both stores, either of them
/// unreachable on demand.
struct two_members : feed::feed_members {
  std::map<std::string, member*> by_name;
  std::set<std::string> down;
  std::vector<std::string> names() override { return {"a", "b"}; }
  result<member_changes> changes(const std::string& name, const std::string&,
                                 const member_read& req) override {
    if (down.count(name) || !by_name[name]->st)
      return fail(errc::unavailable, name + " is down");
    changelog_reader log{*by_name[name]->st};
    auto id = log.stage("table");
    if (!id)
      return id.error();
    return log.changes_held(*id, req);
  }
  result<member_states> states(const std::string& name, const std::string&,
                               const std::string& after, bool first,
                               const std::string& prefix,
                               std::size_t max) override {
    if (down.count(name) || !by_name[name]->st)
      return fail(errc::unavailable, name + " is down");
    changelog_reader log{*by_name[name]->st};
    auto id = log.stage("table");
    if (!id)
      return id.error();
    return log.states_held(*id, after, first, prefix, max);
  }
};

struct ClusterFeed : ClusterStore {
  registry reg;
  std::unique_ptr<feed::hub> hub;
  std::shared_ptr<two_members> members = std::make_shared<two_members>();
  std::map<std::string, std::uint32_t> table; ///< per member dir
  std::map<std::string, int> next_value;

  void open_member(member& m) {
    ASSERT_NO_FATAL_FAILURE(open(m));
    auto t = m.st->register_stage("table", "sluice.table",
                                  changelog_retention{1'000'000, {}});
    ASSERT_TRUE(t) << t.error().describe();
    table[m.dir] = *t;
  }

  void TearDown() override {
    hub.reset();
    ClusterStore::TearDown();
  }

  /// One processed event of `key` on `m`: the key's next value.
  void change(member& m, const std::string& key) {
    auto t = table[m.dir];
    auto v = std::to_string(++next_value[key]);
    write_batch b;
    b.appends.push_back(append(t, key, key + "#" + v));
    commit(m, std::move(b));
    auto base = m.st->read_state(t, key);
    ASSERT_TRUE(base);
    write_batch c;
    c.completions.push_back(complete(t, key, pos_of(m, t, key + "#" + v),
                                     *base ? (*base)->version : 0, v));
    commit(m, std::move(c));
  }

  /// Moves `shard` from `from` to `to` at `epoch`, as a hand-off does.
  void hand_off(member& from, member& to, std::uint32_t shard,
                std::uint64_t epoch) {
    ASSERT_TRUE(from.st->mark_leaving({shard}, "x", epoch));
    auto recs = scan(from, {shard});
    ASSERT_TRUE(to.st->begin_import({shard}));
    ASSERT_TRUE(to.st->import_handoff(recs));
    ASSERT_TRUE(to.st->acquire_shards({shard}, epoch));
    ASSERT_TRUE(from.st->hand_over_shards({shard}));
    ASSERT_TRUE(from.st->purge_handed_over());
  }

  /// A and B open with the table stage, A claimed every shard and handed
  /// T to B (before anyone subscribed); the hub on A serves both.
  void a_and_b_with_t_on_b() {
    ASSERT_NO_FATAL_FAILURE(open_member(a));
    ASSERT_NO_FATAL_FAILURE(open_member(b));
    ASSERT_TRUE(a.st->claim_all_shards());
    members->by_name = {{"a", &a}, {"b", &b}};
    ASSERT_NO_FATAL_FAILURE(hand_off(a, b, T, 2));
    hub = std::make_unique<feed::hub>(*a.st, reg, 8);
    hub->serve_cluster(members);
  }

  std::unique_ptr<feed_subscription> subscribe(const std::string& cursor = {}) {
    feed_options o;
    o.cursor = cursor;
    auto s = hub->subscribe("table", "sluice.table", o);
    EXPECT_TRUE(s) << s.error().describe();
    return s ? std::move(*s) : nullptr;
  }

  /// Everything the subscription has now.
  static std::vector<feed_event> drain(feed_subscription& s) {
    std::vector<feed_event> all;
    for (int quiet = 0; quiet < 3;) {
      std::vector<feed_event> batch;
      auto r = s.next(batch, 1000, std::chrono::milliseconds(20));
      EXPECT_TRUE(r) << r.error().describe();
      if (!r)
        break;
      quiet = batch.empty() ? quiet + 1 : 0;
      for (auto& e : batch)
        all.push_back(std::move(e));
    }
    return all;
  }
};

/// A subscriber's view: each key's last value and version, checking that
/// versions rise by one (no change twice, none skipped) and that each
/// shard's offsets only grow.
struct view {
  std::map<std::string, std::string> value;
  std::map<std::string, std::uint64_t> version;
  std::map<std::uint32_t, std::uint64_t> offset;
  std::vector<std::string> problems;
  std::string cursor;
  int resets = 0;
  void take(const std::vector<feed_event>& events) {
    for (auto& e : events) {
      if (!e.cursor.empty())
        cursor = e.cursor;
      if (e.kind == feed_event_kind::reset)
        ++resets;
      if (e.kind != feed_event_kind::snapshot
          && e.kind != feed_event_kind::change)
        continue;
      if (version.count(e.key) && e.version != version[e.key] + 1)
        problems.push_back(e.key + ": version " + std::to_string(e.version)
                           + " after " + std::to_string(version[e.key]));
      version[e.key] = e.version;
      value[e.key] = e.state_json;
      if (e.kind == feed_event_kind::change) {
        if (e.offset <= offset[e.shard])
          problems.push_back("shard " + std::to_string(e.shard) + ": offset "
                             + std::to_string(e.offset) + " after "
                             + std::to_string(offset[e.shard]));
        offset[e.shard] = e.offset;
      }
    }
  }
};

} // namespace

TEST_F(ClusterFeed, FollowsEveryShardThroughAHandOffWithNoGapOrDuplicate) {
  ASSERT_NO_FATAL_FAILURE(a_and_b_with_t_on_b());

  std::vector<std::string> on_s, on_t, elsewhere;
  for (int i = 0; i < 4; ++i) {
    on_s.push_back(key_in(S, "s" + std::to_string(i)));
    on_t.push_back(key_in(T, "t" + std::to_string(i)));
    elsewhere.push_back("e" + std::to_string(i));
  }
  for (auto& k : on_s)
    ASSERT_NO_FATAL_FAILURE(change(a, k));
  for (auto& k : on_t)
    ASSERT_NO_FATAL_FAILURE(change(b, k));
  for (auto& k : elsewhere)
    ASSERT_NO_FATAL_FAILURE(change(a, k));

  auto sub = subscribe();
  ASSERT_TRUE(sub);
  view live;
  auto first = drain(*sub);
  live.take(first);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back().kind, feed_event_kind::snapshot_end);
  EXPECT_EQ(live.value.size(), 12u) << "every key, from both members";
  EXPECT_EQ(live.cursor[0], '2');

  // Changes on both members, then S goes from A to B and changes there.
  for (auto& k : on_s)
    ASSERT_NO_FATAL_FAILURE(change(a, k));
  for (auto& k : on_t)
    ASSERT_NO_FATAL_FAILURE(change(b, k));
  live.take(drain(*sub));
  auto before_handoff = live.cursor;
  ASSERT_FALSE(before_handoff.empty());
  for (auto& k : on_s)
    ASSERT_NO_FATAL_FAILURE(change(a, k)); // not read before the hand-off
  ASSERT_NO_FATAL_FAILURE(hand_off(a, b, S, 3));
  for (auto& k : on_s)
    ASSERT_NO_FATAL_FAILURE(change(b, k));
  for (auto& k : elsewhere)
    ASSERT_NO_FATAL_FAILURE(change(a, k));
  live.take(drain(*sub));
  EXPECT_TRUE(live.problems.empty()) << live.problems.front();
  EXPECT_EQ(live.resets, 0);
  for (auto& k : on_s)
    EXPECT_EQ(live.value[k], "\"4\"") << k;
  for (auto& k : on_t)
    EXPECT_EQ(live.value[k], "\"2\"") << k;
  for (auto& k : elsewhere)
    EXPECT_EQ(live.value[k], "\"2\"") << k;

  // Resumed from the cursor taken before the hand-off: exactly what came
  // after it, S's changes made on A before the hand-off included.
  auto resumed_sub = subscribe(before_handoff);
  ASSERT_TRUE(resumed_sub);
  auto after = drain(*resumed_sub);
  std::map<std::string, int> changes;
  for (auto& e : after) {
    EXPECT_NE(e.kind, feed_event_kind::reset) << e.reason;
    if (e.kind == feed_event_kind::change)
      ++changes[e.key];
  }
  for (auto& k : on_s)
    EXPECT_EQ(changes[k], 2) << k << ": one on A, one on B";
  for (auto& k : elsewhere)
    EXPECT_EQ(changes[k], 1) << k;
  for (auto& k : on_t)
    EXPECT_EQ(changes[k], 0) << k;

  // B down: A's shards go on, B's wait; B back: its changes follow.
  members->down.insert("b");
  for (auto& k : on_t)
    ASSERT_NO_FATAL_FAILURE(change(b, k));
  for (auto& k : elsewhere)
    ASSERT_NO_FATAL_FAILURE(change(a, k));
  live.take(drain(*sub));
  for (auto& k : elsewhere)
    EXPECT_EQ(live.value[k], "\"3\"") << k;
  for (auto& k : on_t)
    EXPECT_EQ(live.value[k], "\"2\"") << k << " waits for B";
  members->down.clear();
  live.take(drain(*sub));
  for (auto& k : on_t)
    EXPECT_EQ(live.value[k], "\"3\"") << k;
  EXPECT_TRUE(live.problems.empty()) << live.problems.front();
}

TEST_F(ClusterFeed, ASnapshotWaitsForAShardNoMemberCanServe) {
  ASSERT_NO_FATAL_FAILURE(a_and_b_with_t_on_b());
  ASSERT_NO_FATAL_FAILURE(change(b, key_in(T, "t")));
  members->down.insert("b");
  auto sub = subscribe();
  ASSERT_TRUE(sub);
  auto none = drain(*sub);
  EXPECT_TRUE(none.empty()) << "no snapshot without shard T's member";
  members->down.clear();
  view v;
  v.take(drain(*sub));
  EXPECT_EQ(v.value.size(), 1u);
}

TEST_F(ClusterFeed, ALongBacklogOnOneMemberDoesNotHoldTheOthersBack) {
  ASSERT_NO_FATAL_FAILURE(a_and_b_with_t_on_b());
  auto sub = subscribe();
  ASSERT_TRUE(sub);
  auto first = drain(*sub);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back().kind, feed_event_kind::snapshot_end);

  // A (read first: this member) has 300 changes waiting, B 5.
  for (int i = 0; i < 300; ++i)
    ASSERT_NO_FATAL_FAILURE(change(a, "e" + std::to_string(i)));
  auto on_t = key_in(T, "t");
  for (int i = 0; i < 5; ++i)
    ASSERT_NO_FATAL_FAILURE(change(b, on_t));
  std::vector<feed_event> batch;
  ASSERT_TRUE(sub->next(batch, 100, std::chrono::milliseconds(20)));
  std::size_t from_b = 0;
  for (auto& e : batch)
    if (e.kind == feed_event_kind::change && e.key == on_t)
      ++from_b;
  EXPECT_EQ(batch.size(), 100u);
  EXPECT_EQ(from_b, 5u) << "B's changes come in the first batch, beside A's";
  view rest;
  rest.take(batch);
  rest.take(drain(*sub));
  EXPECT_TRUE(rest.problems.empty()) << rest.problems.front();
  EXPECT_EQ(rest.value.size(), 301u);
}
