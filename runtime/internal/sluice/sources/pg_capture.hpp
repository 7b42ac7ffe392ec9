// PostgreSQL change capture over libpq: checks what a source needs of the
// server, creates its logical slot (wal2json), reads an exported snapshot of
// its tables, and reads and confirms what the slot decoded. Blocking calls,
// for one thread (the source's detached actor). libpq stays out of this
// header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/result.hpp"
#include "sluice/sources/pg_changes.hpp"
#include "sluice/topology.hpp"

namespace sluice::pg {

/// What the server says of the source's slot.
struct slot_info {
  bool exists = false;
  std::uint64_t confirmed = 0; ///< confirmed_flush_lsn: what was confirmed
};

/// What one poll() read.
struct polled {
  std::vector<change> changes; ///< the row changes, in commit order
  /// The commit LSN of the last transaction read, with or without rows of
  /// the source's tables (0: none): what advance() may confirm once the
  /// changes are committed.
  std::uint64_t last_commit = 0;
};

/// One source's connection. Errors: errc::unavailable when the server
/// cannot be reached or the connection broke (try again later);
/// errc::config for what only a person can mend (wal_level, privileges, a
/// missing slot or table, a table without a primary key, no wal2json), with
/// the fix in the message.
class capture {
public:
  /// Connects with the source's connection string.
  static result<std::unique_ptr<capture>> connect(const source_spec& spec);
  ~capture();
  capture(const capture&) = delete;
  capture& operator=(const capture&) = delete;

  /// Checks wal_level, the role's replication right, every table (it
  /// exists, has a primary key, may be read) and the slot (it exists with
  /// wal2json in this database, unless create_slot).
  result<slot_info> check();

  /// Creates the slot. With `export_snapshot`, a replication connection
  /// stays open holding the slot's snapshot, which snapshot_rows() reads.
  /// Returns the slot's consistent point: changes that commit after it
  /// are streamed.
  result<std::uint64_t> create_slot(bool export_snapshot);
  /// The next rows of the snapshot (at most `max`, table after table),
  /// as `snapshot` changes; empty when every table was read, after which
  /// the snapshot is released.
  result<std::vector<change>> snapshot_rows(std::size_t max);
  /// Drops the slot (a snapshot that did not finish is read again with a
  /// new slot).
  result<void> drop_slot();

  /// Complete transactions the slot decoded past its confirmed position:
  /// at least every change of the first `max_changes` rows' transactions.
  /// Peeked, not consumed: advance() confirms.
  result<polled> poll(std::size_t max_changes);
  /// Confirms everything up to `lsn` (a transaction's commit LSN as
  /// poll() gives it): the server may then recycle its WAL. Never moves
  /// back.
  result<void> advance(std::uint64_t lsn);

  /// "host:port/db" for logs.
  const std::string& server() const { return server_; }

private:
  struct conn;
  capture(const source_spec& spec, std::unique_ptr<conn> c);

  source_spec spec_;
  std::unique_ptr<conn> conn_;
  std::unique_ptr<conn> replication_; ///< holds an exported snapshot
  std::string server_;
  std::string who_; ///< "source 'NAME' (SERVER)", errors' beginning
  std::string peek_sql_;
  std::uint64_t confirmed_ = 0;
  // The snapshot being read.
  std::size_t snap_table_ = 0;
  std::uint64_t snap_lsn_ = 0;
  std::uint32_t snap_index_ = 0;
  bool snap_cursor_open_ = false;
  std::vector<std::string> snap_types_, snap_names_;
  std::vector<std::size_t> snap_key_cols_;
};

/// What a source's server says now, as a start or `node --check` asks it.
struct probe_report {
  std::string server;            ///< "host:port/db", when it answered
  std::optional<slot_info> slot; ///< the slot as checked, when it answered
  /// Why it could not be asked (errc::unavailable: down, unreachable); a
  /// source keeps trying. Empty when it answered.
  std::string unreachable;
};

/// Connects and checks (capture::check): a misconfiguration is an error; a
/// server that cannot be reached now is `unreachable`, not an error.
result<probe_report> probe(const source_spec& spec);

} // namespace sluice::pg
