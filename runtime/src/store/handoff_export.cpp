// The sending side of a hand-off: shards marked leaving (persisted, so a
// restart resumes), their records scanned for the receiver, then handed
// over once it owns them (a small transaction: the shards are remote from
// then on, and marked for purging) and their records purged after, or
// reclaimed when it refused. Writers on the store actor's thread; the scan
// on any thread.
#include "cluster_db.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// Commits `w`, then puts `shards` in `state` in the placement (if any).
result<void> finish_as(store::impl& p, cluster_writer& w,
                       const std::vector<std::uint32_t>& shards,
                       shard_state state) {
  if (auto r = w.finish(); !r)
    return r;
  if (p.opts.place)
    for (auto s : shards)
      p.opts.place->set(s, state);
  return {};
}

} // namespace

result<void> store::mark_leaving(const std::vector<std::uint32_t>& shards,
                                 const std::string& target,
                                 std::uint64_t transfer) {
  auto& p = *impl_;
  cluster_writer w{p, "mark shards leaving"};
  if (w.failed())
    return *w.failed();
  for (auto s : shards) {
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (db_get(w.get(), p.shards, &k, &v) != 0)
      return fail(errc::invalid_argument,
                  "shard " + std::to_string(s) + " is not owned here");
    v1::ShardRecord sr;
    sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size));
    sr.set_leaving(true);
    sr.set_target(target);
    sr.set_transfer(transfer);
    if (auto r =
            w.put(p.shards, sk, sr.SerializeAsString(), "write shard record");
        !r)
      return r;
  }
  return finish_as(p, w, shards, shard_state::leaving);
}

result<void>
store::scan_handoff(const std::vector<std::uint32_t>& shards,
                    const std::function<bool(handoff_record&)>& fn) const {
  auto& p = *impl_;
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin hand-off scan");
  bool more = true;
  auto each = [&](handoff_record& r, MDB_dbi,
                  std::string_view) -> result<bool> {
    more = fn(r);
    return more;
  };
  auto in = shard_set(shards);
  if (auto r = scan_records(p, t.get(), in, each); !r || !more)
    return r;
  return scan_changelogs(p, t.get(), in, each);
}

namespace {

/// Deletes every record of `shards` in `w`: their keys' records, and (a
/// replicated store) their dead letters, outbox entries and logs.
result<void> erase_shard_data(store::impl& p, cluster_writer& w,
                              const std::vector<std::uint32_t>& shards) {
  if (auto r = erase_records(p, w, shard_set(shards)); !r)
    return r;
  // Replicated: the shard's dead letters and the outbox entries its keys
  // emitted are its records too. Those below its high-watermark are the
  // new owner's (it forwards them); the rest are void with the commits
  // that wrote them. Left here, an entry beyond the watermark left once
  // the shard was lost (nothing holds the fence for a lost shard) while
  // the new owner ran its key again: the same event twice downstream.
  if (w.changes.on()) {
    if (auto r = erase_letters_and_outbox(p, w, shard_set(shards)); !r)
      return r;
    // Its log is void: the new owner's followers take its snapshot.
    for (auto s : shards)
      if (auto r = drop_replog(w.get(), p, s); !r)
        return r;
  }
  return {};
}

} // namespace

result<std::vector<std::uint32_t>> purge_marks(MDB_txn* t,
                                               const store::impl& p) {
  std::vector<std::uint32_t> out;
  int rc = 0;
  cursor c{t, p.meta, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on meta");
  MDB_val k = as_val(purge_key_prefix), v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto key = as_view(k);
    if (!key.starts_with(purge_key_prefix))
      break;
    if (auto s = keys::get_u32(key, purge_key_prefix.size()))
      out.push_back(*s);
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read purge marks");
  return out;
}

result<void> store::release_shards(const std::vector<std::uint32_t>& shards) {
  auto& p = *impl_;
  cluster_writer w{p, "release shards"};
  if (w.failed())
    return *w.failed();
  if (auto r = erase_shard_data(p, w, shards); !r)
    return r;
  for (auto s : shards)
    if (auto r = w.del(p.shards, shard_key(s), "delete shard record"); !r)
      return r;
  return finish_as(p, w, shards, shard_state::remote);
}

result<void> store::hand_over_shards(const std::vector<std::uint32_t>& shards) {
  auto& p = *impl_;
  cluster_writer w{p, "hand over shards"};
  if (w.failed())
    return *w.failed();
  for (auto s : shards) {
    if (auto r = w.del(p.shards, shard_key(s), "delete shard record"); !r)
      return r;
    if (auto r = w.put(p.meta, purge_key(s), "", "mark a shard for purging");
        !r)
      return r;
  }
  return finish_as(p, w, shards, shard_state::remote);
}

result<std::size_t> store::purge_handed_over() {
  auto& p = *impl_;
  if (!p.has_cluster)
    return std::size_t{0};
  cluster_writer w{p, "purge handed-over shards"};
  if (w.failed())
    return *w.failed();
  auto marked = purge_marks(w.get(), p);
  if (!marked)
    return marked.error();
  if (marked->empty())
    return std::size_t{0};
  if (auto r = erase_shard_data(p, w, *marked); !r)
    return r.error();
  for (auto s : *marked)
    if (auto r = w.del(p.meta, purge_key(s), "clear a purge mark"); !r)
      return r.error();
  if (auto r = w.finish(); !r)
    return r.error();
  return marked->size();
}

result<commit_report>
store::reclaim_shards(const std::vector<std::uint32_t>& shards) {
  auto& p = *impl_;
  cluster_writer w{p, "reclaim shards"};
  if (w.failed())
    return *w.failed();
  for (auto s : shards) {
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (db_get(w.get(), p.shards, &k, &v) != 0)
      continue;
    v1::ShardRecord sr;
    sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size));
    sr.set_leaving(false);
    sr.clear_target();
    sr.set_transfer(0);
    if (auto r =
            w.put(p.shards, sk, sr.SerializeAsString(), "write shard record");
        !r)
      return r.error();
  }
  if (auto r = w.finish(); !r)
    return r.error();
  if (p.opts.place)
    for (auto s : shards)
      if (p.opts.place->state(s) == shard_state::leaving)
        p.opts.place->set(s, shard_state::owned);
  commit_report rep;
  rep.rewind = true;
  return rep;
}

} // namespace sluice
