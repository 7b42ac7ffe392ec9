// The store's cluster operations on real data directories: outbox routing
// in the commit's transaction, deduplicated receipt of forwarded events,
// fencing of shards owned elsewhere, shard records, and both sides of a
// hand-off. Single-threaded: each test drives one or two stores itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <unistd.h>

#include "sluice/event_codec.hpp"
#include "sluice/placement.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

using kind = handoff_record::kind;

/// The first key `prefix<n>` that hashes to `shard`.
std::string key_in(std::uint32_t shard, const std::string& prefix) {
  for (int i = 0;; ++i) {
    auto k = prefix + std::to_string(i);
    if (shard_of(k) == shard)
      return k;
  }
}

/// A sluice.v1.Event for `key`, told apart by its id.
std::string event_bytes(const std::string& key, const std::string& id) {
  event ev;
  ev.key = key;
  ev.id = id;
  ev.payload = "payload of " + id;
  return encode_event(ev);
}

std::string id_of(const std::string& bytes) {
  auto ev = decode_event(bytes, "test");
  return ev ? ev->id : "<undecodable>";
}

std::vector<std::string> ids_of(const std::vector<queued_event>& q) {
  std::vector<std::string> out;
  for (auto& e : q)
    out.push_back(id_of(e.bytes));
  return out;
}

/// A hand-off record in one line, to compare record sets.
std::string describe(const handoff_record& r) {
  return std::to_string(static_cast<int>(r.what)) + "|"
         + std::to_string(r.stage_id) + "|" + std::to_string(r.shard) + "|"
         + r.key + "|" + r.name + "|"
         + std::to_string(static_cast<int>(r.pos.priority)) + ":"
         + std::to_string(r.pos.seq) + "|" + r.value;
}

/// One cluster member's data directory and its view of shard ownership.
struct member {
  std::string dir;
  std::shared_ptr<placement> place;
  std::unique_ptr<store> st;
  std::uint32_t parse = 0, score = 0;
};

struct ClusterStore : ::testing::Test {
  static constexpr std::uint32_t S = 7;   ///< the shard handed off
  static constexpr std::uint32_t T = 300; ///< a shard that stays
  std::string root;
  member a, b;

