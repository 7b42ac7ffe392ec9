// The owner's side of replication reads: every record of a shard (or of a
// set of shards, in one pass) as the replication knows it (a hand-off's
// records and changelog entries, plus dead letters and outbox entries of
// its keys), as a snapshot in ReplRecord chunks and as a digest. Any
// thread.
#include <algorithm>
#include <mutex>

#include "cluster_db.hpp"
#include "replica_keys.hpp"
#include "sluice/event_codec.hpp"

namespace sluice {

namespace {

/// The dead letters of the keys of the shards in `in`, read in `t`.
/// `skip_damaged`: a damaged value (whose key is in it, so its shard
/// unknown) is passed over instead of failing the scan.
result<bool>
scan_dead_letters_of(const store::impl& p, MDB_txn* t,
                     const std::vector<bool>& in,
                     const std::function<result<bool>(handoff_record&)>& fn,
                     bool skip_damaged = false) {
  int rc = 0;
  cursor c{t, p.dead_letters, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on dead_letters");
  MDB_val k, v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST);
       rc == 0 || (rc == value_damaged && skip_damaged);
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    if (rc == value_damaged)
      continue;
    auto stage = keys::get_u32(as_view(k));
    auto seq = keys::get_u64(as_view(k), 4);
    auto key = repl::dead_letter_key_of(as_view(v));
    if (!stage || !seq || !key)
      continue;
    auto shard = shard_of(*key);
    if (shard >= in.size() || !in[shard])
      continue;
    handoff_record r;
    r.what = handoff_record::kind::dead_letter;
    r.stage_id = *stage;
    r.shard = shard;
    r.key = std::move(*key);
    r.pos = {priority::normal, *seq};
    r.value = std::string(as_view(v));
    auto go = fn(r);
    if (!go || !*go)
      return go;
  }
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": scan dead_letters");
  return true;
}

/// The outbox entries the keys of the shards in `in` produced
/// (`outbox_src`), read in `t`.
result<bool>
scan_outbox_of(const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
               const std::function<result<bool>(handoff_record&)>& fn,
               bool skip_damaged = false) {
  int rc = 0;
  cursor c{t, p.outbox_src, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on outbox_src");
  MDB_val k, v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST);
       rc == 0 || (rc == value_damaged && skip_damaged);
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    if (rc == value_damaged)
      continue;
    auto pos = keys::parse_queue_key(as_view(k));
    auto src = parse_outbox_source(as_view(v));
    if (!pos || !src || src->shard >= in.size() || !in[src->shard])
      continue;
    MDB_val ov;
    if (db_get(t, p.outbox, &k, &ov) != 0 || ov.mv_size < 8)
      continue; // forwarded and deleted by a process without replication
    auto entry = as_view(ov);
    auto ev = decode_event(entry.substr(8), "outbox");
    if (!ev)
      continue;
    handoff_record r;
    r.what = handoff_record::kind::outbox;
    r.stage_id = keys::get_u32(entry).value_or(0);
    r.shard = src->shard;
    r.key = std::move(ev->key);
    r.pos = *pos;
    r.value = std::string(entry.substr(8));
    r.origin = src->origin;
    auto go = fn(r);
    if (!go || !*go)
      return go;
  }
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": scan outbox_src");
  return true;
}

