// The store commits batches atomically and orders commits per key.
#include "sluice/store/store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/event_codec.hpp"
#include "sluice/v1/store.pb.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

struct StoreTest : ::testing::Test {
  std::string dir;
  std::unique_ptr<store> st;
  std::uint32_t stage = 0;

  void SetUp() override {
    dir =
        (fs::temp_directory_path()
         / ("sluice_store_test_" + std::to_string(::getpid()) + "_"
            + ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    fs::remove_all(dir);
    reopen();
  }
  void TearDown() override {
    st.reset();
    fs::remove_all(dir);
  }
  void reopen() {
    st.reset();
    auto s = store::open({dir});
    ASSERT_TRUE(s) << s.error().describe();
    st = std::move(*s);
    auto id = st->register_stage("parse", "package.parse");
    ASSERT_TRUE(id);
    stage = *id;
  }
  queue_append append(const std::string& key, priority p) {
    event ev;
    ev.key = key;
    ev.id = key + "#1";
    return {stage, p, encode_event(ev)};
  }
  completion complete(const std::string& key, keys::queue_pos pos,
                      std::uint64_t base, const std::string& state) {
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
  std::string state_of(const std::string& key) {
    auto s = st->read_state(stage, key);
    EXPECT_TRUE(s);
    if (!s || !*s)
      return "<none>";
    v1::KeyState ks;
    EXPECT_TRUE(ks.ParseFromString((*s)->key_state));
    return ks.state() + "@" + std::to_string((*s)->version);
  }
};

} // namespace

TEST_F(StoreTest, QueuesUrgentBeforeNormalAndSurvivesReopen) {
  write_batch b;
  b.appends.push_back(append("a", priority::normal));
  b.appends.push_back(append("b", priority::urgent));
  b.appends.push_back(append("c", priority::normal));
  auto r = st->commit(b);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->appended[stage][0], 1u);
  EXPECT_EQ(r->appended[stage][1], 2u);
  reopen();
  auto depth = st->queue_depth(stage);
  ASSERT_TRUE(depth);
  EXPECT_EQ((*depth)[0], 1u);
  EXPECT_EQ((*depth)[1], 2u);
  auto urgent = st->read_queue(stage, {priority::urgent, 0}, 10);
  ASSERT_TRUE(urgent);
  ASSERT_EQ(urgent->size(), 1u);
  EXPECT_EQ(decode_event(urgent->front().bytes, "q")->key, "b");
  auto normal = st->read_queue(stage, {priority::normal, 0}, 10);
  ASSERT_EQ(normal->size(), 2u);
  EXPECT_LT(normal->at(0).pos.seq, normal->at(1).pos.seq);
  // New appends after reopen get larger sequence numbers.
  write_batch b2;
  b2.appends.push_back(append("d", priority::normal));
  ASSERT_TRUE(st->commit(b2));
  auto all = st->read_queue(stage, {priority::normal, 0}, 10);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_GT(all->at(2).pos.seq, all->at(1).pos.seq);
}

TEST_F(StoreTest, CompletionRemovesEventWritesStateAndEmitsAtomically) {
  write_batch b;
  b.appends.push_back(append("k", priority::normal));
  ASSERT_TRUE(st->commit(b));
  auto q = st->read_queue(stage, {priority::normal, 0}, 10);
  ASSERT_EQ(q->size(), 1u);
  auto c = complete("k", q->front().pos, 0, "s1");
  c.emits.push_back(append("k", priority::normal));
  write_batch b2;
  b2.completions.push_back(std::move(c));
  auto r = st->commit(b2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed.size(), 1u);
  EXPECT_EQ(state_of("k"), "s1@1");
  auto q2 = st->read_queue(stage, {priority::normal, 0}, 10);
  ASSERT_EQ(q2->size(), 1u); // the consumed one is gone, the emitted one is in
  EXPECT_NE(q2->front().pos.seq, q->front().pos.seq);
}

TEST_F(StoreTest, ADuplicateCompletionIsRejectedAndChangesNothing) {
  write_batch b;
  b.appends.push_back(append("k", priority::normal));
  ASSERT_TRUE(st->commit(b));
  auto pos = st->read_queue(stage, {priority::normal, 0}, 1)->front().pos;
  write_batch b1;
  b1.completions.push_back(complete("k", pos, 0, "once"));
  ASSERT_TRUE(st->commit(b1));
  write_batch b2;
  b2.completions.push_back(complete("k", pos, 1, "twice"));
  auto r = st->commit(b2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->duplicates.size(), 1u);
  EXPECT_TRUE(r->consumed.empty());
  EXPECT_EQ(state_of("k"), "once@1");
}

TEST_F(StoreTest, ARetryKeepsTheEventQueuedAndARecordUntilItIsSettled) {
  write_batch b;
  b.appends.push_back(append("k", priority::normal));
  ASSERT_TRUE(st->commit(b));
  auto pos = st->read_queue(stage, {priority::normal, 0}, 1)->front().pos;
  v1::RetryRecord rec;
  rec.set_priority(1);
  rec.set_seq(pos.seq);
  rec.set_due_ts_ns(12345);
  rec.add_attempts()->set_error("first try failed");
  write_batch b1;
  auto c = complete("k", pos, 0, "failed-once");
  c.retry = rec.SerializeAsString();
  c.retry_due_ns = 12345;
  b1.completions.push_back(std::move(c));
  auto r = st->commit(b1);
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->retried.size(), 1u);
  EXPECT_EQ(r->retried[0].due_ns, 12345);
  EXPECT_TRUE(r->consumed.empty());
  EXPECT_EQ(*st->queue_depth(stage), (std::array<std::uint64_t, 2>{0, 1}));
  auto pending = st->read_retry(stage, "k");
  ASSERT_TRUE(pending && *pending);
  EXPECT_EQ((*pending)->pos, pos);
  EXPECT_EQ(st->scan_retries(stage)->size(), 1u);
  // The next try succeeds: the entry is consumed, the record goes.
  write_batch b2;
  auto ok = complete("k", pos, 1, "done");
  ok.clear_retry = true;
  b2.completions.push_back(std::move(ok));
  ASSERT_TRUE(st->commit(b2));
  EXPECT_FALSE(*st->read_retry(stage, "k"));
  EXPECT_EQ(*st->queue_depth(stage), (std::array<std::uint64_t, 2>{0, 0}));
  EXPECT_EQ(state_of("k"), "done@2");
}

