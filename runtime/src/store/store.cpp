// Opening a data directory and the writer side of the store: stage
// registration and the one-transaction-per-batch commit.
#include "sluice/store/store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "lmdb_env.hpp"
#include "positions.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

constexpr std::uint32_t schema_version = 1;
const std::string seq_key{seq_key_name};
const std::string schema_key = "schema_version";
const std::string stage_prefix = "stage/";

std::string queue_db_name(const std::string& stage) {
  return "queue." + stage;
}

/// The greatest key of `dbi` below `end` (below no bound when `end` is
/// empty), or nullopt when there is none.
result<std::optional<std::string>> last_key_below(MDB_txn* t, MDB_dbi dbi,
                                                  const std::string& end) {
  int rc = 0;
  cursor c{t, dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, "open cursor");
  MDB_val k = as_val(end), v;
  rc = end.empty() ? MDB_NOTFOUND
                   : mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  if (rc == 0)
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_PREV);
  else if (rc == MDB_NOTFOUND)
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND)
    return std::optional<std::string>{};
  if (rc != 0)
    return lmdb_error(rc, "read last key");
  return std::optional<std::string>{std::string(as_view(k))};
}

/// The smallest sequence number above every queue entry and dead letter.
/// Normally the stored counter already is; a damaged or hand-edited store
/// may hold entries past it, and a router reads its queue forward from the
/// last seq it saw, so an append below such an entry would never run.
result<std::uint64_t> seq_past_entries(MDB_txn* t, const store::impl& p) {
  std::uint64_t next = 0;
  auto note = [&](std::uint64_t seq) { next = std::max(next, seq + 1); };
  for (auto& [id, dbi] : p.queues) {
    for (auto pr : {priority::urgent, priority::normal}) {
      // The last entry of a class is the greatest key below the next class.
      auto end = pr == priority::urgent ? keys::queue_key({priority::normal, 0})
                                        : std::string();
      auto last = last_key_below(t, dbi, end);
      if (!last)
        return last.error();
      if (*last)
        if (auto pos = keys::parse_queue_key(**last);
            pos && pos->priority == pr)
          note(pos->seq);
    }
  }
  if (p.has_cluster) {
    for (auto pr : {priority::urgent, priority::normal}) {
      auto end = pr == priority::urgent ? keys::queue_key({priority::normal, 0})
                                        : std::string();
      auto last = last_key_below(t, p.outbox, end);
      if (!last)
        return last.error();
      if (*last)
        if (auto pos = keys::parse_queue_key(**last);
            pos && pos->priority == pr)
          note(pos->seq);
    }
  }
  std::vector<std::uint32_t> ids{0}; // 0: input that never became an event
  for (auto& [id, dbi] : p.queues)
    ids.push_back(id);
  for (auto id : ids) {
    auto last =
        last_key_below(t, p.dead_letters, keys::dead_letter_key(id + 1, 0));
    if (!last)
      return last.error();
    if (*last && keys::get_u32(**last) == id)
      if (auto seq = keys::get_u64(**last, 4))
        note(*seq);
  }
  return next;
}

} // namespace

error lmdb_error(int rc, const std::string& what) {
  auto code =
      rc == MDB_CORRUPTED || rc == MDB_INVALID ? errc::corrupt : errc::storage;
  return fail(code, what + ": " + mdb_strerror(rc));
}

store::impl::~impl() {
  if (env)
    mdb_env_close(env);
}

result<MDB_dbi> store::impl::open_db(MDB_txn* t, const std::string& name,
                                     bool create) {
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(t, name.c_str(), create ? MDB_CREATE : 0, &dbi);
  if (rc != 0)
    return lmdb_error(rc, opts.dir + ": open database '" + name + "'");
  return dbi;
}

result<MDB_dbi> store::impl::queue_dbi(std::uint32_t stage_id) const {
  std::lock_guard<std::mutex> guard{dbi_mtx};
  auto i = queues.find(stage_id);
  if (i == queues.end())
    return fail(errc::not_found,
                "no queue for stage id " + std::to_string(stage_id));
  return i->second;
}

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() = default;

const std::string& store::dir() const noexcept {
  return impl_->opts.dir;
}

result<std::unique_ptr<store>> store::open(const store_options& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (opts.dir.empty())
    return fail(errc::invalid_argument, "no data directory given");
  if (fs::exists(opts.dir, ec) && !fs::is_directory(opts.dir, ec))
    return fail(errc::invalid_argument,
                "data directory " + opts.dir + " is not a directory");
  if (opts.read_only) {
    if (!fs::exists(fs::path(opts.dir) / "data.mdb", ec))
      return fail(errc::not_found,
                  "no Sluice data in " + opts.dir + " (data.mdb is missing)");
  } else if (!fs::exists(opts.dir, ec)) {
    fs::create_directories(opts.dir, ec);
    if (ec)
      return fail(errc::io, "cannot create data directory " + opts.dir + ": "
                                + ec.message());
  }
  auto p = std::make_unique<impl>();
  p->opts = opts;
  int rc = mdb_env_create(&p->env);
  if (rc != 0)
    return lmdb_error(rc, "mdb_env_create");
  mdb_env_set_maxdbs(p->env, 256);
  mdb_env_set_maxreaders(p->env, 256);
  mdb_env_set_mapsize(p->env, opts.map_size);
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (opts.read_only)
    flags |= MDB_RDONLY;
  if (!opts.sync)
    flags |= MDB_NOSYNC;
  rc = mdb_env_open(p->env, opts.dir.c_str(), flags, 0644);
  if (rc != 0)
    return lmdb_error(rc, "cannot open data directory " + opts.dir);
  txn t{p->env, opts.read_only, rc};
  if (rc != 0)
    return lmdb_error(rc, opts.dir + ": begin transaction");
  bool create = !opts.read_only;
  for (auto [name, dbi] : {std::pair{"meta", &p->meta},
                           {"state", &p->state},
                           {"status", &p->status},
                           {"dead_letters", &p->dead_letters},
                           {"offsets", &p->offsets}}) {
    auto d = p->open_db(t.get(), name, create);
    if (!d)
      return d.error();
    *dbi = *d;
  }
  if (auto d = p->open_db(t.get(), "retries", create)) {
    p->retries = *d;
    p->has_retries = true;
  } else if (create) {
    return d.error();
  }
  {
    auto tm = p->open_db(t.get(), "timers", create);
    auto td = tm ? p->open_db(t.get(), "timers_due", create) : tm;
    if (tm && td) {
      p->timers = *tm;
      p->timers_due = *td;
      p->has_timers = true;
    } else if (create) {
      return tm ? td.error() : tm.error();
    }
  }
  {
    bool all = true;
    for (auto [name, dbi] : {std::pair{"outbox", &p->outbox},
                             {"inbox", &p->inbox},
                             {"shards", &p->shards},
                             {"handoff_in", &p->handoff_in}}) {
      auto d = p->open_db(t.get(), name, create);
      if (!d) {
        if (create)
          return d.error();
        all = false;
        break;
      }
      *dbi = *d;
    }
    p->has_cluster = all;
  }
  if (auto d = p->open_db(t.get(), "catalog", create)) {
    p->catalog = *d;
    auto sd = p->open_db(t.get(), "seen", create);
    if (sd) {
      p->seen = *sd;
      p->has_catalog = true;
    } else if (create) {
      return sd.error();
    }
  } else if (create) {
    return d.error();
  }
  // Schema version check, and the global sequence counter.
  MDB_val k = as_val(schema_key), v;
  rc = mdb_get(t.get(), p->meta, &k, &v);
  if (rc == 0) {
    auto ver = keys::get_u32(as_view(v));
    if (!ver || *ver != schema_version)
      return fail(errc::corrupt, opts.dir + ": unsupported schema version");
  } else if (rc == MDB_NOTFOUND && create) {
    std::string buf;
    keys::put_u32(buf, schema_version);
    MDB_val bv = as_val(buf);
    if ((rc = mdb_put(t.get(), p->meta, &k, &bv, 0)) != 0)
      return lmdb_error(rc, opts.dir + ": write schema version");
  } else if (rc != MDB_NOTFOUND) {
    return lmdb_error(rc, opts.dir + ": read schema version");
  }
  k = as_val(seq_key);
  if (mdb_get(t.get(), p->meta, &k, &v) == 0)
    p->next_seq = keys::get_u64(as_view(v)).value_or(1);
  // Open the queue of every recorded stage.
  {
    cursor c{t.get(), p->meta, rc};
    if (rc != 0)
      return lmdb_error(rc, opts.dir + ": open cursor on meta");
    MDB_val mk = as_val(stage_prefix), mv;
    for (rc = mdb_cursor_get(c.get(), &mk, &mv, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c.get(), &mk, &mv, MDB_NEXT)) {
      if (!as_view(mk).starts_with(stage_prefix))
        break;
      v1::StageMeta sm;
      if (!sm.ParseFromArray(mv.mv_data, static_cast<int>(mv.mv_size)))
        return fail(errc::corrupt, opts.dir + ": meta record "
                                       + keys::printable(as_view(mk))
                                       + " is not a valid StageMeta");
      auto d = p->open_db(t.get(), queue_db_name(sm.name()), create);
      if (!d)
        return d.error();
      p->queues[sm.id()] = *d;
    }
  }
  auto past = seq_past_entries(t.get(), *p);
  if (!past)
    return fail(past.error().code, opts.dir + ": " + past.error().message);
  p->next_seq = std::max(p->next_seq, *past);
  if (opts.place && p->has_cluster)
    if (auto r = load_placement(t.get(), *p, *opts.place); !r)
      return r.error();
  if ((rc = t.commit()) != 0)
    return lmdb_error(rc, opts.dir + ": commit open transaction");
  return std::unique_ptr<store>(new store(std::move(p)));
}

