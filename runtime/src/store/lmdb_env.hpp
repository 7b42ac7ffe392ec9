// Private: the LMDB environment behind sluice::store, with RAII
// transactions and error translation. Thread-safety as for sluice::store.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>

#include <lmdb.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "checked_values.hpp"
#include "sluice/result.hpp"
#include "sluice/store/changelog.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

/// How many databases the follower's replica_log is split into.
inline constexpr std::size_t replica_logs = 16;

/// The name of replica_log database `l`: "replica_log.00" to ".15".
inline std::string replica_log_name(std::size_t l) {
  return std::string("replica_log.") + static_cast<char>('0' + l / 10)
         + static_cast<char>('0' + l % 10);
}

/// The `meta` key of the global sequence counter.
inline constexpr std::string_view seq_key_name = "seq";

/// The `meta` key prefix of stage records (sluice.v1.StageMeta by name).
inline constexpr std::string_view stage_key_prefix = "stage/";

/// The name of the LMDB database holding stage `stage`'s queue.
inline std::string queue_db_name(std::string_view stage) {
  return "queue." + std::string(stage);
}

/// Raises `p.next_seq` past the counter stored in `meta`: another process
/// may have written since this one's last commit.
result<void> refresh_seq(MDB_txn* t, struct store::impl& p);

/// Every record of the `shards` database, read in `t`; corrupt when one
/// does not parse.
result<std::vector<shard_record>>
read_shard_records(MDB_txn* t, const struct store::impl& p);

/// Sets `place` from the `shards` database: owned, or leaving when a
/// hand-off was under way; every other shard is remote.
result<void> load_placement(MDB_txn* t, const struct store::impl& p,
                            placement& place);

/// Whether a new event of `shard` is queued here (else it goes to the
/// outbox): the placement says, when the store has one; a store opened by
/// another process (`sluice dlq`) reads the `shards` database instead,
/// where no record at all means a single node.
result<bool> queues_here(MDB_txn* t, const struct store::impl& p,
                         std::uint32_t shard);

/// Puts an event into the outbox at (priority, next seq); returns where.
/// `written_at`: an event appended again for a lost shard
/// (`queue_append::written_at`), kept in the entry.
result<keys::queue_pos>
put_outbox(MDB_txn* t, struct store::impl& p, std::uint32_t stage_id,
           std::uint32_t shard, priority prio, std::string_view event_bytes,
           const std::optional<repl_position>& written_at = std::nullopt);

/// The high bit of an outbox value's shard: 16 bytes of `written_at`
/// (epoch, seq, big-endian) follow the shard, before the event.
inline constexpr std::uint32_t outbox_written_flag = 0x80000000u;

/// The name of the LMDB database holding stage `stage`'s changelog.
inline std::string changelog_db_name(std::string_view stage) {
  return "changelog." + std::string(stage);
}

/// The `meta` key of a stage's changelog record: log id and low offset,
/// both u64 big-endian.
inline std::string changelog_meta_key(std::string_view stage) {
  return "changelog/" + std::string(stage);
}

/// The `meta` key of a changelog bound a hand-off brought for (shard,
/// stage): the shard offset after which the previous owners' log of the
/// shard was complete (u64 big-endian).
inline std::string changelog_bound_key(std::uint32_t shard,
                                       std::uint32_t stage_id) {
  std::string k = "changelog_bound/";
  keys::put_u32(k, shard);
  keys::put_u32(k, stage_id);
  return k;
}

/// The changelog database of stage `stage_id` (not_found: it keeps none).
result<MDB_dbi> changelog_dbi_of(const struct store::impl& p,
                                 std::uint32_t stage_id);
/// The span of stage `stage_id`'s changelog, read in `t`.
result<changelog_span> changelog_span_in(MDB_txn* t,
                                         const struct store::impl& p,
                                         std::uint32_t stage_id);

/// Opens (creating it, empty, the first time) the changelog of stage
/// `name` when `keep` is on; when off, drops one it kept before. The
/// database when there is one.
result<std::optional<MDB_dbi>> open_changelog(MDB_txn* t, struct store::impl& p,
                                              const std::string& name,
                                              const changelog_retention& keep);

/// An error for LMDB return code `rc` while doing `what`.
error lmdb_error(int rc, const std::string& what);

/// lmdb_error for a failed commit of the data directory `dir`: when the
/// file system that holds it is full (LMDB says ENOSPC, EDQUOT, or EIO from
/// the write of its pages) the message says so, with the space left and
/// what to do; nothing committed was lost.
error commit_error(int rc, const std::string& what, const std::string& dir);

/// How much of its map `env`'s data file uses (space.cpp).
store::space_use space_of(MDB_env* env) noexcept;

inline MDB_val as_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

/// A transaction that aborts unless committed.
class txn {
public:
  txn(MDB_env* env, bool read_only, int& rc) {
    rc = mdb_txn_begin(env, nullptr, read_only ? MDB_RDONLY : 0, &t_);
    if (rc != 0)
      t_ = nullptr;
  }
  ~txn() {
    if (t_)
      mdb_txn_abort(t_);
  }
  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;
  MDB_txn* get() const noexcept { return t_; }
  int commit() {
    int rc = mdb_txn_commit(t_);
    t_ = nullptr;
    return rc;
  }

private:
  MDB_txn* t_ = nullptr;
};

