// Checksummed values (checked_values.hpp).
#include "checked_values.hpp"

#include <xxhash.h>

#include <cstring>

#include "sluice/store/keys.hpp"

namespace sluice {

namespace {

struct damage_seen {
  std::string database;
  std::string key;
};

thread_local damage_seen last;

value_format* format_of(MDB_env* env) {
  return static_cast<value_format*>(mdb_env_get_userctx(env));
}

std::string_view view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

/// Checks and strips the checksum of `data`, read under `key` from `dbi`.
int checked(MDB_env* env, MDB_dbi dbi, const MDB_val& key, MDB_val* data) {
  std::string_view value;
  if (unseal(view(key), view(*data), value)) {
    data->mv_size = value.size();
    return 0;
  }
  auto* f = format_of(env);
  if (f)
    f->damaged_reads.fetch_add(1, std::memory_order_relaxed);
  last.database = f ? f->name_of(dbi) : std::to_string(dbi);
  last.key = keys::printable(view(key));
  return value_damaged;
}

} // namespace

std::uint32_t value_checksum(std::string_view key, std::string_view value) {
  auto seed = XXH3_64bits(key.data(), key.size());
  return static_cast<std::uint32_t>(
      XXH3_64bits_withSeed(value.data(), value.size(), seed));
}

void value_format::name(MDB_dbi dbi, const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx};
  if (names.size() <= dbi)
    names.resize(dbi + 1);
  names[dbi] = name;
}

std::string value_format::name_of(MDB_dbi dbi) {
  std::lock_guard<std::mutex> guard{mtx};
  return dbi < names.size() && !names[dbi].empty() ? names[dbi]
                                                   : "#" + std::to_string(dbi);
}

bool unseal(std::string_view key, std::string_view stored,
            std::string_view& value) {
  if (stored.size() < checksum_size)
    return false;
  value = stored.substr(0, stored.size() - checksum_size);
  std::uint32_t sum = 0;
  std::memcpy(&sum, stored.data() + value.size(), checksum_size);
  return sum == value_checksum(key, value);
}

void seal(std::string_view key, std::string_view value, std::string& out) {
  out.assign(value);
  auto sum = value_checksum(key, value);
  out.append(reinterpret_cast<const char*>(&sum), checksum_size);
}

int db_get(MDB_txn* t, MDB_dbi dbi, MDB_val* key, MDB_val* data) {
  int rc = mdb_get(t, dbi, key, data);
  auto* env = mdb_txn_env(t);
  if (rc != 0 || !format_of(env) || !format_of(env)->checksums)
    return rc;
  return checked(env, dbi, *key, data);
}

int cursor_get(MDB_cursor* c, MDB_val* key, MDB_val* data, MDB_cursor_op op) {
  int rc = mdb_cursor_get(c, key, data, op);
  if (rc != 0 || data == nullptr)
    return rc;
  auto* env = mdb_txn_env(mdb_cursor_txn(c));
  if (!format_of(env) || !format_of(env)->checksums)
    return rc;
  return checked(env, mdb_cursor_dbi(c), *key, data);
}

int db_has(MDB_txn* t, MDB_dbi dbi, MDB_val* key) {
  MDB_val unread;
  return mdb_get(t, dbi, key, &unread);
}

int cursor_key(MDB_cursor* c, MDB_val* key, MDB_cursor_op op) {
  MDB_val unread;
  return mdb_cursor_get(c, key, &unread, op);
}

namespace {

thread_local std::string put_buffer;

/// After MDB_KEYEXIST, LMDB points `data` at the value already there.
int existing(MDB_env* env, MDB_dbi dbi, const MDB_val& key, MDB_val* data,
             const MDB_val& sealed) {
  *data = sealed;
  int rc = checked(env, dbi, key, data);
  return rc == 0 ? MDB_KEYEXIST : rc;
}

} // namespace

int db_put(MDB_txn* t, MDB_dbi dbi, MDB_val* key, MDB_val* data,
           unsigned flags) {
  auto* env = mdb_txn_env(t);
  if (!format_of(env) || !format_of(env)->checksums)
    return mdb_put(t, dbi, key, data, flags);
  seal(view(*key), view(*data), put_buffer);
  MDB_val sealed{put_buffer.size(), put_buffer.data()};
  int rc = mdb_put(t, dbi, key, &sealed, flags);
  return rc == MDB_KEYEXIST ? existing(env, dbi, *key, data, sealed) : rc;
}

int cursor_put(MDB_cursor* c, MDB_val* key, MDB_val* data, unsigned flags) {
  auto* env = mdb_txn_env(mdb_cursor_txn(c));
  if (!format_of(env) || !format_of(env)->checksums)
    return mdb_cursor_put(c, key, data, flags);
  seal(view(*key), view(*data), put_buffer);
  MDB_val sealed{put_buffer.size(), put_buffer.data()};
  int rc = mdb_cursor_put(c, key, &sealed, flags);
  return rc == MDB_KEYEXIST
             ? existing(env, mdb_cursor_dbi(c), *key, data, sealed)
             : rc;
}

std::string last_damage() {
  return "the value of key " + last.key + " in database '" + last.database
         + "'";
}

} // namespace sluice

namespace sluice {

int database_names(MDB_txn* t, std::vector<std::string>& names) {
  MDB_dbi main = 0;
  int rc = mdb_dbi_open(t, nullptr, 0, &main);
  MDB_cursor* c = nullptr;
  if (rc != 0 || (rc = mdb_cursor_open(t, main, &c)) != 0)
    return rc;
  MDB_val k, v;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
    names.emplace_back(view(k));
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

seal_all_result seal_all(MDB_txn* t) {
  seal_all_result out;
  std::vector<std::string> names;
  if ((out.rc = database_names(t, names)) != 0) {
    out.where = "the list of databases";
    return out;
  }
  std::string key, sealed;
  for (auto& name : names) {
    out.where = "database '" + name + "'";
    MDB_dbi dbi = 0;
    MDB_cursor* c = nullptr;
    if ((out.rc = mdb_dbi_open(t, name.c_str(), 0, &dbi)) != 0
        || (out.rc = mdb_cursor_open(t, dbi, &c)) != 0)
      return out;
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      // Copied first: the write may move the page under both.
      key.assign(view(k));
      seal(key, view(v), sealed);
      MDB_val kk{key.size(), key.data()}, sv{sealed.size(), sealed.data()};
      if ((rc = mdb_cursor_put(c, &kk, &sv, MDB_CURRENT)) != 0)
        break;
      ++out.values;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) {
      out.rc = rc;
      return out;
    }
  }
  out.rc = 0;
  out.where.clear();
  return out;
}

} // namespace sluice
