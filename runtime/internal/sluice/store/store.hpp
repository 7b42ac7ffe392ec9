// The LMDB store of one node: named databases, big-endian tuple keys, and
// one write transaction per batch (group commit). One thread writes (the
// store actor); any thread may read, concurrently with the writer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/placement.hpp"
#include "sluice/result.hpp"
#include "sluice/store/changelog.hpp"
#include "sluice/store/cluster_records.hpp"
#include "sluice/store/commit_report.hpp"
#include "sluice/store/keys.hpp"
#include "sluice/store/replication.hpp"
#include "sluice/store/write_batch.hpp"

namespace sluice {

struct check_report;
struct check_callbacks;

/// How a data directory is opened.
struct store_options {
  /// The data directory, holding LMDB's data.mdb and lock.mdb. Must not be
  /// empty; created (with its parents) unless `read_only`.
  std::string dir;
  std::uint64_t map_size = std::uint64_t{64} << 30; ///< virtual; file grows
  bool sync = true;       ///< fsync every commit (false: the OS decides)
  bool read_only = false; ///< for export and inspection beside a writer
  /// A cluster member's shard ownership: loaded from the `shards`
  /// database at open, consulted by every append (events for shards owned
  /// elsewhere go to the `outbox`) and completion (a shard owned elsewhere
  /// is fenced). Null: a single node, every key is local.
  std::shared_ptr<sluice::placement> place{};
  /// Replicated shards: every write transaction that changes records of a
  /// shard owned here (one with a shard record) also writes, per shard, a
  /// replication record into `replog` (see store::read_replog). Off: no
  /// replication record is written, and nothing costs more.
  bool replicated = false;
  /// A follower takes shipped records into a log (one append each) and
  /// applies them to its copies in batches: once this many are there (or
  /// 64 MiB), each commit applies the largest of the log's 16 parts. Each
  /// page of the copies is then written once for many records, not once
  /// per record. 1: every commit applies what it took.
  std::size_t replica_log_records = 65536;

  /// For a command that reads `dir` beside a running writer (export, dlq
  /// list, backup, check): read-only, nothing created.
  static store_options read_only_at(std::string dir) {
    store_options o;
    o.dir = std::move(dir);
    o.read_only = true;
    return o;
  }
};

/// A pending durable timer as stored in `timers`.
struct stored_timer {
  std::string key;         ///< the key that set it
  std::string name;        ///< its name within the key
  std::int64_t due_ns = 0; ///< when it fires (ns since the Unix epoch)
  std::string event_bytes; ///< the sluice.v1.Event it fires
};

/// A pending retry as stored in `retries`.
struct stored_retry {
  std::string key;         ///< the key whose event failed
  keys::queue_pos pos;     ///< the failed event's entry; it stays queued
  std::int64_t due_ns = 0; ///< when the next try is due (ns since epoch)
  std::string record;      ///< sluice.v1.RetryRecord
};

/// A stored key state: its version and `sluice.v1.KeyState` bytes.
struct stored_state {
  /// The state version: one more with every completion that wrote it.
  std::uint64_t version = 0;
  std::string key_state; ///< sluice.v1.KeyState
};

/// A queued event as read from a stage queue.
struct queued_event {
  keys::queue_pos pos; ///< its position in the stage's queue
  std::string bytes;   ///< sluice.v1.Event
  /// Non-empty when the stored value fails its checksum: why (naming the
  /// database and key); `bytes` are then the damaged bytes as stored, to
  /// be dead-lettered, never processed.
  std::string damaged;
};

/// A stage's name, id and behaviour as recorded in `meta`.
struct stage_record {
  std::string name; ///< the stage's name in the topology
  /// Its id, given on first registration and kept after (from 1; stage id
  /// 0 stands for ingest).
  std::uint32_t id = 0;
  std::string behaviour; ///< the behaviour it was last registered with
};

/// The LMDB environment of one data directory. Open once per process.
class store {
public:
  /// Opens (and with !read_only, creates) the data directory. Errors name
  /// the directory and what is wrong with it.
  static result<std::unique_ptr<store>> open(const store_options& opts);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// The data directory it was opened with (`store_options::dir`).
  const std::string& dir() const noexcept;

  /// A consistent, compacted copy of every database as of one commit
  /// (LMDB's copy with compaction, in one read transaction) into
  /// `out_dir`/data.mdb (0600; the directory created 0700 with its
  /// parents). Refused when `out_dir` already holds a data.mdb. Works on a
  /// read-only store beside a running writer, which it does not block.
  /// Returns the copy's size in bytes. Any thread.
  result<std::uint64_t> backup(const std::string& out_dir) const;