  void SetUp() override {
    root =
        (fs::temp_directory_path()
         / ("sluice_cluster_store_test_" + std::to_string(::getpid()) + "_"
            + ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    fs::remove_all(root);
    a.dir = root + "/a";
    b.dir = root + "/b";
  }
  void TearDown() override {
    a.st.reset();
    b.st.reset();
    fs::remove_all(root);
  }

  /// (Re)opens `m` with a fresh placement, as a restarted node would, and
  /// registers the same two stages on every member (same ids).
  void open(member& m) {
    m.st.reset();
    m.place = std::make_shared<placement>();
    store_options o;
    o.dir = m.dir;
    o.sync = false;
    o.place = m.place;
    auto s = store::open(o);
    ASSERT_TRUE(s) << s.error().describe();
    m.st = std::move(*s);
    auto p = m.st->register_stage("parse", "package.parse");
    auto q = m.st->register_stage("score", "package.score");
    ASSERT_TRUE(p && q);
    m.parse = *p;
    m.score = *q;
  }

  commit_report commit(member& m, write_batch batch) {
    auto r = m.st->commit(std::move(batch));
    EXPECT_TRUE(r) << r.error().describe();
    return r ? std::move(*r) : commit_report{};
  }

  /// An append whose key the store reads from the event (no `key` given).
  static queue_append append(std::uint32_t stage, const std::string& key,
                             const std::string& id,
                             priority p = priority::normal) {
    return {stage, p, event_bytes(key, id)};
  }

  static completion complete(std::uint32_t stage, const std::string& key,
                             keys::queue_pos pos, std::uint64_t base,
                             const std::string& state) {
    v1::KeyState ks;
    ks.set_state(state);
    completion c;
    c.stage_id = stage;
    c.key = key;
    c.consumed = pos;
    c.base_version = base;
    c.key_state = ks.SerializeAsString();
    return c;
  }

  static std::vector<queued_event> queue(member& m, std::uint32_t stage,
                                         priority p) {
    auto q = m.st->read_queue(stage, {p, 0}, 1000);
    EXPECT_TRUE(q);
    std::vector<queued_event> out;
    if (q)
      for (auto& e : *q)
        if (e.pos.priority == p)
          out.push_back(e);
    return out;
  }

  /// The position of the queued event with id `id`.
  static keys::queue_pos pos_of(member& m, std::uint32_t stage,
                                const std::string& id) {
    for (auto p : {priority::urgent, priority::normal})
      for (auto& e : queue(m, stage, p))
        if (id_of(e.bytes) == id)
          return e.pos;
    ADD_FAILURE() << id << " is not queued";
    return {};
  }

  /// The keys of every event queued in `m`, in every stage and class.
  static std::vector<std::string> queued_keys(member& m) {
    std::vector<std::string> out;
    for (auto stage : {m.parse, m.score})
      for (auto p : {priority::urgent, priority::normal})
        for (auto& e : queue(m, stage, p))
          out.push_back(decode_event(e.bytes, "test")->key);
    return out;
  }

  /// "version:KeyState bytes", or "<none>".
  static std::string state_of(member& m, std::uint32_t stage,
                              const std::string& key) {
    auto s = m.st->read_state(stage, key);
    EXPECT_TRUE(s);
    if (!s || !*s)
      return "<none>";
    return std::to_string((*s)->version) + ":" + (*s)->key_state;
  }

  static std::vector<handoff_record>
  scan(member& m, const std::vector<std::uint32_t>& shards) {
    std::vector<handoff_record> out;
    auto r = m.st->scan_handoff(shards, [&](handoff_record& rec) {
      out.push_back(rec);
      return true;
    });
    EXPECT_TRUE(r) << r.error().describe();
    return out;
  }

  static std::vector<std::string>
  described(const std::vector<handoff_record>& recs) {
    std::vector<std::string> out;
    for (auto& r : recs)
      out.push_back(describe(r));
    return out;
  }

  /// Gives keys `k` and `j` (of one shard) a record of every kind in `m`:
  /// k's first event is processed (state v1, a durable timer, and a
  /// PHASE_QUEUED status waiting for its emit to score); j's first event
  /// failed and waits for a retry, still queued; k has two more events
  /// queued, one urgent.
  void seed(member& m, const std::string& k, const std::string& j,
            std::int64_t timer_due) {
    write_batch b1;
    b1.appends.push_back(append(m.parse, k, k + "#1"));
    b1.appends.push_back(append(m.parse, j, j + "#1"));
    commit(m, std::move(b1));

    auto ck = complete(m.parse, k, pos_of(m, m.parse, k + "#1"), 0, k + "-v1");
    v1::KeyStatus queued;
    queued.set_stage("score");
    queued.set_phase(v1::PHASE_QUEUED);
    ck.key_status = queued.SerializeAsString();
    ck.emits.push_back(append(m.score, k, k + "#emit"));
    ck.status_emit = 0;
    ck.timers.push_back({"remind", false, true, timer_due, priority::normal,
                         event_bytes(k, k + "#timer")});

    auto jpos = pos_of(m, m.parse, j + "#1");
    auto cj = complete(m.parse, j, jpos, 0, j + "-failed");
    v1::RetryRecord rec;
    rec.set_priority(1);
    rec.set_seq(jpos.seq);
    rec.set_due_ts_ns(9000);
    rec.set_event_id(j + "#1");
    rec.add_attempts()->set_error("first try of " + j + " failed");
    cj.retry = rec.SerializeAsString();
    cj.retry_due_ns = 9000;
    v1::KeyStatus retrying;
    retrying.set_stage("parse");
    retrying.set_phase(v1::PHASE_RETRYING);
    cj.key_status = retrying.SerializeAsString();

    write_batch b2;
    b2.completions.push_back(std::move(ck));
    b2.completions.push_back(std::move(cj));
    auto r2 = commit(m, std::move(b2));
    ASSERT_EQ(r2.consumed.size(), 1u);
    ASSERT_EQ(r2.retried.size(), 1u);

    write_batch b3;
    b3.appends.push_back(append(m.parse, k, k + "#2", priority::urgent));
    b3.appends.push_back(append(m.parse, k, k + "#3"));
    commit(m, std::move(b3));
  }
};

} // namespace

TEST_F(ClusterStore,
       AppendsForShardsOwnedElsewhereGoToTheOutboxInTheSameTransaction) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  a.place->set(S, shard_state::owned);
  auto mine = key_in(S, "mine"), theirs = key_in(T, "theirs");
  auto other = key_in(T + 1, "other");

  // A batch that fails (an owned key for a stage that does not exist)
  // leaves neither the queue nor the outbox changed.
  write_batch bad;
  bad.appends.push_back(append(a.parse, theirs, "lost-1"));
  bad.appends.push_back(append(99, mine, "lost-2"));
  ASSERT_FALSE(a.st->commit(std::move(bad)));
  EXPECT_EQ(*a.st->outbox_depth(), 0u);

  write_batch batch;
  batch.appends.push_back(append(a.parse, mine, "m-normal"));
  auto with_key = append(a.parse, theirs, "t-normal");
  with_key.key = theirs; // the key given: the store need not decode
  batch.appends.push_back(with_key);
  batch.appends.push_back(append(a.parse, other, "o-urgent", priority::urgent));
  batch.appends.push_back(append(a.parse, mine, "m-urgent", priority::urgent));
  batch.appends.push_back(append(a.score, theirs, "t-score"));
  auto rep = commit(a, std::move(batch));
  EXPECT_EQ(rep.outboxed, 3u);
  EXPECT_EQ(rep.records, 5u);
  EXPECT_EQ(rep.appended[a.parse], (std::array<std::uint64_t, 2>{1, 1}));
  EXPECT_EQ(rep.appended.count(a.score), 0u);

