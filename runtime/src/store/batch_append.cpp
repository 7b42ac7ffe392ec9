// The batch writer's appends: new events into stage queues, or into the
// outbox when their shard is owned elsewhere, and publish-once
// deduplication. Writer thread only.
#include "batch_writer.hpp"
#include "sluice/event_codec.hpp"

namespace sluice {

result<bool> batch_writer::append(const queue_append& a) {
  if (!a.dedupe_id.empty() || a.dedupe_follow) {
    if (!a.dedupe_id.empty()) {
      auto seen = seen_before(a.dedupe_id);
      if (!seen)
        return seen.error();
      dedupe_skip_ = *seen;
      if (dedupe_skip_)
        ++report.deduplicated;
    }
    if (dedupe_skip_)
      return false; // published once already
  }
  last_outboxed_ = false;
  if (p_.opts.place) {
    auto shard = shard_of_append(a);
    if (!shard)
      return shard.error();
    if (!p_.opts.place->queues_here(*shard)) {
      last_outboxed_ = true;
      if (auto r = to_outbox(a, *shard); !r)
        return r.error();
      return true;
    }
  }
  auto dbi = p_.queue_dbi(a.stage_id);
  if (!dbi)
    return dbi.error();
  keys::queue_pos pos{a.priority, p_.next_seq++};
  auto k = keys::queue_key(pos);
  MDB_val kv = as_val(k), vv = as_val(a.event_bytes);
  unsigned flags = a.priority == priority::normal ? MDB_APPEND : 0;
  int rc = mdb_put(t_, *dbi, &kv, &vv, flags);
  if (rc == MDB_KEYEXIST && flags != 0)
    rc = mdb_put(t_, *dbi, &kv, &vv, 0);
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": append to queue of stage "
                              + std::to_string(a.stage_id));
  changes_.queued(a.stage_id, pos, a.key, a.event_bytes, false);
  report.appended[a.stage_id][static_cast<int>(a.priority)]++;
  ++report.records;
  return true;
}

result<bool> batch_writer::seen_before(const std::string& id) {
  if (!batch_ids_.insert(id).second)
    return true;
  if (!p_.has_catalog)
    return false;
  MDB_val k = as_val(id), v;
  int rc = mdb_get(t_, p_.seen, &k, &v);
  if (rc == 0)
    return true;
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p_.opts.dir + ": read publish-once ids");
  std::string when;
  keys::put_u64(when, static_cast<std::uint64_t>(now_ns_));
  MDB_val wv = as_val(when);
  if ((rc = mdb_put(t_, p_.seen, &k, &wv, 0)) != 0)
    return lmdb_error(rc, p_.opts.dir + ": record a publish-once id");
  return false;
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

result<void> batch_writer::to_outbox(const queue_append& a,
                                     std::uint32_t shard) {
  auto pos = put_outbox(t_, p_, a.stage_id, shard, a.priority, a.event_bytes,
                        source_shard_ ? std::nullopt : a.written_at);
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
