// Replication capture: a write transaction's changes of shards' records,
// collected per shard and written as one replication record each at the
// shard's epoch and next seq; the origins of the outbox entries a shard's
// keys produce. Writer thread only.
#include "shard_changes.hpp"

#include "cluster_db.hpp"
#include "replica_keys.hpp"
#include "sluice/event_codec.hpp"

namespace sluice {

void shard_changes::inbox(std::uint32_t shard, priority prio,
                          std::string_view sender, std::string_view value) {
  if (!on_)
    return;
  handoff_record r;
  r.what = handoff_record::kind::inbox;
  r.shard = shard;
  r.pos.priority = prio;
  r.name = std::string(sender);
  r.value = std::string(value);
  note(std::move(r), false);
}

void shard_changes::outbox(std::uint32_t source_shard, std::uint32_t stage_id,
                           keys::queue_pos pos, std::string_view event,
                           const std::optional<outbox_origin>& origin,
                           bool erase) {
  if (!on_)
    return;
  handoff_record r;
  r.what = handoff_record::kind::outbox;
  r.shard = source_shard;
  r.stage_id = stage_id;
  r.pos = pos;
  r.value = std::string(event);
  r.origin = origin;
  note(std::move(r), erase);
}

void shard_changes::changelog(std::uint32_t stage_id, std::string_view key,
                              std::uint64_t shard_offset,
                              std::string_view value, bool erase) {
  if (!on_)
    return;
  handoff_record r;
  r.what = handoff_record::kind::changelog;
  r.stage_id = stage_id;
  r.shard = shard_of(key);
  r.pos.seq = shard_offset; // identifies it; the key is in the value
  if (!erase)
    r.value = std::string(value);
  note(std::move(r), erase);
}

void shard_changes::changelog_bound(std::uint32_t stage_id, std::uint32_t shard,
                                    std::uint64_t bound) {
  if (!on_)
    return;
  handoff_record r;
  r.what = handoff_record::kind::changelog_bound;
  r.stage_id = stage_id;
  r.shard = shard;
  keys::put_u64(r.value, bound);
  note(std::move(r), false);
}

result<std::optional<outbox_origin>*>
shard_changes::origin_slot(MDB_txn* t, std::uint32_t shard) {
  auto it = origins_.find(shard);
  if (it == origins_.end()) {
    auto at = next_log_position(t, p_, shard);
    if (!at)
      return at.error();
    std::optional<outbox_origin> first;
    if (*at)
      first = outbox_origin{shard, (*at)->epoch, (*at)->seq, 0};
    it = origins_.emplace(shard, first).first;
  }
  return &it->second;
}

result<std::optional<outbox_origin>>
shard_changes::next_origin(MDB_txn* t, std::uint32_t source_shard) {
  auto slot = origin_slot(t, source_shard);
  if (!slot)
    return slot.error();
  auto out = **slot;
  if (**slot)
    ++(**slot)->index;
  return out;
}

result<std::optional<repl_position>>
shard_changes::next_position(MDB_txn* t, std::uint32_t shard) {
  auto slot = origin_slot(t, shard);
  if (!slot)
    return slot.error();
  if (!**slot)
    return std::optional<repl_position>{};
  return std::optional{repl_position{(**slot)->epoch, (**slot)->seq}};
}

void shard_changes::add(handoff_record::kind what, std::uint32_t stage_id,
                        std::string_view key, std::string_view name,
                        keys::queue_pos pos, std::string_view value,
                        bool erase) {
  handoff_record r;
  r.what = what;
  r.stage_id = stage_id;
  r.key = std::string(key);
  r.shard = shard_of(key);
  r.name = std::string(name);
  r.pos = pos;
  if (!erase)
    r.value = std::string(value);
  note(std::move(r), erase);
}

void shard_changes::add_queued(std::uint32_t stage_id, keys::queue_pos pos,
                               std::string_view key, std::string_view event,
                               bool erase) {
  std::string k(key);
  if (k.empty()) {
    auto ev = decode_event(event, "replication");
    if (!ev)
      return; // an undecodable entry is no shard's (the scan skips it too)
    k = std::move(ev->key);
  }
  add(handoff_record::kind::queued, stage_id, k, {}, pos, event, erase);
}

void shard_changes::add_dead_letter(std::uint32_t stage_id, std::uint64_t seq,
                                    std::string_view value, bool erase) {
  auto key = repl::dead_letter_key_of(value);
  if (!key)
    return; // input that never became an event: the member's, not a shard's
  add(handoff_record::kind::dead_letter, stage_id, *key, {},
      {priority::normal, seq}, value, erase);
}

void shard_changes::note(handoff_record r, bool erase) {
  auto shard = r.shard;
  by_shard_[shard].emplace_back(std::move(r), erase);
}

result<std::map<std::uint32_t, std::uint64_t>>
shard_changes::flush(MDB_txn* t) {
  std::map<std::uint32_t, std::uint64_t> out;
  epochs_.clear();
  if (by_shard_.empty())
    return out;
  std::map<std::uint32_t, std::string> names;
  {
    std::lock_guard<std::mutex> guard{p_.dbi_mtx};
    names = p_.stage_names;
  }
  for (auto& [shard, changes] : by_shard_) {
    auto next = next_log_position(t, p_, shard);
    if (!next)
      return next.error();
    if (!*next)
      continue; // not owned here: the owner replicates it
    auto head = **next;
    auto sk = shard_key(shard);
    MDB_val k = as_val(sk);
    int rc = 0;
    v1::ReplRecord rec;
    for (auto& [r, erase] : changes) {
      // Stage id 0 is ingest's (its dead letters): named "".
      auto name = names.find(r.stage_id);
      if (r.stage_id != 0 && name == names.end())
        return fail(errc::not_found, p_.opts.dir + ": replication: no stage "
                                         + std::to_string(r.stage_id));
      repl::to_change(r, name == names.end() ? "" : name->second, erase,
                      *rec.add_changes());
    }
    auto lk = repl::log_key(shard, head.epoch, head.seq);
    auto bytes = rec.SerializeAsString();
    auto pv = repl::position_value(head);
    MDB_val lkv = as_val(lk), bv = as_val(bytes), pvv = as_val(pv);
    if ((rc = db_put(t, p_.replog, &lkv, &bv, MDB_APPEND)) == MDB_KEYEXIST)
      rc = db_put(t, p_.replog, &lkv, &bv, 0);
    if (rc == 0)
      rc = db_put(t, p_.replog_head, &k, &pvv, 0);
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": write replication record of shard "
                                + std::to_string(shard));
    out[shard] = head.seq;
    epochs_[shard] = head.epoch;
  }
  by_shard_.clear();
  origins_.clear(); // the shards' next records are at the next seqs
  return out;
}

