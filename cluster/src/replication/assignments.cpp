// The controller's table applied here: the store claims, promotes, gives
// up and drops shards as the table says (one store call, in that order),
// the forwarder's owners follow the table, and the owner's bookkeeping of
// its followers is brought up to date.
#include <caf/event_based_actor.hpp>

#include <utility>

#include "cluster_messages.hpp"
#include "replication/replication.hpp"
#include "replication/roles.hpp"
#include "view_publisher.hpp"

namespace sluice::cluster {

namespace {

/// What the store holds now: owned shards with their epochs, copies.
result<local_shards> read_local(const store& st) {
  local_shards l;
  auto records = st.shard_records();
  if (!records)
    return records.error();
  for (auto& r : *records)
    l.owned[r.shard] = r.epoch;
  auto copies = st.replica_positions(); // one read, not one per shard
  if (!copies)
    return copies.error();
  l.copies = std::move(*copies);
  return l;
}

/// The owner's bookkeeping after the store matches the table.
void track_owned(cluster_actor* self) {
  auto& s = self->state;
  std::map<std::uint32_t, replicated_shard> next;
  // The promotions' starting points: one read, not one per shard.
  std::map<std::uint32_t, shard_record> bases;
  if (auto recs = s.ctx.st->shard_records(); recs) {
    for (auto& rec : *recs)
      if (rec.base)
        bases[rec.shard] = std::move(rec);
  } else {
    s.log->warn("reading this member's shard records failed: {} (followers "
                "of promoted shards get snapshots)",
                recs.error().describe());
  }
  for (auto& [shard, e] : *s.assignments) {
    auto& a = e.value;
    if (a.owner != s.opts.name || s.place->state(shard) != shard_state::owned)
      continue;
    auto& r = next[shard];
    auto old = s.repl.find(shard);
    bool same_epoch = old != s.repl.end() && old->second.epoch == a.epoch;
    if (same_epoch)
      r = std::move(old->second);
    r.epoch = a.epoch;
    if (auto b = bases.find(shard);
        b != bases.end() && b->second.epoch == r.epoch)
      r.base = b->second.base;
    r.replicas = a.replicas;
    r.isr = a.isr;
    if (auto pos = s.ctx.st->replog_position(shard); pos && *pos)
      r.head = std::max(r.head, (*pos)->seq);
    for (auto& m : a.isr)
      if (m != s.opts.name)
        r.waited.insert(m);
    for (auto& m : a.replicas)
      if (m != s.opts.name && !r.followers.count(m)) {
        auto& fs = r.followers[m];
        fs.last_heard = fs.caught_up_at = clock::now();
      }
    // A follower no longer a replica is neither shipped to nor waited for.
    for (auto it = r.followers.begin(); it != r.followers.end();)
      if (!listed(a.replicas, it->first)) {
        r.waited.erase(it->first);
        it = r.followers.erase(it);
      } else {
        ++it;
      }
  }
  s.repl = std::move(next);
}

void apply_roles(cluster_actor* self);

void roles_done(cluster_actor* self, const role_changes& ch,
                const result<void>& done) {
  auto& s = self->state;
  s.roles_busy = false;
  if (!done) {
    s.log->error("applying the controller's assignment failed: {}",
                 done.error().describe());
  } else {
    for (auto& [epoch, shards] : ch.promote)
      s.promoted->add(shards.size());
  }
  if (!ch.demote.empty()) {
    // Commits of the shards that no one acknowledged are void: their
    // callers get an error, and the stages forget the shards' keys.
    shard_positions lost;
    for (auto sh : ch.demote)
      lost.items.emplace_back(sh, 0);
    self->send(s.ctx.store_actor, ext::shards_lost_atom::value,
               std::move(lost));
    self->request(s.ctx.supervisor, std::chrono::seconds(5),
                  ext::stages_atom::value)
        .then(
            [self, shards = ch.demote](std::vector<caf::actor>& stages) {
              // A request: the answer (events still in flight) comes
              // back as one, not as a stray message.
              for (auto& st : stages)
                self->request(st, std::chrono::seconds(5),
                              ext::let_go_atom::value, shards)
                    .then([](std::uint64_t) {}, [](caf::error&) {});
            },
            [](caf::error&) {});
    // A shard given up for a damaged record is fetched again: when it
    // comes back, a new damage asks anew.
    for (auto sh : ch.demote)
      s.place->repair_over(sh);
    std::set<std::uint32_t> gone(ch.demote.begin(), ch.demote.end());
    auto& held = s.held_acks;
    for (auto it = held.begin(); it != held.end();) {
      bool lost_one = false;
      for (auto& [sh, seq] : it->reqs)
        lost_one = lost_one || gone.count(sh);
      if (lost_one) {
        it->answer(false);
        it = held.erase(it);
      } else {
        ++it;
      }
    }
  }
  track_owned(self);
  s.outbox_dirty = true;
  publish_view(self);
  if (s.roles_again)
    apply_roles(self);
  ship(self);
  update_watermarks(self);
}

void apply_roles(cluster_actor* self) {
  auto& s = self->state;
  if (s.roles_busy) {
    s.roles_again = true;
    return;
  }
  s.roles_again = false;
  auto local = read_local(*s.ctx.st);
  if (!local) {
    s.log->error("reading this member's shards failed: {}",
                 local.error().describe());
    return;
  }
  auto ch = std::make_shared<role_changes>(
      plan_roles(*s.assignments, s.opts.name, *local));
  if (ch->empty()) {
    roles_done(self, *ch, {});
    return;
  }
  std::size_t claimed = 0, promoted = 0;
  for (auto& [e, v] : ch->claim)
    claimed += v.size();
  for (auto& [e, v] : ch->promote)
    promoted += v.size();
  s.log->info("controller's assignment: {} shards claimed, {} promoted from "
              "copies, {} given up, {} copies dropped",
              claimed, promoted, ch->demote.size(), ch->drop_copies.size());
  if (!ch->claimed_empty.empty())
    s.log->warn("{} shards are assigned to this member, which holds nothing "
                "of them, and no other copy is in sync: they start empty "
                "(what they held is lost; first: shard {})",
                ch->claimed_empty.size(), ch->claimed_empty.front());
  if (!ch->leave_isr.empty() && s.agent && !s.leaving_isr) {
    s.leaving_isr = true;
    s.log->warn("{} shards owned here are now another member's, and their "
                "in-sync replicas still list this member: leaving them "
                "before dropping this member's records of them",
                ch->leave_isr.size());
    auto log = s.log;
    auto me = caf::actor_cast<caf::actor>(self);
    s.agent->leave_isr(ch->leave_isr, [log, me](result<std::size_t> r) {
      if (r)
        log->info("left the in-sync replicas of {} shards", *r);
      else
        log->warn("leaving the in-sync replicas failed: {} (asked again)",
                  r.error().describe());
      caf::anon_send(me, left_isr_atom::value, bool(r));
    });
  }
  if (!ch->resign.empty() && s.agent) {
    s.log->warn("{} shards assigned to this member hold no data here while "
                "other copies are in sync (was the data directory lost?): "
                "giving them to those copies",
                ch->resign.size());
    auto log = s.log;
    s.agent->resign(ch->resign, false, [log](result<resign_outcome> r) {
      if (r)
        log->info("gave up {} shards this member holds no data of ({} left "
                  "without owner until an in-sync copy is back)",
                  r->moved + r->without_owner, r->without_owner);
      else
        log->error("giving up shards without data failed: {}",
                   r.error().describe());
    });
  }
  s.roles_busy = true;
  store_call fn = [ch](store& st) -> result<commit_report> {
    commit_report total;
    if (!ch->demote.empty())
      if (auto r = st.release_shards(ch->demote); !r)
        return r.error();
    for (auto sh : ch->drop_copies)
      if (auto r = st.drop_replica(sh); !r)
        return r.error();
    for (auto& [epoch, shards] : ch->claim) {
      auto r = st.acquire_shards(shards, epoch);
      if (!r)
        return r.error();
      total.rewind = total.rewind || r->rewind;
    }
    for (auto& [epoch, shards] : ch->promote) {
      auto r = st.promote_replica(shards, epoch);
      if (!r)
        return r.error();
      total.rewind = total.rewind || r->rewind;
      for (auto& [id, c] : r->appended) {
        total.appended[id][0] += c[0];
        total.appended[id][1] += c[1];
      }
      total.outboxed += r->outboxed;
    }
    return total;
  };
  call_store(
      self, fn,
      [self, ch](const result<void>& done) { roles_done(self, *ch, done); },
      true);
}

} // namespace

void on_assignments(cluster_actor* self,
                    std::shared_ptr<const shard_table> table) {
  auto& s = self->state;
  s.assignments = std::move(table);
  std::vector<std::string> owners(shard_count);
  for (auto& [shard, e] : *s.assignments)
    if (shard < shard_count)
      owners[shard] = e.value.owner;
  auto next = shard_map::from_owners(owners);
  if (!(next == s.desired)) {
    auto before = std::exchange(s.desired, std::move(next));
    forget_moved_batches(self, before);
    s.outbox_dirty = true;
  }
  apply_roles(self);
}

void on_left_isr(cluster_actor* self, bool ok) {
  auto& s = self->state;
  if (!ok) {
    // Asked again after a pause (the lease, or etcd, may be back by then).
    self->delayed_send(self, std::chrono::seconds(2), left_isr_atom::value,
                       true);
    return;
  }
  s.leaving_isr = false;
  apply_roles(self);
}

void on_lease(cluster_actor* self, bool ok) {
  auto& s = self->state;
  if (ok == s.lease_ok)
    return;
  s.lease_ok = ok;
  if (ok) {
    s.log->info("lease in etcd confirmed: acknowledging again");
    update_watermarks(self);
  } else {
    s.log->warn("cannot confirm this member's lease in etcd: no commit is "
                "acknowledged until it is (its shards may fail over)");
  }
  publish_view(self);
}

} // namespace sluice::cluster
