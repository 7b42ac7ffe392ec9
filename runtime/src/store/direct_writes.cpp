// Writes outside a batch, for tests and tools: clearing a queue, deleting
// one entry (a lost message), overwriting raw bytes (corruption). Each is its
// own write transaction; LMDB serializes it with the store actor's. With
// replication, a cleared queue or a deleted entry is replicated too (raw
// bytes are not: they stand for a damaged disk).
#include "shard_changes.hpp"

namespace sluice {

result<void> store::clear_queue(std::uint32_t stage_id) {
  auto dbi = impl_->queue_dbi(stage_id);
  if (!dbi)
    return dbi.error();
  int rc = 0;
  txn t{impl_->env, false, rc};
  shard_changes changes{*impl_};
  if (rc == 0 && changes.on()) {
    // Every entry leaves its shard's records.
    cursor c{t.get(), *dbi, rc};
    MDB_val k, v;
    if (rc == 0)
      for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
           rc = cursor_get(c.get(), &k, &v, MDB_NEXT))
        if (auto pos = keys::parse_queue_key(as_view(k)))
          changes.queued(stage_id, *pos, {}, as_view(v), true);
    if (rc == MDB_NOTFOUND)
      rc = 0;
  }
  if (rc == 0)
    rc = mdb_drop(t.get(), *dbi, 0);
  if (rc != 0)
    return lmdb_error(rc, impl_->opts.dir + ": clear queue");
  if (auto r = changes.flush(t.get()); !r)
    return r.error();
  if ((rc = t.commit()) != 0)
    return lmdb_error(rc, impl_->opts.dir + ": clear queue");
  return {};
}

result<bool> store::delete_entry(std::uint32_t stage_id, keys::queue_pos pos) {
  auto dbi = impl_->queue_dbi(stage_id);
  if (!dbi)
    return dbi.error();
  int rc = 0;
  txn t{impl_->env, false, rc};
  auto qk = keys::queue_key(pos);
  MDB_val k = as_val(qk), v;
  shard_changes changes{*impl_};
  if (rc == 0 && changes.on() && (rc = db_get(t.get(), *dbi, &k, &v)) == 0)
    changes.queued(stage_id, pos, {}, as_view(v), true);
  if (rc == 0)
    rc = mdb_del(t.get(), *dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc == 0)
    if (auto r = changes.flush(t.get()); !r)
      return r.error();
  if (rc == 0)
    rc = t.commit();
  if (rc != 0)
    return lmdb_error(rc, impl_->opts.dir + ": delete queue entry");
  return true;
}

result<void> store::put_raw(const std::string& db, const std::string& key,
                            const std::string& value, bool with_checksum) {
  auto& p = *impl_;
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin transaction");
  // After LMDB's writer lock, as store::commit takes it (queue_dbi): the
  // other order can deadlock against a commit on another thread.
  std::lock_guard<std::mutex> guard{p.dbi_mtx};
  auto d = p.open_db(t.get(), db, false);
  if (!d)
    return d.error();
  MDB_val k = as_val(key), v = as_val(value);
  rc = with_checksum ? db_put(t.get(), *d, &k, &v, 0)
                     : mdb_put(t.get(), *d, &k, &v, 0);
  if (rc != 0 || (rc = t.commit()) != 0)
    return lmdb_error(rc, p.opts.dir + ": put into " + db);
  return {};
}

} // namespace sluice
