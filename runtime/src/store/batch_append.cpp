// The batch writer's appends: new events into stage queues, or into the
// outbox when their shard is owned elsewhere, and publish-once
// deduplication. Writer thread only.
#include <algorithm>

#include "batch_writer.hpp"
#include "epoch_history.hpp"
#include "sluice/event_codec.hpp"

namespace sluice {

result<bool> batch_writer::append(const queue_append& a) {
  bool once = !a.dedupe_id.empty() || a.dedupe_follow;
  std::optional<std::uint32_t> shard;
  if (p_.opts.place || once) {
    auto sh = shard_of_append(a);
    if (!sh)
      return sh.error();
    shard = *sh;
  }
  if (once) {
    if (!a.dedupe_id.empty()) {
      once_ = {};
      if (!a.appended_again) {
        auto d = publish_once(a.dedupe_id, *shard);
        if (!d)
          return d.error();
        once_ = *d;
      }
      if (once_.skip)
        ++report.deduplicated;
    }
    if (once_.skip)
      return false; // published once already
  }
  last_outboxed_ = false;
  // Replicated: a key's emit to another shard is a record of the key's
  // shard (an outbox entry with an origin) even when that shard is
  // queued here too. The two shards' logs fail over on their own, so an
  // emit queued straight into the other shard would split one commit
  // across two logs: a failover of either one alone would lose the emit
  // (its consumption survived) or process it twice (it did not).
  // Forwarded here, it leaves below the source shard's high-watermark
  // and is deduplicated by its origin like any other.
  if (p_.opts.place
      && (!p_.opts.place->queues_here(*shard)
          || (source_shard_ && *shard != *source_shard_))) {
    last_outboxed_ = true;
    auto written_at = a.written_at;
    if (once && !written_at)
      written_at = once_.unsure;
    if (auto r = to_outbox(a, *shard, written_at); !r)
      return r.error();
    if (!a.dedupe_id.empty())
      if (auto r = record_once(a.dedupe_id, *shard, std::nullopt); !r)
        return r.error();
    return true;
  }
  if (!a.dedupe_id.empty()) {
    std::optional<repl_position> at;
    if (changes_.on()) {
      auto next = changes_.next_position(t_, *shard);
      if (!next)
        return next.error();
      at = *next;
    }
    if (auto r = record_once(a.dedupe_id, *shard, at); !r)
      return r.error();
  }
  auto dbi = p_.queue_dbi(a.stage_id);
  if (!dbi)
    return dbi.error();
  keys::queue_pos pos{a.priority, p_.next_seq++};
  auto k = keys::queue_key(pos);
  MDB_val kv = as_val(k), vv = as_val(a.event_bytes);
  unsigned flags = a.priority == priority::normal ? MDB_APPEND : 0;
  int rc = db_put(t_, *dbi, &kv, &vv, flags);
  if (rc == MDB_KEYEXIST && flags != 0)
    rc = db_put(t_, *dbi, &kv, &vv, 0);
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": append to queue of stage "
                              + std::to_string(a.stage_id));
  changes_.queued(a.stage_id, pos, a.key, a.event_bytes, false);
  report.appended[a.stage_id][static_cast<int>(a.priority)]++;
  ++report.records;
  return true;
}

namespace {

/// A `seen` value: when (ns), then, for an event queued in a shard's log,
/// the opening that recorded it and the record's (shard, epoch, seq).
struct seen_value {
  std::uint64_t life = 0;
  std::optional<std::pair<std::uint32_t, repl_position>> queued_at;
};

seen_value parse_seen(std::string_view v) {
  seen_value out;
  if (v.size() < 8 + 8 + 4 + 16)
    return out; // when alone: the member's own outbox holds it
  v.remove_prefix(8);
  out.life = keys::get_u64(v).value_or(0);
  auto shard = keys::get_u32(v.substr(8));
  auto epoch = keys::get_u64(v.substr(12));
  auto seq = keys::get_u64(v.substr(20));
  if (shard && epoch && seq)
    out.queued_at = {*shard, repl_position{*epoch, *seq}};
  return out;
}

} // namespace