  /// Walks every database and record in one read transaction: LMDB's
  /// structure and every value's checksum (store/check.hpp). Works on a
  /// read-only store beside a running writer. An error only when the walk
  /// cannot begin; what is damaged goes to the callbacks.
  result<check_report> check(const check_callbacks& cb) const;

  /// How many reads met a stored value that fails its checksum (such a
  /// value is never served or processed). Any thread.
  std::uint64_t damaged_reads() const noexcept;

  /// Why the last commit failed for lack of space (errc::no_space: the
  /// disk or the LMDB map is full); empty once a commit succeeds again.
  /// Any thread.
  std::string out_of_space() const;
  /// out_of_space() is not empty (no lock, no copy). Any thread.
  bool short_of_space() const noexcept;

  /// How much of the map the data file uses (its high-water mark, free
  /// pages included) and the map's size (`store_options::map_size`, or
  /// the file's size if that is larger). Any thread.
  struct space_use {
    std::uint64_t used = 0; ///< bytes up to the last page in use
    std::uint64_t max = 0;  ///< the map's size in bytes
  };
  space_use space() const noexcept;

  /// Whether it was opened with `store_options::replicated`.
  bool replicated() const noexcept;

  /// The next seq the store will give (queue, outbox and dead-letter
  /// positions are below it). Writer thread only.
  std::uint64_t next_seq() const noexcept;

  /// Replicated: the changelog entries below store seq `seq` are held by
  /// min_insync members (every commit before it is below its shards'
  /// high-watermarks), so subscriptions through any member may read them,
  /// as Kafka's consumers read up to the high-watermark: a change a
  /// subscriber saw is never lost in a failover. Until the first call
  /// they read what was written before the open. Only raises; wakes
  /// waiting subscriptions. Any thread.
  void changelog_visible(std::uint64_t seq);

  // -- writer thread only ---------------------------------------------------

  /// The id of stage `name`, recorded on first use. With `changelog` on,
  /// the stage keeps a changelog (created the first time, empty); off, a
  /// changelog it kept before is dropped.
  result<std::uint32_t> register_stage(const std::string& name,
                                       const std::string& behaviour,
                                       changelog_retention changelog = {});

  /// Applies `batch` in one transaction and fsyncs (when sync is on).
  /// Completions whose base version is ahead of the stored one are
  /// deferred; those behind it, or whose queue entry is gone, are rejected.
  /// `batch` is left as it was, so a commit that failed for lack of space
  /// (errc::no_space) can be tried again.
  result<commit_report> commit(const write_batch& batch);

  /// A dead letter's address: its stage id (0 for ingest) and seq.
  using dead_letter_ref = std::pair<std::uint32_t, std::uint64_t>;

  /// Moves dead letters back into their stage's queue, as new entries at
  /// their event's priority with the attempt count raised by one, and
  /// deletes them, in one transaction. An unknown id, or one that holds no
  /// event (input that never decoded), is an error naming it, and nothing
  /// moves. Safe beside a running node (LMDB serializes writers).
  result<std::size_t>
  redrive_dead_letters(const std::vector<dead_letter_ref>& ids);

  /// Deletes dead letters in one transaction; an unknown id is an error and
  /// nothing is deleted.
  result<std::size_t>
  drop_dead_letters(const std::vector<dead_letter_ref>& ids);

  /// Deletes every queue entry of `stage_id`. For tests and tools.
  result<void> clear_queue(std::uint32_t stage_id);

  /// Deletes one queue entry behind the runtime's back. For fault-injection
  /// tests (a lost message); false when it was not there.
  result<bool> delete_entry(std::uint32_t stage_id, keys::queue_pos pos);

  // -- any thread -----------------------------------------------------------

  /// All stages recorded in this directory.
  result<std::vector<stage_record>> stages() const;

  /// Up to `max` entries of one priority class with seq >= `from.seq`.
  result<std::vector<queued_event>> read_queue(std::uint32_t stage_id,
                                               keys::queue_pos from,
                                               std::size_t max) const;

  /// Entries queued in all stages together, read in one snapshot: zero
  /// means the node has nothing left to do.
  result<std::uint64_t> queued_total() const;

  /// Queued entries per priority class [urgent, normal].
  result<std::array<std::uint64_t, 2>>
  queue_depth(std::uint32_t stage_id) const;

