// Hand-offs as the cluster actor sees them: starting an outgoing one when
// the shard map gives shards this member owns to another (or resuming one
// a restart interrupted), and taking an incoming one: begin (wipe what an
// interrupted transfer left), chunks (written, not yet owned), commit (the
// shards are owned here from now on, at the new epoch).
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <cstring>

#include "cluster_messages.hpp"
#include "cluster_state.hpp"
#include "handoff_sender.hpp"
#include "links.hpp"
#include "sluice/secret.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

std::vector<std::uint32_t>
shards_of(const google::protobuf::RepeatedField<std::uint32_t>& in) {
  return {in.begin(), in.end()};
}

std::string store_result(const result<void>& stored) {
  return stored ? reply_ok() : reply_error(stored.error());
}

} // namespace

void maybe_hand_off(cluster_actor* self) {
  if (self->state.replicated)
    return; // ownership moves only by the controller (replication/)
  auto& s = self->state;
  if (s.handoff || !s.joined || s.stopping || clock::now() < s.handoff_retry)
    return;
  // Every heartbeat asks: the placement answers from memory whether any
  // shard is leaving or belongs elsewhere; only then are records read.
  bool due = !s.place->shards_in(shard_state::leaving).empty();
  for (auto sh : s.place->shards_in(shard_state::owned)) {
    if (due)
      break;
    auto& owner = s.desired.owner(sh);
    due = !owner.empty() && owner != s.opts.name;
  }
  if (!due)
    return;
  auto records = s.ctx.st->shard_records();
  if (!records) {
    s.log->error("reading shard records failed: {}",
                 records.error().describe());
    return;
  }
  // A hand-off under way before a restart resumes with its target: that
  // member may already own the shards.
  std::string target;
  std::uint64_t transfer = 0;
  std::vector<std::uint32_t> shards;
  std::uint64_t epoch = 0;
  bool resuming = false;
  for (auto& r : *records)
    if (r.leaving && (target.empty() || r.target == target)) {
      if (target.empty() && !ready_link(s, r.target))
        continue;
      target = r.target;
      transfer = r.transfer;
      shards.push_back(r.shard);
      epoch = std::max(epoch, r.epoch);
      resuming = true;
    }
  if (!resuming) {
    // Otherwise: the owned shards the map gives to another member, for the
    // first such member that is reachable.
    std::map<std::string, std::vector<const shard_record*>> by_target;
    for (auto& r : *records) {
      auto& owner = s.desired.owner(r.shard);
      if (!r.leaving && !owner.empty() && owner != s.opts.name
          && ready_link(s, owner))
        by_target[owner].push_back(&r);
    }
    if (by_target.empty())
      return;
    target = by_target.begin()->first;
    for (auto* r : by_target.begin()->second) {
      shards.push_back(r->shard);
      epoch = std::max(epoch, r->epoch);
    }
    // Unique across members and restarts: receivers tell transfers apart
    // by (sender, id), and a restarted sender resumes its recorded id.
    auto bytes = random_bytes(8);
    std::memcpy(&transfer, bytes.data(), sizeof transfer);
  }
  if (shards.empty())
    return;
  auto* l = ready_link(s, target);
  if (!l)
    return;
  handoff_job job;
  job.transfer = transfer;
  job.shards = std::move(shards);
  job.epoch = epoch + 1;
  job.from = s.opts.name;
  job.target_name = target;
  job.target = l->handle;
  job.resuming = resuming;
  job.ctx = s.ctx;
  job.parent = caf::actor_cast<caf::actor>(self);
  job.stage_names = s.stage_names;
  job.log = s.log;
  job.shards_moved = s.shards_moved;
  s.handoff_transfer = transfer;
  s.handoff_started = clock::now();
  s.log->info("{} {} shards to {} (transfer {}, epoch {})",
              resuming ? "resuming the hand-off of" : "handing off",
              job.shards.size(), target, transfer, job.epoch);
  s.handoff = spawn_handoff_sender(self->system(), std::move(job));
}

