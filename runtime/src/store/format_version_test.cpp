// The data directory's format version: a new directory is written at the
// current one; an older one is upgraded by a writable open and read as it
// is by a read-only one; a newer one is refused with both versions named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "raw_lmdb_test_support.hpp"
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

  /// The stored version, read (or, with `to`, written) with LMDB directly.
  std::uint32_t version(std::optional<std::uint32_t> to = std::nullopt) {
    test::raw_lmdb db{dir};
    auto meta = db.dbi("meta");
    std::string name = "schema_version";
    MDB_val k{name.size(), name.data()}, v;
    if (to) {
      unsigned char b[4] = {static_cast<unsigned char>(*to >> 24),
                            static_cast<unsigned char>(*to >> 16),
                            static_cast<unsigned char>(*to >> 8),
                            static_cast<unsigned char>(*to)};
      MDB_val bv{4, b};
      EXPECT_EQ(mdb_put(db.txn(), meta, &k, &bv, 0), 0);
      return *to;
    }
    if (mdb_get(db.txn(), meta, &k, &v) != 0 || v.mv_size != 4)
      return 0;
    auto* p = static_cast<const unsigned char*>(v.mv_data);
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16)
           | (std::uint32_t{p[2]} << 8) | p[3];
  }
};

TEST_F(FormatVersion, ANewDirectoryIsWrittenAtTheCurrentVersion) {
  EXPECT_EQ(version(), 3u);
}

TEST_F(FormatVersion, AnOlderDirectoryIsReadAsItIsAndUpgradedByAWritableOpen) {
  version(1);
  store_options ro;
  ro.dir = dir;
  ro.read_only = true;
  auto r = store::open(ro);
  ASSERT_TRUE(r) << r.error().describe();
  r->reset();
  EXPECT_EQ(version(), 1u) << "a read-only open wrote";
  auto w = store::open({dir});
  ASSERT_TRUE(w) << w.error().describe();
  w->reset();
  EXPECT_EQ(version(), 3u);
}

TEST_F(FormatVersion, ANewerDirectoryIsRefusedNamingBothVersions) {
  version(4);
  auto s = store::open({dir});
  ASSERT_FALSE(s);
  auto msg = s.error().describe();
  EXPECT_NE(msg.find("written by a newer Sluice (data format 4; this one "
                     "reads up to 3)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  EXPECT_EQ(version(), 4u) << "the refused directory was changed";
}

} // namespace

} // namespace sluice
