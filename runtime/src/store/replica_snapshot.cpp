// Installing a snapshot as a follower's replica copy of a shard: in one
// transaction, or in steps (begin, chunks, finish) so a large shard can
// stream; until the last step the copy takes no log records. Store actor's
// thread only.
#include "replica_db.hpp"

namespace sluice {

namespace {

/// Refused unless `shard` may take a snapshot at `at`: not owned here,
/// and not of an older epoch than its copy (or the snapshot under way).
result<void> check_snapshot(const store::impl& p, MDB_txn* t,
                            std::uint32_t shard, repl_position at) {
  if (auto ok = check_replicable(p, t, shard); !ok)
    return ok;
  auto now = read_replica_entry(p, t, shard);
  if (!now)
    return now.error();
  if (*now && at.epoch < (*now)->at.epoch)
    return fail(errc::invalid_argument,
                "shard " + std::to_string(shard) + ": a snapshot at "
                    + describe_position(at)
                    + " is of an older epoch than the replica at "
                    + describe_position((*now)->at) + ": refused");
  return {};
}

/// Applies snapshot chunk `chunk` (number `i`) of `shard` within `w`.
result<void> apply_chunk(store::impl& p, cluster_writer& w, std::uint32_t shard,
                         const std::string& chunk, std::size_t i) {
  auto where = p.opts.dir + ": shard " + std::to_string(shard)
               + ": snapshot chunk " + std::to_string(i);
  v1::ReplRecord rec;
  if (!rec.ParseFromString(chunk))
    return fail(errc::corrupt, where + " does not parse");
  return apply_replica_changes(p, w.get(), shard, rec, [&] { return where; });
}

/// Runs `fn(w)` in a write transaction of a store with replication.
template <class F>
result<void> in_writer(store::impl& p, const char* what, F fn) {
  if (!p.has_replication)
    return fail(errc::invalid_argument, p.opts.dir + " has no replication");
  cluster_writer w{p, what};
  if (w.failed())
    return *w.failed();
  if (auto r = fn(w); !r)
    return r;
  return w.finish();
}

} // namespace

result<void> store::install_snapshot(std::uint32_t shard, repl_position at,
                                     const std::vector<std::string>& chunks) {
  auto& p = *impl_;
  return in_writer(
      p, "install a replica snapshot", [&](cluster_writer& w) -> result<void> {
        if (auto r = check_snapshot(p, w.get(), shard, at); !r)
          return r;
        // A late snapshot (sent again while the first was
        // being installed) older than the copy, of its epoch:
        // the copy holds all of it and more, some of which
        // the owner may have counted as acknowledged. Kept.
        auto now = read_replica_entry(p, w.get(), shard);
        if (!now)
          return now.error();
        if (*now && !(*now)->installing && (*now)->at.epoch == at.epoch
            && (*now)->at.seq > at.seq)
          return {};
        if (auto r = erase_replica(p, w, shard); !r)
          return r;
        for (std::size_t i = 0; i < chunks.size(); ++i)
          if (auto r = apply_chunk(p, w, shard, chunks[i], i); !r)
            return r;
        return write_replica_entry(p, w, shard, {at, false});
      });
}

result<void> store::begin_snapshot(std::uint32_t shard, repl_position at) {
  auto& p = *impl_;
  return in_writer(p, "begin a replica snapshot",
                   [&](cluster_writer& w) -> result<void> {
                     if (auto r = check_snapshot(p, w.get(), shard, at); !r)
                       return r;
                     if (auto r = erase_replica(p, w, shard); !r)
                       return r;
                     return write_replica_entry(p, w, shard, {at, true});
                   });
}

result<void> store::add_snapshot_chunk(std::uint32_t shard, repl_position at,
                                       const std::string& chunk) {
  auto& p = *impl_;
  return in_writer(
      p, "add to a replica snapshot", [&](cluster_writer& w) -> result<void> {
        auto now = read_replica_entry(p, w.get(), shard);
        if (!now)
          return now.error();
        if (!*now || !(*now)->installing || (*now)->at != at)
          return fail(errc::invalid_argument,
                      "shard " + std::to_string(shard) + ": no snapshot at "
                          + describe_position(at) + " is being installed");
        return apply_chunk(p, w, shard, chunk, 0);
      });
}

result<void> store::finish_snapshot(std::uint32_t shard, repl_position at) {
  auto& p = *impl_;
  return in_writer(
      p, "finish a replica snapshot", [&](cluster_writer& w) -> result<void> {
        auto now = read_replica_entry(p, w.get(), shard);
        if (!now)
          return now.error();
        if (!*now || !(*now)->installing || (*now)->at != at)
          return fail(errc::invalid_argument,
                      "shard " + std::to_string(shard) + ": no snapshot at "
                          + describe_position(at) + " is being installed");
        return write_replica_entry(p, w, shard, {at, false});
      });
}

} // namespace sluice