  // The owned key's events are queued; nothing else is.
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::urgent)),
            std::vector<std::string>{"m-urgent"});
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            std::vector<std::string>{"m-normal"});
  EXPECT_EQ(*a.st->queue_depth(a.score), (std::array<std::uint64_t, 2>{0, 0}));

  // The others wait in the outbox, urgent first, with stage and shard.
  EXPECT_EQ(*a.st->outbox_depth(), 3u);
  auto out = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_TRUE(out) << out.error().describe();
  ASSERT_EQ(out->size(), 3u);
  auto& o = (*out)[0];
  EXPECT_EQ(o.pos.priority, priority::urgent);
  EXPECT_EQ(o.stage_id, a.parse);
  EXPECT_EQ(o.shard, shard_of(other));
  EXPECT_EQ(o.event_bytes, event_bytes(other, "o-urgent"));
  EXPECT_EQ((*out)[1].pos.priority, priority::normal);
  EXPECT_EQ((*out)[1].stage_id, a.parse);
  EXPECT_EQ((*out)[1].shard, T);
  EXPECT_EQ((*out)[1].event_bytes, event_bytes(theirs, "t-normal"));
  EXPECT_EQ((*out)[2].pos.priority, priority::normal);
  EXPECT_EQ((*out)[2].stage_id, a.score);
  EXPECT_EQ((*out)[2].shard, T);
  EXPECT_EQ((*out)[2].event_bytes, event_bytes(theirs, "t-score"));
  // Outbox seqs come from the store's one counter: none repeats a queue's.
  std::set<std::uint64_t> seqs;
  for (auto& e : *out)
    seqs.insert(e.pos.seq);
  seqs.insert(pos_of(a, a.parse, "m-normal").seq);
  seqs.insert(pos_of(a, a.parse, "m-urgent").seq);
  EXPECT_EQ(seqs.size(), 5u);

  // Reading on from a position, and deleting what was acknowledged.
  auto rest = a.st->read_outbox({priority::normal, (*out)[1].pos.seq + 1}, 10);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(id_of(rest->front().event_bytes), "t-score");
  ASSERT_TRUE(a.st->delete_outbox({(*out)[0].pos, (*out)[2].pos}));
  EXPECT_EQ(*a.st->outbox_depth(), 1u);
  auto left = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(id_of(left->front().event_bytes), "t-normal");

  // The outbox survives a restart, and new seqs go past its entries.
  ASSERT_NO_FATAL_FAILURE(open(a));
  EXPECT_EQ(*a.st->outbox_depth(), 1u);
  write_batch more;
  more.appends.push_back(append(a.parse, theirs, "t-later"));
  commit(a, std::move(more)); // every shard is remote after the reopen
  auto after = a.st->read_outbox({priority::normal, 0}, 10);
  ASSERT_EQ(after->size(), 2u);
  EXPECT_GT(after->at(1).pos.seq, *seqs.rbegin());
}

TEST_F(ClusterStore, AnEmitForAShardOwnedElsewhereLeavesTheStatusUnpositioned) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  a.place->set(S, shard_state::owned);
  auto k = key_in(S, "k"), far = key_in(T, "far");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k#1"));
  commit(a, std::move(b1));
  auto c = complete(a.parse, k, pos_of(a, a.parse, "k#1"), 0, "v1");
  v1::KeyStatus queued;
  queued.set_stage("score");
  queued.set_phase(v1::PHASE_QUEUED);
  c.key_status = queued.SerializeAsString();
  c.emits.push_back(append(a.score, k, "k#local"));
  c.emits.push_back(append(a.score, far, "far#remote"));
  c.status_emit = 1; // the one that went to the outbox
  write_batch b2;
  b2.completions.push_back(std::move(c));
  auto rep = commit(a, std::move(b2));
  EXPECT_EQ(rep.consumed.size(), 1u);
  EXPECT_EQ(rep.outboxed, 1u);
  EXPECT_EQ(ids_of(queue(a, a.score, priority::normal)),
            std::vector<std::string>{"k#local"});
  auto status = a.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus got;
  ASSERT_TRUE(got.ParseFromString(**status));
  EXPECT_EQ(got.phase(), v1::PHASE_QUEUED);
  // It waits in another node's queue: no position of this one is claimed.
  EXPECT_FALSE(got.queued_known());
}

