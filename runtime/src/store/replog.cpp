// The owner's replication log (`replog`): reading a shard's records after a
// seq for shipping, and trimming those every follower holds. Reads on any
// thread; trimming on the store actor's.
#include "cluster_db.hpp"
#include "replica_keys.hpp"

namespace sluice {

namespace {

/// Calls `fn(key, entry)` for the replog entries of `shard` in log order,
/// read in `t`, until it returns false.
template <class F>
result<void> for_each_entry(const store::impl& p, MDB_txn* t,
                            std::uint32_t shard, F fn) {
  int rc = 0;
  cursor c{t, p.replog, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on replog");
  auto from = repl::shard_prefix(shard);
  MDB_val k = as_val(from), v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto e = repl::parse_log_key(as_view(k));
    if (!e || e->shard != shard)
      break;
    if (!fn(as_view(k), *e, as_view(v)))
      return {};
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read replog");
  return {};
}

} // namespace

result<std::vector<replog_entry>> store::read_replog(std::uint32_t shard,
                                                     std::uint64_t after_seq,
                                                     std::size_t max) const {
  auto& p = *impl_;
  std::vector<replog_entry> out;
  if (!p.has_replication || max == 0)
    return out;
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read replog");
  cursor c{t.get(), p.replog, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on replog");
  // Seek, never scan: the log keeps every record not yet trimmed, and the
  // owner reads it after each follower's position many times a second.
  // Within an epoch the first record after `after_seq` is at (epoch,
  // after_seq + 1) or later; one of a later epoch found there may still be
  // at or below it (seqs rise across epochs, but need not here), so seek
  // again within that epoch. The seeks pass over only records at or below
  // `after_seq`, which a scan would skip too.
  auto from = repl::log_key(shard, 0, after_seq + 1);
  MDB_val k = as_val(from), v;
  auto in_shard = [&]() -> std::optional<replog_entry> {
    auto e = repl::parse_log_key(as_view(k));
    if (!e || e->shard != shard)
      return std::nullopt;
    return e;
  };
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE)) {
    auto e = in_shard();
    if (!e)
      return out;
    if (e->seq > after_seq)
      break;
    from = repl::log_key(shard, e->epoch, after_seq + 1);
    k = as_val(from);
  }
  for (; rc == 0; rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto e = in_shard();
    if (!e)
      break;
    if (e->seq <= after_seq)
      continue;
    e->record = std::string(as_view(v));
    out.push_back(std::move(*e));
    if (out.size() >= max)
      break;
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read replog");
  return out;
}

result<std::size_t> store::trim_replog(std::uint32_t shard,
                                       std::uint64_t up_to_seq) {
  return trim_replogs({{shard, up_to_seq}});
}

result<std::size_t> store::trim_replogs(
    const std::vector<std::pair<std::uint32_t, std::uint64_t>>& points) {
  auto& p = *impl_;
  if (!p.has_replication || points.empty())
    return std::size_t{0};
  cluster_writer w{p, "trim replog"};
  if (w.failed())
    return *w.failed();
  std::size_t trimmed = 0;
  for (auto& [shard, up_to_seq] : points) {
    std::vector<std::string> doomed;
    auto r = for_each_entry(p, w.get(), shard,
                            [&, up_to = up_to_seq](std::string_view k,
                                                   replog_entry& e,
                                                   std::string_view) {
                              if (e.seq <= up_to)
                                doomed.emplace_back(k);
                              return true;
                            });
    if (!r)
      return w.undo(r.error());
    for (auto& k : doomed)
      if (auto d = w.del(p.replog, k, "trim replog"); !d)
        return w.undo(d.error());
    trimmed += doomed.size();
  }
  if (auto f = w.finish(); !f)
    return f.error();
  return trimmed;
}

} // namespace sluice
