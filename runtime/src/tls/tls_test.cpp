// The TLS directory's checks and the cluster CA: every bad directory is
// refused with the file and the problem named; a good one loads.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "../topology_test_support.hpp"
#include "sluice/tls.hpp"

namespace sluice::tls {
namespace {

namespace fs = std::filesystem;
using sluice::topology_test::temp_dir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

void put(const fs::path& p, const std::string& text) {
  fs::remove(p);
  std::ofstream(p) << text;
}

struct Tls : ::testing::Test {
  temp_dir tmp;
  std::string ca = (tmp.path() / "ca").string();
  std::string node = (tmp.path() / "a").string();

  void SetUp() override {
    ASSERT_TRUE(init_ca(ca));
    issue_options o;
    o.name = "a";
    o.hosts = {"127.0.0.1", "localhost"};
    auto r = issue(ca, o, node);
    ASSERT_TRUE(r) << r.error().message;
  }

  /// The error load_dir gives for `dir` (fails the test on success).
  std::string refusal(const std::string& dir) {
    auto id = load_dir(dir);
    EXPECT_FALSE(id);
    return id ? std::string{} : id.error().message;
  }

  std::string issued(const std::string& ca_dir, const std::string& name,
                     issue_options o = {}) {
    o.name = name;
    auto out = (tmp.path() / name).string();
    auto r = issue(ca_dir, o, out);
    EXPECT_TRUE(r) << r.error().message;
    return out;
  }
};

TEST_F(Tls, AnIssuedDirectoryLoadsWithItsNameHostsAndPrivateKey) {
  auto id = load_dir(node);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->name, "a");
  EXPECT_EQ(id->hosts,
            (std::vector<std::string>{"a", "127.0.0.1", "localhost"}));
  EXPECT_EQ(id->trusted_cas, 1u);
  EXPECT_NE(id->key_pem.find("PRIVATE KEY"), std::string::npos);
  auto days = std::chrono::duration_cast<std::chrono::hours>(
                  id->not_after - std::chrono::system_clock::now())
                  .count()
              / 24;
  EXPECT_NEAR(days, 824, 1);
  EXPECT_TRUE(warnings(*id).empty());
  struct stat st {};
  ASSERT_EQ(::stat((node + "/node.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((ca + "/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(node.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(Tls, NothingIsOverwritten) {
  auto again = init_ca(ca);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find(ca + "/ca.pem: already exists"),
            std::string::npos)
      << again.error().message;
  issue_options o;
  o.name = "a";
  auto twice = issue(ca, o, node);
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("node.pem: already exists"),
            std::string::npos);
}

TEST_F(Tls, AMissingDirectoryOrFileIsNamed) {
  EXPECT_EQ(refusal(node + "/nope"), node + "/nope: no such TLS directory");
  fs::remove(node + "/node.key");
  auto why = refusal(node);
  EXPECT_NE(why.find(node + "/node.key: missing"), std::string::npos) << why;
}

TEST_F(Tls, GarbageIsNotPem) {
  put(node + "/node.pem", "not a certificate\n");
  EXPECT_EQ(refusal(node), node + "/node.pem: holds no PEM data");
  put(node + "/node.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n"
                          "-----END CERTIFICATE-----\n");
  EXPECT_EQ(refusal(node), node + "/node.pem: holds no certificate");
}

TEST_F(Tls, AKeyOfAnotherCertificateIsRefused) {
  auto b = issued(ca, "b");
  fs::copy_file(b + "/node.key", node + "/node.key",
                fs::copy_options::overwrite_existing);
  EXPECT_EQ(refusal(node), node
                               + "/node.key: is not the key of the "
                                 "certificate in "
                               + node + "/node.pem");
}

TEST_F(Tls, ACertificateFromAnotherCaIsRefused) {
  auto other = (tmp.path() / "other-ca").string();
  ASSERT_TRUE(init_ca(other));
  auto stranger = issued(other, "stranger");
  fs::copy_file(ca + "/ca.pem", stranger + "/ca.pem",
                fs::copy_options::overwrite_existing);
  auto why = refusal(stranger);
  EXPECT_NE(why.find(stranger + "/node.pem: not signed by a CA in " + stranger
                     + "/ca.pem ("),
            std::string::npos)
      << why;
}

TEST_F(Tls, ExpiredAndNotYetValidCertificatesAreRefused) {
  issue_options old;
  old.starts = std::chrono::hours(-24 * 10);
  old.days = 5;
  auto why = refusal(issued(ca, "old", old));
  EXPECT_NE(why.find("old/node.pem: the certificate expired on "),
            std::string::npos)
      << why;
  issue_options early;
  early.starts = std::chrono::hours(48);
  why = refusal(issued(ca, "early", early));
  EXPECT_NE(why.find("early/node.pem: the certificate is not valid before "),
            std::string::npos)
      << why;
  issue_options soon;
  soon.days = 10;
  auto id = load_dir(issued(ca, "soon", soon));
  ASSERT_TRUE(id);
  ASSERT_EQ(warnings(*id).size(), 1u);
  EXPECT_NE(warnings(*id)[0].find("the certificate expires on"),
            std::string::npos);
}

TEST_F(Tls, ALeafCertificateIsNoCa) {
  fs::copy_file(node + "/node.pem", node + "/ca.pem",
                fs::copy_options::overwrite_existing);
  EXPECT_EQ(refusal(node),
            node + "/ca.pem: certificate 'a' is not a CA certificate");
}

TEST_F(Tls, AnEncryptedKeyIsRefusedWithoutAskingForAPassphrase) {
  put(node + "/node.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                          "-----END ENCRYPTED PRIVATE KEY-----\n");
  auto why = refusal(node);
  EXPECT_NE(why.find(node + "/node.key: the key is encrypted"),
            std::string::npos)
      << why;
}

TEST_F(Tls, BothCasAreTrustedDuringARotation) {
  auto next = (tmp.path() / "next-ca").string();
  ASSERT_TRUE(init_ca(next, {.name = "next CA"}));
  auto b = issued(next, "b");
  // b trusts the old CA and the new one; a (old CA) trusts both too.
  put(b + "/ca.pem", slurp(ca + "/ca.pem") + slurp(next + "/ca.pem"));
  auto id = load_dir(b);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->trusted_cas, 2u);
}

TEST_F(Tls, BadHostsAndDaysAreRefused) {
  issue_options o;
  o.name = "c";
  o.hosts = {"a host"};
  auto r = issue(ca, o, (tmp.path() / "c").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "--host 'a host': neither a DNS name nor an IP address");
  o.hosts = {};
  o.days = 0;
  r = issue(ca, o, (tmp.path() / "c").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "--days 0: must be at least 1");
  auto missing = issue(node, o, (tmp.path() / "d").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("ca.key"), std::string::npos)
      << missing.error().message;
}

} // namespace
} // namespace sluice::tls
