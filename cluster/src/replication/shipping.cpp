// Owner side of replicated shards: each follower gets what it lacks of the
// shards it follows, in two lanes with one message in flight each: probes
// for unknown positions and log records after its positions (every shard's
// in one message), and snapshots, one shard at a time, for a shard it has
// no copy of, of another epoch or behind a gap; so a snapshot never waits
// for the log to go quiet, nor the log for a snapshot. It answers with its
// positions.
// The high-watermark of a shard is the lowest position among the
// followers it waits for, counted only while they and the owner make
// `min_insync`; the store answers commits below it.
#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster_messages.hpp"
#include "links.hpp"
#include "replication/replication.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

constexpr std::size_t ship_records = 2048; ///< log records per message
constexpr std::size_t ship_bytes = 4 << 20;
constexpr std::size_t snapshot_chunk = 1 << 20;
constexpr auto ship_timeout = std::chrono::seconds(10);

/// A follower's lane: log records and probes, or snapshots.
enum class lane { records, snapshot };

std::set<std::string>& in_flight(cluster_state& s, lane l) {
  return l == lane::records ? s.shipping : s.snapshotting;
}

/// A follower's answer: its positions, shard by shard.
void on_ack(cluster_actor* self, const std::string& follower,
            const std::string& answer, lane l) {
  auto& s = self->state;
  in_flight(s, l).erase(follower);
  v1::ClusterMessage m;
  if (!m.ParseFromString(answer) || !m.has_replicate_ack()) {
    s.log->warn("{} did not take replication records: {}", follower,
                m.has_reply() ? m.reply().error()
                              : std::string("malformed answer"));
    return;
  }
  auto now = clock::now();
  for (auto& p : m.replicate_ack().positions()) {
    auto it = s.repl.find(p.shard());
    if (it == s.repl.end())
      continue;
    auto f = it->second.followers.find(follower);
    if (f == it->second.followers.end())
      continue;
    auto& fs = f->second;
    fs.last_heard = now;
    fs.has_copy = p.has_copy();
    auto code = errc_from_code(p.code());
    if (p.code() != 0 && code != errc::not_found) {
      s.log->warn("{} refused records of shard {}: {}", follower, p.shard(),
                  p.error());
      fs.paused_until = now + std::chrono::seconds(1);
      continue;
    }
    if (p.has_copy())
      fs.acked = repl_position{p.epoch(), p.seq()};
    else
      fs.acked = repl_position{};
    fs.needs_snapshot =
        p.code() != 0 || !p.has_copy() || !takes_log(it->second, *fs.acked);
    if (!fs.needs_snapshot
        && (fs.acked->seq >= it->second.head
            || (fs.offered > 0 && fs.acked->seq >= fs.offered)))
      fs.caught_up_at = now;
  }
  update_watermarks(self);
  ship(self);
}

void send(cluster_actor* self, const std::string& follower,
          v1::ClusterMessage& m, lane ln) {
  auto& s = self->state;
  auto* l = ready_link(s, follower);
  if (!l)
    return;
  in_flight(s, ln).insert(follower);
  self->request<caf::message_priority::high>(
          l->handle, ship_timeout, cluster_atom::value, m.SerializeAsString())
      .then(
          [self, follower, ln](const std::string& answer) {
            on_ack(self, follower, answer, ln);
          },
          [self, follower, ln](caf::error& e) {
            auto& s = self->state;
            in_flight(s, ln).erase(follower);
            s.log->debug("replicating to {} failed: {}", follower,
                         to_string(e));
          });
}

/// One shard's whole state, for a follower without a usable copy.
void send_snapshot(cluster_actor* self, const std::string& follower,
                   std::uint32_t shard) {
  auto& s = self->state;
  v1::ClusterMessage m;
  auto* snap = m.mutable_repl_snapshot();
  snap->set_from(s.opts.name);
  snap->set_shard(shard);
  auto at =
      s.ctx.st->snapshot_shard(shard, snapshot_chunk, [&](std::string&& c) {
        snap->add_chunks(std::move(c));
        return true;
      });
  if (!at) {
    s.log->error("snapshot of shard {} for {} failed: {}", shard, follower,
                 at.error().describe());
    return;
  }
  snap->set_epoch(at->epoch);
  snap->set_seq(at->seq);
  if (auto r = s.repl.find(shard); r != s.repl.end())
    r->second.followers[follower].offered = at->seq;
  s.snapshots_sent->add();
  send(self, follower, m, lane::snapshot);
}

/// Log records of `shard` after the follower's position; false when the
/// log does not reach back there (trimmed): it needs a snapshot.
bool add_records(cluster_state& s, std::uint32_t shard, replicated_shard& r,
                 follower_state& fs, v1::Replicate& out, std::size_t& n,
                 std::size_t& bytes) {
  auto recs = s.ctx.st->read_replog(shard, fs.acked->seq, ship_records - n);
  if (!recs) {
    s.log->error("reading the log of shard {} failed: {}", shard,
                 recs.error().describe());
    return true;
  }
  if (recs->empty() || recs->front().seq != fs.acked->seq + 1)
    return false;
  // The log is the truth: a record written without a report (a command
  // beside the running member, such as `sluice dlq`) is shipped with the
  // others and counts for the high-watermark.
  r.head = std::max(r.head, recs->back().seq);
  if (recs->back().seq >= r.head)
    fs.offered = r.head; // all of it, as of now
  for (auto& e : *recs) {
    auto* w = out.add_entries();
    w->set_shard(e.shard);
    w->set_epoch(e.epoch);
    w->set_seq(e.seq);
    if (r.base && e.epoch == r.epoch && e.seq == r.base->seq + 1)
      w->set_base_epoch(r.base->epoch);
    bytes += e.record.size();
    w->set_record(std::move(e.record));
    ++n;
  }
  return true;
}

