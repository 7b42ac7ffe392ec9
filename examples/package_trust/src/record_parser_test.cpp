// Tests for package.parse on real registry records: an npm row, a PyPI row
// and a Debian stanza with continuation lines and Depends alternatives.
#include "record_parser.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "dependencies.hpp"
#include "fake_context.hpp"
#include "package_trust.pb.h"
#include "parse_behaviour.hpp"

namespace sluice::examples::package_trust {
namespace {

using testing::fake_context;
using testing::registry_event;

// The distcc stanza of bookworm main amd64, as the feed reader renders it.
const char* const distcc_payload =
    R"j({"Architecture":"amd64",)j"
    R"j("Depends":"libavahi-client3 (>= 0.6.16), )j"
    R"j(libavahi-common3 (>= 0.6.16), )j"
    R"j(libc6 (>= 2.34), libgssapi-krb5-2 (>= 1.17), libpopt0 (>= 1.14), )j"
    R"j(debconf (>= 0.5) | debconf-2.0, adduser (>= 3.52), )j"
    R"j(netbase (>= 4.09), )j"
    R"j(lsb-base (>= 3.2-13)",)j"
    R"j("Description":"simple distributed compiler client and server",)j"
    R"j("Homepage":"https://distcc.github.io/",)j"
    R"j("Installed-Size":"600",)j"
    R"j("Maintainer":"Christian Marillat <marillat@debian.org>",)j"
    R"j("Package":"distcc","Pre-Depends":"init-system-helpers (>= 1.54~)",)j"
    R"j("Priority":"optional","Section":"devel",)j"
    R"j("Tag":"admin::cluster, devel::buildtools,\nimplemented-in::c",)j"
    R"j("Version":"3.4+really3.4-3"})j";

TEST(PackageParse, ReadsARealNpmRow) {
  const ParsedPackage p = parse_record(
      "npm",
      R"j({"downloads_a_month":"452434618","name":"lodash",)j"
      R"j("summary":"Lodash modular utilities.","version":"4.18.1"})j",
      "npm.tsv:2");
  EXPECT_EQ(p.ecosystem(), "npm");
  EXPECT_EQ(p.name(), "lodash");
  EXPECT_EQ(p.version().raw(), "4.18.1");
  EXPECT_EQ(p.version().major(), 4u);
  EXPECT_EQ(p.version().minor(), 18u);
  EXPECT_EQ(p.version().patch(), 1u);
  EXPECT_FALSE(p.version().prerelease());
  EXPECT_EQ(p.summary(), "Lodash modular utilities.");
  EXPECT_EQ(p.downloads_a_month(), 452434618u);
  EXPECT_FALSE(p.urls_known());
  EXPECT_FALSE(p.depends_known());
}

TEST(PackageParse, ReadsARealPypiRowWithRankAndMonth) {
  const ParsedPackage p = parse_record(
      "pypi",
      R"j({"month":"2026-05","name":"requests",)j"
      R"j("rank_among_15000_most_downloaded":"6",)j"
      R"j("summary":"Python HTTP for Humans.","version":"2.34.2"})j",
      "pypi.tsv:9");
  EXPECT_EQ(p.name(), "requests");
  EXPECT_EQ(p.rank(), 6u);
  EXPECT_EQ(p.release_month(), "2026-05");
  EXPECT_EQ(p.version().components(), 3u);
}

TEST(PackageParse, AcceptsAPypiRowWithoutAVersion) {
  const ParsedPackage p = parse_record(
      "pypi",
      R"j({"month":"","name":"certifi",)j"
      R"j("rank_among_15000_most_downloaded":"4",)j"
      R"j("summary":"Python package for providing Mozilla's CA Bundle.",)j"
      R"j("version":""})j",
      "pypi.tsv:3");
  EXPECT_EQ(p.name(), "certifi");
  EXPECT_FALSE(p.version().parsed());
  EXPECT_EQ(p.rank(), 4u);
}

