// The follower's reads of its replica copies: the records of one shard's
// copy, as hand-off records with this directory's stage ids, their digest
// (equal to the owner's shard_digest when both hold the same), and every
// copy's position in one scan. Any thread.
#include <map>
#include <mutex>

#include "replica_db.hpp"

namespace sluice {

namespace {

/// Calls `fn(key, value)` for the `replica` entries of `shard` in key
/// order until it returns false.
template <class F>
result<void> for_each_copied(const store::impl& p, MDB_txn* t,
                             std::uint32_t shard, F fn) {
  int rc = 0;
  cursor c{t, p.replica, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on replica");
  auto from = repl::shard_prefix(shard);
  MDB_val k = as_val(from), v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    if (keys::get_u32(as_view(k)) != shard)
      break;
    auto go = fn(as_view(k), as_view(v));
    if (!go)
      return go.error();
    if (!*go)
      return {};
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read replica");
  return {};
}

} // namespace

result<void> scan_replica_copy(
    const store::impl& p, MDB_txn* t, std::uint32_t shard,
    const std::function<result<bool>(handoff_record&, std::string_view)>& fn) {
  handoff_record r;
  std::string stage;
  auto one = [&](std::string_view k, std::string_view v) -> result<bool> {
    if (!repl::parse_replica(k, v, r, stage))
      return fail(errc::corrupt, p.opts.dir + ": replica record "
                                     + keys::printable(k) + " is malformed");
    return fn(r, stage);
  };
  std::vector<replica_write> logged;
  if (auto l = overlay_replica_log(p, t, shard, logged); !l)
    return l;
  if (logged.empty())
    return for_each_copied(p, t, shard, one);
  // Records taken but not yet applied: the copy is the entries with them
  // applied on top, in key order.
  std::map<std::string, std::string, std::less<>> copy;
  auto all = for_each_copied(
      p, t, shard, [&](std::string_view k, std::string_view v) -> result<bool> {
        copy.emplace(k, v);
        return true;
      });
  if (!all)
    return all;
  for (auto& [k, v] : logged)
    if (v)
      copy.insert_or_assign(std::move(k), std::move(*v));
    else
      copy.erase(k);
  for (auto& [k, v] : copy) {
    auto go = one(k, v);
    if (!go)
      return go.error();
    if (!*go)
      return {};
  }
  return {};
}

result<void>
store::scan_replica(std::uint32_t shard,
                    const std::function<bool(handoff_record&)>& fn) const {
  auto& p = *impl_;
  if (!p.has_replication)
    return {};
  std::map<std::string, std::uint32_t, std::less<>> ids{{"", 0}};
  {
    std::lock_guard<std::mutex> guard{p.dbi_mtx};
    for (auto& [id, name] : p.stage_names)
      ids[name] = id;
  }
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read replica");
  return scan_replica_copy(
      p, t.get(), shard,
      [&](handoff_record& r, std::string_view stage) -> result<bool> {
        auto i = ids.find(stage);
        if (i == ids.end())
          return fail(errc::not_found,
                      p.opts.dir + ": the replica of shard "
                          + std::to_string(shard) + " holds records of stage "
                          + std::string(stage) + ", which is not registered");
        r.stage_id = i->second;
        return fn(r);
      });
}

result<std::map<std::uint32_t, repl_position>>
store::replica_positions() const {
  auto& p = *impl_;
  std::map<std::uint32_t, repl_position> out;
  if (!p.has_replication)
    return out;
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read replica positions");
  cursor c{t.get(), p.replica_pos, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on replica_pos");
  MDB_val k, v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto shard = keys::get_u32(as_view(k));
    auto e = parse_replica_entry(as_view(v));
    if (!shard || k.mv_size != 4 || !e)
      return fail(errc::corrupt, p.opts.dir + ": replica position "
                                     + keys::printable(as_view(k))
                                     + " is malformed");
    if (!e->installing) // not usable until its snapshot is finished
      out.emplace(*shard, e->at);
  }
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read replica positions");
  return out;
}

result<std::uint64_t> store::replica_digest(std::uint32_t shard) const {
  auto& p = *impl_;
  if (!p.has_replication)
    return fail(errc::invalid_argument, p.opts.dir + " has no replication");
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin digest");
  std::vector<std::pair<std::string, std::string>> entries;
  auto r = scan_replica_copy(
      p, t.get(), shard,
      [&](handoff_record& rec, std::string_view stage) -> result<bool> {
        if (repl::digested(rec))
          entries.emplace_back(repl::replica_key(rec, stage),
                               std::move(rec.value));
        return true;
      });
  if (!r)
    return r.error();
  return repl::digest_of(entries); // in key order already
}

} // namespace sluice
