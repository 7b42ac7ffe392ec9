// The writing side of stage changelogs: made or dropped as a stage is
// registered, an entry per applied change of a key's state in the commit's
// transaction, pruned to the stage's retention at the end of the batch.
// Writer thread only.
#include <algorithm>
#include <map>
#include <random>

#include "batch_writer.hpp"
#include "changelog_codec.hpp"
#include "cluster_db.hpp"
#include "sluice/placement.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// Most entries one commit prunes: a retention made much shorter is
/// caught up over several commits instead of one long one.
constexpr std::size_t max_pruned_per_commit = 65536;

std::string changelog_meta_value(std::uint64_t log_id, std::uint64_t low) {
  std::string out;
  keys::put_u64(out, log_id);
  keys::put_u64(out, low);
  return out;
}

} // namespace

std::optional<store::impl::changelog_db>
store::impl::changelog_of(std::uint32_t stage_id) const {
  std::lock_guard<std::mutex> guard{dbi_mtx};
  auto i = changelogs.find(stage_id);
  if (i == changelogs.end())
    return std::nullopt;
  return i->second;
}

result<std::optional<MDB_dbi>> open_changelog(MDB_txn* t, store::impl& p,
                                              const std::string& name,
                                              const changelog_retention& keep) {
  auto db_name = changelog_db_name(name);
  auto mkey = changelog_meta_key(name);
  MDB_val mk = as_val(mkey);
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(t, db_name.c_str(), 0, &dbi);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": open database '" + db_name + "'");
  bool exists = rc == 0;
  if (exists)
    p.format.name(dbi, db_name);
  if (!keep.on()) {
    if (exists && (rc = mdb_drop(t, dbi, 1)) != 0)
      return lmdb_error(rc, p.opts.dir + ": drop the changelog of " + name);
    rc = mdb_del(t, p.meta, &mk, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": delete " + mkey);
    return std::optional<MDB_dbi>{};
  }
  MDB_val mv;
  rc = db_get(t, p.meta, &mk, &mv);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read " + mkey);
  if (exists && rc == 0)
    return std::optional<MDB_dbi>{dbi};
  // A new log (or one whose record went missing: started again, so no
  // cursor of the old one is taken for this one). Nothing before the
  // store's current seq is in it.
  if (exists && (rc = mdb_drop(t, dbi, 0)) != 0)
    return lmdb_error(rc, p.opts.dir + ": empty the changelog of " + name);
  auto made = p.open_db(t, db_name, true);
  if (!made)
    return made.error();
  if (auto r = refresh_seq(t, p); !r)
    return r.error();
  std::uint64_t id = std::random_device{}();
  id = (id << 32) ^ std::random_device{}();
  auto value = changelog_meta_value(id, p.next_seq - 1);
  MDB_val v = as_val(value);
  if ((rc = db_put(t, p.meta, &mk, &v, 0)) != 0)
    return lmdb_error(rc, p.opts.dir + ": write " + mkey);
  return std::optional<MDB_dbi>{*made};
}

result<void> batch_writer::log_change(std::uint32_t stage_id,
                                      const std::string& key,
                                      std::string_view state_value) {
  if (changelogs_checked_.insert(stage_id).second) {
    if (auto db = p_.changelog_of(stage_id))
      changelog_dbs_[stage_id] = *db;
  }
  if (changelog_dbs_.count(stage_id))
    changelog_pending_.push_back({stage_id, key, std::string(state_value)});
  return {};
}

result<void> batch_writer::finish_changelogs() {
  if (changelog_pending_.empty() && changelog_dbs_.empty())
    return {};
  // Written last, with the time they are committed at (the commit's fsync
  // is all that follows), so a change's `ts` is when it became visible.
  auto ts = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  for (auto& c : changelog_pending_) {
    auto offset = p_.next_seq++;
    auto k = changelog_codec::offset_key(offset);
    auto epoch = shard_epoch(shard_of(c.key));
    if (!epoch)
      return epoch.error();
    auto shard_offset = *epoch == 0 ? 0 : shard_offset_of(*epoch, offset);
    auto value =
        changelog_codec::entry_value(ts, c.key, c.state_value, shard_offset);
    MDB_val kv = as_val(k), vv = as_val(value);
    // Offsets only grow: appending is LMDB's cheapest put.
    if (int rc =
            db_put(t_, changelog_dbs_[c.stage_id].dbi, &kv, &vv, MDB_APPEND);
        rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": write changelog entry of "
                                + keys::printable(c.key));
    if (shard_offset != 0)
      changes_.changelog(c.stage_id, c.key, shard_offset, value, false);
    changelog_written_ = true;
  }
  changelog_pending_.clear();
  return prune_changelogs();
}

