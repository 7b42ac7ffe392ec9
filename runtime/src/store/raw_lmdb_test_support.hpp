// Test support: a data directory's LMDB environment opened directly, to
// leave it as damage or another version of Sluice would. Only while no
// store has the directory open.
#pragma once

#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstddef>
#include <string>

namespace sluice::test {

/// One write transaction on the environment in `dir`, committed by the
/// destructor; `dbi` opens one of its named databases.
class raw_lmdb {
public:
  explicit raw_lmdb(const std::string& dir) {
    EXPECT_EQ(mdb_env_create(&env_), 0);
    mdb_env_set_maxdbs(env_, 256);
    mdb_env_set_mapsize(env_, std::size_t{1} << 30);
    EXPECT_EQ(mdb_env_open(env_, dir.c_str(), 0, 0600), 0);
    EXPECT_EQ(mdb_txn_begin(env_, nullptr, 0, &t_), 0);
  }
  ~raw_lmdb() {
    if (t_) {
      EXPECT_EQ(mdb_txn_commit(t_), 0);
    }
    mdb_env_close(env_);
  }
  raw_lmdb(const raw_lmdb&) = delete;
  raw_lmdb& operator=(const raw_lmdb&) = delete;

  MDB_txn* txn() const noexcept { return t_; }

  /// The named database `name` (which must exist).
  MDB_dbi dbi(const char* name) {
    MDB_dbi d = 0;
    EXPECT_EQ(mdb_dbi_open(t_, name, 0, &d), 0) << name;
    return d;
  }

private:
  MDB_env* env_ = nullptr;
  MDB_txn* t_ = nullptr;
};

} // namespace sluice::test