/// A cursor closed on scope exit.
class cursor {
public:
  cursor(MDB_txn* t, MDB_dbi dbi, int& rc) {
    rc = mdb_cursor_open(t, dbi, &c_);
  }
  ~cursor() {
    if (c_)
      mdb_cursor_close(c_);
  }
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  MDB_cursor* get() const noexcept { return c_; }

private:
  MDB_cursor* c_ = nullptr;
};

struct store::impl {
  store_options opts;
  MDB_env* env = nullptr;
  /// Whether values carry checksums, and database names for errors: the
  /// environment's user context.
  value_format format;
  MDB_dbi meta = 0, state = 0, status = 0, dead_letters = 0, offsets = 0;
  MDB_dbi retries = 0;
  bool has_retries = false; ///< false: a read-only store from before them
  /// `retries` may hold a record: it held one at open, or one was written
  /// since (set before the write, never cleared). While false, read_retry
  /// answers "none" without a read transaction: the key actors of a stage
  /// whose events do not fail load a key with no LMDB read at all.
  std::atomic<bool> retries_maybe{false};
  MDB_dbi timers = 0, timers_due = 0;
  bool has_timers = false; ///< false: a read-only store from before them
  std::uint64_t next_seq = 1;
  /// Cluster databases: `outbox` (priority, seq) -> stage id, shard (its
  /// high bit: `outbox_written_flag`), [written-at position,] Event;
  /// `inbox` (sender, shard) -> watermark seq; `shards` shard -> record;
  /// `handoff_in` (shard, stage id, queue key) -> empty: queued events a
  /// hand-off brought in, not yet owned.
  MDB_dbi outbox = 0, inbox = 0, shards = 0, handoff_in = 0;
  bool has_cluster = false; ///< false: a read-only store from before them
  /// `catalog`: key -> Event, the on-demand source's index.
  MDB_dbi catalog = 0;
  bool has_catalog = false; ///< false: a read-only store from before it
  /// `seen`: publish-once event id -> when it was first published (ns)
  /// [, the opening that recorded it (`life`) and where it was queued:
  /// shard u32, epoch u64, seq u64 of that shard's log record].
  MDB_dbi seen = 0;
  /// This opening's number (random): a publish-once id recorded by
  /// another opening may name a log record that did not survive it.
  std::uint64_t life = 0;
  /// Replication: `replog` (shard, epoch, seq) -> ReplRecord, the owner's
  /// log; `replog_head` shard -> the last seq written; `replica` (shard,
  /// kind, identity) -> bytes, a follower's copies; `replica_pos` shard ->
  /// epoch, seq applied; `outbox_src` outbox position -> the shard whose
  /// key produced the entry (written only with replication on).
  MDB_dbi replog = 0, replog_head = 0, replica = 0, replica_pos = 0,
          outbox_src = 0;
  /// `replica_log.NN`, one per range of shard_count / replica_logs shards:
  /// arrival number u64 -> shard u32, epoch u64, seq u64, ReplRecord:
  /// shipped records taken (durable, acknowledged) but not yet applied to
  /// `replica`, which they reach in large batches (replica_log.cpp).
  /// has_replica_log false: a read-only store from before them.
  std::array<MDB_dbi, replica_logs> replica_log{};
  bool has_replica_log = false;
  bool has_replication = false; ///< false: a read-only store from before
  /// True when commits write replication records (the option, and the
  /// databases are there).
  bool replicating() const noexcept {
    return opts.replicated && has_replication;
  }
  /// While hand-offs come in: (shard, old position) -> new position, to
  /// point transferred statuses and retries at their new entries. By
  /// shard: transfers from several members may come in at once, and
  /// their seqs are each member's own.
  std::map<std::pair<std::uint32_t, keys::queue_pos>, keys::queue_pos>
      import_remap;

  // Stage id -> queue dbi, and stage id -> name. Written by the writer,
  // read by readers.
  mutable std::mutex dbi_mtx;
  std::map<std::uint32_t, MDB_dbi> queues;
  std::map<std::uint32_t, std::string> stage_names;
  /// A stage's changelog: `changelog.<stage>` offset -> change
  /// (changelog_write.cpp), and how much of it to keep.
  struct changelog_db {
    MDB_dbi dbi = 0;
    changelog_retention keep;
  };
  /// Stage id -> its changelog, for stages that keep one (under dbi_mtx).
  std::map<std::uint32_t, changelog_db> changelogs;
  /// Commits that wrote changelog entries, for change feeds waiting for
  /// more (changelog_reader::wait).
  mutable std::mutex changelog_mtx;
  /// Why the last commit failed for lack of space; empty after a success.
  mutable std::mutex space_mtx;
  std::string out_of_space;
  /// out_of_space is not empty: read without the lock (every commit asks).
  std::atomic<bool> short_of_space{false};
  mutable std::condition_variable changelog_cv;
  std::uint64_t changelog_commits = 0;
  /// Subscriptions through any member read changelog entries below this
  /// offset only: a replicated store's once min_insync members hold them
  /// (`store::changelog_visible`); without replication, all. Written
  /// under changelog_mtx, read without it.
  std::atomic<std::uint64_t> changelog_visible{~std::uint64_t{0}};
  /// Records why a commit failed for lack of space (empty: it succeeded).
  void note_space(const std::string& why);
  /// The changelog of `stage_id`, when it keeps one.
  std::optional<changelog_db> changelog_of(std::uint32_t stage_id) const;

  ~impl();
  result<MDB_dbi> queue_dbi(std::uint32_t stage_id) const;
  /// Opens (creating with !read_only) a named database in `t`.
  result<MDB_dbi> open_db(MDB_txn* t, const std::string& name, bool create);
};

} // namespace sluice
