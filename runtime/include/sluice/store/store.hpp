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
#include <vector>

#include "sluice/event.hpp"
#include "sluice/result.hpp"
#include "sluice/store/keys.hpp"

namespace sluice {

/// How a data directory is opened.
struct store_options {
  std::string dir;
  std::uint64_t map_size = std::uint64_t{64} << 30; ///< virtual; file grows
  bool sync = true;       ///< fsync every commit (false: the OS decides)
  bool read_only = false; ///< for export and inspection beside a writer
};

/// One event for a stage's durable queue; the store assigns its seq.
struct queue_append {
  std::uint32_t stage_id = 0;
  sluice::priority priority = priority::normal;
  std::string event_bytes; ///< sluice.v1.Event
};

/// Everything one processed event changes, committed all or nothing.
struct completion {
  std::uint32_t stage_id = 0;
  std::string key;
  keys::queue_pos consumed;       ///< the queue entry it removes
  std::uint64_t base_version = 0; ///< state version the actor started from
  std::string key_state;          ///< sluice.v1.KeyState, stored at base+1
  std::string key_status;         ///< sluice.v1.KeyStatus; empty: unchanged
  std::vector<queue_append> emits;
  std::string dead_letter; ///< sluice.v1.DeadLetter; empty: none
  /// sluice.v1.RetryRecord: the event failed and waits for another try.
  /// Its queue entry stays; the record goes into `retries`.
  std::string retry;
  std::int64_t retry_due_ns = 0; ///< when the retry is due
  bool clear_retry = false;      ///< the key's pending retry is settled
  /// Index into `emits` of the entry `key_status` waits for (-1: none);
  /// the store records that entry's queue position in the status.
  int status_emit = -1;
  bool touch_state = true; ///< false: no key (an undecodable event)
  /// An unchanged event's acknowledgement: the version is checked, but the
  /// state is not rewritten, and `key_status` is written only if the key's
  /// status waits for this very entry (so it moves on); else it is left.
  bool ack_only = false;
  bool urgent = false;           ///< commit without waiting for more
  std::int64_t ingest_ts_ns = 0; ///< when the root event was accepted
  std::uint32_t deferrals = 0;   ///< times the store put it back
};

/// A stuck key the reconciler re-drives: `event_bytes` (a reconcile
/// event) is appended to `stage_id`'s queue and the key's status replaced
/// by `new_status`, but only if its status still is `seen_status` and the
/// queue entry that status waits for is still missing. Checked and written
/// in the commit's transaction, so a key that moved meanwhile is left be.
struct redrive {
  std::string key;
  std::string seen_status;          ///< sluice.v1.KeyStatus as the scan read it
  std::uint32_t waits_stage_id = 0; ///< the stage the status waits in
  queue_append append;
  std::string new_status;
};

/// A source's progress, committed with the events it produced.
struct source_progress {
  std::string source;
  std::string record; ///< sluice.v1.SourceOffset
};

/// The contents of one write transaction.
struct write_batch {
  std::vector<queue_append> appends;
  std::vector<source_progress> progress;
  std::vector<completion> completions;
  /// sluice.v1.DeadLetter records of input that never became an event,
  /// stored under stage id 0.
  std::vector<std::string> dead_letters;
  std::vector<redrive> redrives;

  bool empty() const noexcept {
    return appends.empty() && progress.empty() && completions.empty()
           && dead_letters.empty() && redrives.empty();
  }
  std::size_t size() const noexcept {
    return appends.size() + progress.size() + completions.size()
           + dead_letters.size() + redrives.size();
  }
};

/// A queue entry identified by stage.
struct queue_ref {
  std::uint32_t stage_id = 0;
  keys::queue_pos pos;
  std::int64_t ingest_ts_ns = 0;
};

/// A failed event that stays queued until `due_ns`.
struct retry_ref {
  queue_ref ref;
  std::int64_t due_ns = 0;
};

/// What a commit did, for waking routers and releasing credits.
struct commit_report {
  /// Events appended per stage id, indexed by priority.
  std::map<std::uint32_t, std::array<std::uint64_t, 2>> appended;
  std::vector<queue_ref> consumed; ///< completions that were applied
  /// Completions from a state version behind the stored one: the key's
  /// actor is out of date; its queue entry is still there.
  std::vector<queue_ref> rejected;
  /// Completions whose queue entry is gone (consumed by someone else, or
  /// dropped): nothing to redo.
  std::vector<queue_ref> duplicates;
  std::vector<retry_ref> retried;   ///< failed; stay queued until due
  std::vector<completion> deferred; ///< wait for an earlier version; resend
  std::size_t dead_letters = 0;
  std::size_t redriven = 0; ///< reconciler re-drives applied
  std::size_t records = 0;
};

/// A pending retry as stored in `retries`.
struct stored_retry {
  std::string key;
  keys::queue_pos pos;
  std::int64_t due_ns = 0;
  std::string record; ///< sluice.v1.RetryRecord
};

/// A stored key state: its version and `sluice.v1.KeyState` bytes.
struct stored_state {
  std::uint64_t version = 0;
  std::string key_state;
};

/// A queued event as read from a stage queue.
struct queued_event {
  keys::queue_pos pos;
  std::string bytes;
};

/// A stage's name, id and behaviour as recorded in `meta`.
struct stage_record {
  std::string name;
  std::uint32_t id = 0;
  std::string behaviour;
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

  const std::string& dir() const noexcept;

  // -- writer thread only ---------------------------------------------------

  /// The id of stage `name`, recorded on first use.
  result<std::uint32_t> register_stage(const std::string& name,
                                       const std::string& behaviour);

  /// Applies `batch` in one transaction and fsyncs (when sync is on).
  /// Completions whose base version is ahead of the stored one are
  /// deferred; those behind it, or whose queue entry is gone, are rejected.
  result<commit_report> commit(write_batch batch);

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
  /// early when fn returns false.
  result<void> scan_states(
      std::uint32_t stage_id,
      const std::function<bool(const std::string&, const stored_state&)>& fn)
      const;

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

  /// Calls `fn(stage_id, seq, DeadLetter bytes)` for every dead letter.
  result<void>
  scan_dead_letters(const std::function<bool(std::uint32_t, std::uint64_t,
                                             const std::string&)>& fn) const;

  /// Overwrites raw bytes in a named database. For fault-injection tests.
  result<void> put_raw(const std::string& db, const std::string& key,
                       const std::string& value);

  struct impl;

private:
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice
