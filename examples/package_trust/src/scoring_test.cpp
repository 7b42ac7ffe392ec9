// Tests for package.score: component rules, the typosquat cap and
// determinism of the state bytes.
#include "scoring.hpp"

#include <gtest/gtest.h>

#include "enrichment.hpp"
#include "fake_context.hpp"
#include "package_trust.pb.h"
#include "proto_io.hpp"
#include "record_parser.hpp"
#include "score_behaviour.hpp"

namespace sluice::examples::package_trust {
namespace {

EnrichedPackage npm(const std::string& name, const std::string& version,
                    const std::string& downloads, const std::string& summary) {
  const std::string payload = R"({"downloads_a_month":")" + downloads
                              + R"(","name":")" + name + R"(","summary":")"
                              + summary + R"(","version":")" + version + "\"}";
  return enrich(parse_record("npm", payload, "test"), nullptr);
}

TEST(PackageScore, RatesAPopularMaturePackageAsTrusted) {
  const PackageScore s = score_package(
      npm("lodash", "4.18.1", "452434618", "Lodash modular utilities."),
      popular_names::bundled());
  EXPECT_EQ(s.popularity(), 100u);
  EXPECT_EQ(s.typosquatting(), 100u);
  EXPECT_GE(s.score(), 75u);
  EXPECT_TRUE(s.typosquat_target().empty());
  ASSERT_EQ(s.reasons_size(), 6);
  EXPECT_EQ(s.reasons(1), "popularity 100: 452434618 downloads a month");
}

TEST(PackageScore, CapsASuspectedTyposquat) {
  const PackageScore s =
      score_package(npm("lodahs", "4.18.1", "120", "Lodash utilities."),
                    popular_names::bundled());
  EXPECT_EQ(s.typosquatting(), 0u);
  EXPECT_EQ(s.typosquat_target(), "lodash");
  EXPECT_LE(s.score(), static_cast<std::uint32_t>(typosquat_cap));
  EXPECT_EQ(s.verdict(), "risky");
  EXPECT_EQ(s.reasons(5),
            "typosquatting 0: looks like popular 'lodash' (1 edit)");
}

TEST(PackageScore, DoesNotSuspectAnEstablishedLookAlike) {
  // "is-url" is popular; "isurl" has its own large user base.
  const PackageScore s = score_package(
      npm("isurl", "4.0.1", "5000000", "Checks whether a value is a URL."),
      popular_names::parse("npm is-url\n"));
  EXPECT_EQ(s.typosquatting(), 70u);
  EXPECT_EQ(s.typosquat_target(), "is-url");
  EXPECT_NE(s.verdict(), "risky");
  EXPECT_EQ(s.reasons(5),
            "typosquatting 70: resembles popular 'is-url' (separator swap) "
            "but is itself widely used");
}

TEST(PackageScore, PenalisesOrphanedDebianPackagesAndTemplateSummaries) {
  ParsedPackage orphan = parse_record(
      "debian",
      R"({"Package":"oldtool","Version":"1.0-2.1","Priority":"optional",)"
      R"("Maintainer":"Debian QA Group <packages@qa.debian.org>",)"
      R"("Description":"an old tool"})",
      "test");
  const PackageScore s =
      score_package(enrich(orphan, nullptr), popular_names::bundled());
  EXPECT_EQ(s.maintenance(), 0u); // 15 orphaned - 15 non-maintainer upload
  EXPECT_EQ(s.repository(), 10u); // no homepage
  EXPECT_EQ(s.dependency_surface(), 100u);

  const PackageScore t = score_package(
      npm("my-thing", "0.0.1", "12", "My short description for my project."),
      popular_names::bundled());
  EXPECT_LT(t.maintenance(), 20u);
  EXPECT_EQ(t.verdict(), "caution");
}

TEST(PackageScore, GivesIdenticalStateBytesForIdenticalInput) {
  const EnrichedPackage e = npm("left-pad", "1.3.0", "1000", "String left pad");
  sluice::event ev;
  ev.key = "npm/left-pad";
  ev.payload = to_bytes(e);
  std::string first;
  for (int run = 0; run < 3; ++run) {
    score_behaviour b; // a fresh instance each time, as after a restart
    testing::fake_context ctx("score", "npm/left-pad");
    b.on_event(ctx, ev);
    EXPECT_TRUE(ctx.emitted.empty());
    if (run == 0)
      first = ctx.state();
    EXPECT_EQ(ctx.state(), first);
  }
  score_behaviour b;
  const std::string json = b.state_to_json(first);
  EXPECT_NE(json.find("\"typosquat_target\":\"\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"verdict\":"), std::string::npos) << json;
}

} // namespace
} // namespace sluice::examples::package_trust
