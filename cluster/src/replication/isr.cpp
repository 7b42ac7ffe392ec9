// The owner tends each shard's in-sync replicas (Kafka's rule, with its
// fix): a caught-up follower is waited for *before* etcd adds it to the
// isr, and a lagging one leaves the isr in etcd *before* the owner stops
// waiting for it, so every member of the isr in etcd holds every
// acknowledged record; never below min_insync (the members left hold
// every acknowledged record, should the owner lose its disk). Also trims
// each shard's log below what every recently heard follower holds.
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>

#include "cluster_messages.hpp"
#include "replication/replication.hpp"

namespace sluice::cluster {

namespace {

constexpr auto trim_every = std::chrono::seconds(2);
constexpr auto isr_answer_limit = std::chrono::seconds(10);

bool in(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

/// Isr changes asked this tick, sent to the agent as one batch each.
struct asks {
  std::vector<isr_request> add, remove;
};

void ask(cluster_actor* self, std::uint32_t shard, replicated_shard& r,
         const std::string& f, bool add, asks& out) {
  auto& s = self->state;
  auto& fs = r.followers[f];
  isr_request q;
  q.shard = shard;
  q.requester = s.opts.name;
  q.member = f;
  if (fs.acked)
    q.member_position = {fs.acked->epoch, fs.acked->seq};
  // Kafka's rule: a follower that holds everything up to the watermark
  // may join (nothing acknowledged is missing from it).
  q.owner_position = {r.epoch, add ? r.hw : r.head};
  r.isr_asked[f] = clock::now();
  (add ? out.add : out.remove).push_back(std::move(q));
}

void send_asks(cluster_actor* self, std::vector<isr_request> qs, bool add) {
  if (qs.empty())
    return;
  self->state.log->info("asking the controller to {} {} isr entries",
                        add ? "add" : "remove", qs.size());
  auto me = caf::actor_cast<caf::actor>(self);
  auto keys =
      std::make_shared<std::vector<std::pair<std::uint32_t, std::string>>>();
  for (auto& q : qs)
    keys->emplace_back(q.shard, q.member);
  self->state.agent->change_isr_batch(
      std::move(qs), add, [me, keys, add](std::vector<result<void>> done) {
        for (std::size_t i = 0; i < keys->size() && i < done.size(); ++i)
          caf::anon_send(me, isr_done_atom::value, (*keys)[i].first,
                         (*keys)[i].second, add, bool(done[i]),
                         done[i] ? std::string() : done[i].error().describe());
      });
}

void trim_logs(cluster_actor* self) {
  auto& s = self->state;
  auto now = clock::now();
  if (now - s.last_trim < trim_every)
    return;
  s.last_trim = now;
  auto points =
      std::make_shared<std::vector<std::pair<std::uint32_t, std::uint64_t>>>();
  for (auto& [shard, r] : s.repl) {
    auto upto = r.hw;
    for (auto& [f, fs] : r.followers) {
      bool recent = now - fs.last_heard < 5 * s.opts.replica_lag_time;
      if (recent && fs.acked && takes_log(r, *fs.acked))
        upto = std::min(upto, fs.acked->seq);
      else if (recent)
        upto = 0; // catching up from a snapshot: keep the log for it
    }
    if (upto > r.trimmed)
      points->emplace_back(shard, upto);
  }
  if (points->empty())
    return;
  // All shards in one transaction: one fsync, not one per shard (the
  // store actor is blocked meanwhile, and commits wait behind it).
  store_call fn = [points](store& st) -> result<commit_report> {
    if (auto r = st.trim_replogs(*points); !r)
      return r.error();
    return commit_report{};
  };
  call_store(self, fn, [self, points](const result<void>& done) {
    auto& s = self->state;
    if (!done) {
      s.log->warn("trimming replication logs failed: {}",
                  done.error().describe());
      return;
    }
    for (auto& [shard, upto] : *points)
      if (auto r = s.repl.find(shard); r != s.repl.end())
        r->second.trimmed = std::max(r->second.trimmed, upto);
  });
}

} // namespace

void tend_isr(cluster_actor* self) {
  auto& s = self->state;
  if (!s.replicated || !s.agent || !s.lease_ok)
    return;
  auto now = clock::now();
  asks out;
  for (auto& [shard, r] : s.repl) {
    for (auto& [f, fs] : r.followers) {
      if (auto a = r.isr_asked.find(f); a != r.isr_asked.end()) {
        if (now - a->second < isr_answer_limit)
          continue;
        s.log->warn("shard {}: no answer from the controller agent to the "
                    "isr change of {} within {} s; asking again",
                    shard, f, isr_answer_limit.count());
        r.isr_asked.erase(a);
      }
      bool usable = fs.acked && takes_log(r, *fs.acked) && !fs.needs_snapshot;
      // (At this epoch: the controller compares positions, and one at a
      // promotion's base is below every position of the new epoch.)
      bool holds_acked =
          usable && fs.acked->epoch == r.epoch && fs.acked->seq >= r.hw;
      bool listed = in(r.isr, f);
      if (!listed && holds_acked) {
        r.waited.insert(f); // first wait for it, then tell etcd
        ask(self, shard, r, f, true, out);
        continue;
      }
      bool at_head = usable && fs.acked->seq >= r.head;
      bool lagging =
          !at_head && now - fs.caught_up_at > s.opts.replica_lag_time;
      if (!lagging || !r.waited.count(f))
        continue;
      // Never below min_insync: those left hold every acknowledged record
      // (should this owner lose its disk, they are where it is), and with
      // fewer nothing could be acknowledged anyway.
      auto need = isr_floor(s.opts.min_insync, r.replicas.size());
      if (listed && r.isr.size() > need)
        ask(self, shard, r, f, false, out); // etcd first, then stop waiting
      else if (!listed)
        r.waited.erase(f); // never confirmed in etcd: nothing to undo
    }
  }
  send_asks(self, std::move(out.add), true);
  send_asks(self, std::move(out.remove), false);
  trim_logs(self);
  update_watermarks(self);
}

} // namespace sluice::cluster
