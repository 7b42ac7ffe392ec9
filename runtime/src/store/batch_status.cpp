// The batch writer's key statuses: where a key waits, written with the
// queue position it waits for, and the reconciler's re-drives of stuck keys.
// Writer thread only.
#include "batch_writer.hpp"
#include "positions.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

result<bool> batch_writer::status_awaits(const std::string& key,
                                         keys::queue_pos pos) {
  MDB_val k = as_val(key), v;
  int rc = db_get(t_, p_.status, &k, &v);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": read status");
  v1::KeyStatus st;
  if (!st.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
    return true; // unreadable: replace it
  return positions::awaited(st) == pos;
}

result<void>
batch_writer::put_status(const std::string& key, const std::string& status,
                         std::optional<keys::queue_pos> waits_for) {
  std::string bytes = status;
  if (waits_for) {
    v1::KeyStatus pos;
    positions::set_awaited(pos, *waits_for);
    bytes += pos.SerializeAsString();
  }
  MDB_val k = as_val(key), v = as_val(bytes);
  if (int rc = db_put(t_, p_.status, &k, &v, 0); rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": write status");
  changes_.status(key, bytes);
  return {};
}

result<void> batch_writer::apply(const redrive& r) {
  if (!dispatches_here(p_.opts.place.get(), r.key))
    return {}; // its shard is handed off, or owned elsewhere
  MDB_val k = as_val(r.key), v;
  int rc = db_get(t_, p_.status, &k, &v);
  if (rc == MDB_NOTFOUND)
    return {};
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": read status");
  if (as_view(v) != r.seen_status)
    return {}; // the key moved since the scan
  v1::KeyStatus st;
  std::optional<keys::queue_pos> pos;
  if (st.ParseFromString(r.seen_status) && (pos = positions::awaited(st))) {
    auto dbi = p_.queue_dbi(r.waits_stage_id);
    if (!dbi)
      return dbi.error();
    auto qk = keys::queue_key(*pos);
    MDB_val qkv = as_val(qk);
    rc = db_has(t_, *dbi, &qkv);
    if (rc == 0)
      return {}; // still queued (damaged: a dead letter soon): waiting
    if (rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": read queue entry");
  }
  source_scope source{*this, r.key};
  if (auto a = append(r.append); !a)
    return a.error();
  if (auto a = put_status(r.key, r.new_status,
                          keys::queue_pos{r.append.priority, p_.next_seq - 1});
      !a)
    return a;
  ++report.redriven;
  return {};
}

} // namespace sluice
