// A shard's epoch history: its encoding and questions, and the gap it
// closes end to end in the store: an event a member appends again after
// losing its shard is dropped by the new owner when the record that first
// queued it survived into the promoted copy, taken when it did not, and
// the history travels with the shard through a snapshot and a second
// promotion.
#include "epoch_history.hpp"

#include <gtest/gtest.h>

#include "replication_test_support.hpp"

namespace sluice::cluster_store_test {

namespace {

TEST(EpochHistory, EncodesAndParsesAndRefusesWhatIsNotAHistory) {
  epoch_history h{{1, 40}, {3, 77}};
  EXPECT_EQ(parse_epoch_history(encode_epoch_history(h)), h);
  EXPECT_EQ(parse_epoch_history(""), epoch_history{});
  EXPECT_FALSE(parse_epoch_history("short"));
  EXPECT_FALSE(parse_epoch_history(encode_epoch_history({{3, 1}, {2, 5}})));
}

TEST(EpochHistory, ARecordSurvivedOnlyUpToItsEpochsEnd) {
  auto h = with_ended_epoch({}, 2, 50);
  h = with_ended_epoch(h, 4, 90);
  EXPECT_TRUE(survived(h, {2, 50}));
  EXPECT_FALSE(survived(h, {2, 51}));
  EXPECT_FALSE(survived(h, {3, 60})); // an epoch whose records all died
  EXPECT_TRUE(survived(h, {4, 61}));
  EXPECT_FALSE(survived(h, {5, 1})); // not ended here
  // A copy ends at an epoch it knows no later one of.
  EXPECT_EQ(with_ended_epoch(h, 3, 70), (epoch_history{{2, 50}, {3, 70}}));
}

TEST(EpochHistory, KeepsOnlyTheNewestEpochs) {
  epoch_history h;
  for (std::uint64_t e = 1; e <= epoch_history_max + 5; ++e)
    h = with_ended_epoch(h, e, e * 10);
  ASSERT_EQ(h.size(), epoch_history_max);
  EXPECT_EQ(h.front().first, 6u);
  EXPECT_FALSE(survived(h, {1, 10})); // forgotten: queued again
}

/// a owns S with b following it; a loses S to b with one commit of fed
/// events shipped and one not, and appends both again.
struct ReappendDedupe : Replication {
  /// (epoch, seq) of the record commit `r` wrote for S.
  static repl_position written(const commit_report& r) {
    EXPECT_EQ(r.replicated.count(S), 1u);
    EXPECT_EQ(r.replicated_epochs.count(S), 1u);
    return {r.replicated_epochs.count(S) ? r.replicated_epochs.at(S) : 0,
            r.replicated.count(S) ? r.replicated.at(S) : 0};
  }

  static forward_receipt receive(member& m, const std::string& sender,
                                 std::vector<forwarded_event> evs) {
    auto r = m.st->receive_forwarded(sender, std::move(evs));
    EXPECT_TRUE(r) << r.error().describe();
    return r ? *r : forward_receipt{};
  }

  /// The ids queued in `m`'s parse stage.
  static std::vector<std::string> parse_ids(member& m) {
    return ids_of(queue(m, m.parse, priority::normal));
  }
};

TEST_F(ReappendDedupe, AnEventAppendedAgainIsDroppedWhereItsRecordSurvived) {
  snapshot(S);
  write_batch one;
  one.appends = {append(a.parse, k, "k#1")};
  auto first = written(commit(a, std::move(one)));
  ship(S); // b holds k#1; a never hears that it does
  write_batch two;
  two.appends = {append(a.parse, k, "k#2")};
  auto second = written(commit(a, std::move(two)));
  EXPECT_EQ(first.epoch, second.epoch);
  EXPECT_LT(first.seq, second.seq);

  // b takes S over at the next epoch; a gives it up and appends both
  // events again, each naming where it first wrote it.
  ASSERT_TRUE(b.st->promote_replica({S}, first.epoch + 1));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 2));
  ASSERT_TRUE(a.st->release_shards({S}));
  write_batch again;
  again.appends = {append(a.parse, k, "k#1"), append(a.parse, k, "k#2")};
  again.appends[0].written_at = first;
  again.appends[1].written_at = second;
  EXPECT_EQ(commit(a, std::move(again)).outboxed, 2u);
  auto sent = outbox_of(a);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].written_at, first);
  EXPECT_EQ(sent[1].written_at, second);
  EXPECT_EQ(id_of(sent[1].event_bytes), "k#2");

  // k#1 is in b's data already (imported from its copy); k#2 is not.
  EXPECT_EQ(parse_ids(b), std::vector<std::string>{"k#1"});
  auto r = receive(b, "a", sent);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(parse_ids(b), (std::vector<std::string>{"k#1", "k#2"}));
  // Sent again (the acknowledgement lost): both are duplicates now.
  EXPECT_EQ(receive(b, "a", sent).duplicates, 2u);

  // The history travels with S: a follows b from b's snapshot and takes S
  // over at the epoch after b's. An entry naming k#1's first record, above
  // every watermark (a later outbox seq), is still told apart there.
  std::vector<std::string> chunks;
  auto at = b.st->snapshot_shard(S, 256, [&](std::string&& c) {
    chunks.push_back(std::move(c));
    return true;
  });
  ASSERT_TRUE(at) << at.error().describe();
  ASSERT_TRUE(a.st->install_snapshot(S, *at, chunks));
  ASSERT_TRUE(a.st->promote_replica({S}, at->epoch + 1));
  auto late = sent[0];
  late.seq += 100;
  auto probe = receive(a, "a", {late});
  EXPECT_EQ(probe.duplicates, 1u);
  EXPECT_EQ(probe.accepted, 0u);
  // One naming k#2's first record, which b's copy never held, is taken.
  late.seq += 1;
  late.written_at = second;
  EXPECT_EQ(receive(a, "a", {late}).accepted, 1u);
}

TEST_F(ReappendDedupe, WithoutAWrittenPositionTheEventIsQueuedAgain) {
  snapshot(S);
  write_batch one;
  one.appends = {append(a.parse, k, "k#1")};
  commit(a, std::move(one));
  ship(S);
  auto at = a.st->replog_position(S);
  ASSERT_TRUE(at && *at);
  ASSERT_TRUE(b.st->promote_replica({S}, (*at)->epoch + 1));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 2));
  ASSERT_TRUE(a.st->release_shards({S}));
  write_batch again;
  again.appends = {append(a.parse, k, "k#1")};
  commit(a, std::move(again));
  auto sent = outbox_of(a);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(sent[0].written_at);
  // At least once, as before the history: nothing tells it apart.
  EXPECT_EQ(receive(b, "a", sent).accepted, 1u);
  EXPECT_EQ(parse_ids(b), (std::vector<std::string>{"k#1", "k#1"}));
}

} // namespace

} // namespace sluice::cluster_store_test
