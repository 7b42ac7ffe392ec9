// The forwarder: events for keys that another member owns wait in the
// outbox (written in the same transaction as the rest of their batch). They
// go to the owner in batches, one batch in flight per owner, urgent ones
// first, each target shard's in outbox order; the owner queues them, drops
// duplicates by (shard, priority, sender, seq), or with replication by
// (shard, priority, source shard, origin) for a shard's entries, and
// acknowledges, and only then are they deleted here. At-least-once
// transport plus idempotent receipt: exactly once into the owner's queue.
#include <caf/event_based_actor.hpp>

#include <set>

#include "cluster_messages.hpp"
#include "cluster_state.hpp"
#include "links.hpp"
#include "replication/replication.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

constexpr std::size_t outbox_window = 8192; ///< entries looked at per pump
constexpr std::size_t batch_bytes = 4 << 20;
constexpr auto refused_backoff = std::chrono::milliseconds(100);
constexpr auto forward_timeout = std::chrono::seconds(30);

struct batch {
  std::vector<keys::queue_pos> positions;
  std::vector<std::uint32_t> sizes;    ///< event bytes, per position
  std::vector<forwarded_event> events; ///< for ourselves (local ids)
  v1::ClusterMessage wire;             ///< for another member
  std::size_t bytes = 0;
  bool urgent = false;
  std::uint64_t number = 0; ///< tells it from the target's next batch
};

/// The store's receipt of forwarded events from `from` (ourselves, for
/// shards we own now): queued, refused or dropped as duplicates, written
/// to `receipt`; the report wakes the stages that got events.
store_call receive_call(std::string from, std::vector<forwarded_event> evs,
                        std::shared_ptr<forward_receipt> receipt) {
  // Called once: the events move into the store's receipt.
  return [from = std::move(from), evs = std::move(evs),
          receipt =
              std::move(receipt)](store& st) mutable -> result<commit_report> {
    auto r = st.receive_forwarded(from, std::move(evs));
    if (!r)
      return r.error();
    *receipt = std::move(*r);
    commit_report rep;
    for (auto& [id, c] : receipt->appended)
      rep.appended[id] = c;
    // Replicated shards: the store actor sends these on for shipping.
    for (auto& [shard, seq] : receipt->replicated)
      rep.replicated[shard] = seq;
    return rep;
  };
}

/// Releases `target` for its next batch, if `number` is the batch in
/// flight to it (not one forgotten when its link dropped).
void release_target(cluster_state& s, const std::string& target,
                    std::uint64_t number) {
  auto i = s.in_flight_batches.find(target);
  if (i == s.in_flight_batches.end() || i->second.first != number)
    return;
  s.in_flight_batches.erase(i);
  s.busy_targets.erase(target);
}

/// A batch was acknowledged (or refused in part): delete what was taken.
void settle(cluster_actor* self, const std::string& target, batch& b,
            const std::vector<std::uint32_t>& refused,
            std::uint64_t duplicates) {
  auto& s = self->state;
  std::vector<bool> no(shard_count, false);
  for (auto sh : refused)
    if (sh < shard_count) {
      no[sh] = true;
      s.refused_until[sh] = clock::now() + refused_backoff;
    }
  std::vector<keys::queue_pos> done;
  std::size_t refused_events = 0;
  std::uint64_t done_bytes = 0;
  for (std::size_t i = 0; i < b.positions.size(); ++i) {
    auto shard = b.events.empty()
                     ? b.wire.forward().events(static_cast<int>(i)).shard()
                     : b.events[i].shard;
    if (no[shard]) {
      ++refused_events;
    } else {
      done.push_back(b.positions[i]);
      done_bytes += b.sizes[i];
    }
  }
  s.refusals->add(refused_events);
  s.duplicates->add(duplicates);
  // Taken: the target's next batch goes while the delete commits (a
  // commit of this member's store, which would otherwise stand in every
  // batch's round trip); these entries stay out of it until then.
  for (auto& p : b.positions)
    s.sending.erase(p);
  s.settling.insert(done.begin(), done.end());
  release_target(s, target, b.number);
  // The report names the source shards' records the deletes wrote: the
  // store actor sends them on for shipping (a shard whose last record is
  // a delete would otherwise never reach its high-watermark).
  auto fn = [done](store& st) -> result<commit_report> {
    return st.delete_outbox(done);
  };
  auto n = done.size();
  call_store(self, fn, [self, done, n, done_bytes](const result<void>& stored) {
    auto& s = self->state;
    for (auto& p : done)
      s.settling.erase(p);
    if (!stored) {
      // They go again; their owner drops them as duplicates.
      s.log->error("deleting {} forwarded events from the outbox failed: {}", n,
                   stored.error().describe());
    } else {
      s.forwarded->add(n);
      s.forwarded_bytes->add(done_bytes);
      // Replicated: the commits that wrote them may answer.
      if (s.replicated) {
        outbox_positions op;
        for (auto& p : done)
          op.items.emplace_back(static_cast<std::uint8_t>(p.priority), p.seq);
        self->send<caf::message_priority::high>(
            s.ctx.store_actor, ext::outbox_forwarded_atom::value,
            std::move(op));
      }
    }
    s.outbox_dirty = true;
    pump_outbox(self);
  });
  s.outbox_dirty = true;
  pump_outbox(self);
}