  /// The stored state of (stage, key), or nullopt when the key is new.
  result<std::optional<stored_state>> read_state(std::uint32_t stage_id,
                                                 const std::string& key) const;

  /// Calls `fn(key, state)` for every key of a stage in key order; stops
  /// early when fn returns false. A state failing its checksum ends the
  /// scan with the error, unless `on_damaged` is given: then it gets the
  /// key and the error (false stops) and the scan goes on.
  result<void> scan_states(
      std::uint32_t stage_id,
      const std::function<bool(const std::string&, const stored_state&)>& fn,
      const std::function<bool(const std::string&, const error&)>& on_damaged =
          {}) const;

  /// A source's recorded progress (`sluice.v1.SourceOffset` bytes).
  result<std::optional<std::string>>
  read_progress(const std::string& source) const;

  /// `sluice.v1.KeyStatus` bytes of a key, if any.
  result<std::optional<std::string>> read_status(const std::string& key) const;

  /// Calls `fn(key, KeyStatus bytes, waits)` for every key with a status, in
  /// key order, in one snapshot. `waits` tells whether the queue entry a
  /// PHASE_QUEUED status points at is still queued (false for others).
  /// Stops early when fn returns false.
  result<void> scan_status(
      const std::function<bool(const std::string&, const std::string&, bool)>&
          fn) const;

  /// The queued event at `pos` of a stage, if it is still queued.
  result<std::optional<std::string>> read_entry(std::uint32_t stage_id,
                                                keys::queue_pos pos) const;

  /// The pending retry of (stage, key), if any.
  result<std::optional<stored_retry>> read_retry(std::uint32_t stage_id,
                                                 const std::string& key) const;

  /// Every pending retry of a stage.
  result<std::vector<stored_retry>> scan_retries(std::uint32_t stage_id) const;

  /// When the stage's earliest pending durable timer is due; nullopt when
  /// it has none.
  result<std::optional<std::int64_t>>
  next_timer_due(std::uint32_t stage_id) const;

  /// Durable timers pending in all stages together.
  result<std::uint64_t> timers_pending() const;

  /// The pending durable timers of (stage, key), by name.
  result<std::vector<stored_timer>> read_timers(std::uint32_t stage_id,
                                                const std::string& key) const;

  /// Calls `fn(stage_id, seq, DeadLetter bytes)` for every dead letter.
  result<void>
  scan_dead_letters(const std::function<bool(std::uint32_t, std::uint64_t,
                                             const std::string&)>& fn) const;

  /// Overwrites raw bytes in a named database. For fault-injection tests:
  /// `with_checksum` false leaves them as damage on disk would, without a
  /// checksum that holds.
  result<void> put_raw(const std::string& db, const std::string& key,
                       const std::string& value, bool with_checksum = true);

  // -- cluster: outbox, forwarded events, shard ownership, hand-off -------
  // Writers: the store actor's thread only. Readers: any thread.

  /// This data directory's shard records (`shards`), by shard.
  result<std::vector<shard_record>> shard_records() const;

  /// Raises and returns the node's incarnation (`meta`): one more at every
  /// start, so the cluster tells a restarted node from its former self.
  result<std::uint64_t> next_incarnation();

  /// The incarnation last recorded; 0 when the directory never belonged
  /// to a cluster member.
  result<std::uint64_t> incarnation() const;

  /// Makes a new cluster's first node own every shard at epoch 1. Refused
  /// (errc::invalid_argument) when the directory already records shards.
  result<void> claim_all_shards();

  /// Up to `max` outbox entries from `from` on, urgent before normal.
  result<std::vector<outbox_entry>> read_outbox(keys::queue_pos from,
                                                std::size_t max) const;
  /// Looks at up to `max` outbox entries from `from` on, urgent before
  /// normal, and returns those `pick` takes, in order. `pick` sees each
  /// entry's position, shard and size first; an entry it skips costs no
  /// copy of its event (the forwarder passes over what is in flight or
  /// held without reading it).
  result<std::vector<outbox_entry>>
  read_outbox(keys::queue_pos from, std::size_t max,
              const std::function<outbox_pick(const outbox_peek&)>& pick) const;

  /// Outbox entries waiting to be forwarded.
  result<std::uint64_t> outbox_depth() const;

  /// Deletes acknowledged outbox entries. With replication, deleting an
  /// entry a shard's key produced is a change of that shard: the report's
  /// `replicated` names the records written, which must ship like any
  /// commit's.
  result<commit_report> delete_outbox(const std::vector<keys::queue_pos>& done);

