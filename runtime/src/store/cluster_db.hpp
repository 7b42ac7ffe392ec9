// Private: what the store's cluster operations share: the keys of the
// `shards`, `inbox` and `handoff_in` databases, the write transaction each
// operation runs in, and the scan over every record of a set of shards.
// Writers run on the store actor's thread; scans on any thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lmdb_env.hpp"
#include "shard_changes.hpp"

namespace sluice {

/// shards db key: the shard number.
inline std::string shard_key(std::uint32_t shard) {
  std::string k;
  keys::put_u32(k, shard);
  return k;
}

/// inbox db key: shard, priority, then the sender's name (or a source
/// shard's watermark name). One watermark per priority class: the outbox
/// sends urgent entries first, so seqs rise within a class, not across the
/// two.
inline std::string inbox_key(std::uint32_t shard, priority prio,
                             std::string_view sender) {
  std::string k;
  keys::put_u32(k, shard);
  k.push_back(static_cast<char>(prio));
  k += sender;
  return k;
}

/// The inbox watermark name of the entries of source shard `shard`
/// (replicated receipt by origin; the value is the origin number). It
/// starts with a control character, which no member's name has.
inline std::string source_watermark_name(std::uint32_t shard) {
  return std::string(1, '\x01') + "source shard " + std::to_string(shard);
}

/// meta key of a shard handed off (no longer owned here) whose records are
/// still to be deleted (`store::purge_handed_over`).
inline std::string purge_key(std::uint32_t shard) {
  std::string k = "purge/";
  keys::put_u32(k, shard);
  return k;
}
inline constexpr std::string_view purge_key_prefix = "purge/";

/// The shards marked for purging in `t` (in meta, under `purge_key`).
result<std::vector<std::uint32_t>> purge_marks(MDB_txn* t,
                                               const store::impl& p);

/// handoff_in db key: shard, stage id, queue key. Stage id ~0 marks an
/// import under way for the shard.
inline constexpr std::uint32_t import_marker = 0xffffffffu;
inline std::string handoff_in_key(std::uint32_t shard, std::uint32_t stage_id,
                                  keys::queue_pos pos) {
  std::string k;
  keys::put_u32(k, shard);
  keys::put_u32(k, stage_id);
  if (stage_id != import_marker)
    k += keys::queue_key(pos);
  return k;
}

/// A write transaction that continues after the stored seq counter and
/// saves it when it used seqs. Commit with `finish`.
class cluster_writer {
public:
  cluster_writer(store::impl& p, const std::string& what)
      : changes(p), p_(p), what_(what) {
    int rc = 0;
    t_.emplace(p.env, false, rc);
    if (rc != 0)
      err_ = lmdb_error(rc, p.opts.dir + ": begin " + what);
    else if (auto r = refresh_seq(t_->get(), p); !r)
      err_ = r.error();
    seq_before_ = p.next_seq;
  }
  const std::optional<error>& failed() const { return err_; }
  MDB_txn* get() const { return t_->get(); }

  result<void> put(MDB_dbi dbi, std::string_view k, std::string_view v,
                   const char* what, unsigned flags = 0) {
    MDB_val kv = as_val(k), vv = as_val(v);
    int rc = db_put(get(), dbi, &kv, &vv, flags);
    if (rc == MDB_KEYEXIST && flags != 0)
      rc = db_put(get(), dbi, &kv, &vv, 0);
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": " + what);
    return {};
  }

  result<void> del(MDB_dbi dbi, std::string_view k, const char* what) {
    MDB_val kv = as_val(k);
    int rc = mdb_del(get(), dbi, &kv, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": " + what);
    return {};
  }

  /// Changes of shards' records written here, for replication; `finish`
  /// writes their replication records and keeps the seqs in `replicated`.
  shard_changes changes;
  std::map<std::uint32_t, std::uint64_t> replicated;