/// What `ship` sends one follower: which lanes are free, and the records
/// lane's message as it fills.
struct outgoing {
  std::string follower;
  bool records = false;   ///< the records lane is free and the link ready
  bool snapshots = false; ///< the same for the snapshot lane
  v1::ClusterMessage m;
  std::size_t n = 0, bytes = 0;
  std::optional<std::uint32_t> snapshot; ///< the first shard needing one
};

outgoing outgoing_to(cluster_state& s, const std::string& follower) {
  outgoing o;
  o.follower = follower;
  o.records = !s.shipping.count(follower);
  o.snapshots = !s.snapshotting.count(follower);
  if ((o.records || o.snapshots) && !ready_link(s, follower))
    o.records = o.snapshots = false;
  if (o.records)
    o.m.mutable_replicate()->set_from(s.opts.name);
  return o;
}

} // namespace

bool takes_log(const replicated_shard& r, const repl_position& at) {
  return at.epoch == r.epoch || (r.base && at == *r.base);
}

void on_heads(cluster_actor* self, const shard_positions& heads) {
  auto& s = self->state;
  for (auto& [shard, seq] : heads.items)
    if (auto it = s.repl.find(shard); it != s.repl.end())
      it->second.head = std::max(it->second.head, seq);
  ship(self);
  update_watermarks(self);
}

void ship(cluster_actor* self) {
  auto& s = self->state;
  if (!s.replicated || s.stopping)
    return;
  // One pass over the shards, a message per follower built as it goes
  // (a member has few followers: a linear search beats a map). Called on
  // every commit and every answer, mostly while the lanes are busy, so
  // it stays cheap then: a follower with no free lane costs a compare.
  std::vector<outgoing> out;
  auto now = clock::now();
  for (auto& [shard, r] : s.repl) {
    for (auto& [f, fs] : r.followers) {
      auto o = std::find_if(out.begin(), out.end(),
                            [&f = f](auto& x) { return x.follower == f; });
      if (o == out.end())
        o = out.insert(out.end(), outgoing_to(s, f));
      if (!o->records && !o->snapshots)
        continue;
      if (now < fs.paused_until)
        continue;
      auto* rep = o->m.mutable_replicate();
      if (!fs.acked) {
        if (o->records)
          rep->add_probe(shard);
        continue;
      }
      if (fs.needs_snapshot) {
        o->snapshot = o->snapshot ? o->snapshot : shard;
        continue;
      }
      if (!o->records || fs.acked->seq >= r.head || o->n >= ship_records
          || o->bytes >= ship_bytes)
        continue;
      if (!add_records(s, shard, r, fs, *rep, o->n, o->bytes)) {
        fs.needs_snapshot = true;
        o->snapshot = o->snapshot ? o->snapshot : shard;
      }
    }
  }
  for (auto& o : out) {
    auto& rep = o.m.replicate();
    if (o.records && (rep.probe_size() > 0 || rep.entries_size() > 0))
      send(self, o.follower, o.m, lane::records);
    if (o.snapshots && o.snapshot)
      send_snapshot(self, o.follower, *o.snapshot);
  }
}

void update_watermarks(cluster_actor* self) {
  auto& s = self->state;
  if (!s.replicated || !s.lease_ok)
    return;
  shard_positions up;
  for (auto& [shard, r] : s.repl) {
    auto need = isr_floor(s.opts.min_insync, r.replicas.size());
    if (r.waited.size() + 1 < need)
      continue;
    auto hw = r.head;
    for (auto& f : r.waited) {
      auto it = r.followers.find(f);
      if (it == r.followers.end() || !it->second.acked
          || !takes_log(r, *it->second.acked)) {
        hw = 0;
        break;
      }
      hw = std::min(hw, it->second.acked->seq);
    }
    if (hw > r.hw) {
      r.hw = hw;
      up.items.emplace_back(shard, hw);
    }
  }
  if (!up.items.empty())
    self->send<caf::message_priority::high>(
        s.ctx.store_actor, ext::watermark_atom::value, std::move(up));
  auto& held = s.held_acks;
  for (auto it = held.begin(); it != held.end();) {
    bool ready = true, lost = false;
    for (auto& [sh, seq] : it->reqs) {
      auto r = s.repl.find(sh);
      if (r == s.repl.end())
        lost = true;
      else
        ready = ready && r->second.hw >= seq;
    }
    if (lost || ready) {
      it->answer(!lost);
      it = held.erase(it);
    } else {
      ++it;
    }
  }
}

void hold_ack(cluster_actor* self,
              std::vector<std::pair<std::uint32_t, std::uint64_t>> reqs,
              std::function<void(bool)> answer) {
  auto& s = self->state;
  if (!s.replicated || reqs.empty()) {
    answer(true);
    return;
  }
  for (auto& [sh, seq] : reqs)
    if (auto r = s.repl.find(sh); r != s.repl.end())
      r->second.head = std::max(r->second.head, seq);
  s.held_acks.push_back({std::move(reqs), std::move(answer)});
  ship(self);
  update_watermarks(self);
}

} // namespace sluice::cluster
