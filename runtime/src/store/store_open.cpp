// Opening a data directory: the LMDB environment, its named databases, the
// schema check, the queues of recorded stages and the seq counter past every
// stored entry. Runs once per process, before any other thread uses it.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <random>
#include <vector>

#include "cluster_db.hpp"
#include "lmdb_env.hpp"
#include "sluice/private_files.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// The data directory's format. 4: every value ends with a checksum of
/// its key and value (an older Sluice would read them as part of the
/// value; a writable open seals every value of an older directory). 3: stages
/// may keep a changelog
/// (`changelog.<stage>`; an older Sluice would commit changes without
/// logging them, and subscribers resuming later would miss them). 2: a
/// follower's shipped records may wait in `replica_log.NN` (a reader that
/// ignored them would see copies behind their positions). 1 and 2 are
/// upgraded by a writable open.
constexpr std::uint32_t schema_version = 4;
/// The first format whose values carry checksums (checked_values.hpp).
constexpr std::uint32_t first_checksummed = 4;
const std::string schema_key = "schema_version";

/// The format version from its stored form: 4 bytes up to format 3, 4 bytes
/// and their checksum from format 4 on. Nullopt when it is neither.
std::optional<std::uint32_t> stored_version(std::string_view raw) {
  if (raw.size() == 4) {
    auto ver = keys::get_u32(raw);
    return ver && *ver < first_checksummed ? ver : std::nullopt;
  }
  std::string_view value;
  if (!unseal(schema_key, raw, value) || value.size() != 4)
    return std::nullopt;
  auto ver = keys::get_u32(value);
  return ver && *ver >= first_checksummed ? ver : std::nullopt;
}

/// The greatest key of `dbi` below `end` (below no bound when `end` is
/// empty), or nullopt when there is none.
result<std::optional<std::string>> last_key_below(MDB_txn* t, MDB_dbi dbi,
                                                  const std::string& end) {
  int rc = 0;
  cursor c{t, dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, "open cursor");
  // Keys only: a value that fails its checksum is its reader's to report,
  // not a reason to refuse the directory.
  MDB_val k = as_val(end);
  rc = end.empty() ? MDB_NOTFOUND : cursor_key(c.get(), &k, MDB_SET_RANGE);
  if (rc == 0)
    rc = cursor_key(c.get(), &k, MDB_PREV);
  else if (rc == MDB_NOTFOUND)
    rc = cursor_key(c.get(), &k, MDB_LAST);
  if (rc == MDB_NOTFOUND)
    return std::optional<std::string>{};
  if (rc != 0)
    return lmdb_error(rc, "read last key");
  return std::optional<std::string>{std::string(as_view(k))};
}

/// The smallest sequence number above every queue entry and dead letter.
/// Normally the stored counter already is; a damaged or hand-edited store
/// may hold entries past it, and a stage supervisor reads its queue forward
/// from the last seq it saw, so an append below such an entry would never run.
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
  if (rc == value_damaged)
    return fail(errc::corrupt,
                what + ": damaged data: " + last_damage()
                    + " fails its checksum (it is not used; `sluice check` "
                      "lists every damaged record)");
  auto code =
      rc == MDB_CORRUPTED || rc == MDB_INVALID ? errc::corrupt : errc::storage;
  if (rc == ENOSPC || rc == EDQUOT)
    return fail(errc::no_space, what
                                    + ": no space left on the file system "
                                      "that holds the data directory ("
                                    + mdb_strerror(rc) + ")");
  if (rc == MDB_MAP_FULL)
    return fail(errc::no_space,
                what
                    + ": the LMDB map is full: the data directory reached "
                      "its largest size (--max-data-size); nothing of this "
                      "commit was written, nothing committed was lost: "
                      "start again with a larger --max-data-size ("
                    + mdb_strerror(rc) + ")");
  return fail(code, what + ": " + mdb_strerror(rc));
}

