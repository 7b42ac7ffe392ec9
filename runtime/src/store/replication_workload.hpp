// The replication tests' workload: on member a, every kind of shard S's
// records put and deleted through every write site (appends, completions
// with states, statuses, retries, timers, emits to the outbox, dead
// letters; forwarded receipt, timer firing, outbox acknowledgement,
// dead-letter redrive, reconciler re-drive, direct deletes). Single-threaded.
#pragma once

#include "replication_test_support.hpp"

namespace sluice::cluster_store_test {

inline void
Replication::workload(const std::function<void(const std::string&)>& after) {
  // Fed: events of S queued; one of T goes to the outbox, the member's own.
  write_batch b1;
  b1.appends = {append(a.parse, k, "k#1"), append(a.parse, j, "j#1"),
                append(a.parse, k, "k#2", priority::urgent),
                append(a.parse, x, "x#fed")};
  auto r1 = commit(a, std::move(b1));
  EXPECT_EQ(r1.outboxed, 1u);
  EXPECT_EQ(r1.replicated.count(S), 1u);
  after("fed");

  // Processed: k#1 writes a state, a status waiting for its emit, two
  // durable timers, an emit in S and one to T (an outbox entry of S); j#1
  // fails and waits for a retry.
  auto ck = complete(a.parse, k, pos_of(a, a.parse, "k#1"), 0, "k-v1");
  ck.key_status = status("score", v1::PHASE_QUEUED);
  ck.emits = {append(a.score, k, "k#emit"), append(a.parse, x, "x#from-k")};
  ck.status_emit = 0;
  ck.timers = {{"remind", false, true, 5000, priority::normal,
                event_bytes(k, "k#timer")},
               {"later", false, true, 1'000'000, priority::urgent,
                event_bytes(k, "k#later")}};
  auto jpos = pos_of(a, a.parse, "j#1");
  auto cj = complete(a.parse, j, jpos, 0, "j-failed");
  v1::RetryRecord rec;
  rec.set_priority(1);
  rec.set_seq(jpos.seq);
  rec.set_due_ts_ns(9000);
  rec.set_event_id("j#1");
  cj.retry = rec.SerializeAsString();
  cj.retry_due_ns = 9000;
  cj.key_status = status("parse", v1::PHASE_RETRYING);
  write_batch b2;
  b2.completions.push_back(std::move(ck));
  b2.completions.push_back(std::move(cj));
  auto r2 = commit(a, std::move(b2));
  EXPECT_EQ(r2.consumed.size(), 1u);
  EXPECT_EQ(r2.retried.size(), 1u);
  after("processed");

  // Retried: j#1 succeeds; its retry and its entry go.
  auto cj2 = complete(a.parse, j, jpos, 1, "j-v2");
  cj2.clear_retry = true;
  cj2.key_status = status("parse", v1::PHASE_DONE);
  write_batch b3;
  b3.completions.push_back(std::move(cj2));
  EXPECT_EQ(commit(a, std::move(b3)).consumed.size(), 1u);
  after("retried");

  // k#2 cancels the timer "later".
  auto ck2 = complete(a.parse, k, pos_of(a, a.parse, "k#2"), 1, "k-v2");
  timer_op cancel;
  cancel.name = "later";
  cancel.cancel = true;
  ck2.timers = {cancel};
  write_batch b4;
  b4.completions.push_back(std::move(ck2));
  EXPECT_EQ(commit(a, std::move(b4)).consumed.size(), 1u);
  after("timer cancelled");

  // Dead-lettered: k#emit fails for good; k's status still waits for it.
  auto cd = complete(a.score, k, pos_of(a, a.score, "k#emit"), 0, "k-lost");
  cd.dead_letter = dead_letter_record("score", k, event_bytes(k, "k#emit"),
                                      {{1, 1, "boom"}});
  write_batch b5;
  b5.completions.push_back(std::move(cd));
  EXPECT_EQ(commit(a, std::move(b5)).dead_letters, 1u);
  after("dead-lettered");

  // Forwarded: another member sends an event of S.
  auto fr = a.st->receive_forwarded(
      "m3",
      {{S, 1, a.parse, priority::normal, k, event_bytes(k, "k#fwd"), {}}});
  ASSERT_TRUE(fr) << fr.error().describe();
  EXPECT_EQ(fr->accepted, 1u);
  EXPECT_EQ(fr->replicated.size(), 1u);
  after("forwarded");

  // The timer "remind" fires into parse's queue.
  write_batch b7;
  b7.timer_fires.push_back({a.parse, 6000});
  EXPECT_EQ(commit(a, std::move(b7)).timers_fired, 1u);
  after("timer fired");

  // The outbox is acknowledged: x#fed (nobody's) and x#from-k (S's).
  auto ob = a.st->read_outbox({priority::urgent, 0}, 100);
  ASSERT_TRUE(ob);
  EXPECT_EQ(ob->size(), 2u);
  std::vector<keys::queue_pos> done;
  for (auto& e : *ob)
    done.push_back(e.pos);
  ASSERT_TRUE(a.st->delete_outbox(done));
  after("outbox acknowledged");

  // The dead letter is redriven into score.
  std::vector<store::dead_letter_ref> dls;
  ASSERT_TRUE(a.st->scan_dead_letters(
      [&](std::uint32_t stage, std::uint64_t seq, const std::string&) {
        dls.emplace_back(stage, seq);
        return true;
      }));
  ASSERT_EQ(dls.size(), 1u);
  ASSERT_TRUE(a.st->redrive_dead_letters(dls));
  after("dead letter redriven");

  // k's status waits for an entry that is gone: the reconciler re-drives.
  auto seen = a.st->read_status(k);
  ASSERT_TRUE(seen && *seen);
  write_batch b10;
  b10.redrives.push_back({k, **seen, a.score, append(a.score, k, "k#reconcile"),
                          status("score", v1::PHASE_QUEUED)});
  EXPECT_EQ(commit(a, std::move(b10)).redriven, 1u);
  after("re-driven");

  // Writes behind the runtime's back: one entry lost, then a whole queue.
  auto lost = a.st->delete_entry(a.score, pos_of(a, a.score, "k#reconcile"));
  ASSERT_TRUE(lost && *lost);
  after("entry deleted");
  ASSERT_TRUE(a.st->clear_queue(a.score));
  after("queue cleared");

  // Fed again, then k#fwd fails (a retry), j#3 is dead-lettered with a
  // timer set, and an emit to T waits in the outbox.
  write_batch b13;
  b13.appends = {append(a.parse, j, "j#3"), append(a.score, k, "k#4")};
  commit(a, std::move(b13));
  after("fed again");
  auto fpos = pos_of(a, a.parse, "k#fwd");
  auto cf = complete(a.parse, k, fpos, 2, "k-v3");
  v1::RetryRecord again;
  again.set_priority(1);
  again.set_seq(fpos.seq);
  again.set_due_ts_ns(7777);
  again.set_event_id("k#fwd");
  cf.retry = again.SerializeAsString();
  cf.retry_due_ns = 7777;
  cf.emits = {append(a.parse, x, "x#again")};
  auto cj3 = complete(a.parse, j, pos_of(a, a.parse, "j#3"), 2, "j-v3");
  cj3.dead_letter =
      dead_letter_record("parse", j, event_bytes(j, "j#3"), {{1, 2, "bad"}});
  cj3.timers = {{"again", false, true, 1'000'000'000, priority::normal,
                 event_bytes(j, "j#again")}};
  write_batch b14;
  b14.completions.push_back(std::move(cf));
  b14.completions.push_back(std::move(cj3));
  auto r14 = commit(a, std::move(b14));
  EXPECT_EQ(r14.retried.size(), 1u);
  EXPECT_EQ(r14.dead_letters, 1u);
  after("failing again");
}

} // namespace sluice::cluster_store_test
