// The receiving side of a hand-off: clearing what an interrupted transfer
// left, writing transferred records (queued events at fresh seqs, statuses
// and retries pointed at them), and owning the shards once complete.
// Store actor's thread only.
#include <map>
#include <optional>
#include <set>

#include "positions.hpp"
#include "replica_db.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// The `handoff_in` keys of `shards` (their import markers and the queued
/// entries an import brought in), read in `t`: one range per shard, since
/// the keys begin with the shard.
result<std::vector<std::string>>
import_index(MDB_txn* t, const store::impl& p,
             const std::vector<std::uint32_t>& shards) {
  std::vector<std::string> out;
  int rc = 0;
  cursor c{t, p.handoff_in, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on handoff_in");
  for (auto sh : std::set<std::uint32_t>(shards.begin(), shards.end())) {
    std::string from;
    keys::put_u32(from, sh);
    MDB_val k = as_val(from), v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      if (keys::get_u32(as_view(k)) != sh)
        break;
      out.emplace_back(as_view(k));
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": read handoff_in");
  }
  return out;
}

/// Forgets the position remapping of `shards`' imports.
void forget_remap(store::impl& p, const std::vector<std::uint32_t>& shards) {
  for (auto sh : shards)
    p.import_remap.erase(
        p.import_remap.lower_bound({sh, {priority::urgent, 0}}),
        p.import_remap.lower_bound({sh + 1, {priority::urgent, 0}}));
}

} // namespace

result<void> store::begin_import(const std::vector<std::uint32_t>& shards) {
  auto& p = *impl_;
  cluster_writer w{p, "begin hand-off import"};
  if (w.failed())
    return *w.failed();
  bool partial = false;
  for (auto s : shards) {
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (db_get(w.get(), p.shards, &k, &v) == 0)
      return fail(errc::invalid_argument,
                  "shard " + std::to_string(s) + " is already owned here");
    auto mk = handoff_in_key(s, import_marker, {});
    MDB_val mkv = as_val(mk), mv;
    partial = partial || db_get(w.get(), p.handoff_in, &mkv, &mv) == 0;
    // Handed off from here earlier and not purged yet: its leftovers go
    // first, and its mark with them (a purge must not take the import).
    auto pk = purge_key(s);
    MDB_val pkv = as_val(pk), pv;
    if (db_get(w.get(), p.meta, &pkv, &pv) == 0) {
      partial = true;
      if (auto r = w.del(p.meta, pk, "clear a purge mark"); !r)
        return r;
    }
  }
  forget_remap(p, shards);
  if (partial) {
    // An earlier transfer of these shards was cut off: its queued events
    // are listed in handoff_in, its other records found by a scan.
    auto doomed = import_index(w.get(), p, shards);
    if (!doomed)
      return doomed.error();
    for (auto& k : *doomed) {
      auto stage = keys::get_u32(k, 4);
      if (stage && *stage != import_marker) {
        auto dbi = p.queue_dbi(*stage);
        if (dbi)
          if (auto r = w.del(*dbi, k.substr(8), "delete a partial import"); !r)
            return r;
      }
      if (auto r = w.del(p.handoff_in, k, "delete a partial import"); !r)
        return r;
    }
    // Queued events are gone now; the scan finds the rest.
    if (auto r = erase_records(p, w, shard_set(shards)); !r)
      return r;
  }
  // The marker keeps where this member's log stood: the changelog entries
  // the hand-off brings come after it.
  std::string at;
  keys::put_u64(at, p.next_seq - 1);
  for (auto s : shards)
    if (auto r = w.put(p.handoff_in, handoff_in_key(s, import_marker, {}), at,
                       "mark an import");
        !r)
      return r;
  return w.finish();
}

result<void> store::import_handoff(std::vector<handoff_record> recs) {
  auto& p = *impl_;
  cluster_writer w{p, "hand-off import"};
  if (w.failed())
    return *w.failed();
  position_map added;
  for (auto& r : recs) {
    auto now = import_record(p, w, r, added, p.import_remap);
    if (!now)
      return w.undo(now.error());
    if (*now)
      if (auto x =
              w.put(p.handoff_in, handoff_in_key(r.shard, r.stage_id, **now),
                    "", "index a handed-off event");
          !x)
        return w.undo(x.error());
  }
  if (auto r = w.finish(); !r)
    return r;
  for (auto& [k, v] : added)
    p.import_remap[k] = v;
  return {};
}

result<commit_report>
store::acquire_shards(const std::vector<std::uint32_t>& shards,
                      std::uint64_t epoch) {
  auto& p = *impl_;
  cluster_writer w{p, "acquire shards"};
  if (w.failed())
    return *w.failed();
  // Where the import began in this member's log (its marker says; 1 when
  // it does not: the whole log is searched), and where its own entries of
  // the shards begin.
  std::map<std::uint32_t, std::uint64_t> import_from;
  for (auto s : shards) {
    auto mk = handoff_in_key(s, import_marker, {});
    MDB_val k = as_val(mk), v;
    std::optional<std::uint64_t> at;
    if (db_get(w.get(), p.handoff_in, &k, &v) == 0)
      at = keys::get_u64(as_view(v));
    import_from[s] = std::max<std::uint64_t>(at.value_or(1), 1);
  }
  v1::ShardRecord sr;
  sr.set_epoch(epoch);
  sr.set_changelog_own(p.next_seq - 1);
  auto index = import_index(w.get(), p, shards);
  if (!index)
    return index.error();
  for (auto& k : *index)
    if (auto r = w.del(p.handoff_in, k, "clear the import index"); !r)
      return r.error();
  for (auto s : shards) {
    sr.set_changelog_from(import_from[s]);
    if (auto r = w.put(p.shards, shard_key(s), sr.SerializeAsString(),
                       "write shard record");
        !r)
      return r.error();
    // A replica copy this member kept of the shard is superseded by what
    // the hand-off brought.
    if (p.replicating())
      if (auto r = erase_replica(p, w, s); !r)
        return r.error();
  }
  if (auto r = w.finish(); !r)
    return r.error();
  forget_remap(p, shards);
  if (p.opts.place)
    for (auto s : shards)
      p.opts.place->set(s, shard_state::owned);
  commit_report rep;
  rep.rewind = true;
  return rep;
}

} // namespace sluice