  /// Appends events another node forwarded, in one transaction: those of
  /// shards not owned here are refused (the sender retries), those at or
  /// below the sender's watermark for their shard and priority class are
  /// dropped as duplicates (the outbox sends urgent entries first, so seqs
  /// rise within a class), the rest are queued and raise the watermark.
  result<forward_receipt> receive_forwarded(const std::string& sender,
                                            std::vector<forwarded_event> evs);

  /// Starts handing `shards` off to `target` under `transfer`: persisted,
  /// so a restart resumes it; the shards stop being dispatched, and new
  /// events for them go to the outbox.
  result<void> mark_leaving(const std::vector<std::uint32_t>& shards,
                            const std::string& target, std::uint64_t transfer);

  /// Calls `fn` for every record of `shards` in one read snapshot: queued
  /// events first (every stage, queue order), then states, retries,
  /// statuses, durable timers and forwarding watermarks. Stops early when
  /// fn returns false.
  result<void>
  scan_handoff(const std::vector<std::uint32_t>& shards,
               const std::function<bool(handoff_record&)>& fn) const;

  /// Receiving side: deletes whatever an interrupted transfer of `shards`
  /// left here (they must not be owned here), before a transfer starts.
  result<void> begin_import(const std::vector<std::uint32_t>& shards);

  /// Writes transferred records (of shards not owned here yet). Queued
  /// events get fresh seqs in their original order; statuses and retries
  /// are pointed at the new positions.
  result<void> import_handoff(std::vector<handoff_record> recs);

  /// Receiving side: the transfer is complete; the shards are owned here
  /// at `epoch` from now on. The report asks the stage supervisors to rewind.
  result<commit_report> acquire_shards(const std::vector<std::uint32_t>& shards,
                                       std::uint64_t epoch);

  /// Sending side, once the receiver owns them: deletes every record of
  /// `shards` and their shard records; they become remote.
  result<void> release_shards(const std::vector<std::uint32_t>& shards);

  /// Sending side, once the receiver owns them, in a small transaction:
  /// deletes the shard records of `shards` (they become remote: nothing
  /// reads or dispatches their records here any more) and marks them for
  /// `purge_handed_over`, which deletes their records after. A restart
  /// purges what is still marked; `begin_import` of a marked shard erases
  /// its leftovers first.
  result<void> hand_over_shards(const std::vector<std::uint32_t>& shards);

  /// Deletes the records of every shard marked by `hand_over_shards`, and
  /// the marks, in one transaction. Returns how many shards it purged.
  result<std::size_t> purge_handed_over();

  /// Sending side, when the receiver refused: the shards are owned and
  /// dispatched here again. The report asks the stage supervisors to rewind.
  result<commit_report>
  reclaim_shards(const std::vector<std::uint32_t>& shards);

  // -- replicated shards (store_options::replicated) ----------------------
  // Writers: the store actor's thread only. Readers: any thread.

  /// The owner's position in the log of `shard`: its epoch and the last
  /// replication seq written; nullopt when the shard is not owned here.
  result<std::optional<repl_position>>
  replog_position(std::uint32_t shard) const;

  /// Up to `max` replication records of `shard` with seq > `after_seq`, in
  /// log order.
  result<std::vector<replog_entry>> read_replog(std::uint32_t shard,
                                                std::uint64_t after_seq,
                                                std::size_t max) const;

  /// Deletes the replication records of `shard` with seq <= `up_to_seq`
  /// (every follower holds them); returns how many.
  result<std::size_t> trim_replog(std::uint32_t shard, std::uint64_t up_to_seq);

  /// The same for several (shard, up_to_seq) in one transaction (one
  /// fsync, however many shards); returns how many records it deleted.
  result<std::size_t> trim_replogs(
      const std::vector<std::pair<std::uint32_t, std::uint64_t>>& points);

  /// Owner: calls `fn` with every record of `shard` (those of a hand-off,
  /// dead letters and outbox entries of its keys) as sluice.v1.ReplRecord
  /// chunks of puts of about `chunk_bytes`, all read in one snapshot, and
  /// returns the log position they reflect. Stops early when fn returns
  /// false.
  result<repl_position>
  snapshot_shard(std::uint32_t shard, std::size_t chunk_bytes,
                 const std::function<bool(std::string&&)>& fn) const;

