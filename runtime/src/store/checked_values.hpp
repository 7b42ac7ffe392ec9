// Private: every value Sluice stores in LMDB ends with a checksum of its
// key and value (data format 4 on). LMDB keeps no checksum of pages or
// values; with these, a value damaged on disk (a bad sector, a stray write,
// a torn copy) is never served or processed as if it were good: a read
// that meets one fails with `value_damaged`, and lmdb_error says which
// database and key.
//
// The store reads and writes values only through db_get, db_put,
// cursor_get and cursor_put; they add and check the checksum when the
// environment's format has them (a directory of an older format, opened
// read-only, has none).
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// Sluice's own return code, beside LMDB's (which end at MDB_LAST_ERRCODE,
/// -30780): a stored value failed its checksum.
inline constexpr int value_damaged = -30600;

/// The bytes a checksum adds to every value.
inline constexpr std::size_t checksum_size = 4;

/// The checksum of `value` stored under `key` (XXH3, low 32 bits): a
/// value moved to another key fails it too.
std::uint32_t value_checksum(std::string_view key, std::string_view value);

/// What every read and write of an environment needs to know; the
/// environment's user context (mdb_env_set_userctx).
struct value_format {
  bool checksums = false;
  std::uint32_t version = 0; ///< the data format (0: none recorded)
  /// Reads that met a value failing its checksum.
  std::atomic<std::uint64_t> damaged_reads{0};
  /// Database names by handle, for errors (under `mtx`).
  std::mutex mtx;
  std::vector<std::string> names;
  void name(MDB_dbi dbi, const std::string& name);
  std::string name_of(MDB_dbi dbi);
};

/// `stored` (a value with its checksum) without it, when the checksum
/// holds for `key`; nullopt-like false otherwise.
bool unseal(std::string_view key, std::string_view stored,
            std::string_view& value);

/// `value` with its checksum for `key`, appended to `out` (cleared first).
void seal(std::string_view key, std::string_view value, std::string& out);

/// mdb_get, mdb_put, mdb_cursor_get and mdb_cursor_put with checksums.
/// A damaged value: value_damaged, and the database and key recorded for
/// lmdb_error on this thread (last_damage).
int db_get(MDB_txn* t, MDB_dbi dbi, MDB_val* key, MDB_val* data);
int db_put(MDB_txn* t, MDB_dbi dbi, MDB_val* key, MDB_val* data,
           unsigned flags);
int cursor_get(MDB_cursor* c, MDB_val* key, MDB_val* data, MDB_cursor_op op);
int cursor_put(MDB_cursor* c, MDB_val* key, MDB_val* data, unsigned flags);

/// For reads that want keys only: whether `key` is in `dbi` (0, or
/// MDB_NOTFOUND, or LMDB's error), and a cursor moved by `op` with its
/// key in `key`. The value is not read, so a key whose value fails its
/// checksum is there like any other; its reader reports the damage.
int db_has(MDB_txn* t, MDB_dbi dbi, MDB_val* key);
int cursor_key(MDB_cursor* c, MDB_val* key, MDB_cursor_op op);

/// The damaged value this thread met last: "the value of key K in
/// database 'D'".
std::string last_damage();

} // namespace sluice

namespace sluice {

/// Adds a checksum to every value of every named database of the
/// environment `t` belongs to (the upgrade to format 4), in `t`. The number
/// of values sealed, or an LMDB return code with `where` naming the
/// database.
struct seal_all_result {
  int rc = 0;
  std::uint64_t values = 0;
  std::string where;
};
seal_all_result seal_all(MDB_txn* t);

/// The named databases of the environment `t` belongs to.
int database_names(MDB_txn* t, std::vector<std::string>& names);

} // namespace sluice
