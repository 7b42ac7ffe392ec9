// Modes at start: a data directory open to others is a warning (an error
// when strict), a group- or world-readable secret file a warning; private
// or missing paths say nothing.
#include "private_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace sluice::cli;
namespace fs = std::filesystem;

namespace {

struct PrivateFiles : ::testing::Test {
  fs::path dir = fs::temp_directory_path()
                 / ("sluice_private_test_" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
};

} // namespace

TEST_F(PrivateFiles, WarnAboutADataDirectoryOpenToOthers) {
  auto data = (dir / "data").string();
  EXPECT_FALSE(data_dir_exposure({data, "the data directory"}));
  fs::create_directory(data);
  ::chmod(data.c_str(), 0700);
  EXPECT_FALSE(data_dir_exposure({data, "the data directory"}));
  ::chmod(data.c_str(), 0755);
  auto w = data_dir_exposure({data, "the data directory"});
  ASSERT_TRUE(w);
  EXPECT_NE(w->find(data), std::string::npos);
  EXPECT_NE(w->find("mode 0755"), std::string::npos);
  EXPECT_NE(w->find("chmod 700"), std::string::npos);
  EXPECT_TRUE(check_private_files(private_path{data, "d"}, {}, false));
  auto strict = check_private_files(private_path{data, "d"}, {}, true);
  ASSERT_FALSE(strict);
  EXPECT_NE(strict.error().message.find("--strict-permissions"),
            std::string::npos);
}

TEST_F(PrivateFiles, WarnAboutASecretFileOthersCanRead) {
  auto key = (dir / "key").string();
  std::ofstream(key) << "secret\n";
  ::chmod(key.c_str(), 0600);
  EXPECT_FALSE(secret_file_exposure({key, "--hmac-key-file"}));
  ::chmod(key.c_str(), 0640);
  auto w = secret_file_exposure({key, "--hmac-key-file"});
  ASSERT_TRUE(w);
  EXPECT_NE(w->find("--hmac-key-file " + key), std::string::npos);
  EXPECT_NE(w->find("mode 0640"), std::string::npos);
  EXPECT_FALSE(secret_file_exposure({(dir / "none").string(), "x"}));
  // Secret files stay warnings even when strict.
  EXPECT_TRUE(check_private_files(std::nullopt, {{key, "k"}}, true));
}