TEST_F(ClusterStore, ForwardedEventsAreQueuedOnceAndShardsNotOwnedAreRefused) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  const std::uint32_t s1 = S, s2 = S + 1, r = T;
  a.place->set(s1, shard_state::owned);
  a.place->set(s2, shard_state::owned);
  a.place->set(r + 1, shard_state::leaving); // handing off: refused too
  auto k1 = key_in(s1, "a"), k2 = key_in(s2, "b"), kr = key_in(r, "c");
  auto kl = key_in(r + 1, "d");
  auto fwd = [&](std::uint32_t shard, std::uint64_t seq, const std::string& k,
                 const std::string& id, priority p = priority::normal) {
    return forwarded_event{shard, seq, a.parse, p, k, event_bytes(k, id)};
  };
  std::vector<forwarded_event> evs{
      fwd(s1, 1, k1, "s1-1"), fwd(s1, 2, k1, "s1-2", priority::urgent),
      fwd(s2, 1, k2, "s2-1"), fwd(r, 3, kr, "r-3"), fwd(r + 1, 4, kl, "l-4")};
  auto got = a.st->receive_forwarded("b", evs);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->accepted, 3u);
  EXPECT_EQ(got->duplicates, 0u);
  EXPECT_EQ(got->refused_shards, (std::vector<std::uint32_t>{r, r + 1}));
  ASSERT_EQ(got->appended.size(), 1u);
  EXPECT_EQ(got->appended[0].first, a.parse);
  EXPECT_EQ(got->appended[0].second, (std::array<std::uint64_t, 2>{1, 2}));
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::urgent)),
            std::vector<std::string>{"s1-2"});
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            (std::vector<std::string>{"s1-1", "s2-1"}));

  // The sender did not hear the acknowledgement and sends it all again.
  auto again = a.st->receive_forwarded("b", evs);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->accepted, 0u);
  EXPECT_EQ(again->duplicates, 3u);
  EXPECT_EQ(again->refused_shards, (std::vector<std::uint32_t>{r, r + 1}));
  EXPECT_TRUE(again->appended.empty());
  EXPECT_EQ(*a.st->queue_depth(a.parse), (std::array<std::uint64_t, 2>{1, 2}));

  // Old and new in one batch: only the new one is queued. (An outbox seq
  // has one priority: s1-2 was urgent.)
  auto mixed = a.st->receive_forwarded(
      "b", {fwd(s1, 2, k1, "s1-2", priority::urgent), fwd(s1, 5, k1, "s1-5")});
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->accepted, 1u);
  EXPECT_EQ(mixed->duplicates, 1u);

  // Watermarks are per sender: c's seq 1 is not b's.
  auto from_c = a.st->receive_forwarded("c", {fwd(s1, 1, k1, "c-1")});
  ASSERT_TRUE(from_c);
  EXPECT_EQ(from_c->accepted, 1u);
  EXPECT_EQ(from_c->duplicates, 0u);
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            (std::vector<std::string>{"s1-1", "s2-1", "s1-5", "c-1"}));

  // They survive a restart.
  ASSERT_NO_FATAL_FAILURE(open(a));
  a.place->set(s1, shard_state::owned);
  auto later = a.st->receive_forwarded(
      "b", {fwd(s1, 5, k1, "s1-5"), fwd(s1, 6, k1, "s1-6")});
  ASSERT_TRUE(later);
  EXPECT_EQ(later->accepted, 1u);
  EXPECT_EQ(later->duplicates, 1u);
  // Nothing of a refused shard was queued at any point.
  for (auto& k : queued_keys(a))
    EXPECT_TRUE(k != kr && k != kl) << k;
}

// The forwarder sends outbox entries in `read_outbox` order (urgent before
// normal, each by seq), so within a shard the seqs it sends need not rise.
TEST_F(ClusterStore, EventsForwardedInOutboxOrderAreAllQueued) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_NO_FATAL_FAILURE(open(b));
  b.place->set(S, shard_state::owned);
  auto k = key_in(S, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k-normal"));
  commit(a, std::move(b1));
  write_batch b2;
  b2.appends.push_back(append(a.parse, k, "k-urgent", priority::urgent));
  commit(a, std::move(b2));
  auto out = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 2u);
  std::vector<forwarded_event> evs;
  for (auto& e : *out) // as the forwarder builds its batch
    evs.push_back(
        {e.shard, e.pos.seq, e.stage_id, e.pos.priority, {}, e.event_bytes});
  auto got = b.st->receive_forwarded("a", evs);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->accepted, 2u);
  EXPECT_EQ(got->duplicates, 0u);
  EXPECT_EQ(*b.st->queue_depth(b.parse), (std::array<std::uint64_t, 2>{1, 1}));
}