  /// Follower: applies shipped replication records (of shards not owned
  /// here; each shard's in log order, shards mixed as they come) to the
  /// `replica` copies, in one transaction that also records each shard's
  /// new position. Records at or below a shard's position are
  /// skipped, so a batch applied twice changes nothing; a shard whose
  /// record cannot be taken is refused (see replica_outcome), the others
  /// still apply. Errors: LMDB failures only.
  result<replica_report>
  apply_replicated(const std::vector<replog_entry>& recs);

  /// Follower: replaces the replica copy of `shard` by the snapshot's
  /// chunks (sluice.v1.ReplRecord of puts, from snapshot_shard) at `at`.
  /// Refused (invalid_argument) for a shard owned here or a position of an
  /// older epoch than the copy's; a chunk that does not parse is corrupt.
  result<void> install_snapshot(std::uint32_t shard, repl_position at,
                                const std::vector<std::string>& chunks);

  /// Follower, the same in steps so a large shard streams: `begin`
  /// deletes the copy and marks a snapshot at `at` under way (the copy
  /// takes no log records meanwhile), each `add` applies one chunk in its
  /// own transaction, `finish` makes the copy current at `at`. A restart
  /// in between leaves a copy that a new `begin` replaces. Refused as
  /// install_snapshot is; `add` and `finish` for a snapshot not under way
  /// at `at` are invalid_argument.
  result<void> begin_snapshot(std::uint32_t shard, repl_position at);
  result<void> add_snapshot_chunk(std::uint32_t shard, repl_position at,
                                  const std::string& chunk);
  result<void> finish_snapshot(std::uint32_t shard, repl_position at);

  /// Follower: deletes the replica copy of `shard` and its position.
  result<void> drop_replica(std::uint32_t shard);

  /// Follower: the position of the replica copy of `shard`; nullopt: none.
  result<std::optional<repl_position>>
  replica_position(std::uint32_t shard) const;

  /// Follower: the position of every replica copy here, by shard, read in
  /// one transaction (one scan); equals replica_position of each shard
  /// (copies whose snapshot is still being installed are left out).
  result<std::map<std::uint32_t, repl_position>> replica_positions() const;

  /// Follower: calls `fn` for every record of the replica copy of `shard`
  /// as a hand-off record with this directory's stage ids (a stage not
  /// registered here is an error naming it), kinds in order (queued events
  /// in queue order per stage first).
  result<void>
  scan_replica(std::uint32_t shard,
               const std::function<bool(handoff_record&)>& fn) const;

  /// Owner: a hash of every record of `shard` (as snapshot_shard gives
  /// them); equals `replica_digest` of a follower holding the same.
  result<std::uint64_t> shard_digest(std::uint32_t shard) const;

  /// Follower: the hash of the replica copy of `shard`.
  result<std::uint64_t> replica_digest(std::uint32_t shard) const;

  /// Follower: how many shipped records are taken (durable and
  /// acknowledged) but not yet applied to the copies; every read of a copy
  /// sees them (store_options::replica_log_records).
  result<std::size_t> replica_log_records() const;

  /// Follower becoming owner: imports the replica copies of `shards` into
  /// the databases dispatched from (queued events at fresh seqs in their
  /// order, statuses and retries pointed at them, dead letters and outbox
  /// entries at fresh seqs), records the shards owned at `epoch` (above
  /// the copies'), continues their logs from the copies' seqs and deletes
  /// the copies, in one transaction. The report asks the stage supervisors
  /// to rewind.
  result<commit_report>
  promote_replica(const std::vector<std::uint32_t>& shards,
                  std::uint64_t epoch);

  // -- publish-once ids ----------------------------------------------------

  /// Forgets publish-once ids recorded before `before_ns` (ns since the
  /// Unix epoch); returns how many. Writer thread only (or before the
  /// store actor runs).
  result<std::size_t> prune_seen(std::int64_t before_ns);

  // -- the on-demand catalog ---------------------------------------------

  /// What the `catalog` database was indexed from (a file's path, size and
  /// modification time, as the caller identified it), or "" when empty.
  result<std::string> catalog_source() const;

  /// Replaces the catalog with `entries` (key, sluice.v1.Event), recorded
  /// as indexed from `source`, in one transaction. Writer thread only (or
  /// before the store actor runs).
  result<std::size_t> index_catalog(
      const std::string& source,
      const std::vector<std::pair<std::string, std::string>>& entries);

  /// The catalog's event (sluice.v1.Event) for `key`, if it has one.
  result<std::optional<std::string>>
  catalog_entry(const std::string& key) const;

  struct impl;

private:
  friend class changelog_reader;
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice
