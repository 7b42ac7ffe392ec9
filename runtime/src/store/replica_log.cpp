// The follower's log of shipped records (`replica_log.NN`), as a Raft
// follower appends entries before its state machine applies them: a
// shipped record is checked and appended in the commit that acknowledges
// it, and reaches the `replica` copies later, many commits' worth at once.
// A copy's records are a few random B-tree pages per shard; applied commit
// by commit they cost a page written per record, and with R = 3 every
// member writes two copies of every event. Applied in large batches, each
// page is written once for all its records, and an event queued and taken
// (or put in the outbox and forwarded) within the batch never reaches the
// copy at all.
// The log is 16 databases, one per range of 64 shards: once the whole log
// is over its bound, each commit applies the largest range's, so the work
// comes in sixteenths (a few tens of milliseconds), never all at once, and
// a range's copies are one contiguous stretch of `replica`'s keys.
// Every reader of a copy sees the log too: scans overlay the shard's range,
// and writers that replace or take a copy apply the log first. Store
// actor's thread for writes; scans on any thread.
#include <algorithm>
#include <map>

#include "replica_db.hpp"

namespace sluice {

namespace {

/// Apply once the whole log holds this many pages, whatever its records
/// (store_options::replica_log_records): it stays bounded on disk, and a
/// range's batch in memory.
constexpr std::size_t apply_pages = 16384; // 64 MiB

constexpr std::uint32_t shards_per_log = shard_count / replica_logs;

std::size_t log_of(std::uint32_t shard) {
  return std::min<std::size_t>(shard / shards_per_log, replica_logs - 1);
}

std::string log_value(const replog_entry& e) {
  std::string v;
  v.reserve(20 + e.record.size());
  keys::put_u32(v, e.shard);
  keys::put_u64(v, e.epoch);
  keys::put_u64(v, e.seq);
  v += e.record;
  return v;
}

/// The shard and ReplRecord bytes of a log value; nullopt: malformed.
std::optional<std::pair<std::uint32_t, std::string_view>>
parse_log_value(std::string_view v) {
  auto shard = keys::get_u32(v);
  if (!shard || v.size() < 20)
    return std::nullopt;
  return std::pair{*shard, v.substr(20)};
}

std::string where_in_log(const store::impl& p, std::size_t log,
                         std::string_view key) {
  return p.opts.dir + ": " + replica_log_name(log) + " entry "
         + keys::printable(key);
}

/// Calls `fn(key, entry)` for every entry of log `log` in arrival order
/// (entry nullopt: a malformed value), or only `shard`'s (and malformed
/// ones, which could be its).
template <class F>
result<void> for_each_logged(const store::impl& p, MDB_txn* t, std::size_t log,
                             std::optional<std::uint32_t> only, F fn) {
  int rc = 0;
  cursor c{t, p.replica_log[log], rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on replica_log");
  MDB_val k, v;
  // A value that fails its checksum is a malformed entry: even its shard
  // is unknown.
  for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST);
       rc == 0 || rc == value_damaged;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto e = rc == 0 ? parse_log_value(as_view(v)) : std::nullopt;
    if (only && e && e->first != *only)
      continue;
    if (auto r = fn(as_view(k), e); !r)
      return r;
  }
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read replica_log");
  return {};
}

/// The writes a logged record makes, appended to `out`; false when the
/// record does not parse or convert.
bool writes_of(std::uint32_t shard, std::string_view record,
               v1::ReplRecord& parsed, std::vector<replica_write>& out) {
  if (!parsed.ParseFromArray(record.data(), static_cast<int>(record.size())))
    return false;
  return static_cast<bool>(replica_writes_of(
      shard, parsed, [] { return std::string(); }, out));
}

/// Entries and pages of log `log`.
result<MDB_stat> log_size(const store::impl& p, MDB_txn* t, std::size_t log) {
  MDB_stat st{};
  if (int rc = mdb_stat(t, p.replica_log[log], &st); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": size of replica_log");
  return st;
}

/// Applies log `log` to the copies of its shards and empties it.
result<void> apply_log(store::impl& p, MDB_txn* t, std::size_t log) {
  // What the records leave of each key, in key order: each page of the
  // copies is written once, and a key put and deleted within the log is
  // never written.
  std::map<std::string, std::optional<std::string>, std::less<>> staged;
  std::vector<replica_write> writes;
  std::vector<std::uint32_t> damaged;
  bool unreadable = false;
  v1::ReplRecord parsed;
  auto r = for_each_logged(
      p, t, log, std::nullopt,
      [&](std::string_view, const auto& e) -> result<void> {
        if (!e || log_of(e->first) != log) {
          unreadable = true;
          return {};
        }
        writes.clear();
        if (std::count(damaged.begin(), damaged.end(), e->first) > 0
            || !writes_of(e->first, e->second, parsed, writes)) {
          damaged.push_back(e->first);
          return {};
        }
        for (auto& [k, v] : writes)
          staged.insert_or_assign(std::move(k), std::move(v));
        return {};
      });
  if (!r)
    return r;
  for (auto& [k, v] : staged)
    if (auto w = write_replica(p, t, k, v); !w)
      return w;
  if (int rc = mdb_drop(t, p.replica_log[log], 0); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": empty replica_log");
  // Damaged bytes (they were whole when taken): the copies they belong to
  // are dropped, and their owners send snapshots, as to a new follower. An
  // entry that names no shard of this log could be any of them.
  if (unreadable) {
    damaged.clear();
    for (std::uint32_t s = 0; s < shard_count; ++s)
      if (log_of(s) == log)
        damaged.push_back(s);
  }
  for (auto shard : damaged)
    if (auto e = erase_replica_copy(p, t, shard); !e)
      return e;
  return {};
}

} // namespace

