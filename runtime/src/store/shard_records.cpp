// Shard ownership as the `shards` database records it: loading it into the
// placement, answering whether a shard queues here, a new cluster's claim of
// every shard, and the node's incarnation. Writers on the store actor's
// thread; readers on any thread.
#include "cluster_db.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

const std::string incarnation_key = "incarnation";

result<shard_record> parse_shard_record(const store::impl& p,
                                        std::string_view k,
                                        std::string_view v) {
  auto shard = keys::get_u32(k);
  v1::ShardRecord sr;
  if (!shard || !sr.ParseFromArray(v.data(), static_cast<int>(v.size())))
    return fail(errc::corrupt, p.opts.dir + ": shard record "
                                   + keys::printable(k) + " does not parse");
  shard_record rec{
      *shard,        sr.epoch(),   sr.leaving(),        sr.target(),
      sr.transfer(), std::nullopt, sr.changelog_from(), sr.changelog_own()};
  if (sr.base_epoch() != 0)
    rec.base = repl_position{sr.base_epoch(), sr.base_seq()};
  return rec;
}

} // namespace

result<std::vector<shard_record>> read_shard_records(MDB_txn* t,
                                                     const store::impl& p) {
  std::vector<shard_record> out;
  int rc = 0;
  cursor c{t, p.shards, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on shards");
  MDB_val k, v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto rec = parse_shard_record(p, as_view(k), as_view(v));
    if (!rec)
      return rec.error();
    out.push_back(std::move(*rec));
  }
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read shards");
  return out;
}

result<void> load_placement(MDB_txn* t, const store::impl& p,
                            placement& place) {
  auto records = read_shard_records(t, p);
  if (!records)
    return records.error();
  for (std::uint32_t s = 0; s < shard_count; ++s)
    place.set(s, shard_state::remote);
  for (auto& rec : *records)
    if (rec.shard < shard_count)
      place.set(rec.shard,
                rec.leaving ? shard_state::leaving : shard_state::owned);
  return {};
}

result<bool> queues_here(MDB_txn* t, const store::impl& p,
                         std::uint32_t shard) {
  if (p.opts.place)
    return p.opts.place->queues_here(shard);
  if (!p.has_cluster)
    return true;
  MDB_stat st;
  if (int rc = mdb_stat(t, p.shards, &st); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": stat shards");
  if (st.ms_entries == 0)
    return true; // not a cluster member
  auto sk = shard_key(shard);
  MDB_val k = as_val(sk), v;
  int rc = db_get(t, p.shards, &k, &v);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read shard record");
  v1::ShardRecord sr;
  return sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))
         && !sr.leaving();
}

result<std::vector<shard_record>> store::shard_records() const {
  auto& p = *impl_;
  if (!p.has_cluster)
    return std::vector<shard_record>{};
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read shards");
  return read_shard_records(t.get(), p);
}

result<std::uint64_t> store::next_incarnation() {
  auto& p = *impl_;
  cluster_writer w{p, "incarnation"};
  if (w.failed())
    return *w.failed();
  MDB_val k = as_val(incarnation_key), v;
  std::uint64_t n = 0;
  if (db_get(w.get(), p.meta, &k, &v) == 0)
    n = keys::get_u64(as_view(v)).value_or(0);
  ++n;
  std::string buf;
  keys::put_u64(buf, n);
  if (auto r = w.put(p.meta, incarnation_key, buf, "write incarnation"); !r)
    return r.error();
  if (auto r = w.finish(); !r)
    return r.error();
  return n;
}

result<std::uint64_t> store::incarnation() const {
  auto& p = *impl_;
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read incarnation");
  MDB_val k = as_val(incarnation_key), v;
  rc = db_get(t.get(), p.meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::uint64_t{0};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read incarnation");
  return keys::get_u64(as_view(v)).value_or(0);
}

result<void> store::claim_all_shards() {
  auto& p = *impl_;
  cluster_writer w{p, "claim shards"};
  if (w.failed())
    return *w.failed();
  MDB_stat st;
  if (int rc = mdb_stat(w.get(), p.shards, &st); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": stat shards");
  if (st.ms_entries > 0)
    return fail(errc::invalid_argument, p.opts.dir + " already records "
                                            + std::to_string(st.ms_entries)
                                            + " shards of a cluster");
  v1::ShardRecord sr;
  sr.set_epoch(1);
  sr.set_changelog_own(p.next_seq - 1);
  auto value = sr.SerializeAsString();
  for (std::uint32_t s = 0; s < shard_count; ++s)
    if (auto r = w.put(p.shards, shard_key(s), value, "write shard record"); !r)
      return r;
  if (auto r = w.finish(); !r)
    return r;
  if (p.opts.place)
    for (std::uint32_t s = 0; s < shard_count; ++s)
      p.opts.place->set(s, shard_state::owned);
  return {};
}

} // namespace sluice
