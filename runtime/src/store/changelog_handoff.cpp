// A hand-off carries the shards' changelog entries with their shard
// offsets, and per stage a bound: the shard offset after which the
// sender's log of the shard is complete, so the receiver can tell which
// cursors it can serve. Any thread (the scan); the receiver writes them
// in import_record.
#include <map>
#include <mutex>

#include "changelog_codec.hpp"
#include "cluster_db.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// The bound to send for a shard: its log here is complete after the
/// bound it came with, as long as nothing after the import was pruned;
/// else after what was pruned, at the shard's epoch here.
std::uint64_t bound_to_send(std::uint64_t stored, const v1::ShardRecord& sr,
                            std::uint64_t low) {
  if (sr.changelog_from() > low)
    return stored;
  return std::max(stored, shard_offset_of(sr.epoch(), low));
}

} // namespace

result<void>
scan_changelogs(const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
                const std::function<result<bool>(handoff_record&, MDB_dbi,
                                                 std::string_view)>& fn) {
  std::map<std::uint32_t, MDB_dbi> logs;
  {
    std::lock_guard<std::mutex> guard{p.dbi_mtx};
    for (auto& [id, db] : p.changelogs)
      logs[id] = db.dbi;
  }
  for (auto& [stage_id, dbi] : logs) {
    int rc = 0;
    cursor c{t, dbi, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on a changelog");
    MDB_val k, v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      auto key = changelog_codec::entry_key(as_view(v));
      if (!key)
        continue; // a corrupt entry stays behind (`sluice check` says so)
      auto shard = shard_of(*key);
      if (!in[shard])
        continue;
      auto e = changelog_codec::parse_entry(as_view(k), as_view(v));
      if (!e)
        continue;
      handoff_record r;
      r.what = handoff_record::kind::changelog;
      r.stage_id = stage_id;
      r.shard = shard;
      r.key = std::move(e->key);
      r.pos.seq = e->shard_offset;
      std::string state;
      keys::put_u64(state, e->version);
      state += e->key_state;
      r.value =
          changelog_codec::entry_value(e->ts_ns, r.key, state, e->shard_offset);
      auto go = fn(r, dbi, as_view(k));
      if (!go)
        return go.error();
      if (!*go)
        return {};
    }
    if (rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": scan a changelog");
    auto span = changelog_span_in(t, p, stage_id);
    if (!span)
      return span.error();
    for (std::uint32_t s = 0; s < shard_count; ++s) {
      if (!in[s])
        continue;
      auto bk = changelog_bound_key(s, stage_id);
      MDB_val bkv = as_val(bk), bv;
      std::uint64_t stored = 0;
      if (db_get(t, p.meta, &bkv, &bv) == 0)
        stored = keys::get_u64(as_view(bv)).value_or(0);
      auto sk = shard_key(s);
      MDB_val skv = as_val(sk), sv;
      v1::ShardRecord sr;
      if (db_get(t, p.shards, &skv, &sv) == 0)
        sr.ParseFromArray(sv.mv_data, static_cast<int>(sv.mv_size));
      handoff_record r;
      r.what = handoff_record::kind::changelog_bound;
      r.stage_id = stage_id;
      r.shard = s;
      keys::put_u64(r.value, bound_to_send(stored, sr, span->low));
      auto go = fn(r, p.meta, bk);
      if (!go)
        return go.error();
      if (!*go)
        return {};
    }
  }
  return {};
}

} // namespace sluice
