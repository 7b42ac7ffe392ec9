// The `outbox_src` index: an outbox entry's source shard and origin,
// written beside the entry, read by the forwarder's outbox reads and the
// shard's scans, taken when the entry is deleted. Writers on the store
// actor's thread; readers on any thread.
#include "outbox_source.hpp"

#include "replica_keys.hpp"

namespace sluice {

std::optional<outbox_source> parse_outbox_source(std::string_view v) {
  auto shard = keys::get_u32(v);
  if (!shard || (v.size() != 4 && v.size() != 24))
    return std::nullopt;
  outbox_source out{*shard, std::nullopt};
  if (v.size() == 24) {
    out.origin = repl::parse_origin_number(*shard, v.substr(4));
    if (!out.origin)
      return std::nullopt;
  }
  return out;
}

result<void> note_outbox_source(MDB_txn* t, store::impl& p, keys::queue_pos pos,
                                std::uint32_t source_shard,
                                const std::optional<outbox_origin>& origin) {
  auto k = keys::queue_key(pos);
  std::string v;
  keys::put_u32(v, source_shard);
  if (origin)
    v += repl::origin_number(*origin);
  MDB_val kv = as_val(k), vv = as_val(v);
  if (int rc = db_put(t, p.outbox_src, &kv, &vv, 0); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": index an outbox entry's shard");
  return {};
}

namespace {

result<std::optional<outbox_source>> read_source(MDB_txn* t,
                                                 const store::impl& p,
                                                 keys::queue_pos pos,
                                                 bool forget) {
  auto k = keys::queue_key(pos);
  MDB_val kv = as_val(k), v;
  int rc = db_get(t, p.outbox_src, &kv, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<outbox_source>{};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read an outbox entry's shard");
  auto src = parse_outbox_source(as_view(v));
  if (forget && (rc = mdb_del(t, p.outbox_src, &kv, nullptr)) != 0)
    return lmdb_error(rc, p.opts.dir + ": forget an outbox entry's shard");
  return src;
}

} // namespace

result<std::optional<outbox_source>>
read_outbox_source(MDB_txn* t, const store::impl& p, keys::queue_pos pos) {
  return read_source(t, p, pos, false);
}

result<std::optional<outbox_source>>
take_outbox_source(MDB_txn* t, store::impl& p, keys::queue_pos pos) {
  return read_source(t, p, pos, true);
}

} // namespace sluice