result<void> append_replica_log(store::impl& p, MDB_txn* t,
                                replica_log_numbers& next,
                                const replog_entry& e) {
  auto log = log_of(e.shard);
  auto& n = next[log];
  if (!n) {
    int rc = 0;
    cursor c{t, p.replica_log[log], rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on replica_log");
    MDB_val k, v;
    rc = cursor_get(c.get(), &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND)
      n = 1;
    else if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": read replica_log");
    else if (auto last = keys::get_u64(as_view(k)); last && k.mv_size == 8)
      n = *last + 1;
    else
      return fail(errc::corrupt,
                  where_in_log(p, log, as_view(k)) + " has a malformed key");
  }
  std::string k;
  keys::put_u64(k, (*n)++);
  auto v = log_value(e);
  MDB_val kv = as_val(k), vv = as_val(v);
  if (int rc = db_put(t, p.replica_log[log], &kv, &vv, MDB_APPEND); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": append to replica_log");
  return {};
}

result<void> apply_replica_log_share(store::impl& p, MDB_txn* t) {
  if (!p.has_replica_log)
    return {};
  std::size_t entries = 0, pages = 0, largest = 0, largest_pages = 0;
  for (std::size_t l = 0; l < replica_logs; ++l) {
    auto st = log_size(p, t, l);
    if (!st)
      return st.error();
    entries += st->ms_entries;
    auto n = st->ms_leaf_pages + st->ms_overflow_pages;
    pages += n;
    if (n + st->ms_entries > largest_pages) {
      largest_pages = n + st->ms_entries;
      largest = l;
    }
  }
  if (entries < std::max<std::size_t>(p.opts.replica_log_records, 1)
      && pages < apply_pages)
    return {};
  return apply_log(p, t, largest);
}

result<void> apply_replica_log(store::impl& p, MDB_txn* t) {
  if (!p.has_replica_log)
    return {};
  for (std::size_t l = 0; l < replica_logs; ++l) {
    auto st = log_size(p, t, l);
    if (!st)
      return st.error();
    if (st->ms_entries > 0)
      if (auto r = apply_log(p, t, l); !r)
        return r;
  }
  return {};
}

result<void> apply_replica_log_of(store::impl& p, MDB_txn* t,
                                  std::uint32_t shard) {
  if (!p.has_replica_log)
    return {};
  auto log = log_of(shard);
  auto st = log_size(p, t, log);
  if (!st)
    return st.error();
  return st->ms_entries > 0 ? apply_log(p, t, log) : result<void>{};
}

result<void> overlay_replica_log(const store::impl& p, MDB_txn* t,
                                 std::uint32_t shard,
                                 std::vector<replica_write>& out) {
  if (!p.has_replica_log)
    return {};
  auto log = log_of(shard);
  v1::ReplRecord parsed;
  return for_each_logged(
      p, t, log, shard, [&](std::string_view k, const auto& e) -> result<void> {
        if (!e || !writes_of(shard, e->second, parsed, out))
          return fail(errc::corrupt, where_in_log(p, log, k) + " of shard "
                                         + std::to_string(shard)
                                         + " does not parse");
        return {};
      });
}

result<std::size_t> store::replica_log_records() const {
  auto& p = *impl_;
  if (!p.has_replica_log)
    return std::size_t{0};
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read replica_log");
  std::size_t n = 0;
  for (std::size_t l = 0; l < replica_logs; ++l) {
    auto st = log_size(p, t.get(), l);
    if (!st)
      return st.error();
    n += st->ms_entries;
  }
  return n;
}

} // namespace sluice