/// Reads the owner's position of `shard` in `t`; nullopt: not owned here.
result<std::optional<repl_position>>
owner_position(const store::impl& p, MDB_txn* t, std::uint32_t shard) {
  auto sk = shard_key(shard);
  MDB_val k = as_val(sk), v;
  int rc = db_get(t, p.shards, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<repl_position>{};
  v1::ShardRecord sr;
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read shard record");
  if (!sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
    return fail(errc::corrupt, p.opts.dir + ": shard record "
                                   + std::to_string(shard) + " does not parse");
  repl_position at{sr.epoch(), 0};
  if ((rc = db_get(t, p.replog_head, &k, &v)) == 0)
    at.seq = repl::parse_position(as_view(v)).value_or(at).seq;
  else if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read replication head");
  return std::optional{at};
}

} // namespace

result<void> erase_letters_and_outbox(store::impl& p, cluster_writer& w,
                                      const std::vector<bool>& in) {
  std::vector<std::string> letters, outbox;
  auto keep = [&](handoff_record& r) -> result<bool> {
    if (r.what == handoff_record::kind::dead_letter)
      letters.push_back(keys::dead_letter_key(r.stage_id, r.pos.seq));
    else
      outbox.push_back(keys::queue_key(r.pos));
    return true;
  };
  // A damaged dead letter or outbox entry names its key in its value: its
  // shard is unknown, so it stays (`sluice check` reports it).
  auto go = scan_dead_letters_of(p, w.get(), in, keep, true);
  if (go && *go)
    go = scan_outbox_of(p, w.get(), in, keep, true);
  if (!go)
    return go.error();
  for (auto& k : letters)
    if (auto r = w.del(p.dead_letters, k, "delete a given-up dead letter"); !r)
      return r;
  for (auto& k : outbox) {
    if (auto r = w.del(p.outbox, k, "delete a given-up outbox entry"); !r)
      return r;
    if (auto r = w.del(p.outbox_src, k, "delete a given-up outbox entry"); !r)
      return r;
  }
  return {};
}

result<void> scan_shard(
    const store::impl& p, MDB_txn* t, std::uint32_t shard,
    const std::function<result<bool>(handoff_record&, std::string_view)>& fn) {
  return scan_shards(p, t, shard_set({shard}), fn);
}

result<void> scan_shards(
    const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
    const std::function<result<bool>(handoff_record&, std::string_view)>& fn) {
  std::map<std::uint32_t, std::string> names;
  {
    std::lock_guard<std::mutex> guard{p.dbi_mtx};
    names = p.stage_names;
  }
  auto named = [&](handoff_record& r) -> result<bool> {
    auto i = names.find(r.stage_id);
    if (r.stage_id != 0 && i == names.end())
      return fail(errc::not_found,
                  p.opts.dir + ": no stage " + std::to_string(r.stage_id));
    return fn(r, i == names.end() ? std::string_view{} : i->second);
  };
  bool more = true;
  auto r = scan_records(
      p, t, in,
      [&](handoff_record& rec, MDB_dbi, std::string_view) -> result<bool> {
        auto go = named(rec);
        more = go && *go;
        return go;
      });
  if (!r || !more)
    return r;
  auto go = scan_dead_letters_of(p, t, in, named);
  if (!go || !*go)
    return go ? result<void>{} : result<void>{go.error()};
  go = scan_outbox_of(p, t, in, named);
  if (!go || !*go)
    return go ? result<void>{} : result<void>{go.error()};
  // Their changelog entries and, per stage, the bound of each.
  return scan_changelogs(
      p, t, in,
      [&](handoff_record& rec, MDB_dbi, std::string_view) -> result<bool> {
        return named(rec);
      });
}

result<std::optional<repl_position>>
store::replog_position(std::uint32_t shard) const {
  auto& p = *impl_;
  if (!p.has_replication)
    return std::optional<repl_position>{};
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read replication position");
  return owner_position(p, t.get(), shard);
}

result<repl_position>
store::snapshot_shard(std::uint32_t shard, std::size_t chunk_bytes,
                      const std::function<bool(std::string&&)>& fn) const {
  auto& p = *impl_;
  if (!p.has_replication)
    return fail(errc::invalid_argument, p.opts.dir + " has no replication");
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin snapshot");
  auto at = owner_position(p, t.get(), shard);
  if (!at)
    return at.error();
  if (!*at)
    return fail(errc::invalid_argument, "shard " + std::to_string(shard)
                                            + " is not owned by " + p.opts.dir);
  v1::ReplRecord chunk;
  std::size_t bytes = 0;
  bool more = true;
  auto emit = [&] {
    more = fn(chunk.SerializeAsString());
    chunk.Clear();
    bytes = 0;
    return more;
  };
  auto r = scan_shard(
      p, t.get(), shard,
      [&](handoff_record& rec, std::string_view stage) -> result<bool> {
        repl::to_change(rec, stage, false, *chunk.add_changes());
        bytes += rec.value.size() + rec.key.size() + 32;
        return bytes < chunk_bytes || emit();
      });
  if (!r)
    return r.error();
  if (more && chunk.changes_size() > 0)
    emit();
  return **at;
}

result<std::uint64_t> store::shard_digest(std::uint32_t shard) const {
  auto& p = *impl_;
  if (!p.has_replication)
    return fail(errc::invalid_argument, p.opts.dir + " has no replication");
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin digest");
  std::vector<std::pair<std::string, std::string>> entries;
  auto r = scan_shard(
      p, t.get(), shard,
      [&](handoff_record& rec, std::string_view stage) -> result<bool> {
        if (repl::digested(rec))
          entries.emplace_back(repl::replica_key(rec, stage),
                               std::move(rec.value));
        return true;
      });
  if (!r)
    return r.error();
  std::sort(entries.begin(), entries.end());
  return repl::digest_of(entries);
}

} // namespace sluice