result<std::uint64_t> batch_writer::shard_epoch(std::uint32_t shard) {
  if (!p_.has_cluster)
    return std::uint64_t{0};
  auto [at, fresh] = shard_epochs_.try_emplace(shard, 0);
  if (!fresh)
    return at->second;
  auto sk = shard_key(shard);
  MDB_val k = as_val(sk), v;
  int rc = db_get(t_, p_.shards, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::uint64_t{0}; // a single node: no shard records
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": read shard record");
  v1::ShardRecord sr;
  if (!sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
    return fail(errc::corrupt, p_.opts.dir + ": shard record "
                                   + std::to_string(shard) + " does not parse");
  at->second = sr.epoch();
  return at->second;
}

void batch_writer::note_pruned(
    std::uint32_t stage_id, std::string_view value,
    std::map<std::uint32_t, std::uint64_t>& pruned_to) {
  auto l = changelog_codec::layout_of(value);
  if (!l || l->shard_offset == 0)
    return; // no shard offset: written where nothing was replicated
  auto key = value.substr(l->key_at, l->key_len);
  changes_.changelog(stage_id, key, l->shard_offset, {}, true);
  // Pruned in log order, which is shard offset order within a shard.
  pruned_to[shard_of(key)] = l->shard_offset;
}

result<void> batch_writer::replicate_bounds(
    std::uint32_t stage_id,
    const std::map<std::uint32_t, std::uint64_t>& pruned_to) {
  // A follower's copy of a shard's log is complete after its last entry
  // pruned (everything before it in the owner's log went first), or after
  // the bound the shard came with, whichever is later.
  for (auto [shard, offset] : pruned_to) {
    auto bk = changelog_bound_key(shard, stage_id);
    MDB_val k = as_val(bk), v;
    int rc = db_get(t_, p_.meta, &k, &v);
    if (rc == 0)
      offset = std::max(offset, keys::get_u64(as_view(v)).value_or(0));
    else if (rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": read a changelog bound");
    changes_.changelog_bound(stage_id, shard, offset);
  }
  return {};
}

result<void> batch_writer::prune_changelogs() {
  for (auto& [stage_id, db] : changelog_dbs_) {
    int rc = 0;
    cursor c{t_, db.dbi, rc};
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": open changelog cursor");
    MDB_stat st{};
    if ((rc = mdb_stat(t_, db.dbi, &st)) != 0)
      return lmdb_error(rc, p_.opts.dir + ": changelog size");
    std::uint64_t excess = 0;
    if (db.keep.changes > 0 && st.ms_entries > db.keep.changes)
      excess = st.ms_entries - db.keep.changes;
    auto cutoff =
        now_ns_
        - std::chrono::duration_cast<std::chrono::nanoseconds>(db.keep.span)
              .count();
    std::uint64_t pruned = 0, low = 0;
    // Replicated: per shard, the shard offset of its last entry pruned.
    std::map<std::uint32_t, std::uint64_t> pruned_to;
    MDB_val k, v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST);
         rc == 0 && pruned < max_pruned_per_commit;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      bool old = false;
      if (db.keep.changes > 0) {
        old = pruned < excess;
      } else {
        auto ts = changelog_codec::entry_ts(as_view(v));
        old = ts && *ts < cutoff;
      }
      if (!old)
        break;
      low = keys::get_u64(as_view(k)).value_or(low);
      if (changes_.on())
        note_pruned(stage_id, as_view(v), pruned_to);
      if ((rc = mdb_cursor_del(c.get(), 0)) != 0)
        return lmdb_error(rc, p_.opts.dir + ": prune changelog");
      ++pruned;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": read changelog");
    if (auto r = replicate_bounds(stage_id, pruned_to); !r)
      return r;
    if (pruned == 0)
      continue;
    auto name = p_.stage_names.find(stage_id);
    if (name == p_.stage_names.end())
      continue;
    auto mkey = changelog_meta_key(name->second);
    MDB_val mk = as_val(mkey), mv;
    if ((rc = db_get(t_, p_.meta, &mk, &mv)) != 0)
      return lmdb_error(rc, p_.opts.dir + ": read " + mkey);
    auto id = keys::get_u64(as_view(mv)).value_or(0);
    auto value = changelog_meta_value(id, low);
    MDB_val nv = as_val(value);
    if ((rc = db_put(t_, p_.meta, &mk, &nv, 0)) != 0)
      return lmdb_error(rc, p_.opts.dir + ": write " + mkey);
  }
  return {};
}

} // namespace sluice
