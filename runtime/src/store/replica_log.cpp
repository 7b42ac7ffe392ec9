// The follower's log of shipped records (`replica_log`), as a Raft follower
// appends entries before its state machine applies them: a shipped record
// is checked and appended in the commit that acknowledges it, and reaches
// the `replica` copies later, many commits' worth at once. A copy's records
// are a few random B-tree pages per shard; applied commit by commit they
// cost a page per record, about three times the owner's own writes with
// R = 3. Applied in large batches, each page is written once for all its
// records, and an event queued and taken (or put in the outbox and
// forwarded) within the batch never reaches the copy at all.
// Every reader of a copy sees the log too: scans overlay it, and writers
// that replace or take a copy apply it first. Store actor's thread for
// writes; scans on any thread.
#include <algorithm>
#include <map>
#include <set>

#include "replica_db.hpp"

namespace sluice {

namespace {

/// Apply the log once it holds this many pages, whatever its records
/// (store_options::replica_log_records): the batch's memory stays bounded.
constexpr std::size_t apply_pages = 4096; // 16 MiB

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

/// Calls `fn(key, shard, record)` for every log entry in arrival order, or
/// only `shard`'s; a malformed value is passed with shard nullopt.
template <class F>
result<void> for_each_logged(const store::impl& p, MDB_txn* t,
                             std::optional<std::uint32_t> only, F fn) {
  int rc = 0;
  cursor c{t, p.replica_log, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on replica_log");
  MDB_val k, v;
  for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto e = parse_log_value(as_view(v));
    if (only && (!e || e->first != *only))
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

std::string where_in_log(const store::impl& p, std::string_view key) {
  return p.opts.dir + ": replica_log entry " + keys::printable(key);
}

} // namespace

result<void> append_replica_log(store::impl& p, MDB_txn* t,
                                std::optional<std::uint64_t>& next,
                                const replog_entry& e) {
  if (!next) {
    int rc = 0;
    cursor c{t, p.replica_log, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on replica_log");
    MDB_val k, v;
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND)
      next = 1;
    else if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": read replica_log");
    else if (auto last = keys::get_u64(as_view(k)); last && k.mv_size == 8)
      next = *last + 1;
    else
      return fail(errc::corrupt,
                  where_in_log(p, as_view(k)) + " has a malformed key");
  }
  std::string k;
  keys::put_u64(k, (*next)++);
  auto v = log_value(e);
  MDB_val kv = as_val(k), vv = as_val(v);
  if (int rc = mdb_put(t, p.replica_log, &kv, &vv, MDB_APPEND); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": append to replica_log");
  return {};
}

result<bool> replica_log_due(const store::impl& p, MDB_txn* t) {
  MDB_stat st{};
  if (int rc = mdb_stat(t, p.replica_log, &st); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": size of replica_log");
  return st.ms_entries >= std::max<std::size_t>(p.opts.replica_log_records, 1)
         || st.ms_leaf_pages + st.ms_overflow_pages >= apply_pages;
}

result<void> apply_replica_log(store::impl& p, MDB_txn* t) {
  if (!p.has_replica_log)
    return {};
  // What the records leave of each key, in key order: each page of the
  // copies is written once, and a key put and deleted within the log is
  // never written.
  std::map<std::string, std::optional<std::string>, std::less<>> staged;
  std::vector<replica_write> writes;
  std::set<std::uint32_t> damaged;
  bool unreadable = false;
  v1::ReplRecord parsed;
  auto r = for_each_logged(
      p, t, std::nullopt, [&](std::string_view, const auto& e) -> result<void> {
        if (!e) {
          unreadable = true;
          return {};
        }
        writes.clear();
        if (damaged.count(e->first)
            || !writes_of(e->first, e->second, parsed, writes)) {
          damaged.insert(e->first);
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
  if (int rc = mdb_drop(t, p.replica_log, 0); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": empty replica_log");
  // Damaged bytes (they were whole when taken): the copies they belong to
  // are dropped, and their owners send snapshots, as to a new follower.
  if (unreadable) {
    if (int rc = mdb_drop(t, p.replica, 0); rc != 0)
      return lmdb_error(rc, p.opts.dir + ": drop damaged replica copies");
    if (int rc = mdb_drop(t, p.replica_pos, 0); rc != 0)
      return lmdb_error(rc, p.opts.dir + ": drop damaged replica copies");
    return {};
  }
  for (auto shard : damaged)
    if (auto e = erase_replica_copy(p, t, shard); !e)
      return e;
  return {};
}

result<void> overlay_replica_log(const store::impl& p, MDB_txn* t,
                                 std::uint32_t shard,
                                 std::vector<replica_write>& out) {
  if (!p.has_replica_log)
    return {};
  v1::ReplRecord parsed;
  return for_each_logged(
      p, t, shard, [&](std::string_view k, const auto& e) -> result<void> {
        if (!writes_of(shard, e->second, parsed, out))
          return fail(errc::corrupt, where_in_log(p, k) + " of shard "
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
  MDB_stat st{};
  if (rc = mdb_stat(t.get(), p.replica_log, &st); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": size of replica_log");
  return static_cast<std::size_t>(st.ms_entries);
}

} // namespace sluice
