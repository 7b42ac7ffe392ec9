// One outgoing hand-off (see handoff_sender.hpp). A crash of either side
// at any step resumes or rolls forward: the leaving mark is durable, the
// receiver wipes a partial transfer at the next begin, and answers a begin
// for shards it already committed with `already_owned`, after which only
// the local delete is left. Ownership never overlaps: the receiver
// dispatches only after its commit, and this member stopped dispatching
// before the first record left.
#include "handoff_sender.hpp"

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <thread>

#include "cluster_messages.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/v1/cluster.pb.h"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

constexpr auto answer_timeout = std::chrono::seconds(20);
constexpr auto drain_timeout = std::chrono::seconds(120);
constexpr std::size_t chunk_bytes = 1 << 20;
constexpr std::size_t window = 4; ///< chunks sent and not yet answered

/// The receiver's Reply to one hand-off message: ok (and, with `already`,
/// whether it owns the shards already), or why not.
result<void> read_answer(const std::string& bytes, bool* already) {
  v1::ClusterMessage r;
  if (!r.ParseFromString(bytes) || !r.has_reply())
    return fail(errc::parse, "a malformed answer");
  if (!r.reply().ok())
    return error_of(r.reply());
  if (already)
    *already = r.reply().already_owned();
  return {};
}

void run(caf::blocking_actor* self, handoff_job job) {
  auto t0 = std::chrono::steady_clock::now();
  // The outcome, to the cluster actor: no error when the hand-off
  // finished, otherwise what stopped it (as a CAF error, kind kept).
  auto done = [&](result<void> outcome) {
    self->send(job.parent, handoff_atom::value, job.transfer,
               outcome ? caf::error{} : to_caf_error(outcome.error()));
  };
  auto call_store = [&](store_call fn) -> result<void> {
    result<void> out;
    self->request(job.ctx.store_actor, caf::infinite,
                  ext::store_call_atom::value, std::move(fn))
        .receive([] {}, [&](caf::error& e) { out = from_caf_error(e); });
    return out;
  };
  // The receiver's answer to one message: ok, or why not.
  auto ask = [&](const v1::ClusterMessage& m, bool* already) -> result<void> {
    result<void> out;
    self->request(job.parent, answer_timeout, relay_atom::value,
                  job.target_name, m.SerializeAsString())
        .receive([&](std::string& bytes) { out = read_answer(bytes, already); },
                 [&](caf::error& e) { out = from_caf_error(e); });
    return out;
  };

  // 1. Stop dispatching the shards; their new events go to the outbox.
  if (!job.resuming) {
    auto shards = job.shards;
    auto target = job.target_name;
    auto transfer = job.transfer;
    auto marked = call_store([=](store& st) -> result<commit_report> {
      if (auto r = st.mark_leaving(shards, target, transfer); !r)
        return r.error();
      return commit_report{};
    });
    if (!marked)
      return done(marked.error().within("marking shards leaving"));
  }

  // 2. Wait until none of their events is in flight; the stages forget
  //    their keys meanwhile.
  std::vector<caf::actor> stages;
  self->request(job.ctx.supervisor, answer_timeout, ext::stages_atom::value)
      .receive([&](std::vector<caf::actor>& v) { stages = std::move(v); },
               [&](caf::error&) {});
  auto deadline = std::chrono::steady_clock::now() + drain_timeout;
  while (true) {
    std::uint64_t busy = 0;
    bool asked = true;
    for (auto& st : stages)
      self->request(st, answer_timeout, ext::let_go_atom::value, job.shards)
          .receive([&](std::uint64_t n) { busy += n; },
                   [&](caf::error&) { asked = false; });
    if (asked && busy == 0)
      break;
    if (std::chrono::steady_clock::now() > deadline)
      return done(fail(errc::unavailable,
                       std::to_string(busy)
                           + " events of the shards are still in flight"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  // 3. Begin: the receiver wipes what an interrupted transfer left, or
  //    says it owns the shards already (it committed; we did not hear).
  v1::ClusterMessage begin;
  auto* b = begin.mutable_handoff_begin();
  b->set_from(job.from);
  b->set_transfer(job.transfer);
  b->set_epoch(job.epoch);
  for (auto sh : job.shards)
    b->add_shards(sh);
  bool already = false;
  if (auto begun = ask(begin, &already); !begun)
    return done(begun.error().within("begin"));

  std::size_t records = 0;
  if (!already) {
    // 4. Stream the records from one snapshot, a window of chunks at once.
    using handle =
        decltype(self->request(job.parent, answer_timeout, relay_atom::value,
                               std::string{}, std::string{}));
    std::deque<handle> waiting;
    result<void> streamed; ///< the first chunk's failure, if any
    auto settle_one = [&] {
      waiting.front().receive(
          [&](std::string& bytes) {
            if (auto r = read_answer(bytes, nullptr); !r && streamed)
              streamed = r;
          },
          [&](caf::error& e) {
            if (streamed)
              streamed = from_caf_error(e);
          });
      waiting.pop_front();
    };
    v1::ClusterMessage chunk;
    std::size_t bytes = 0;
    auto flush = [&] {
      if (chunk.handoff_chunk().records_size() == 0)
        return;
      chunk.mutable_handoff_chunk()->set_from(job.from);
      chunk.mutable_handoff_chunk()->set_transfer(job.transfer);
      if (waiting.size() >= window)
        settle_one();
      waiting.push_back(self->request(job.parent, answer_timeout,
                                      relay_atom::value, job.target_name,
                                      chunk.SerializeAsString()));
      chunk.Clear();
      bytes = 0;
    };
    auto scanned = job.ctx.st->scan_handoff(job.shards, [&](handoff_record& r) {
      auto* w = chunk.mutable_handoff_chunk()->add_records();
      w->set_kind(static_cast<std::uint32_t>(r.what));
      if (r.what != handoff_record::kind::status
          && r.what != handoff_record::kind::inbox) {
        auto n = job.stage_names.find(r.stage_id);
        if (n != job.stage_names.end())
          w->set_stage(n->second);
      }
      w->set_shard(r.shard);
      w->set_key(std::move(r.key));
      w->set_name(std::move(r.name));
      w->set_priority(static_cast<std::uint32_t>(r.pos.priority));
      w->set_seq(r.pos.seq);
      bytes += r.value.size() + 64;
      w->set_value(std::move(r.value));
      ++records;
      if (bytes >= chunk_bytes)
        flush();
      return streamed.has_value();
    });
    flush();
    while (!waiting.empty())
      settle_one();
    if (!scanned)
      return done(scanned.error().within("reading the shards"));
    if (!streamed)
      return done(streamed.error().within("streaming"));

    // 5. The receiver owns them from now on.
    v1::ClusterMessage commit;
    auto* c = commit.mutable_handoff_commit();
    c->set_from(job.from);
    c->set_transfer(job.transfer);
    c->set_epoch(job.epoch);
    for (auto sh : job.shards)
      c->add_shards(sh);
    if (auto committed = ask(commit, nullptr); !committed)
      return done(committed.error().within("commit"));
  }

  // 6. The shards are remote from now on (later events for them go to
  // their owner) and marked for purging, in a small transaction; the
  // hand-off is done then. Our copy is deleted after, so its size no
  // longer holds the shards away from their owner.
  auto shards = job.shards;
  if (auto handed = call_store([=](store& st) -> result<commit_report> {
        if (auto r = st.hand_over_shards(shards); !r)
          return r.error();
        return commit_report{};
      });
      !handed)
    return done(handed.error().within("handing over the shards"));
  if (job.shards_moved)
    job.shards_moved->add(job.shards.size());
  auto t1 = std::chrono::steady_clock::now();
  auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  job.log->info("handed off {} shards ({} records) to {} in {} ms",
                job.shards.size(), records, job.target_name, ms(t1 - t0));
  done({});
  // 7. Delete the copy. A failure leaves the marks: the next hand-off's
  // purge, or the next start, deletes what is left.
  std::size_t purged = 0;
  if (auto deleted = call_store([&](store& st) -> result<commit_report> {
        auto n = st.purge_handed_over();
        if (!n)
          return n.error();
        purged = *n;
        return commit_report{};
      });
      !deleted)
    job.log->error("deleting the handed-off copy failed (a later hand-off "
                   "or restart deletes it): {}",
                   deleted.error().describe());
  else if (purged > 0)
    job.log->info("deleted the copy of {} handed-off shards in {} ms", purged,
                  ms(std::chrono::steady_clock::now() - t1));
}

} // namespace

caf::actor spawn_handoff_sender(caf::actor_system& sys, handoff_job job) {
  return sys.spawn(run, std::move(job));
}

} // namespace sluice::cluster
