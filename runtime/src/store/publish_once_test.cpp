// Publish-once ids across openings of a replicated store: a client's retry
// of an event an earlier opening (a member killed -9 and restarted) queued
// in a shard's log is dropped only when that log record survived into the
// shard's data; otherwise it is appended again naming the record, and the
// shard's owner takes it if its copy never held the record. Within one
// opening the replication gate decides, as before.
#include <gtest/gtest.h>

#include "replication_test_support.hpp"
#include "sluice/store/store.hpp"

namespace sluice::cluster_store_test {

namespace {

struct PublishOnce : Replication {
  /// The webhook's append: the event's id is its publish-once id.
  static queue_append once(std::uint32_t stage, const std::string& key,
                           const std::string& id) {
    auto a = append(stage, key, id);
    a.key = key;
    a.dedupe_id = id;
    return a;
  }

  /// `id` (an event of k, in S) published through a.
  commit_report publish(const std::string& id) {
    write_batch b;
    b.appends = {once(a.parse, k, id)};
    return commit(a, std::move(b));
  }

  /// S goes to b at the next epoch from b's copy as it stands (a dies
  /// with the rest); a gives S up.
  void fail_over_to_b() {
    auto at = a.st->replog_position(S);
    ASSERT_TRUE(at && *at);
    auto promoted = b.st->promote_replica({S}, (*at)->epoch + 1);
    ASSERT_TRUE(promoted) << promoted.error().describe();
    ASSERT_TRUE(a.st->mark_leaving({S}, "b", 2));
    ASSERT_TRUE(a.st->release_shards({S}));
  }

  /// b's parse queue, as ids.
  std::vector<std::string> queued_at_b() {
    return ids_of(queue(b, b.parse, priority::normal));
  }
};

TEST_F(PublishOnce, ARetryAfterARestartWaitsForTheLogThatHoldsTheOriginal) {
  auto first = publish("pub#1");
  ASSERT_EQ(first.replicated.count(S), 1u);
  auto queued_at = first.replicated.at(S);
  // The same opening: a duplicate, the gate orders the answers.
  auto again = publish("pub#1");
  EXPECT_EQ(again.deduplicated, 1u);
  EXPECT_TRUE(again.awaits.empty());

  // Restarted, still the owner at the same epoch: the record is in a's own
  // log, perhaps not yet on any replica, so the answer waits for it.
  ASSERT_NO_FATAL_FAILURE(open(a, true));
  auto later = publish("pub#1");
  EXPECT_EQ(later.deduplicated, 1u);
  EXPECT_EQ(later.outboxed, 0u);
  ASSERT_EQ(later.awaits.count(S), 1u);
  EXPECT_GE(later.awaits.at(S), queued_at);
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            std::vector<std::string>{"pub#1"});
}

TEST_F(PublishOnce, ARetryOfAnEventLostWithTheOwnerIsTakenOnceByTheNewOwner) {
  snapshot(S); // b's copy: from before the event
  auto first = publish("pub#1");
  ASSERT_EQ(first.replicated.count(S), 1u);
  auto written =
      repl_position{first.replicated_epochs.at(S), first.replicated.at(S)};
  // a is killed -9 before b applied the record; S fails over without it.
  ASSERT_NO_FATAL_FAILURE(open(a, true));
  ASSERT_NO_FATAL_FAILURE(fail_over_to_b());

  // The client's retry through a is not dropped: it goes to b, naming
  // where a had queued it.
  auto retry = publish("pub#1");
  EXPECT_EQ(retry.deduplicated, 0u);
  EXPECT_EQ(retry.outboxed, 1u);
  ASSERT_EQ(retry.member_outbox.size(), 1u);
  auto out = outbox_of(a);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].written_at);
  EXPECT_EQ(*out[0].written_at, written);
  auto took = b.st->receive_forwarded("a", out);
  ASSERT_TRUE(took) << took.error().describe();
  EXPECT_TRUE(took->refused_shards.empty());
  EXPECT_EQ(took->accepted, 1u);
  EXPECT_EQ(queued_at_b(), std::vector<std::string>{"pub#1"});

  // From then on the event is a's own (its outbox held it): dropped, in
  // this opening and the next.
  EXPECT_EQ(publish("pub#1").deduplicated, 1u);
  ASSERT_NO_FATAL_FAILURE(open(a, true));
  auto next = publish("pub#1");
  EXPECT_EQ(next.deduplicated, 1u);
  EXPECT_EQ(next.outboxed, 0u);
}

TEST_F(PublishOnce, ARetryOfAnEventThatSurvivedTheFailoverIsADuplicateThere) {
  snapshot(S);
  publish("pub#1");
  ship(S); // b holds the record
  ASSERT_NO_FATAL_FAILURE(open(a, true));
  ASSERT_NO_FATAL_FAILURE(fail_over_to_b());
  EXPECT_EQ(queued_at_b(), std::vector<std::string>{"pub#1"});

  auto retry = publish("pub#1");
  EXPECT_EQ(retry.outboxed, 1u);
  auto took = b.st->receive_forwarded("a", outbox_of(a));
  ASSERT_TRUE(took) << took.error().describe();
  EXPECT_EQ(took->accepted, 0u);
  EXPECT_EQ(took->duplicates, 1u);
  EXPECT_EQ(queued_at_b(), std::vector<std::string>{"pub#1"});
}

TEST_F(PublishOnce, AnEventAppendedAgainForALostShardIsThisMembersOwnAfter) {
  snapshot(S);
  auto first = publish("pub#1");
  auto written =
      repl_position{first.replicated_epochs.at(S), first.replicated.at(S)};
  ASSERT_NO_FATAL_FAILURE(fail_over_to_b());
  // The gate appends the lost shard's event again (replicated_answers).
  auto again = once(a.parse, k, "pub#1");
  again.appended_again = true;
  again.written_at = written;
  write_batch b1;
  b1.appends = {again};
  auto r = commit(a, std::move(b1));
  EXPECT_EQ(r.deduplicated, 0u);
  EXPECT_EQ(r.outboxed, 1u);
  // Killed before forwarding it: the outbox entry is durable here, so a
  // retry after the restart is a duplicate, not a second entry.
  ASSERT_NO_FATAL_FAILURE(open(a, true));
  auto retry = publish("pub#1");
  EXPECT_EQ(retry.deduplicated, 1u);
  EXPECT_EQ(outbox_of(a).size(), 1u);
}

} // namespace

} // namespace sluice::cluster_store_test
