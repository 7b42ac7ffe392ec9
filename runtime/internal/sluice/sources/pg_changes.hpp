// PostgreSQL change capture, the pure part: log sequence numbers, wal2json
// (format-version 2) rows decoded into changes, and a row's columns made
// into the JSON payload and key a change's event carries. No libpq here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::pg {

/// "16/B374D848" -> 0x16B374D848; nullopt when malformed.
std::optional<std::uint64_t> parse_lsn(std::string_view text);
/// 0x16B374D848 -> "16/B374D848", as PostgreSQL writes it.
std::string format_lsn(std::uint64_t lsn);

/// One column of a row as wal2json or a snapshot's SELECT gives it.
struct column {
  std::string name;
  std::string type; ///< as PostgreSQL names it: integer, text, jsonb, ...
  std::string text; ///< the value's text form (unused when null)
  bool null = false;
};

/// One insert, update, delete or snapshot row, ready to be an event.
struct change {
  std::uint64_t commit_lsn = 0;  ///< its transaction's (the snapshot's point)
  std::uint32_t index = 0;       ///< its place in its transaction, from 0
  std::string table;             ///< schema.table
  std::string operation;         ///< insert, update, delete or snapshot
  std::string key;               ///< TABLE/PRIMARY-KEY (see source_spec)
  std::string payload;           ///< the row as a JSON object
  std::int64_t commit_ts_ns = 0; ///< its transaction's commit time
  /// Set when the row could not be made an event (no primary key, bad
  /// JSON): it becomes a dead letter with this reason and `payload` = the
  /// raw row.
  std::string error;
};

/// The event key of a row: the table ("public." dropped) and the primary
/// key's values in the key's order, joined by '/'.
std::string row_key(const std::string& table,
                    const std::vector<std::string>& key_values);

/// A row's JSON payload: integers as numbers, booleans as true/false,
/// json/jsonb as nested JSON, null as null and every other type as its
/// text (numeric stays text: no precision is lost).
std::string row_json(const std::vector<column>& cols);

/// Decodes wal2json format-version 2 rows (with include-transaction,
/// include-pk and include-timestamp) one at a
/// time, as pg_logical_slot_peek_changes returns them, into transactions.
class wal2json_decoder {
public:
  /// One row; a complete transaction's changes are available from take()
  /// after its commit ("C") row. Malformed JSON or an unknown action is an
  /// error (errc::corrupt) naming the LSN.
  result<void> add(std::string_view lsn, std::string_view data);
  /// The changes of the transactions completed so far, in commit order.
  std::vector<change> take();
  /// The LSN of the last commit row seen (0: none), empty transactions
  /// included.
  std::uint64_t last_commit() const { return last_commit_; }
  /// Rows of a transaction whose commit has not been seen yet.
  std::size_t pending() const { return open_.size(); }

private:
  std::vector<change> open_;
  std::vector<change> done_;
  std::int64_t open_ts_ns_ = 0;
  std::uint64_t last_commit_ = 0;
};

/// "2026-12-06 23:43:30.247143+00" -> ns since the Unix epoch (0 when it
/// does not parse).
std::int64_t parse_timestamp(std::string_view text);

} // namespace sluice::pg
