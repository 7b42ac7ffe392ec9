// Shared fixture of the store's cluster tests: two members' data
// directories, each with its own placement, and helpers to append, complete,
// read queues and seed a key with a record of every kind. Single-threaded.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "sluice/event_codec.hpp"
#include "sluice/placement.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice::cluster_store_test {

namespace fs = std::filesystem;

using kind = handoff_record::kind;

/// The first key `prefix<n>` that hashes to `shard`.
inline std::string key_in(std::uint32_t shard, const std::string& prefix) {
  for (int i = 0;; ++i) {
    auto k = prefix + std::to_string(i);
    if (shard_of(k) == shard)
      return k;
  }
}

/// A sluice.v1.Event for `key`, told apart by its id.
inline std::string event_bytes(const std::string& key, const std::string& id) {
  event ev;
  ev.key = key;
  ev.id = id;
  ev.payload = "payload of " + id;
  return encode_event(ev);
}

inline std::string id_of(const std::string& bytes) {
  auto ev = decode_event(bytes, "test");
  return ev ? ev->id : "<undecodable>";
}

inline std::vector<std::string> ids_of(const std::vector<queued_event>& q) {
  std::vector<std::string> out;
  out.reserve(q.size());
  for (auto& e : q)
    out.push_back(id_of(e.bytes));
  return out;
}

/// A hand-off record in one line, to compare record sets.
inline std::string describe(const handoff_record& r) {
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
  /// store_options::replica_log_records at the next open.
  std::size_t replica_log = store_options{}.replica_log_records;
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
  /// registers the same two stages on every member (same ids);
  /// `replicated` sets store_options::replicated.
  void open(member& m, bool replicated = false) {
    m.st.reset();
    m.place = std::make_shared<placement>();
    store_options o;
    o.dir = m.dir;
    o.sync = false;
    o.place = m.place;
    o.replicated = replicated;
    o.replica_log_records = m.replica_log;
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
    auto r = m.st->commit(batch);
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
    out.reserve(recs.size());
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

} // namespace sluice::cluster_store_test