error commit_error(int rc, const std::string& what, const std::string& dir) {
  struct statvfs fs {};
  if ((rc == ENOSPC || rc == EDQUOT || rc == EIO)
      && ::statvfs(dir.c_str(), &fs) == 0) {
    auto unit = static_cast<std::uint64_t>(fs.f_frsize);
    auto free = static_cast<std::uint64_t>(fs.f_bavail) * unit;
    auto size = static_cast<std::uint64_t>(fs.f_blocks) * unit;
    // Full: under 1 MiB or 0.1% left (LMDB writes whole pages; EIO comes
    // from the write of its pages on some file systems when they fill).
    if (rc != EIO || free < (std::uint64_t{1} << 20) || free * 1000 < size)
      return fail(errc::no_space,
                  what + ": no space left on the file system that holds " + dir
                      + " (" + std::to_string(free >> 10) + " KiB free of "
                      + std::to_string(size >> 20)
                      + " MiB): free space there (a serving node resumes "
                        "by itself) or move the data directory to a larger "
                        "disk and start again; nothing committed was lost "
                        "(LMDB: "
                      + mdb_strerror(rc) + ")");
  }
  return lmdb_error(rc, what);
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
  format.name(dbi, name);
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

bool store::replicated() const noexcept {
  return impl_->opts.replicated;
}

std::uint64_t store::next_seq() const noexcept {
  return impl_->next_seq;
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
    // Private: the directory 0700 (its parents as the umask says), its
    // LMDB files 0600 below. Every tenant's state and queued events are
    // in it.
    if (auto made = make_private_dir(opts.dir); !made)
      return fail(made.error().code, "data directory: " + made.error().message);
  }
  auto p = std::make_unique<impl>();
  p->life = std::random_device{}();
  p->life = (p->life << 32) ^ std::random_device{}();
  p->opts = opts;
  int rc = mdb_env_create(&p->env);
  if (rc != 0)
    return lmdb_error(rc, "mdb_env_create");
  mdb_env_set_maxdbs(p->env, 256);
  mdb_env_set_maxreaders(p->env, 256);
  mdb_env_set_mapsize(p->env, opts.map_size);
  mdb_env_set_userctx(p->env, &p->format);
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (opts.read_only)
    flags |= MDB_RDONLY;
  if (!opts.sync)
    flags |= MDB_NOSYNC;
  rc = mdb_env_open(p->env, opts.dir.c_str(), flags, 0600); // private
  if (rc != 0)
    return lmdb_error(rc, "cannot open data directory " + opts.dir);
  if (!opts.read_only) {
    // LMDB silently raises a map smaller than the data to the data's size:
    // the first commit that grows the file would find it full.
    auto use = space_of(p->env);
    if (use.used > opts.map_size)
      return fail(errc::invalid_argument,
                  opts.dir + ": the data already takes "
                      + std::to_string(use.used >> 20)
                      + " MiB, more than the largest size allowed ("
                      + std::to_string(opts.map_size >> 20)
                      + " MiB, --max-data-size): give a larger one");
  }
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
    MDB_stat st{};
    int rc = mdb_stat(t.get(), p->retries, &st);
    // Unknown counts as maybe: read_retry then reads as before.
    p->retries_maybe = rc != 0 || st.ms_entries > 0;
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
  {
    bool all = true;
    for (auto [name, dbi] : {std::pair{"replog", &p->replog},
                             {"replog_head", &p->replog_head},
                             {"replica", &p->replica},
                             {"replica_pos", &p->replica_pos},
                             {"outbox_src", &p->outbox_src}}) {
      auto d = p->open_db(t.get(), name, create);
      if (!d) {
        if (create)
          return d.error();
        all = false;
        break;
      }
      *dbi = *d;
    }
    p->has_replication = all;
    p->has_replica_log = true;
    for (std::size_t l = 0; l < replica_logs && p->has_replica_log; ++l) {
      if (auto d = p->open_db(t.get(), replica_log_name(l), create))
        p->replica_log[l] = *d;
      else if (create)
        return d.error();
      else
        p->has_replica_log = false;
    }
  }
  // Schema version check (its stored form tells whether values carry
  // checksums), and the global sequence counter.
  MDB_val k = as_val(schema_key), v;
  rc = mdb_get(t.get(), p->meta, &k, &v);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, opts.dir + ": read schema version");
  std::uint32_t stored = schema_version; // a new directory
  if (rc == 0) {
    auto ver = stored_version(as_view(v));
    if (!ver)
      return fail(errc::corrupt, opts.dir
                                     + ": the format version in meta is "
                                       "damaged or malformed");
    stored = *ver;
  } else if (!create) {
    stored = 0; // nothing was ever written: no checksums to expect
  }
  if (stored > schema_version)
    return fail(errc::invalid_argument,
                opts.dir + ": written by a newer Sluice (data format "
                    + std::to_string(stored) + "; this one reads up to "
                    + std::to_string(schema_version)
                    + "): run that version, or restore a backup");
  bool write_version = create && (rc != 0 || stored < schema_version);
  if (stored < first_checksummed && create) {
    auto sealed = seal_all(t.get());
    if (sealed.rc != 0)
      return lmdb_error(sealed.rc, opts.dir + ": upgrade to data format "
                                       + std::to_string(schema_version)
                                       + " (checksums), " + sealed.where);
    stored = schema_version;
  }
  p->format.checksums = stored >= first_checksummed;
  p->format.version = stored;
  if (write_version) {
    std::string buf;
    keys::put_u32(buf, schema_version);
    MDB_val bv = as_val(buf);
    if ((rc = db_put(t.get(), p->meta, &k, &bv, 0)) != 0)
      return lmdb_error(rc, opts.dir + ": write schema version");
  }
  k = as_val(seq_key_name);
  if (db_get(t.get(), p->meta, &k, &v) == 0)
    p->next_seq = keys::get_u64(as_view(v)).value_or(1);
  // Open the queue of every recorded stage.
  {
    cursor c{t.get(), p->meta, rc};
    if (rc != 0)
      return lmdb_error(rc, opts.dir + ": open cursor on meta");
    MDB_val mk = as_val(stage_key_prefix), mv;
    for (rc = cursor_get(c.get(), &mk, &mv, MDB_SET_RANGE); rc == 0;
         rc = cursor_get(c.get(), &mk, &mv, MDB_NEXT)) {
      if (!as_view(mk).starts_with(stage_key_prefix))
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
      p->stage_names[sm.id()] = sm.name();
    }
  }
  auto past = seq_past_entries(t.get(), *p);
  if (!past)
    return past.error().within(opts.dir);
  p->next_seq = std::max(p->next_seq, *past);
  if (opts.place && p->has_cluster)
    if (auto r = load_placement(t.get(), *p, *opts.place); !r)
      return r.error();
  // Shards handed off before a stop, their records not yet deleted: seen
  // here, so that an open with none begins no write transaction for them.
  bool purge = false;
  if (!opts.read_only && p->has_cluster) {
    auto marked = purge_marks(t.get(), *p);
    if (!marked)
      return marked.error();
    purge = !marked->empty();
  }
  if ((rc = t.commit()) != 0)
    return lmdb_error(rc, opts.dir + ": commit open transaction");
  // Replicated: what was written before this open may be read; what comes
  // next once the replicas hold it.
  if (p->replicating())
    p->changelog_visible.store(p->next_seq);
  auto st = std::unique_ptr<store>(new store(std::move(p)));
  if (purge)
    if (auto purged = st->purge_handed_over(); !purged)
      return purged.error().within("purging handed-off shards");
  return st;
}

} // namespace sluice