TEST_F(ClusterStore, AHandOffMovesStateQueueStatusRetriesTimersAndWatermarks) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  auto kt = key_in(T, "k"), jt = key_in(T, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_NO_FATAL_FAILURE(seed(a, kt, jt, 4000));
  auto w = a.st->receive_forwarded(
      "c", {{S, 7, a.parse, priority::normal, k, event_bytes(k, k + "#fwd")},
            {T, 4, a.parse, priority::normal, kt, event_bytes(kt, "t#fwd")}});
  ASSERT_TRUE(w);
  ASSERT_EQ(w->accepted, 2u);

  // What A holds for S, to compare B with.
  std::set<std::uint64_t> a_seqs;
  for (auto stage : {a.parse, a.score})
    for (auto p : {priority::urgent, priority::normal})
      for (auto& e : queue(a, stage, p))
        a_seqs.insert(e.pos.seq);
  auto a_state_k = state_of(a, a.parse, k), a_state_j = state_of(a, a.parse, j);
  auto a_status_j = a.st->read_status(j);
  ASSERT_TRUE(a_status_j && *a_status_j);
  auto t_before = described(scan(a, {T}));

  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 99));
  EXPECT_EQ(a.place->state(S), shard_state::leaving);
  auto recs = scan(a, {S});
  std::map<kind, int> counts;
  for (auto& r : recs) {
    EXPECT_EQ(r.shard, S) << describe(r);
    counts[r.what]++;
  }
  EXPECT_EQ(counts[kind::queued], 5);
  EXPECT_EQ(counts[kind::state], 2);
  EXPECT_EQ(counts[kind::status], 2);
  EXPECT_EQ(counts[kind::retry], 1);
  EXPECT_EQ(counts[kind::timer], 1);
  EXPECT_EQ(counts[kind::inbox], 1);
  // Queued events first, then the records that point at them: an import
  // in several calls finds the new positions of what came before.
  auto first_other = std::find_if(
      recs.begin(), recs.end(), [](auto& r) { return r.what != kind::queued; });
  EXPECT_EQ(first_other - recs.begin(), 5);
  EXPECT_TRUE(std::none_of(first_other, recs.end(),
                           [](auto& r) { return r.what == kind::queued; }));

  // B has used seqs of its own (outbox entries of another shard), so the
  // imported events cannot keep A's.
  ASSERT_NO_FATAL_FAILURE(open(b));
  write_batch pre;
  for (int i = 0; i < 20; ++i)
    pre.appends.push_back(append(b.parse, kt, "b-pre-" + std::to_string(i)));
  EXPECT_EQ(commit(b, std::move(pre)).outboxed, 20u);

  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(recs));
  // Not owned until acquired: forwards for S are still refused.
  EXPECT_EQ(b.place->state(S), shard_state::remote);
  auto early = b.st->receive_forwarded(
      "c", {{S, 8, b.parse, priority::normal, k, event_bytes(k, "early")}});
  ASSERT_TRUE(early);
  EXPECT_EQ(early->refused_shards, std::vector<std::uint32_t>{S});
  write_batch too_soon; // nor does its imported timer fire yet
  too_soon.timer_fires.push_back({b.parse, 5000});
  EXPECT_EQ(commit(b, std::move(too_soon)).timers_fired, 0u);
  auto acq = b.st->acquire_shards({S}, 2);
  ASSERT_TRUE(acq) << acq.error().describe();
  EXPECT_TRUE(acq->rewind);
  EXPECT_EQ(b.place->state(S), shard_state::owned);
  EXPECT_TRUE(b.place->queues_here(S));
  EXPECT_TRUE(b.place->dispatches_here(S));
  auto shards = b.st->shard_records();
  ASSERT_TRUE(shards);
  ASSERT_EQ(shards->size(), 1u);
  EXPECT_EQ(shards->front().shard, S);
  EXPECT_EQ(shards->front().epoch, 2u);
  EXPECT_FALSE(shards->front().leaving);

  // States, byte for byte.
  EXPECT_EQ(state_of(b, b.parse, k), a_state_k);
  EXPECT_EQ(state_of(b, b.parse, j), a_state_j);
  EXPECT_EQ(state_of(b, b.parse, kt), "<none>");

  // Queued events in the same order, under new seqs.
  auto urgent = queue(b, b.parse, priority::urgent);
  auto normal = queue(b, b.parse, priority::normal);
  auto scored = queue(b, b.score, priority::normal);
  EXPECT_EQ(ids_of(urgent), std::vector<std::string>{k + "#2"});
  EXPECT_EQ(ids_of(normal),
            (std::vector<std::string>{j + "#1", k + "#3", k + "#fwd"}));
  EXPECT_EQ(ids_of(scored), std::vector<std::string>{k + "#emit"});
  ASSERT_EQ(urgent.size() + normal.size() + scored.size(), 5u);
  for (auto* q : {&urgent, &normal, &scored})
    for (auto& e : *q)
      EXPECT_EQ(a_seqs.count(e.pos.seq), 0u)
          << id_of(e.bytes) << " kept A's seq " << e.pos.seq;

  // k's status waits for the new position of its emit.
  auto status = b.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus st;
  ASSERT_TRUE(st.ParseFromString(**status));
  EXPECT_EQ(st.phase(), v1::PHASE_QUEUED);
  EXPECT_TRUE(st.queued_known());
  EXPECT_EQ(st.queued_priority(), 1u);
  ASSERT_EQ(scored.size(), 1u);
  EXPECT_EQ(st.queued_seq(), scored.front().pos.seq);
  bool k_waits = false;
  ASSERT_TRUE(b.st->scan_status(
      [&](const std::string& key, const std::string&, bool waits) {
        if (key == k)
          k_waits = waits;
        return true;
      }));
  EXPECT_TRUE(k_waits);
  auto status_j = b.st->read_status(j);
  ASSERT_TRUE(status_j && *status_j);
  EXPECT_EQ(**status_j, **a_status_j);

  // j's retry points at its failed event's new position.
  auto retry = b.st->read_retry(b.parse, j);
  ASSERT_TRUE(retry && *retry);
  ASSERT_FALSE(normal.empty());
  EXPECT_EQ((*retry)->pos, normal.front().pos);
  EXPECT_EQ((*retry)->due_ns, 9000);
  v1::RetryRecord rr;
  ASSERT_TRUE(rr.ParseFromString((*retry)->record));
  ASSERT_EQ(rr.attempts_size(), 1);
  EXPECT_EQ(rr.attempts(0).error(), "first try of " + j + " failed");

  // k's durable timer is pending in B, and fires there.
  auto timers = b.st->read_timers(b.parse, k);
  ASSERT_TRUE(timers);
  ASSERT_EQ(timers->size(), 1u);
  EXPECT_EQ(timers->front().name, "remind");
  EXPECT_EQ(timers->front().due_ns, 5000);
  EXPECT_EQ(id_of(timers->front().event_bytes), k + "#timer");
  EXPECT_EQ(*b.st->next_timer_due(b.parse), std::optional<std::int64_t>{5000});
  EXPECT_EQ(*b.st->timers_pending(), 1u);
  write_batch fire;
  fire.timer_fires.push_back({b.parse, 5000});
  EXPECT_EQ(commit(b, std::move(fire)).timers_fired, 1u);
  EXPECT_EQ(ids_of(queue(b, b.parse, priority::normal)).back(), k + "#timer");
  EXPECT_EQ(*b.st->timers_pending(), 0u);

  // c's watermark for S came along: what A had taken is a duplicate here.
  auto dup = b.st->receive_forwarded(
      "c", {{S, 7, b.parse, priority::normal, k, event_bytes(k, "again")}});
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->accepted, 0u);
  EXPECT_EQ(dup->duplicates, 1u);
  auto next = b.st->receive_forwarded(
      "c", {{S, 8, b.parse, priority::normal, k, event_bytes(k, "next")}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->accepted, 1u);

  // A lets go: nothing of S is left there, and T is as it was.
  ASSERT_TRUE(a.st->release_shards({S}));
  EXPECT_EQ(a.place->state(S), shard_state::remote);
  EXPECT_TRUE(scan(a, {S}).empty());
  EXPECT_EQ(state_of(a, a.parse, k), "<none>");
  EXPECT_EQ(state_of(a, a.parse, j), "<none>");
  EXPECT_FALSE(*a.st->read_status(k));
  EXPECT_FALSE(*a.st->read_retry(a.parse, j));
  EXPECT_TRUE(a.st->read_timers(a.parse, k)->empty());
  EXPECT_EQ(*a.st->next_timer_due(a.parse), std::optional<std::int64_t>{4000});
  for (auto& key : queued_keys(a))
    EXPECT_NE(shard_of(key), S) << key;
  auto a_shards = a.st->shard_records();
  ASSERT_TRUE(a_shards);
  EXPECT_EQ(a_shards->size(), shard_count - 1);
  for (auto& r : *a_shards)
    EXPECT_NE(r.shard, S);
  EXPECT_EQ(described(scan(a, {T})), t_before);
  EXPECT_EQ(
      state_of(a, a.parse, kt), "1:" + [&] {
        v1::KeyState ks;
        ks.set_state(kt + "-v1");
        return ks.SerializeAsString();
      }());
  // And after a restart A still knows S is not its own.
  ASSERT_NO_FATAL_FAILURE(open(a));
  EXPECT_EQ(a.place->state(S), shard_state::remote);
  EXPECT_EQ(a.place->state(T), shard_state::owned);
}