TEST(PackageParse, ReadsARealDebianStanzaWithAlternativesAndPreDepends) {
  const ParsedPackage p = parse_record("debian", distcc_payload, "d:1");
  EXPECT_EQ(p.name(), "distcc");
  EXPECT_EQ(p.version().upstream(), "3.4+really3.4");
  EXPECT_EQ(p.version().revision(), "3");
  EXPECT_EQ(p.version().epoch(), 0u);
  EXPECT_EQ(p.summary(), "simple distributed compiler client and server");
  EXPECT_EQ(p.homepage(), "https://distcc.github.io/");
  EXPECT_EQ(p.maintainer(), "Christian Marillat <marillat@debian.org>");
  EXPECT_EQ(p.installed_size_kib(), 600u);
  EXPECT_EQ(p.section(), "devel");
  EXPECT_EQ(p.priority(), "optional");
  ASSERT_EQ(p.depends_size(), 10);
  EXPECT_EQ(p.depends(0).alternatives(0), "libavahi-client3");
  ASSERT_EQ(p.depends(5).alternatives_size(), 2);
  EXPECT_EQ(p.depends(5).alternatives(0), "debconf");
  EXPECT_EQ(p.depends(5).alternatives(1), "debconf-2.0");
  EXPECT_TRUE(p.depends(9).pre_depends());
  EXPECT_EQ(p.depends(9).alternatives(0), "init-system-helpers");
}

TEST(PackageParse, SplitsTheDebianDescriptionIntoSummaryAndBody) {
  const ParsedPackage p =
      parse_record("debian",
                   R"j({"Package":"x","Version":"1:2.0~rc1-1",)j"
                   R"j("Description":"short line\nlong text\n.\nmore"})j",
                   "d:1");
  EXPECT_EQ(p.summary(), "short line");
  EXPECT_EQ(p.description(), "long text\n.\nmore");
  EXPECT_EQ(p.version().epoch(), 1u);
  EXPECT_TRUE(p.version().prerelease());
}

TEST(PackageParse, StripsConstraintsArchitecturesAndProfilesFromDepends) {
  const auto deps = parse_dependencies(
      "python3:any, libfoo1 (>= 1.2) [amd64] <!nocheck>,\n libbar | "
      "libbaz:amd64 (<< 2), , perl:any (>= 5.10)",
      false);
  ASSERT_EQ(deps.size(), 4u);
  EXPECT_EQ(deps[0].alternatives(0), "python3");
  EXPECT_EQ(deps[1].alternatives(0), "libfoo1");
  EXPECT_EQ(deps[2].alternatives(1), "libbaz");
  EXPECT_EQ(deps[3].alternatives(0), "perl");
}

TEST(PackageParse, ThrowsNamingTheRecordWhenARequiredFieldIsMissing) {
  try {
    (void)parse_record("npm", R"j({"name":"x","version":""})j",
                       "npm/x (npm.tsv:7)");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "package.parse: npm/x (npm.tsv:7): missing required field "
                 "'version'");
  }
  EXPECT_THROW((void)parse_record("debian", R"j({"Version":"1"})j", "d"),
               std::runtime_error);
  EXPECT_THROW((void)parse_record("npm", "not json", "n"), std::runtime_error);
  EXPECT_THROW((void)parse_record("npm",
                                  R"j({"name":"x","version":"1",)j"
                                  R"j("downloads_a_month":"lots"})j",
                                  "n"),
               std::runtime_error);
}

TEST(PackageParse, SetsStateAndEmitsTheParsedRecord) {
  parse_behaviour b;
  fake_context ctx("parse", "debian/distcc");
  b.on_event(ctx, registry_event("debian", "distcc", distcc_payload));
  ASSERT_TRUE(ctx.has_state());
  ASSERT_EQ(ctx.emitted.size(), 1u);
  EXPECT_EQ(ctx.emitted[0].first, "parsed");
  EXPECT_EQ(ctx.emitted[0].second.payload, ctx.state());
  ParsedPackage p;
  ASSERT_TRUE(p.ParseFromString(ctx.state()));
  EXPECT_EQ(p.name(), "distcc");
  EXPECT_EQ(ctx.counters["parsed_debian"], 1u);
  const std::string json = b.state_to_json(ctx.state());
  EXPECT_NE(json.find("\"installed_size_kib\":\"600\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"essential\":false"), std::string::npos) << json;
}

} // namespace
} // namespace sluice::examples::package_trust