  result<void> finish() {
    if (changes.on()) {
      auto seqs = changes.flush(get());
      if (!seqs)
        return undo(seqs.error());
      replicated = std::move(*seqs);
    }
    if (p_.next_seq != seq_before_) {
      std::string buf;
      keys::put_u64(buf, p_.next_seq);
      if (auto r = put(p_.meta, seq_key_name, buf, "write sequence counter");
          !r)
        return undo(r.error());
    }
    if (int rc = t_->commit(); rc != 0)
      return undo(lmdb_error(rc, p_.opts.dir + ": commit " + what_));
    return {};
  }

  error undo(error e) {
    p_.next_seq = seq_before_;
    return e;
  }

private:
  store::impl& p_;
  std::string what_;
  std::optional<txn> t_;
  std::optional<error> err_;
  std::uint64_t seq_before_ = 0;
};

/// The shard set as a bitmap, for quick membership tests.
inline std::vector<bool> shard_set(const std::vector<std::uint32_t>& shards) {
  std::vector<bool> in(shard_count, false);
  for (auto s : shards)
    if (s < shard_count)
      in[s] = true;
  return in;
}

/// A record whose value fails its checksum, of a shard known from its
/// database key: (shard, dbi, db key).
using damaged_record_fn =
    std::function<result<bool>(std::uint32_t, MDB_dbi, std::string_view)>;

/// Calls `fn(record, dbi, db key)` for every record of the shards in `in`,
/// read in `t`: queued events, states, statuses, retries, timers, inbox
/// watermarks. Stops early when `fn` returns false. A damaged value is an
/// error, unless `on_damaged` is given: then it gets those whose shard the
/// key names (a queued event's is in its value: left as it is).
result<void>
scan_records(const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
             const std::function<result<bool>(handoff_record&, MDB_dbi,
                                              std::string_view)>& fn,
             const damaged_record_fn& on_damaged = {});

/// Calls `fn(record, dbi, db key)` for every changelog entry of the shards
/// in `in` (kind changelog, in log order per stage), then for each stage
/// with a changelog and each such shard its bound (kind changelog_bound:
/// dbi meta, the bound's key). Read in `t`; stops early when fn says so.
result<void>
scan_changelogs(const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
                const std::function<result<bool>(handoff_record&, MDB_dbi,
                                                 std::string_view)>& fn);

/// Deletes every record of the shards in `in` within `w`, damaged ones too
/// (those whose shard their key names).
result<void> erase_records(store::impl& p, cluster_writer& w,
                           const std::vector<bool>& in);

/// Deletes within `w` the dead letters and outbox entries (with their
/// `outbox_src` index) of the keys of the shards in `in`: a replicated
/// shard's records beside its keyed ones, given up with it.
result<void> erase_letters_and_outbox(store::impl& p, cluster_writer& w,
                                      const std::vector<bool>& in);

/// Queued events' positions in an import: (shard, old) -> new.
using position_map =
    std::map<std::pair<std::uint32_t, keys::queue_pos>, keys::queue_pos>;

/// Writes one record of a shard becoming owned here within `w`: a queued
/// event at the next seq (returned, and noted in `added`); a status or
/// retry pointed at the new position of its entry (from `added`, else from
/// `earlier`; a retry whose entry is gone is dropped); a dead letter at
/// the next seq; an outbox entry at the next outbox position; the rest as
/// they are (a watermark only raises).
result<std::optional<keys::queue_pos>>
import_record(store::impl& p, cluster_writer& w, const handoff_record& r,
              position_map& added, const position_map& earlier);

/// Calls `fn(record, stage name)` for every record of `shard` as the
/// replication knows it (a hand-off's records and changelog entries and
/// bounds, dead letters and outbox entries of its keys), read in `t`.
/// Stops early when fn returns false.
result<void> scan_shard(
    const store::impl& p, MDB_txn* t, std::uint32_t shard,
    const std::function<result<bool>(handoff_record&, std::string_view)>& fn);

/// `scan_shard` for every shard in `in` (shard_set) in one pass: each
/// database is read whole once, whatever the number of shards; a record's
/// `shard` says whose it is.
result<void> scan_shards(
    const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
    const std::function<result<bool>(handoff_record&, std::string_view)>& fn);

} // namespace sluice