/// The batch could not be delivered: its entries stay for a later pump.
void unsend(cluster_actor* self, const std::string& target, batch& b) {
  auto& s = self->state;
  for (auto& p : b.positions)
    s.sending.erase(p);
  release_target(s, target, b.number);
}

void send_batch(cluster_actor* self, const std::string& target,
                std::shared_ptr<batch> b) {
  auto& s = self->state;
  s.busy_targets.insert(target);
  for (auto& p : b->positions)
    s.sending.insert(p);
  b->number = ++s.batches_sent;
  s.in_flight_batches[target] = {b->number, b->positions};
  if (target == s.opts.name) {
    // Events for shards this member is about to own (or owns again): the
    // same receipt as a forward, without the network.
    auto receipt = std::make_shared<forward_receipt>();
    auto fn = receive_call(s.opts.name, b->events, receipt);
    call_store(
        self, fn,
        [self, target, b, receipt](const result<void>& stored) {
          if (!stored) {
            self->state.log->error("queueing outbox events here failed: {}",
                                   stored.error().describe());
            unsend(self, target, *b);
            return;
          }
          // As for another member's batch (receive_forward): the entries
          // leave the outbox only once the receiving shards' records are
          // replicated. A shard given up before that (a move, a fencing)
          // drops the receipt with its unacknowledged commits, and the
          // entries go again to its new owner; settled at once, the
          // source shard's delete could be acknowledged without them.
          hold_ack(self, receipt->replicated,
                   [self, target, b, receipt](bool ok) {
                     if (ok)
                       settle(self, target, *b, receipt->refused_shards,
                              receipt->duplicates);
                     else
                       unsend(self, target, *b);
                   });
        },
        b->urgent);
    return;
  }
  auto* l = ready_link(s, target);
  if (!l) {
    unsend(self, target, *b);
    return;
  }
  auto bytes = b->wire.SerializeAsString();
  auto on_answer = [self, target, b](const std::string& answer) {
    v1::ClusterMessage r;
    if (!r.ParseFromString(answer) || !r.has_forward_ack()) {
      self->state.log->warn("{} did not take a forwarded batch: {}", target,
                            r.has_reply() ? r.reply().error()
                                          : std::string("malformed answer"));
      unsend(self, target, *b);
      return;
    }
    auto& ack = r.forward_ack();
    std::vector<std::uint32_t> refused(ack.refused_shards().begin(),
                                       ack.refused_shards().end());
    settle(self, target, *b, refused, ack.duplicates());
  };
  auto on_error = [self, target, b](caf::error& e) {
    self->state.log->debug("forwarding to {} failed: {}", target, to_string(e));
    unsend(self, target, *b);
  };
  // The priority is lost on the wire (BASP); the receiver restores it.
  if (b->urgent)
    self->request<caf::message_priority::high>(l->handle, forward_timeout,
                                               cluster_atom::value, bytes)
        .then(on_answer, on_error);
  else
    self->request(l->handle, forward_timeout, cluster_atom::value, bytes)
        .then(on_answer, on_error);
}

} // namespace

void forget_batch(cluster_actor* self, const std::string& target) {
  auto& s = self->state;
  auto i = s.in_flight_batches.find(target);
  if (i == s.in_flight_batches.end())
    return;
  // If an answer still comes, its entries are deleted then; if not, they
  // go again (the owner's watermarks drop what it queued already).
  for (auto& p : i->second.second)
    s.sending.erase(p);
  s.in_flight_batches.erase(i);
  s.busy_targets.erase(target);
  s.outbox_dirty = true;
}

void forget_moved_batches(cluster_actor* self, const shard_map& before) {
  auto& s = self->state;
  std::set<std::string> old_owners;
  for (auto shard : moved(before, s.desired))
    if (auto& o = before.owner(shard);
        !o.empty() && s.in_flight_batches.count(o))
      old_owners.insert(o);
  for (auto& o : old_owners)
    forget_batch(self, o);
}

void pump_outbox(cluster_actor* self) {
  auto& s = self->state;
  if (!s.joined || s.stopping || !s.outbox_dirty)
    return;
  auto now = clock::now();
  std::map<std::string, std::shared_ptr<batch>> batches;
  std::vector<bool> held(shard_count, false); // keep each shard in order
  std::size_t looked = 0;
  // Decides from an entry's position and shard alone, so that what is in
  // flight, settling or held is passed over without reading its event.
  auto pick = [&](const outbox_peek& e) {
    ++looked;
    if (e.shard >= shard_count || held[e.shard] || s.settling.count(e.pos))
      return outbox_pick::skip;
    // In flight (perhaps to the shard's previous owner): later entries of
    // its shard wait, or the receiver would take them first and drop these
    // as duplicates when they come again.
    if (s.sending.count(e.pos)) {
      held[e.shard] = true;
      return outbox_pick::skip;
    }
    // Replicated: only what commits below their high-watermarks wrote
    // leaves (a failover could undo the rest).
    if (s.replicated && e.pos.seq >= s.outbox_fence) {
      held[e.shard] = true;
      return outbox_pick::skip;
    }
    if (auto r = s.refused_until.find(e.shard); r != s.refused_until.end()) {
      if (r->second > now) {
        held[e.shard] = true;
        s.outbox_dirty = true; // look again once the backoff is over
        return outbox_pick::skip;
      }
      s.refused_until.erase(r);
    }
    auto& target = s.desired.owner(e.shard);
    if (target.empty() || s.busy_targets.count(target)) {
      held[e.shard] = true;
      return outbox_pick::skip;
    }
    if (target != s.opts.name && !ready_link(s, target)) {
      held[e.shard] = true; // down: its events wait here until it is back
      return outbox_pick::skip;
    }
    auto& b = batches[target];
    if (!b) {
      b = std::make_shared<batch>();
      b->wire.mutable_forward()->set_from(s.opts.name);
    }
    if (b->positions.size() >= s.opts.forward_batch
        || b->bytes >= batch_bytes) {
      held[e.shard] = true;
      s.outbox_dirty = true;
      return outbox_pick::skip;
    }
    b->positions.push_back(e.pos);
    b->sizes.push_back(static_cast<std::uint32_t>(e.event_bytes));
    b->bytes += e.event_bytes;
    b->urgent = b->urgent || e.pos.priority == priority::urgent;
    return outbox_pick::take;
  };
  // Nothing left to look at after this: wait for the next commit into the
  // outbox (or an acknowledgement, a hand-off, a member coming back).
  s.outbox_dirty = false;
  auto entries =
      s.ctx.st->read_outbox({priority::urgent, 0}, outbox_window, pick);
  if (!entries) {
    s.log->error("reading the outbox failed: {}", entries.error().describe());
    s.outbox_dirty = true;
    return;
  }
  if (looked == outbox_window)
    s.outbox_dirty = true;
  // The events of the entries taken, into their batches (in outbox order,
  // as `pick` recorded their positions).
  for (auto& e : *entries) {
    auto& target = s.desired.owner(e.shard);
    auto& b = batches[target];
    if (target == s.opts.name) {
      b->events.push_back({e.shard,
                           e.pos.seq,
                           e.stage_id,
                           e.pos.priority,
                           {},
                           std::move(e.event_bytes),
                           e.origin,
                           e.written_at});
    } else {
      auto* w = b->wire.mutable_forward()->add_events();
      auto n = s.stage_names.find(e.stage_id);
      w->set_stage(n != s.stage_names.end() ? n->second : std::string());
      w->set_shard(e.shard);
      w->set_seq(e.pos.seq);
      w->set_priority(static_cast<std::uint32_t>(e.pos.priority));
      w->set_event(std::move(e.event_bytes));
      if (e.origin)
        to_wire(*e.origin, *w->mutable_origin());
      if (e.written_at) {
        w->mutable_written_at()->set_epoch(e.written_at->epoch);
        w->mutable_written_at()->set_seq(e.written_at->seq);
      }
    }
  }
  for (auto& [target, b] : batches)
    if (!b->positions.empty())
      send_batch(self, target, b);
}

caf::result<std::string> receive_forward(cluster_actor* self,
                                         const std::string& from,
                                         const v1::ForwardBatch& batch) {
  auto& s = self->state;
  std::vector<forwarded_event> evs;
  evs.reserve(static_cast<std::size_t>(batch.events_size()));
  bool urgent = false;
  for (auto& w : batch.events()) {
    auto id = s.stage_ids.find(w.stage());
    if (id == s.stage_ids.end())
      return reply_error(
          fail(errc::config,
               "stage '" + w.stage()
                   + "' is not in this member's topology (members must "
                     "run the same pipeline)"));
    if (w.shard() >= shard_count || w.priority() > 1)
      return reply_error(
          fail(errc::parse, "malformed forwarded event (shard "
                                + std::to_string(w.shard()) + ", priority "
                                + std::to_string(w.priority()) + ")"));
    std::optional<outbox_origin> origin;
    if (w.has_origin()) {
      if (w.origin().shard() >= shard_count)
        return reply_error(
            fail(errc::parse, "malformed forwarded event (its origin's shard "
                                  + std::to_string(w.origin().shard()) + ")"));
      origin = from_wire(w.origin());
    }
    std::optional<repl_position> written_at;
    if (w.has_written_at())
      written_at = repl_position{w.written_at().epoch(), w.written_at().seq()};
    auto prio = w.priority() == 0 ? priority::urgent : priority::normal;
    urgent = urgent || prio == priority::urgent;
    evs.push_back({w.shard(),
                   w.seq(),
                   id->second,
                   prio,
                   {},
                   w.event(),
                   origin,
                   written_at});
  }
  auto receipt = std::make_shared<forward_receipt>();
  auto fn = receive_call(from, std::move(evs), receipt);
  auto rp = self->make_response_promise<std::string>();
  call_store(
      self, fn,
      [self, rp, receipt](const result<void>& stored) mutable {
        if (!stored) {
          rp.deliver(reply_error(
              stored.error().within("queueing forwarded events failed")));
          return;
        }
        self->state.received->add(receipt->accepted);
        v1::ClusterMessage m;
        auto* ack = m.mutable_forward_ack();
        for (auto sh : receipt->refused_shards)
          ack->add_refused_shards(sh);
        ack->set_accepted(receipt->accepted);
        ack->set_duplicates(receipt->duplicates);
        // Acknowledged to the sender only once replicated (the sender
        // keeps the events in its outbox until then).
        hold_ack(self, receipt->replicated,
                 [rp, bytes = m.SerializeAsString()](bool ok) mutable {
                   if (ok)
                     rp.deliver(bytes);
                   else
                     rp.deliver(reply_error(
                         fail(errc::unavailable,
                              "a shard of the batch failed over before its "
                              "events were replicated: send it again")));
                 });
      },
      urgent);
  return rp;
}

} // namespace sluice::cluster