result<batch_writer::once_decision>
batch_writer::publish_once(const std::string& id, std::uint32_t shard) {
  if (!batch_ids_.insert(id).second)
    return once_decision{true};
  if (!p_.has_catalog)
    return once_decision{};
  MDB_val k = as_val(id), v;
  int rc = db_get(t_, p_.seen, &k, &v);
  if (rc == MDB_NOTFOUND)
    return once_decision{};
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": read publish-once ids");
  auto seen = parse_seen(as_view(v));
  // This opening's commits are followed by the replication gate (a
  // retry's answer waits for the original's); the member's outbox is
  // durable here.
  if (!seen.queued_at || seen.life == p_.life || seen.queued_at->first != shard)
    return once_decision{true};
  // An earlier opening queued it in the shard's log, perhaps in a commit
  // that died with it before a replica held it (the shard failed over
  // without it). Here, the data tells: the same epoch is this member's own
  // log, an older one is in the shard's epoch history.
  auto at = seen.queued_at->second;
  if (p_.opts.place && p_.opts.place->queues_here(shard)) {
    auto next = changes_.next_position(t_, shard);
    if (!next)
      return next.error();
    if (*next) {
      bool there = (*next)->epoch == at.epoch ? at.seq < (*next)->seq : false;
      if (!there && (*next)->epoch > at.epoch) {
        auto h = read_epoch_history(t_, p_, shard);
        if (!h)
          return h.error();
        there = survived(*h, at);
      }
      if (there) {
        auto& wait = report.awaits[shard];
        wait = std::max(wait, (*next)->seq - 1);
        return once_decision{true};
      }
    }
    return once_decision{}; // lost with that opening: queued now
  }
  // Owned elsewhere: its owner tells.
  return once_decision{false, at};
}

result<void>
batch_writer::record_once(const std::string& id, std::uint32_t shard,
                          const std::optional<repl_position>& queued_at) {
  if (!p_.has_catalog)
    return {};
  std::string value;
  keys::put_u64(value, static_cast<std::uint64_t>(now_ns_));
  if (queued_at) {
    keys::put_u64(value, p_.life);
    keys::put_u32(value, shard);
    keys::put_u64(value, queued_at->epoch);
    keys::put_u64(value, queued_at->seq);
  }
  MDB_val k = as_val(id), wv = as_val(value);
  if (int rc = db_put(t_, p_.seen, &k, &wv, 0); rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": record a publish-once id");
  return {};
}

result<std::uint32_t> batch_writer::shard_of_append(const queue_append& a) {
  if (!a.key.empty())
    return shard_of(a.key);
  auto ev = decode_event(a.event_bytes,
                         "append to stage " + std::to_string(a.stage_id));
  if (!ev)
    return ev.error();
  return shard_of(ev->key);
}

result<void>
batch_writer::to_outbox(const queue_append& a, std::uint32_t shard,
                        const std::optional<repl_position>& written_at) {
  auto pos = put_outbox(t_, p_, a.stage_id, shard, a.priority, a.event_bytes,
                        source_shard_ ? std::nullopt : written_at);
  if (!pos)
    return pos.error();
  // An event a shard's key produced is that shard's record until it is
  // forwarded; one fed or published through this member is nobody's.
  // Its origin, the same wherever the entry is replicated to, lets the
  // receiver tell it again when a promoted replica forwards it.
  if (changes_.on() && source_shard_) {
    auto origin = changes_.next_origin(t_, *source_shard_);
    if (!origin)
      return origin.error();
    if (auto r = note_outbox_source(t_, p_, *pos, *source_shard_, *origin); !r)
      return r;
    changes_.outbox(*source_shard_, a.stage_id, *pos, a.event_bytes, *origin,
                    false);
  }
  if (!source_shard_)
    report.member_outbox.push_back(*pos);
  ++report.outboxed;
  ++report.records;
  return {};
}

} // namespace sluice