TEST_F(ClusterStore, ABeginImportWipesWhatAnInterruptedTransferLeft) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_NO_FATAL_FAILURE(open(b));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  auto first = scan(a, {S});
  ASSERT_EQ(first.back().what, kind::timer);

  // The first transfer brings every record, but is cut off before B
  // acquires S.
  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(first));
  ASSERT_EQ(*b.st->timers_pending(), 1u);

  // A takes S back meanwhile, processes k's urgent event (and cancels the
  // timer with it), then hands S off again.
  ASSERT_TRUE(a.st->reclaim_shards({S}));
  auto c = complete(a.parse, k, pos_of(a, a.parse, k + "#2"), 1, "k-v2");
  c.timers.push_back({"remind", true, false, 0, priority::normal, ""});
  write_batch done;
  done.completions.push_back(std::move(c));
  ASSERT_EQ(commit(a, std::move(done)).consumed.size(), 1u);
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 2));
  auto second = scan(a, {S});

  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(second));
  ASSERT_TRUE(b.st->acquire_shards({S}, 2));

  // B holds the second transfer and nothing of the first.
  EXPECT_TRUE(queue(b, b.parse, priority::urgent).empty());
  EXPECT_EQ(ids_of(queue(b, b.parse, priority::normal)),
            (std::vector<std::string>{j + "#1", k + "#3"}));
  EXPECT_EQ(ids_of(queue(b, b.score, priority::normal)),
            std::vector<std::string>{k + "#emit"});
  EXPECT_EQ(state_of(b, b.parse, k), state_of(a, a.parse, k));
  EXPECT_EQ(state_of(b, b.parse, k).substr(0, 2), "2:");
  EXPECT_TRUE(b.st->read_timers(b.parse, k)->empty());
  EXPECT_EQ(*b.st->timers_pending(), 0u);
  auto retry = b.st->read_retry(b.parse, j);
  ASSERT_TRUE(retry && *retry);
  EXPECT_EQ((*retry)->pos, pos_of(b, b.parse, j + "#1"));
  auto status = b.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus st;
  ASSERT_TRUE(st.ParseFromString(**status));
  EXPECT_TRUE(st.queued_known());
  EXPECT_EQ(st.queued_seq(), pos_of(b, b.score, k + "#emit").seq);
  EXPECT_EQ(scan(b, {S}).size(), second.size());
}