result<std::uint32_t> store::register_stage(const std::string& name,
                                            const std::string& behaviour) {
  auto& p = *impl_;
  if (p.opts.read_only)
    return fail(errc::invalid_argument, p.opts.dir + " is open read-only");
  std::lock_guard<std::mutex> guard{p.dbi_mtx};
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin transaction");
  auto mkey = stage_prefix + name;
  MDB_val k = as_val(mkey), v;
  v1::StageMeta sm;
  rc = mdb_get(t.get(), p.meta, &k, &v);
  if (rc == 0) {
    if (!sm.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
      return fail(errc::corrupt, p.opts.dir + ": meta record " + mkey
                                     + " is not a valid StageMeta");
  } else {
    std::uint32_t max_id = 0;
    for (auto& [id, dbi] : p.queues)
      max_id = std::max(max_id, id);
    sm.set_name(name);
    sm.set_id(max_id + 1);
  }
  if (sm.behaviour() != behaviour) {
    sm.set_behaviour(behaviour);
    auto bytes = sm.SerializeAsString();
    MDB_val bv = as_val(bytes);
    if ((rc = mdb_put(t.get(), p.meta, &k, &bv, 0)) != 0)
      return lmdb_error(rc, p.opts.dir + ": record stage " + name);
  }
  auto d = p.open_db(t.get(), queue_db_name(name), true);
  if (!d)
    return d.error();
  if ((rc = t.commit()) != 0)
    return lmdb_error(rc, p.opts.dir + ": commit stage " + name);
  p.queues[sm.id()] = *d;
  return sm.id();
}

namespace {

/// Times a completion may wait for its key's earlier version.
constexpr std::uint32_t max_deferrals = 50;

/// Applies a batch inside an open write transaction.
class batch_writer {
public:
  batch_writer(store::impl& p, MDB_txn* t) : p_(p), t_(t) {}

  result<void> append(const queue_append& a) {
    if (!a.dedupe_id.empty() || a.dedupe_follow) {
      if (!a.dedupe_id.empty()) {
        auto seen = seen_before(a.dedupe_id);
        if (!seen)
          return seen.error();
        dedupe_skip_ = *seen;
        if (dedupe_skip_)
          ++report.deduplicated;
      }
      if (dedupe_skip_)
        return {}; // published once already
    }
    last_outboxed_ = false;
    if (p_.opts.place) {
      auto shard = shard_of_append(a);
      if (!shard)
        return shard.error();
      if (!p_.opts.place->queues_here(*shard)) {
        last_outboxed_ = true;
        return to_outbox(a, *shard);
      }
    }
    auto dbi = p_.queue_dbi(a.stage_id);
    if (!dbi)
      return dbi.error();
    auto k = keys::queue_key({a.priority, p_.next_seq++});
    MDB_val kv = as_val(k), vv = as_val(a.event_bytes);
    unsigned flags = a.priority == priority::normal ? MDB_APPEND : 0;
    int rc = mdb_put(t_, *dbi, &kv, &vv, flags);
    if (rc == MDB_KEYEXIST && flags != 0)
      rc = mdb_put(t_, *dbi, &kv, &vv, 0);
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": append to queue of stage "
                                + std::to_string(a.stage_id));
    report.appended[a.stage_id][static_cast<int>(a.priority)]++;
    ++report.records;
    return {};
  }

  /// True when `id` was published once before (in `seen`, or earlier in
  /// this batch); otherwise records it now.
  result<bool> seen_before(const std::string& id) {
    if (!batch_ids_.insert(id).second)
      return true;
    if (!p_.has_catalog)
      return false;
    MDB_val k = as_val(id), v;
    int rc = mdb_get(t_, p_.seen, &k, &v);
    if (rc == 0)
      return true;
    if (rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": read publish-once ids");
    std::string when;
    keys::put_u64(when, static_cast<std::uint64_t>(now_ns_));
    MDB_val wv = as_val(when);
    if ((rc = mdb_put(t_, p_.seen, &k, &wv, 0)) != 0)
      return lmdb_error(rc, p_.opts.dir + ": record a publish-once id");
    return false;
  }

  /// The shard of an append's key (read from the event when not given).
  result<std::uint32_t> shard_of_append(const queue_append& a) {
    if (!a.key.empty())
      return shard_of(a.key);
    auto ev = decode_event(a.event_bytes,
                           "append to stage " + std::to_string(a.stage_id));
    if (!ev)
      return ev.error();
    return shard_of(ev->key);
  }

  /// Queues an event for the node that owns its shard: the forwarder
  /// ships it, and deletes it once the owner acknowledged it.
  result<void> to_outbox(const queue_append& a, std::uint32_t shard) {
    if (auto r =
            put_outbox(t_, p_, a.stage_id, shard, a.priority, a.event_bytes);
        !r)
      return r;
    ++report.outboxed;
    ++report.records;
    return {};
  }

  result<void> progress(const source_progress& sp) {
    MDB_val k = as_val(sp.source), v = as_val(sp.record);
    int rc = mdb_put(t_, p_.offsets, &k, &v, 0);
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": record offset of " + sp.source);
    ++report.records;
    return {};
  }

  /// The current version of (stage, key): from this batch, else from LMDB.
  result<std::uint64_t> version_of(const std::string& skey) {
    if (auto i = versions_.find(skey); i != versions_.end())
      return i->second;
    MDB_val k = as_val(skey), v;
    int rc = mdb_get(t_, p_.state, &k, &v);
    if (rc == MDB_NOTFOUND)
      return std::uint64_t{0};
    if (rc != 0)
      return lmdb_error(rc,
                        p_.opts.dir + ": read state " + keys::printable(skey));
    auto ver = keys::get_u64(as_view(v));
    if (!ver)
      return fail(errc::corrupt, p_.opts.dir + ": state record "
                                     + keys::printable(skey)
                                     + " is shorter than its version header");
    return *ver;
  }

  result<void> dead_letter(std::uint32_t stage_id, const std::string& rec) {
    auto dk = keys::dead_letter_key(stage_id, p_.next_seq++);
    MDB_val k = as_val(dk), v = as_val(rec);
    if (int rc = mdb_put(t_, p_.dead_letters, &k, &v, 0); rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": write dead letter");
    ++report.dead_letters;
    ++report.records;
    return {};
  }

  result<void> complete(completion& c) {
    auto skey = keys::state_key(c.stage_id, c.key);
    queue_ref ref{c.stage_id, c.consumed, c.ingest_ts_ns};
    // Fencing: a node that lost the key's shard no longer commits for it.
    if (p_.opts.place && c.touch_state
        && !p_.opts.place->commits_here(shard_of(c.key))) {
      report.duplicates.push_back(ref);
      return {};
    }
    std::uint64_t cur_version = 0;
    if (c.touch_state) {
      auto cur = version_of(skey);
      if (!cur)
        return cur.error();
      if (c.base_version > *cur) {
        // Its predecessor has not arrived. One that never does (its actor
        // was replaced) must not circle forever: give up and let the stage
        // reload the key.
        if (++c.deferrals > max_deferrals)
          report.rejected.push_back(ref);
        else
          report.deferred.push_back(std::move(c));
        return {};
      }
      if (c.base_version < *cur) {
        report.rejected.push_back(ref);
        return {};
      }
      cur_version = *cur;
    }
    auto dbi = p_.queue_dbi(c.stage_id);
    if (!dbi)
      return dbi.error();
    auto qk = keys::queue_key(c.consumed);
    MDB_val qkv = as_val(qk), qv;
    // A retry keeps the entry queued; everything else consumes it.
    int rc = c.retry.empty() ? mdb_del(t_, *dbi, &qkv, nullptr)
                             : mdb_get(t_, *dbi, &qkv, &qv);
    if (rc == MDB_NOTFOUND) { // consumed already: a duplicate
      report.duplicates.push_back(ref);
      return {};
    }
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": remove consumed event");
    if (c.touch_state && !c.ack_only)
      if (auto r = put_state(skey, cur_version + 1, c); !r)
        return r;
    if (auto r = timers(c); !r)
      return r;
    std::optional<keys::queue_pos> waits_for;
    for (std::size_t i = 0; i < c.emits.size(); ++i) {
      if (auto r = append(c.emits[i]); !r)
        return r;
      // An emit that went to the outbox waits in another node's queue.
      if (static_cast<int>(i) == c.status_emit && !last_outboxed_)
        waits_for = keys::queue_pos{c.emits[i].priority, p_.next_seq - 1};
    }
    if (c.touch_state && !c.key_status.empty()) {
      result<bool> awaited = true;
      if (c.ack_only)
        awaited = status_awaits(c.key, c.consumed);
      if (!awaited)
        return awaited.error();
      if (*awaited)
        if (auto r = put_status(c.key, c.key_status, waits_for); !r)
          return r;
    }
    if (!c.dead_letter.empty())
      if (auto r = dead_letter(c.stage_id, c.dead_letter); !r)
        return r;
    if (!c.retry.empty()) {
      MDB_val k = as_val(skey), v = as_val(c.retry);
      if ((rc = mdb_put(t_, p_.retries, &k, &v, 0)) != 0)
        return lmdb_error(rc, p_.opts.dir + ": write retry");
      report.retried.push_back({ref, c.retry_due_ns});
      ++report.records;
      return {};
    }
    if (c.clear_retry) {
      MDB_val k = as_val(skey);
      rc = mdb_del(t_, p_.retries, &k, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_error(rc, p_.opts.dir + ": delete retry");
    }
    report.consumed.push_back(ref);
    ++report.records;
    return {};
  }

  /// True when the key's stored status waits for the queue entry at `pos`
  /// (seqs are unique across all queues, so the position names the entry).
  /// Reading is cheaper than rewriting the status each time.
  result<bool> status_awaits(const std::string& key, keys::queue_pos pos) {
    MDB_val k = as_val(key), v;
    int rc = mdb_get(t_, p_.status, &k, &v);
    if (rc == MDB_NOTFOUND)
      return false;
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": read status");
    v1::KeyStatus st;
    if (!st.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
      return true; // unreadable: replace it
    return positions::awaited(st) == pos;
  }

  /// Writes a key's status; `waits_for` is the queue entry it waits for.
  /// Protobuf merges concatenated messages, so the position is appended
  /// to the status bytes the processor built.
  result<void> put_status(const std::string& key, const std::string& status,
                          std::optional<keys::queue_pos> waits_for) {
    std::string bytes = status;
    if (waits_for) {
      v1::KeyStatus pos;
      positions::set_awaited(pos, *waits_for);
      bytes += pos.SerializeAsString();
    }
    MDB_val k = as_val(key), v = as_val(bytes);
    if (int rc = mdb_put(t_, p_.status, &k, &v, 0); rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": write status");
    return {};
  }

  /// A reconciler re-drive, applied only if the key is still stuck.
  result<void> apply(const redrive& r) {
    if (!dispatches_here(p_.opts.place.get(), r.key))
      return {}; // its shard is handed off, or owned elsewhere
    MDB_val k = as_val(r.key), v;
    int rc = mdb_get(t_, p_.status, &k, &v);
    if (rc == MDB_NOTFOUND)
      return {};
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": read status");
    if (as_view(v) != r.seen_status)
      return {}; // the key moved since the scan
    v1::KeyStatus st;
    std::optional<keys::queue_pos> pos;
    if (st.ParseFromString(r.seen_status) && (pos = positions::awaited(st))) {
      auto dbi = p_.queue_dbi(r.waits_stage_id);
      if (!dbi)
        return dbi.error();
      auto qk = keys::queue_key(*pos);
      MDB_val qkv = as_val(qk), qv;
      rc = mdb_get(t_, *dbi, &qkv, &qv);
      if (rc == 0)
        return {}; // still queued: waiting, not stuck
      if (rc != MDB_NOTFOUND)
        return lmdb_error(rc, p_.opts.dir + ": read queue entry");
    }
    if (auto a = append(r.append); !a)
      return a;
    if (auto a =
            put_status(r.key, r.new_status,
                       keys::queue_pos{r.append.priority, p_.next_seq - 1});
        !a)
      return a;
    ++report.redriven;
    return {};
  }

  /// Applies a completion's timer ops in order: each replaces the durable
  /// timer of its name, and a durable set writes the new one. Every op is
  /// reported, for the router's in-memory timers.
  result<void> timers(completion& c) {
    for (auto& op : c.timers) {
      auto tk = keys::timer_key(c.stage_id, c.key, op.name);
      if (auto r = drop_timer(c.stage_id, tk); !r)
        return r;
      if (!op.cancel && op.durable) {
        v1::TimerRecord rec;
        rec.set_name(op.name);
        rec.set_due_ts_ns(op.due_ns);
        rec.set_event(op.event_bytes);
        rec.set_priority(static_cast<std::uint32_t>(op.priority));
        auto bytes = rec.SerializeAsString();
        auto dk = keys::timer_due_key(c.stage_id, op.due_ns, tk);
        MDB_val k = as_val(tk), v = as_val(bytes), dkv = as_val(dk), dv{};
        int rc = mdb_put(t_, p_.timers, &k, &v, 0);
        if (rc == 0)
          rc = mdb_put(t_, p_.timers_due, &dkv, &dv, 0);
        if (rc != 0)
          return lmdb_error(rc, p_.opts.dir + ": write timer " + op.name
                                    + " of key " + keys::printable(c.key));
        op.event_bytes.clear(); // stored; the router needs only the time
      }
      ++report.records;
      report.timers.push_back({c.stage_id, c.key, std::move(op)});
    }
    return {};
  }

  /// Deletes the durable timer at timers-db key `tk`, if there is one.
  result<void> drop_timer(std::uint32_t stage_id, const std::string& tk) {
    MDB_val k = as_val(tk), v;
    int rc = mdb_get(t_, p_.timers, &k, &v);
    if (rc == MDB_NOTFOUND)
      return {};
    if (rc == 0) {
      v1::TimerRecord rec;
      rec.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size));
      auto dk = keys::timer_due_key(stage_id, rec.due_ts_ns(), tk);
      MDB_val dkv = as_val(dk);
      rc = mdb_del(t_, p_.timers_due, &dkv, nullptr);
      if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_del(t_, p_.timers, &k, nullptr);
    }
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": delete timer");
    return {};
  }

  /// Moves the stage's durable timers due by `f.up_to_ns` into its queue.
  /// A record that does not parse is dead-lettered, naming the timer.
  result<void> fire(const timer_fire& f) {
    std::vector<std::string> due; // timers_due keys, collected first
    {
      int rc = 0;
      cursor c{t_, p_.timers_due, rc};
      if (rc != 0)
        return lmdb_error(rc, p_.opts.dir + ": cursor on timers_due");
      auto from = keys::timer_due_key(f.stage_id, 0, "");
      MDB_val k = as_val(from), v;
      for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
           rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
        auto key = as_view(k);
        if (keys::get_u32(key) != f.stage_id)
          break;
        auto at = keys::get_u64(key, 4);
        if (!at || static_cast<std::int64_t>(*at) > f.up_to_ns)
          break;
        // A timer of a shard being handed off moves with it, unfired.
        if (p_.opts.place)
          if (auto tk = keys::parse_timer_key(key.substr(12));
              tk && !p_.opts.place->dispatches_here(shard_of(tk->first)))
            continue;
        due.emplace_back(key);
      }
      if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_error(rc, p_.opts.dir + ": scan timers_due");
    }
    for (auto& dk : due) {
      auto tk = dk.substr(12);
      MDB_val k = as_val(tk), v, dkv = as_val(dk);
      int rc = mdb_get(t_, p_.timers, &k, &v);
      if (rc == 0) {
        v1::TimerRecord rec;
        if (rec.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))) {
          auto tkey = keys::parse_timer_key(tk);
          queue_append a{
              f.stage_id,
              rec.priority() == 0 ? priority::urgent : priority::normal,
              rec.event(), tkey ? std::string(tkey->first) : std::string()};
          if (auto r = append(a); !r)
            return r;
        } else {
          v1::DeadLetter dl;
          dl.set_raw(std::string(as_view(v)));
          dl.set_source("timers:" + keys::printable(tk));
          if (auto r = dead_letter(f.stage_id, dl.SerializeAsString()); !r)
            return r;
        }
        if ((rc = mdb_del(t_, p_.timers, &k, nullptr)) != 0)
          return lmdb_error(rc, p_.opts.dir + ": delete fired timer");
        ++report.timers_fired;
      } else if (rc != MDB_NOTFOUND) {
        return lmdb_error(rc, p_.opts.dir + ": read timer");
      }
      if ((rc = mdb_del(t_, p_.timers_due, &dkv, nullptr)) != 0)
        return lmdb_error(rc, p_.opts.dir + ": delete fired timer's due entry");
    }
    return {};
  }

  result<void> put_state(const std::string& skey, std::uint64_t version,
                         const completion& c) {
    int rc = 0;
    std::string value;
    value.reserve(8 + c.key_state.size());
    keys::put_u64(value, version);
    value += c.key_state;
    MDB_val sk = as_val(skey), sv = as_val(value);
    if ((rc = mdb_put(t_, p_.state, &sk, &sv, 0)) != 0)
      return lmdb_error(rc,
                        p_.opts.dir + ": write state " + keys::printable(skey));
    versions_[skey] = version;
    return {};
  }

  result<void> save_seq() {
    std::string buf;
    keys::put_u64(buf, p_.next_seq);
    MDB_val k = as_val(seq_key), v = as_val(buf);
    int rc = mdb_put(t_, p_.meta, &k, &v, 0);
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": write sequence counter");
    return {};
  }

  commit_report report;