TEST_F(StoreTest, AStatusRecordsTheQueueEntryItWaitsForAndARedriveChecksIt) {
  auto next = st->register_stage("score", "package.score");
  ASSERT_TRUE(next);
  write_batch b;
  b.appends.push_back(append("k", priority::normal));
  ASSERT_TRUE(st->commit(b));
  auto pos = st->read_queue(stage, {priority::normal, 0}, 1)->front().pos;
  v1::KeyStatus status;
  status.set_stage("score");
  status.set_phase(v1::PHASE_QUEUED);
  write_batch b1;
  auto c = complete("k", pos, 0, "parsed");
  c.key_status = status.SerializeAsString();
  event out;
  out.key = "k";
  c.emits.push_back({*next, priority::normal, encode_event(out)});
  c.status_emit = 0;
  b1.completions.push_back(std::move(c));
  ASSERT_TRUE(st->commit(b1));
  auto emitted = st->read_queue(*next, {priority::normal, 0}, 1)->front().pos;
  std::string seen;
  bool waits = false;
  ASSERT_TRUE(st->scan_status([&](auto&, const std::string& bytes, bool w) {
    seen = bytes;
    waits = w;
    return true;
  }));
  v1::KeyStatus got;
  ASSERT_TRUE(got.ParseFromString(seen));
  EXPECT_TRUE(got.queued_known());
  EXPECT_EQ(got.queued_seq(), emitted.seq);
  EXPECT_TRUE(waits);
  // While the entry is queued, a re-drive changes nothing.
  redrive rd{"k", seen, *next, append("k", priority::normal), seen};
  write_batch b2;
  b2.redrives.push_back(rd);
  auto r2 = st->commit(b2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->redriven, 0u);
  // Lost behind the runtime's back: now the re-drive applies, once.
  ASSERT_TRUE(*st->delete_entry(*next, emitted));
  ASSERT_TRUE(st->scan_status([&](auto&, const std::string&, bool w) {
    waits = w;
    return true;
  }));
  EXPECT_FALSE(waits);
  write_batch b3;
  b3.redrives.push_back(rd);
  auto r3 = st->commit(b3);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->redriven, 1u);
  write_batch b4;
  b4.redrives.push_back(rd); // the status moved on: no second re-drive
  EXPECT_EQ(st->commit(b4)->redriven, 0u);
}

