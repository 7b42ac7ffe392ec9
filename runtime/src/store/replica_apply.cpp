// The follower's writes: shipped replication records taken (checked, and
// logged for the `replica` copies: replica_log.cpp) with their positions
// (idempotent, epoch-fenced), a record's changes applied to a copy, and a
// copy dropped. Store actor's thread only.
#include <map>

#include "replica_db.hpp"

namespace sluice {

std::string describe_position(repl_position at) {
  return "(epoch " + std::to_string(at.epoch) + ", seq "
         + std::to_string(at.seq) + ")";
}

std::optional<replica_entry> parse_replica_entry(std::string_view value) {
  bool installing = value.size() == 17 && value.back() == 'i';
  auto at = repl::parse_position(installing ? value.substr(0, 16) : value);
  if (!at)
    return std::nullopt;
  return replica_entry{*at, installing};
}

result<std::optional<replica_entry>>
read_replica_entry(const store::impl& p, MDB_txn* t, std::uint32_t shard) {
  auto sk = shard_key(shard);
  MDB_val k = as_val(sk), v;
  int rc = db_get(t, p.replica_pos, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<replica_entry>{};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read replica position");
  auto e = parse_replica_entry(as_view(v));
  if (!e)
    return fail(errc::corrupt, p.opts.dir + ": replica position of shard "
                                   + std::to_string(shard) + " is malformed");
  return std::optional{*e};
}

result<void> write_replica_entry(store::impl& p, cluster_writer& w,
                                 std::uint32_t shard, replica_entry e) {
  auto v = repl::position_value(e.at);
  if (e.installing)
    v.push_back('i');
  return w.put(p.replica_pos, shard_key(shard), v, "write replica position");
}

result<std::optional<repl_position>>
read_replica_position(const store::impl& p, MDB_txn* t, std::uint32_t shard) {
  auto e = read_replica_entry(p, t, shard);
  if (!e)
    return e.error();
  if (!*e || (*e)->installing)
    return std::optional<repl_position>{};
  return std::optional{(*e)->at};
}

result<void> check_replicable(const store::impl& p, MDB_txn* t,
                              std::uint32_t shard) {
  if (shard >= shard_count)
    return fail(errc::invalid_argument,
                "shard " + std::to_string(shard) + " is out of range");
  auto sk = shard_key(shard);
  MDB_val k = as_val(sk), v;
  if (db_get(t, p.shards, &k, &v) == 0)
    return fail(errc::invalid_argument,
                "shard " + std::to_string(shard) + " is owned by " + p.opts.dir
                    + ": it takes no replicated records");
  return {};
}

result<void> replica_writes_of(std::uint32_t shard, const v1::ReplRecord& rec,
                               const std::function<std::string()>& where,
                               std::vector<replica_write>& out) {
  auto first = out.size();
  handoff_record r;
  std::string stage;
  for (auto& c : rec.changes()) {
    if (!repl::from_change(c, shard, r, stage)) {
      out.resize(first);
      return fail(errc::corrupt,
                  where()
                      + ": a change of unknown kind or with a malformed "
                        "origin (kind "
                      + std::to_string(c.kind()) + ")");
    }
    auto k = repl::replica_key(r, stage);
    if (c.erase())
      out.emplace_back(std::move(k), std::nullopt);
    else
      out.emplace_back(std::move(k), std::move(r.value));
  }
  return {};
}

result<void> write_replica(store::impl& p, MDB_txn* t, const std::string& key,
                           const std::optional<std::string>& value) {
  MDB_val kv = as_val(key);
  int rc = 0;
  if (!value) {
    rc = mdb_del(t, p.replica, &kv, nullptr);
    if (rc == MDB_NOTFOUND)
      rc = 0;
  } else {
    MDB_val vv = as_val(*value);
    rc = db_put(t, p.replica, &kv, &vv, 0);
  }
  if (rc != 0)
    return lmdb_error(
        rc, p.opts.dir + ": "
                + (value ? "put a replica record" : "delete a replica record"));
  return {};
}

result<void> apply_replica_changes(store::impl& p, MDB_txn* t,
                                   std::uint32_t shard,
                                   const v1::ReplRecord& rec,
                                   const std::function<std::string()>& where) {
  std::vector<replica_write> writes;
  if (auto r = replica_writes_of(shard, rec, where, writes); !r)
    return r;
  for (auto& [k, v] : writes)
    if (auto r = write_replica(p, t, k, v); !r)
      return r;
  return {};
}

result<void> erase_replica_copy(store::impl& p, MDB_txn* t,
                                std::uint32_t shard) {
  std::vector<std::string> doomed;
  int rc = 0;
  {
    cursor c{t, p.replica, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on replica");
    auto from = repl::shard_prefix(shard);
    MDB_val k = as_val(from), v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      if (keys::get_u32(as_view(k)) != shard)
        break;
      doomed.emplace_back(as_view(k));
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": read replica");
  }
  for (auto& k : doomed)
    if (auto r = write_replica(p, t, k, std::nullopt); !r)
      return r;
  auto sk = shard_key(shard);
  MDB_val kv = as_val(sk);
  rc = mdb_del(t, p.replica_pos, &kv, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": drop a replica position");
  return {};
}

result<void> erase_replica(store::impl& p, cluster_writer& w,
                           std::uint32_t shard) {
  // The shard's records still in the log go first (with its part's).
  if (auto r = apply_replica_log_of(p, w.get(), shard); !r)
    return r;
  return erase_replica_copy(p, w.get(), shard);
}

namespace {

/// What a record at `rec` does to a copy at `at`: why it is refused, or
/// nothing (then it is applied when above `at`, else skipped).
std::optional<error> refusal(std::uint32_t shard,
                             const std::optional<repl_position>& at,
                             repl_position rec, std::uint64_t base_epoch) {
  // Named only for a refusal: this runs for every shipped record.
  auto name = [&] {
    return "shard " + std::to_string(shard) + ": record "
           + describe_position(rec);
  };
  if (!at)
    return fail(errc::not_found,
                name() + " cannot start a replica: it needs a snapshot first");
  if (rec.epoch < at->epoch)
    return fail(errc::invalid_argument,
                name() + " is of an older epoch than the replica at "
                    + describe_position(*at) + ": refused");
  // A new owner's first record says which position its epoch continues
  // from (Raft's prevLogTerm and prevLogIndex): a copy exactly there holds
  // the state the record applies to.
  bool continues =
      base_epoch != 0 && base_epoch == at->epoch && rec.seq == at->seq + 1;
  if (rec.epoch > at->epoch && !continues)
    return fail(errc::not_found, name() + " is of a newer epoch than the "
                                     + "replica at " + describe_position(*at)
                                     + ": it needs a snapshot");
  if (rec.seq > at->seq + 1)
    return fail(errc::not_found, name() + " leaves a gap after the replica at "
                                     + describe_position(*at));
  return std::nullopt;
}

} // namespace

result<replica_report>
replica_applier::apply(const std::vector<replog_entry>& recs) {
  replica_report out;
  std::map<std::uint32_t, std::size_t> index; // shard -> its outcome
  for (auto& e : recs) {
    auto [it, fresh] = index.try_emplace(e.shard, out.shards.size());
    auto [cp, first] = copies_.try_emplace(e.shard);
    auto& c = cp->second;
    if (first) {
      if (auto ok = check_replicable(p_, t_, e.shard); !ok) {
        c.not_here = ok.error();
      } else {
        auto at = read_replica_position(p_, t_, e.shard);
        if (!at)
          return at.error();
        c.at = *at;
      }
    }
    if (fresh) {
      replica_outcome o;
      o.shard = e.shard;
      o.refused = c.not_here;
      if (c.at)
        o.at = *c.at;
      out.shards.push_back(std::move(o));
    }
    auto& o = out.shards[it->second];
    if (o.refused)
      continue;
    repl_position rec{e.epoch, e.seq};
    if ((o.refused = refusal(e.shard, c.at, rec, e.base_epoch)))
      continue;
    if (rec.seq <= o.at.seq) {
      ++o.skipped;
      continue;
    }
    // Named only for an error: built for every record, the name cost an
    // allocation per record of every shipped batch.
    auto where = [&] {
      return p_.opts.dir + ": shard " + std::to_string(e.shard) + ": record "
             + describe_position(rec);
    };
    if (!parsed_.ParseFromString(e.record)) {
      o.refused = fail(errc::corrupt, where() + " does not parse");
      continue;
    }
    // Checked now, applied later with others (replica_log.cpp).
    record_.clear();
    if (auto r = replica_writes_of(e.shard, parsed_, where, record_); !r) {
      o.refused = r.error(); // the shard's earlier records stay taken
      continue;
    }
    if (auto r = append_replica_log(p_, t_, next_, e); !r)
      return r.error();
    o.at = rec;
    c.at = rec;
    c.moved = true;
    ++o.applied;
  }
  return out;
}

result<void> replica_applier::finish() {
  for (auto& [shard, c] : copies_) {
    if (!c.moved)
      continue;
    auto k = shard_key(shard);
    auto v = repl::position_value(*c.at);
    MDB_val kv = as_val(k), vv = as_val(v);
    if (int rc = db_put(t_, p_.replica_pos, &kv, &vv, 0); rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": write replica position");
    c.moved = false;
  }
  return apply_replica_log_share(p_, t_);
}

result<replica_report>
store::apply_replicated(const std::vector<replog_entry>& recs) {
  auto& p = *impl_;
  if (!p.has_replication)
    return fail(errc::invalid_argument, p.opts.dir + " has no replication");
  cluster_writer w{p, "apply replicated records"};
  if (w.failed())
    return *w.failed();
  replica_applier copies{p, w.get()};
  auto out = copies.apply(recs);
  if (!out)
    return w.undo(out.error());
  if (auto r = copies.finish(); !r)
    return w.undo(r.error());
  if (auto r = w.finish(); !r)
    return r.error();
  return out;
}

result<void> store::drop_replica(std::uint32_t shard) {
  auto& p = *impl_;
  if (!p.has_replication)
    return {};
  cluster_writer w{p, "drop a replica"};
  if (w.failed())
    return *w.failed();
  if (auto r = erase_replica(p, w, shard); !r)
    return r;
  return w.finish();
}

result<std::optional<repl_position>>
store::replica_position(std::uint32_t shard) const {
  auto& p = *impl_;
  if (!p.has_replication)
    return std::optional<repl_position>{};
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read replica position");
  return read_replica_position(p, t.get(), shard);
}

} // namespace sluice