TEST_F(ClusterStore, ABeginImportAfterARestartWipesWhatTheTransferLeft) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_NO_FATAL_FAILURE(open(b));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  auto recs = scan(a, {S});

  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(
      std::vector<handoff_record>(recs.begin(), recs.begin() + 3)));
  ASSERT_NO_FATAL_FAILURE(open(b)); // B restarts mid-transfer
  EXPECT_EQ(b.place->state(S), shard_state::remote);

  // The transfer starts over, one record per call.
  ASSERT_TRUE(b.st->begin_import({S}));
  for (auto& r : recs)
    ASSERT_TRUE(b.st->import_handoff({r}));
  ASSERT_TRUE(b.st->acquire_shards({S}, 2));

  EXPECT_EQ(ids_of(queue(b, b.parse, priority::urgent)),
            std::vector<std::string>{k + "#2"});
  EXPECT_EQ(ids_of(queue(b, b.parse, priority::normal)),
            (std::vector<std::string>{j + "#1", k + "#3"}));
  EXPECT_EQ(ids_of(queue(b, b.score, priority::normal)),
            std::vector<std::string>{k + "#emit"});
  auto retry = b.st->read_retry(b.parse, j);
  ASSERT_TRUE(retry && *retry);
  EXPECT_EQ((*retry)->pos, pos_of(b, b.parse, j + "#1"));
  auto status = b.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus st;
  ASSERT_TRUE(st.ParseFromString(**status));
  EXPECT_TRUE(st.queued_known());
  EXPECT_EQ(st.queued_seq(), pos_of(b, b.score, k + "#emit").seq);
}

TEST_F(ClusterStore, ACompletionForAShardOwnedElsewhereIsFenced) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k#1"));
  commit(a, std::move(b1));
  auto pos = pos_of(a, a.parse, "k#1");
  auto make = [&] {
    auto c = complete(a.parse, k, pos, 0, "from-a-stale-owner");
    v1::KeyStatus queued;
    queued.set_stage("score");
    queued.set_phase(v1::PHASE_QUEUED);
    c.key_status = queued.SerializeAsString();
    c.emits.push_back(append(a.score, k, "k#emit"));
    c.status_emit = 0;
    c.timers.push_back({"remind", false, true, 100, priority::normal,
                        event_bytes(k, "k#timer")});
    c.dead_letter = "not written";
    return c;
  };

  // The cluster gave S to another member while k's event was in flight.
  a.place->set(S, shard_state::remote);
  write_batch b2;
  b2.completions.push_back(make());
  auto rep = commit(a, std::move(b2));
  ASSERT_EQ(rep.duplicates.size(), 1u);
  EXPECT_EQ(rep.duplicates[0].stage_id, a.parse);
  EXPECT_EQ(rep.duplicates[0].pos, pos);
  EXPECT_TRUE(rep.consumed.empty());
  EXPECT_TRUE(rep.appended.empty());
  EXPECT_TRUE(rep.timers.empty());
  EXPECT_EQ(rep.outboxed, 0u);
  EXPECT_EQ(rep.dead_letters, 0u);
  EXPECT_EQ(rep.records, 0u);
  EXPECT_EQ(state_of(a, a.parse, k), "<none>");
  EXPECT_TRUE(*a.st->read_entry(a.parse, pos));
  EXPECT_FALSE(*a.st->read_status(k));
  EXPECT_TRUE(a.st->read_timers(a.parse, k)->empty());
  EXPECT_EQ(*a.st->queue_depth(a.score), (std::array<std::uint64_t, 2>{0, 0}));
  EXPECT_EQ(*a.st->outbox_depth(), 0u);

  // While S is only leaving, what was in flight still commits; its emit
  // goes to the outbox, for the new owner.
  a.place->set(S, shard_state::leaving);
  write_batch b3;
  b3.completions.push_back(make());
  auto rep3 = commit(a, std::move(b3));
  EXPECT_EQ(rep3.consumed.size(), 1u);
  EXPECT_EQ(rep3.outboxed, 1u);
  EXPECT_EQ(state_of(a, a.parse, k).substr(0, 2), "1:");
  EXPECT_FALSE(*a.st->read_entry(a.parse, pos));
}