result<std::optional<repl_position>>
next_log_position(MDB_txn* t, const store::impl& p, std::uint32_t shard) {
  auto sk = shard_key(shard);
  MDB_val k = as_val(sk), v;
  int rc = db_get(t, p.shards, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<repl_position>{};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read shard record");
  v1::ShardRecord sr;
  if (!sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
    return fail(errc::corrupt, p.opts.dir + ": shard record "
                                   + std::to_string(shard) + " does not parse");
  repl_position head{sr.epoch(), 0};
  rc = db_get(t, p.replog_head, &k, &v);
  if (rc == 0)
    head.seq = repl::parse_position(as_view(v)).value_or(head).seq;
  else if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read replication head");
  ++head.seq;
  return std::optional{head};
}

result<void> drop_replog(MDB_txn* t, store::impl& p, std::uint32_t shard) {
  int rc = 0;
  cursor c{t, p.replog, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on replog");
  auto from = repl::shard_prefix(shard);
  std::vector<std::string> doomed;
  MDB_val k = as_val(from), v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    if (keys::get_u32(as_view(k)) != shard)
      break;
    doomed.emplace_back(as_view(k));
  }
  for (auto& d : doomed) {
    if (rc != 0 && rc != MDB_NOTFOUND)
      break;
    MDB_val dk = as_val(d);
    rc = mdb_del(t, p.replog, &dk, nullptr);
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": drop the replication log of shard "
                              + std::to_string(shard));
  return {};
}

} // namespace sluice