private:
  store::impl& p_;
  MDB_txn* t_;
  bool last_outboxed_ = false;      ///< the last append went to the outbox
  bool dedupe_skip_ = false;        ///< the last dedupe_id append was dropped
  std::set<std::string> batch_ids_; ///< publish-once ids of this batch
  std::int64_t now_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::unordered_map<std::string, std::uint64_t> versions_;
};

} // namespace

result<void> refresh_seq(MDB_txn* t, store::impl& p) {
  MDB_val k = as_val(seq_key), v;
  int rc = mdb_get(t, p.meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return {};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read sequence counter");
  p.next_seq = std::max(p.next_seq, keys::get_u64(as_view(v)).value_or(0));
  return {};
}

result<commit_report> store::commit(write_batch batch) {
  auto& p = *impl_;
  if (p.opts.read_only)
    return fail(errc::invalid_argument, p.opts.dir + " is open read-only");
  auto seq_before = p.next_seq;
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin write transaction");
  // Another process (a `sluice dlq` command) may have written since our
  // last commit: continue after the stored counter, never reuse a seq.
  if (auto r = refresh_seq(t.get(), p); !r)
    return r.error();
  seq_before = p.next_seq;
  batch_writer w{p, t.get()};
  auto undo = [&](const error& e) -> result<commit_report> {
    p.next_seq = seq_before;
    return e;
  };
  for (auto& a : batch.appends)
    if (auto r = w.append(a); !r)
      return undo(r.error());
  for (auto& sp : batch.progress)
    if (auto r = w.progress(sp); !r)
      return undo(r.error());
  for (auto& c : batch.completions)
    if (auto r = w.complete(c); !r)
      return undo(r.error());
  for (auto& d : batch.dead_letters)
    if (auto r = w.dead_letter(0, d); !r)
      return undo(r.error());
  for (auto& rd : batch.redrives)
    if (auto r = w.apply(rd); !r)
      return undo(r.error());
  for (auto& f : batch.timer_fires)
    if (auto r = w.fire(f); !r)
      return undo(r.error());
  if (p.next_seq != seq_before)
    if (auto r = w.save_seq(); !r)
      return undo(r.error());
  if ((rc = t.commit()) != 0)
    return undo(lmdb_error(rc, p.opts.dir + ": commit"));
  return std::move(w.report);
}

result<void> store::clear_queue(std::uint32_t stage_id) {
  auto dbi = impl_->queue_dbi(stage_id);
  if (!dbi)
    return dbi.error();
  int rc = 0;
  txn t{impl_->env, false, rc};
  if (rc == 0)
    rc = mdb_drop(t.get(), *dbi, 0);
  if (rc == 0)
    rc = t.commit();
  if (rc != 0)
    return lmdb_error(rc, impl_->opts.dir + ": clear queue");
  return {};
}

result<bool> store::delete_entry(std::uint32_t stage_id, keys::queue_pos pos) {
  auto dbi = impl_->queue_dbi(stage_id);
  if (!dbi)
    return dbi.error();
  int rc = 0;
  txn t{impl_->env, false, rc};
  auto qk = keys::queue_key(pos);
  MDB_val k = as_val(qk);
  if (rc == 0)
    rc = mdb_del(t.get(), *dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc == 0)
    rc = t.commit();
  if (rc != 0)
    return lmdb_error(rc, impl_->opts.dir + ": delete queue entry");
  return true;
}

result<void> store::put_raw(const std::string& db, const std::string& key,
                            const std::string& value) {
  auto& p = *impl_;
  std::lock_guard<std::mutex> guard{p.dbi_mtx};
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin transaction");
  auto d = p.open_db(t.get(), db, false);
  if (!d)
    return d.error();
  MDB_val k = as_val(key), v = as_val(value);
  if ((rc = mdb_put(t.get(), *d, &k, &v, 0)) != 0 || (rc = t.commit()) != 0)
    return lmdb_error(rc, p.opts.dir + ": put into " + db);
  return {};
}

} // namespace sluice