TEST_F(ClusterStore, ALeavingShardQueuesNothingNewAndFiresNoTimer) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), kt = key_in(T, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k#1"));
  b1.appends.push_back(append(a.parse, kt, "kt#1"));
  commit(a, std::move(b1));
  write_batch b2;
  std::vector<std::pair<std::string, std::string>> firsts{{k, "k#1"},
                                                          {kt, "kt#1"}};
  for (auto& [key, id] : firsts) {
    auto c = complete(a.parse, key, pos_of(a, a.parse, id), 0, "v1");
    c.timers.push_back({"remind", false, true, 100, priority::normal,
                        event_bytes(key, key + "#timer")});
    b2.completions.push_back(std::move(c));
  }
  ASSERT_EQ(commit(a, std::move(b2)).consumed.size(), 2u);

  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  write_batch b3;
  b3.appends.push_back(append(a.parse, k, "k#2"));
  b3.appends.push_back(append(a.parse, kt, "kt#2"));
  b3.timer_fires.push_back({a.parse, 1000});
  auto rep = commit(a, std::move(b3));
  EXPECT_EQ(rep.outboxed, 1u);
  EXPECT_EQ(rep.timers_fired, 1u);
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            (std::vector<std::string>{"kt#2", kt + "#timer"}));
  // k's timer stays, to move with the shard.
  ASSERT_EQ(a.st->read_timers(a.parse, k)->size(), 1u);
  EXPECT_EQ(*a.st->next_timer_due(a.parse), std::optional<std::int64_t>{100});
  auto out = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(id_of(out->front().event_bytes), "k#2");
}

TEST_F(ClusterStore, ShardOwnershipSurvivesReopening) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  // A fresh directory owns nothing, and counts its starts.
  EXPECT_TRUE(a.st->shard_records()->empty());
  EXPECT_EQ(a.place->shards_in(shard_state::remote).size(), shard_count);
  EXPECT_EQ(*a.st->next_incarnation(), 1u);
  EXPECT_EQ(*a.st->next_incarnation(), 2u);

  ASSERT_TRUE(a.st->claim_all_shards());
  EXPECT_EQ(a.place->shards_in(shard_state::owned).size(), shard_count);
  ASSERT_TRUE(a.st->mark_leaving({S, T}, "b", 42));
  // Leaving a shard not owned is refused, and marks nothing.
  ASSERT_TRUE(a.st->release_shards({T + 1}));
  auto bad = a.st->mark_leaving({S + 1, T + 1}, "c", 43);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);

  ASSERT_NO_FATAL_FAILURE(open(a)); // a fresh placement, all remote
  EXPECT_EQ(a.place->state(S), shard_state::leaving);
  EXPECT_EQ(a.place->state(T), shard_state::leaving);
  EXPECT_EQ(a.place->state(S + 1), shard_state::owned);
  EXPECT_EQ(a.place->state(T + 1), shard_state::remote);
  EXPECT_EQ(a.place->shards_in(shard_state::owned).size(), shard_count - 3);
  auto recs = a.st->shard_records();
  ASSERT_TRUE(recs);
  ASSERT_EQ(recs->size(), shard_count - 1);
  for (auto& r : *recs) {
    EXPECT_EQ(r.epoch, 1u) << r.shard;
    if (r.shard == S || r.shard == T) {
      EXPECT_TRUE(r.leaving);
      EXPECT_EQ(r.target, "b");
      EXPECT_EQ(r.transfer, 42u);
    } else {
      EXPECT_FALSE(r.leaving) << r.shard;
      EXPECT_EQ(r.target, "") << r.shard;
    }
  }
  EXPECT_EQ(*a.st->next_incarnation(), 3u);

  auto again = a.st->claim_all_shards();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::invalid_argument);
  EXPECT_EQ(a.place->state(S), shard_state::leaving);
  EXPECT_EQ(a.place->state(T + 1), shard_state::remote);
  EXPECT_EQ(a.st->shard_records()->size(), shard_count - 1);
}

TEST_F(ClusterStore, ReclaimMakesLeavingShardsOwnedAgainAndAsksForARewind) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  ASSERT_TRUE(a.st->mark_leaving({S, T}, "b", 5));
  auto k = key_in(S, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "while-leaving"));
  EXPECT_EQ(commit(a, std::move(b1)).outboxed, 1u);

  auto rep = a.st->reclaim_shards({S});
  ASSERT_TRUE(rep) << rep.error().describe();
  EXPECT_TRUE(rep->rewind);
  EXPECT_EQ(a.place->state(S), shard_state::owned);
  EXPECT_EQ(a.place->state(T), shard_state::leaving);
  auto recs = a.st->shard_records();
  ASSERT_TRUE(recs);
  ASSERT_EQ(recs->size(), shard_count);
  for (auto& r : *recs) {
    if (r.shard == S) {
      EXPECT_FALSE(r.leaving);
      EXPECT_EQ(r.target, "");
      EXPECT_EQ(r.transfer, 0u);
      EXPECT_EQ(r.epoch, 1u);
    } else if (r.shard == T) {
      EXPECT_TRUE(r.leaving);
    }
  }
  write_batch b2;
  b2.appends.push_back(append(a.parse, k, "owned-again"));
  auto r2 = commit(a, std::move(b2));
  EXPECT_EQ(r2.outboxed, 0u);
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            std::vector<std::string>{"owned-again"});

  ASSERT_NO_FATAL_FAILURE(open(a));
  EXPECT_EQ(a.place->state(S), shard_state::owned);
  EXPECT_EQ(a.place->state(T), shard_state::leaving);

  // A shard this directory does not record stays remote.
  ASSERT_NO_FATAL_FAILURE(open(b));
  auto none = b.st->reclaim_shards({S});
  ASSERT_TRUE(none);
  EXPECT_EQ(b.place->state(S), shard_state::remote);
  EXPECT_TRUE(b.st->shard_records()->empty());
}