TEST_F(StoreTest, ACompletionAheadOfItsPredecessorIsDeferred) {
  write_batch b;
  b.appends.push_back(append("k", priority::normal));
  b.appends.push_back(append("k", priority::urgent));
  ASSERT_TRUE(st->commit(b));
  auto n = st->read_queue(stage, {priority::normal, 0}, 1)->front().pos;
  auto u = st->read_queue(stage, {priority::urgent, 0}, 1)->front().pos;
  // The actor processed n (v0 -> v1) then u (v1 -> v2), but u's completion
  // reaches the store first.
  write_batch b1;
  b1.completions.push_back(complete("k", u, 1, "after-u"));
  auto r1 = st->commit(b1);
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->deferred.size(), 1u);
  EXPECT_EQ(state_of("k"), "<none>");
  write_batch b2;
  b2.completions.push_back(complete("k", n, 0, "after-n"));
  b2.completions.push_back(std::move(r1->deferred.front()));
  auto r2 = st->commit(b2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->consumed.size(), 2u);
  EXPECT_EQ(state_of("k"), "after-u@2");
}

TEST_F(StoreTest, ACorruptStateRecordIsReportedWithItsKey) {
  ASSERT_TRUE(st->put_raw("state", keys::state_key(stage, "bad"), "xy"));
  auto s = st->read_state(stage, "bad");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::corrupt);
  EXPECT_NE(s.error().message.find("'bad'"), std::string::npos);
}

TEST_F(StoreTest, ReadOnlyOpenOfAMissingDirectoryNamesIt) {
  auto s = store::open({dir + "/nope", std::uint64_t{1} << 30, true, true});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::not_found);
  EXPECT_NE(s.error().message.find(dir + "/nope"), std::string::npos);
}

TEST_F(StoreTest, AFileInPlaceOfTheDirectoryIsAClearError) {
  auto file = dir + "/plain";
  { std::ofstream(file) << "x"; }
  auto s = store::open({file});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("is not a directory"), std::string::npos);
}

TEST_F(StoreTest, AnEventPublishedOnceIsQueuedOnceWhateverTheResends) {
  auto once = [&](const std::string& key, const std::string& id,
                  bool follow = false) {
    auto a = append(key, priority::normal);
    if (follow)
      a.dedupe_follow = true;
    else
      a.dedupe_id = id;
    return a;
  };
  // One event on two routes: the id is checked once, the route follows.
  write_batch b;
  b.appends.push_back(once("k", "http:1"));
  b.appends.push_back(once("k", "", true));
  b.appends.push_back(once("m", "http:2"));
  auto r = st->commit(b);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->deduplicated, 0u);
  EXPECT_TRUE(r->skipped_appends.empty());
  EXPECT_EQ((*st->queue_depth(stage))[1], 3u);

  // Resent, alone and beside a new one, and twice within one batch: only
  // the new one is queued, and both routes of a resent event are dropped.
  write_batch again;
  again.appends.push_back(once("k", "http:1"));
  again.appends.push_back(once("k", "", true));
  again.appends.push_back(once("n", "http:3"));
  again.appends.push_back(once("n", "http:3"));
  r = st->commit(again);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->deduplicated, 2u);
  // Which were dropped: the replicated store appends only the others again
  // when their shard is lost before they were replicated.
  EXPECT_EQ(r->skipped_appends, (std::vector<std::size_t>{0, 1, 3}));
  EXPECT_EQ((*st->queue_depth(stage))[1], 4u);

  // Events published without `once` are never dropped.
  write_batch plain;
  plain.appends.push_back(append("k", priority::normal));
  plain.appends.push_back(append("k", priority::normal));
  ASSERT_TRUE(st->commit(plain));
  EXPECT_EQ((*st->queue_depth(stage))[1], 6u);

  // Ids survive a reopen, and are forgotten once pruned.
  reopen();
  write_batch later;
  later.appends.push_back(once("m", "http:2"));
  r = st->commit(later);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->deduplicated, 1u);
  auto pruned = st->prune_seen(INT64_MAX);
  ASSERT_TRUE(pruned) << pruned.error().describe();
  EXPECT_EQ(*pruned, 3u);
  write_batch after;
  after.appends.push_back(once("m", "http:2"));
  r = st->commit(after);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->deduplicated, 0u);
  EXPECT_EQ((*st->queue_depth(stage))[1], 7u);
}

TEST_F(StoreTest, CreatesAPrivateDataDirectoryEvenUnderAPermissiveUmask) {
  st.reset();
  auto nested = dir + "/tenant/data";
  auto old = ::umask(0);
  auto s = store::open({nested});
  ::umask(old);
  ASSERT_TRUE(s) << s.error().describe();
  auto mode = [](const std::string& p) {
    struct stat sb {};
    EXPECT_EQ(::stat(p.c_str(), &sb), 0) << p;
    return sb.st_mode & 0777;
  };
  EXPECT_EQ(mode(nested), 0700u);
  EXPECT_EQ(mode(nested + "/data.mdb"), 0600u);
  EXPECT_EQ(mode(nested + "/lock.mdb"), 0600u);
}
