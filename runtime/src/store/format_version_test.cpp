// The data directory's format version: a new directory is written at the
// current one; an older one is upgraded by a writable open (its values
// sealed with checksums) and read as it is by a read-only one; a newer one
// is refused with both versions named. A value that fails its checksum is
// never returned.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "checked_values.hpp"
#include "raw_lmdb_test_support.hpp"
#include "sluice/store/keys.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

namespace {

namespace fs = std::filesystem;

struct FormatVersion : ::testing::Test {
  std::string dir;

  void SetUp() override {
    dir =
        (fs::temp_directory_path()
         / ("sluice_format_test_" + std::to_string(::getpid()) + "_"
            + ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    fs::remove_all(dir);
    auto s = store::open({dir});
    ASSERT_TRUE(s) << s.error().describe();
  }
  void TearDown() override { fs::remove_all(dir); }

  /// The stored version, read (or, with `to`, written as that Sluice
  /// writes it: 4 bytes, with their checksum from format 4 on) with LMDB
  /// directly.
  std::uint32_t version(std::optional<std::uint32_t> to = std::nullopt) {
    test::raw_lmdb db{dir};
    auto meta = db.dbi("meta");
    std::string name = "schema_version";
    MDB_val k{name.size(), name.data()}, v;
    if (to) {
      std::string b;
      keys::put_u32(b, *to);
      if (*to >= 4)
        seal(name, std::string(b), b);
      MDB_val bv{b.size(), b.data()};
      EXPECT_EQ(mdb_put(db.txn(), meta, &k, &bv, 0), 0);
      return *to;
    }
    if (mdb_get(db.txn(), meta, &k, &v) != 0)
      return 0;
    std::string_view raw{static_cast<const char*>(v.mv_data), v.mv_size};
    std::string_view value = raw;
    if (raw.size() == 4 + checksum_size) {
      EXPECT_TRUE(unseal(name, raw, value)) << "its checksum fails";
    }
    return keys::get_u32(value).value_or(0);
  }

  /// The raw bytes stored under `key` in database `db`.
  std::string raw(const char* db, const std::string& key) {
    test::raw_lmdb l{dir};
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    if (mdb_get(l.txn(), l.dbi(db), &k, &v) != 0)
      return {};
    return {static_cast<const char*>(v.mv_data), v.mv_size};
  }

  /// Writes raw bytes under `key` in database `db`, as damage would.
  void put_raw(const char* db, const std::string& key, std::string value) {
    test::raw_lmdb l{dir};
    MDB_val k{key.size(), const_cast<char*>(key.data())},
        v{value.size(), value.data()};
    EXPECT_EQ(mdb_put(l.txn(), l.dbi(db), &k, &v, 0), 0);
  }

  /// Leaves the directory as format 3 wrote it: no checksums.
  void as_format_3() {
    {
      test::raw_lmdb l{dir};
      std::vector<std::string> names;
      ASSERT_EQ(database_names(l.txn(), names), 0);
      for (auto& n : names) {
        auto dbi = l.dbi(n.c_str());
        MDB_cursor* c = nullptr;
        ASSERT_EQ(mdb_cursor_open(l.txn(), dbi, &c), 0);
        std::vector<std::pair<std::string, std::string>> all;
        MDB_val k, v;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
          std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
          std::string_view value;
          ASSERT_TRUE(unseal(
              key, {static_cast<const char*>(v.mv_data), v.mv_size}, value))
              << n << " " << key;
          all.emplace_back(key, value);
        }
        mdb_cursor_close(c);
        for (auto& [key, value] : all) {
          MDB_val kk{key.size(), key.data()}, vv{value.size(), value.data()};
          ASSERT_EQ(mdb_put(l.txn(), dbi, &kk, &vv, 0), 0);
        }
      }
    }
    version(3);
  }
};

TEST_F(FormatVersion, ANewDirectoryIsWrittenAtTheCurrentVersion) {
  EXPECT_EQ(version(), 4u);
}

TEST_F(FormatVersion, AnOlderDirectoryIsReadAsItIsAndUpgradedByAWritableOpen) {
  {
    auto w = store::open({dir});
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->put_raw("status", "k1", "hello"));
  }
  as_format_3();
  ASSERT_EQ(raw("status", "k1"), "hello");
  auto r = store::open(store_options::read_only_at(dir));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ((*r)->read_status("k1").value(), "hello")
      << "a read-only open of format 3 expects no checksums";
  r->reset();
  EXPECT_EQ(version(), 3u) << "a read-only open wrote";
  auto w = store::open({dir});
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_EQ((*w)->read_status("k1").value(), "hello");
  w->reset();
  EXPECT_EQ(version(), 4u);
  EXPECT_EQ(raw("status", "k1").size(), 5 + checksum_size)
      << "the upgrade sealed every value";
}

TEST_F(FormatVersion, ANewerDirectoryIsRefusedNamingBothVersions) {
  version(5);
  auto s = store::open({dir});
  ASSERT_FALSE(s);
  auto msg = s.error().describe();
  EXPECT_NE(msg.find("written by a newer Sluice (data format 5; this one "
                     "reads up to 4)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  EXPECT_EQ(version(), 5u) << "the refused directory was changed";
}

TEST(Checksums, ADamagedValueIsNeverReturnedAndTheErrorNamesDatabaseAndKey) {
  auto dir = (fs::temp_directory_path()
              / ("sluice_checksum_test_" + std::to_string(::getpid())))
                 .string();
  fs::remove_all(dir);
  {
    auto w = store::open({dir});
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->put_raw("status", "k1", "the first value"));
    ASSERT_TRUE((*w)->put_raw("status", "k2", "the second value"));
  }
  {
    // One bit flipped in the value, as a bad sector would leave it.
    test::raw_lmdb l{dir};
    std::string key = "k1";
    MDB_val k{key.size(), key.data()}, v;
    ASSERT_EQ(mdb_get(l.txn(), l.dbi("status"), &k, &v), 0);
    std::string bytes(static_cast<const char*>(v.mv_data), v.mv_size);
    bytes[4] = static_cast<char>(bytes[4] ^ 0x04);
    MDB_val bv{bytes.size(), bytes.data()};
    ASSERT_EQ(mdb_put(l.txn(), l.dbi("status"), &k, &bv, 0), 0);
  }
  for (bool read_only : {true, false}) {
    auto s = read_only ? store::open(store_options::read_only_at(dir))
                       : store::open({dir});
    ASSERT_TRUE(s) << s.error().describe();
    auto bad = (*s)->read_status("k1");
    ASSERT_FALSE(bad) << "a damaged value was returned: " << bad->value_or("");
    EXPECT_EQ(bad.error().code, errc::corrupt);
    auto msg = bad.error().describe();
    EXPECT_NE(msg.find("the value of key k1 in database 'status' fails its "
                       "checksum"),
              std::string::npos)
        << msg;
    EXPECT_EQ((*s)->read_status("k2").value(), "the second value")
        << "other keys go on";
    std::vector<std::string> seen;
    auto scan =
        (*s)->scan_status([&](const std::string& k, const std::string&, bool) {
          seen.push_back(k);
          return true;
        });
    EXPECT_FALSE(scan) << "a scan went over the damaged value";
  }
  fs::remove_all(dir);
}

} // namespace

} // namespace sluice
