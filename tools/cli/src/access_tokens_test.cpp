// The tokens file: each line's three fields, refusals naming file and line,
// scopes and their implications, and the constant-time match.
#include "access_tokens.hpp"
#include "sluice/secret.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace sluice;
using namespace sluice::cli;
namespace fs = std::filesystem;

namespace {

struct TokensFile : ::testing::Test {
  fs::path dir = fs::temp_directory_path()
                 / ("sluice_tokens_test_" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  std::string error_of(const std::string& text) {
    auto s = token_set::parse(text, "tokens.conf");
    EXPECT_FALSE(s) << "accepted: " << text;
    return s ? "" : s.error().message;
  }
};

} // namespace

TEST_F(TokensFile, ReadsHashedAndFileSecretsWithTheirScopes) {
  std::ofstream(dir / "ingest.token") << "ingest-token-0123456789\n";
  auto text = "# name scopes secret\n"
              "\n"
              "grafana read sha256:"
              + to_hex(sha256_of("grafana-token-abcdef"))
              + "  # dashboards\n"
                "ingest  read,query  file:ingest.token\n";
  auto s = token_set::parse(text, (dir / "tokens.conf").string());
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->tokens().size(), 2u);
  auto* g = s->find("grafana-token-abcdef");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->name, "grafana");
  EXPECT_TRUE(g->grants(scope::read));
  EXPECT_FALSE(g->grants(scope::query));
  auto* i = s->find("ingest-token-0123456789");
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->name, "ingest");
  EXPECT_EQ(i->scope_list(), "read,query");
  EXPECT_EQ(s->find("ingest-token-012345678"), nullptr); // one short
  EXPECT_EQ(s->find(""), nullptr);
  EXPECT_EQ(s->secret_files().size(), 1u);
}

TEST_F(TokensFile, RefusesAMalformedLineNamingFileAndLine) {
  auto hash = "sha256:" + to_hex(sha256_of("x-token-0123456789"));
  EXPECT_EQ(error_of("a read\n"),
            "tokens.conf:1: expected NAME SCOPES SECRET (3 fields), got 2");
  EXPECT_EQ(error_of("\n# c\nb read,write " + hash + "\n"),
            "tokens.conf:3: unknown scope 'write' (scopes: read, query, "
            "publish, admin)");
  EXPECT_NE(error_of("c read sha256:abc\n").find("tokens.conf:1: sha256:"),
            std::string::npos);
  EXPECT_NE(error_of("d read plain-secret\n").find("file:PATH"),
            std::string::npos);
  EXPECT_NE(error_of("e read file:/no/such/file\n")
                .find("tokens.conf:1: cannot read the token file"),
            std::string::npos);
  EXPECT_NE(error_of("console read " + hash + "\n").find("reserved"),
            std::string::npos);
  EXPECT_NE(error_of("f/g read " + hash + "\n").find("the name 'f/g'"),
            std::string::npos);
  EXPECT_NE(error_of("h read " + hash + "\nh query " + hash + "\n")
                .find("tokens.conf:2: a second token named 'h'"),
            std::string::npos);
  EXPECT_NE(error_of("h read " + hash + "\ni query " + hash + "\n")
                .find("tokens.conf:2: token 'i' has the same secret as 'h'"),
            std::string::npos);
}

TEST_F(TokensFile, RefusesAShortTokenInAFile) {
  std::ofstream(dir / "short.token") << "short\n";
  auto s = token_set::parse("s read file:short.token\n",
                            (dir / "tokens.conf").string());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("has 5 characters; at least 16"),
            std::string::npos);
}

TEST(AccessTokens, AdminGrantsEveryScopeAndQueryGrantsRead) {
  token_set s;
  s.add_console_token("console-secret");
  auto* c = s.find("console-secret");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "console");
  for (auto sc : {scope::read, scope::query, scope::publish, scope::admin})
    EXPECT_TRUE(c->grants(sc));
  access_token q{"q", static_cast<unsigned>(scope::query), {}};
  EXPECT_TRUE(q.grants(scope::read));
  EXPECT_FALSE(q.grants(scope::publish));
  EXPECT_FALSE(q.grants(scope::admin));
  access_token p{"p", static_cast<unsigned>(scope::publish), {}};
  EXPECT_FALSE(p.grants(scope::read));
}

TEST(AccessTokens, LoadNamesAFileThatCannotBeRead) {
  auto s = token_set::load("/no/such/tokens.conf");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "cannot read the tokens file /no/such/tokens.conf");
}
