// `--settings FILE`: a YAML mapping of a command's options becomes the
// arguments the command line does not give; mistakes name file and line.
#include "settings_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;

class SettingsFile : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path()
           / ("sluice_settings_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    node_ = app_.add_subcommand("node", "a member");
    node_->add_option("--settings", settings_);
    node_->add_option("--name", name_);
    node_->add_option("--listen", listen_);
    node_->add_option("--join", join_);
    node_->add_option("--secret-file", secret_file_);
    node_->add_flag("--no-sync", no_sync_);
    node_->add_option("--secret", hidden_)->group("");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& text) {
    auto p = (dir_ / "node.yaml").string();
    std::ofstream(p) << text;
    return p;
  }
  result<std::vector<std::string>> args(const std::string& text,
                                        std::vector<std::string> given = {}) {
    return settings_as_arguments(*node_, write(text), given);
  }

  fs::path dir_;
  CLI::App app_{"test"};
  CLI::App* node_ = nullptr;
  std::string settings_, name_, listen_, secret_file_, hidden_;
  std::vector<std::string> join_;
  bool no_sync_ = false;
};

using strings = std::vector<std::string>;

TEST_F(SettingsFile, ValuesListsAndFlagsBecomeArguments) {
  auto a = args("name: a\n"
                "listen: 127.0.0.1:7401\n"
                "join: [127.0.0.1:7401, 127.0.0.1:7402]\n"
                "secret_file: /etc/sluice/secret\n"
                "no-sync: true\n");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(*a, (strings{"--name", "a", "--listen", "127.0.0.1:7401", "--join",
                         "127.0.0.1:7401", "--join", "127.0.0.1:7402",
                         "--secret-file", "/etc/sluice/secret", "--no-sync"}));
  auto off = args("no-sync: false\n");
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->empty());
}

TEST_F(SettingsFile, TheCommandLineWins) {
  auto a = args("name: a\njoin: [x:1]\nlisten: 127.0.0.1:1\n",
                {"--name", "b", "--join=y:2"});
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(*a, (strings{"--listen", "127.0.0.1:1"}));
}

TEST_F(SettingsFile, ParsedWithTheCommandLineTheyFillTheOptions) {
  auto file = write("name: a\njoin: [s1:1, s2:2]\nno-sync: true\n");
  std::vector<std::string> argv{"node", "--settings", file, "--listen", "l:3"};
  auto all = with_settings_file(app_, argv);
  ASSERT_TRUE(all) << all.error().message;
  std::reverse(all->begin(), all->end());
  app_.parse(*all);
  EXPECT_EQ(name_, "a");
  EXPECT_EQ(listen_, "l:3");
  EXPECT_EQ(join_, (strings{"s1:1", "s2:2"}));
  EXPECT_TRUE(no_sync_);
}

TEST_F(SettingsFile, MistakesNameTheFileAndLine) {
  auto path = (dir_ / "node.yaml").string();
  auto unknown = args("name: a\nlisen: 127.0.0.1:7401\n");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            path
                + ":2: unknown setting 'lisen' (did you mean listen?); "
                  "settings are `sluice node` options without the dashes");
  auto hidden = args("secret: s3cr3t\n");
  ASSERT_FALSE(hidden);
  EXPECT_NE(hidden.error().message.find(":1: unknown setting 'secret'"),
            std::string::npos)
      << hidden.error().message;
  auto nested = args("name: a\njoin:\n  first: x\n");
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().message,
            path + ":3: 'join' takes a value or a list, not a mapping");
  auto flag = args("no-sync: sometimes\n");
  ASSERT_FALSE(flag);
  EXPECT_EQ(flag.error().message,
            path + ":1: 'no-sync' is a flag: true or false");
  auto list = args("- name\n- a\n");
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find(":1: settings are a mapping"),
            std::string::npos);
  auto broken = args("name: [a\n");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("node.yaml:"), std::string::npos);
  EXPECT_NE(broken.error().message.find("not YAML"), std::string::npos)
      << broken.error().message;
  auto missing = settings_as_arguments(*node_, path + ".nope", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "--settings " + path + ".nope: cannot read it");
}

TEST_F(SettingsFile, AnEmptyFileSetsNothing) {
  auto a = args("");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(a->empty());
}

} // namespace
} // namespace sluice::cli
