#include "sluice/private_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {
namespace {

namespace fs = std::filesystem;

struct PrivateFiles : ::testing::Test {
  fs::path dir = fs::temp_directory_path()
                 / ("sluice_private_files_" + std::to_string(::getpid()));
  void SetUp() override { fs::remove_all(dir); }
  void TearDown() override { fs::remove_all(dir); }
  static unsigned mode_of(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777u;
  }
};

TEST_F(PrivateFiles, DirectoryIsCreatedWithParentsAndIsPrivate) {
  auto sub = dir / "a" / "b";
  ASSERT_TRUE(make_private_dir(sub.string()));
  EXPECT_EQ(mode_of(sub), 0700u);
  EXPECT_TRUE(make_private_dir(sub.string())) << "an existing one is fine";
  std::ofstream(dir / "file") << "x";
  auto r = make_private_dir((dir / "file").string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("is not a directory"), std::string::npos);
}

TEST_F(PrivateFiles, NewFileHasExactlyItsModeAndIsNeverWrittenOverOne) {
  ASSERT_TRUE(make_private_dir(dir.string()));
  auto p = (dir / "key").string();
  ASSERT_TRUE(write_new_file(p, "secret"));
  EXPECT_EQ(mode_of(p), 0600u);
  std::stringstream s;
  s << std::ifstream(p).rdbuf();
  EXPECT_EQ(s.str(), "secret");
  auto again = write_new_file(p, "other");
  ASSERT_FALSE(again);
  EXPECT_NE(
      again.error().message.find(p + ": already exists (not overwritten)"),
      std::string::npos);
  s.str("");
  s << std::ifstream(p).rdbuf();
  EXPECT_EQ(s.str(), "secret");
}

TEST_F(PrivateFiles, AnUnfinishedFileIsRemoved) {
  ASSERT_TRUE(make_private_dir(dir.string()));
  auto p = (dir / "half").string();
  {
    auto f = private_file::create(p);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write("half of it"));
    EXPECT_TRUE(fs::exists(p));
  }
  EXPECT_FALSE(fs::exists(p)) << "a write that did not finish leaves nothing";
  auto f = private_file::create(p, 0644);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->finish());
  EXPECT_TRUE(fs::exists(p));
  EXPECT_EQ(mode_of(p), 0644u);
}

} // namespace
} // namespace sluice