caf::result<std::string> receive_handoff(cluster_actor* self,
                                         const std::string& from,
                                         v1::ClusterMessage& m) {
  auto& s = self->state;
  // Each branch makes its response promise only once it knows it answers
  // later: in CAF 0.17 a promise takes the request over, so an answer
  // returned after one was made is dropped (the "already owned" answer to a
  // resumed hand-off was lost that way, and its sender retried for ever).
  if (m.has_handoff_begin()) {
    auto& b = m.handoff_begin();
    auto shards = shards_of(b.shards());
    bool all_owned = !shards.empty();
    for (auto sh : shards)
      all_owned = all_owned && sh < shard_count
                  && s.place->state(sh) == shard_state::owned;
    if (all_owned) {
      // We committed it before; the sender did not hear back.
      v1::ClusterMessage r;
      r.mutable_reply()->set_ok(true);
      r.mutable_reply()->set_already_owned(true);
      return r.SerializeAsString();
    }
    // A member runs one transfer at a time: an older one from it was cut.
    for (auto i = s.incoming.begin(); i != s.incoming.end();)
      i = i->second.from == from ? s.incoming.erase(i) : std::next(i);
    s.incoming[{from, b.transfer()}] = {from, shards, b.epoch()};
    auto rp = self->make_response_promise<std::string>();
    call_store(
        self,
        [shards](store& st) -> result<commit_report> {
          if (auto r = st.begin_import(shards); !r)
            return r.error();
          return commit_report{};
        },
        [self, rp, from, shards](const result<void>& stored) mutable {
          if (stored)
            self->state.log->info("taking over {} shards from {}",
                                  shards.size(), from);
          rp.deliver(store_result(stored));
        });
    return rp;
  }
  if (m.has_handoff_chunk()) {
    auto& c = *m.mutable_handoff_chunk();
    if (!s.incoming.count({from, c.transfer()}))
      return reply_error(fail(errc::not_found,
                              "unknown transfer " + std::to_string(c.transfer())
                                  + " (begin it again)"));
    std::vector<handoff_record> recs;
    recs.reserve(static_cast<std::size_t>(c.records_size()));
    for (auto& w : *c.mutable_records()) {
      handoff_record r;
      if (w.kind()
              == static_cast<std::uint32_t>(handoff_record::kind::dead_letter)
          || w.kind()
                 == static_cast<std::uint32_t>(handoff_record::kind::outbox)
          || w.kind() > static_cast<std::uint32_t>(
                 handoff_record::kind::changelog_bound))
        return reply_error(fail(errc::parse, "unknown hand-off record kind "
                                                 + std::to_string(w.kind())));
      r.what = static_cast<handoff_record::kind>(w.kind());
      if (!w.stage().empty()) {
        auto id = s.stage_ids.find(w.stage());
        if (id == s.stage_ids.end())
          return reply_error(
              fail(errc::config, "stage '" + w.stage()
                                     + "' is not in this member's topology"));
        r.stage_id = id->second;
      }
      r.shard = w.shard();
      r.key = std::move(*w.mutable_key());
      r.name = std::move(*w.mutable_name());
      r.pos = {w.priority() == 0 ? priority::urgent : priority::normal,
               w.seq()};
      r.value = std::move(*w.mutable_value());
      recs.push_back(std::move(r));
    }
    auto rp = self->make_response_promise<std::string>();
    call_store(
        self,
        [recs = std::move(recs)](store& st) mutable -> result<commit_report> {
          if (auto r = st.import_handoff(std::move(recs)); !r)
            return r.error();
          return commit_report{};
        },
        [rp](const result<void>& stored) mutable {
          rp.deliver(store_result(stored));
        });
    return rp;
  }
  auto& c = m.handoff_commit();
  auto i = s.incoming.find({from, c.transfer()});
  if (i == s.incoming.end())
    return reply_error(fail(errc::not_found, "unknown transfer "
                                                 + std::to_string(c.transfer())
                                                 + " (begin it again)"));
  auto shards = i->second.shards;
  auto epoch = c.epoch();
  auto rp = self->make_response_promise<std::string>();
  call_store(
      self,
      [shards, epoch](store& st) -> result<commit_report> {
        return st.acquire_shards(shards, epoch);
      },
      [self, rp, shards, from,
       transfer = c.transfer()](const result<void>& stored) mutable {
        auto& s = self->state;
        s.incoming.erase({from, transfer});
        if (stored) {
          s.handoffs_in->add();
          s.log->info("took over {} shards from {}", shards.size(), from);
          for (auto sh : shards)
            s.refused_until.erase(sh);
          s.outbox_dirty = true;
          pump_outbox(self);
          recompute(self);
        }
        rp.deliver(store_result(stored));
      });
  return rp;
}

} // namespace sluice::cluster
