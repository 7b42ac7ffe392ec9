// Tests for package.enrich: derived repository / dependency / maturity /
// summary data and the version history kept in the key's state.
#include "enrichment.hpp"

#include <gtest/gtest.h>

#include "enrich_behaviour.hpp"
#include "fake_context.hpp"
#include "package_trust.pb.h"
#include "version.hpp"

namespace sluice::examples::package_trust {
namespace {

ParsedPackage package(const std::string& ecosystem, const std::string& name,
                      const std::string& version) {
  ParsedPackage p;
  p.set_ecosystem(ecosystem);
  p.set_name(name);
  *p.mutable_version() = parse_version(ecosystem, version);
  return p;
}

sluice::event parsed_event(const ParsedPackage& p) {
  sluice::event ev;
  ev.id = "test";
  ev.key = p.ecosystem() + "/" + p.name();
  ev.payload = p.SerializeAsString();
  return ev;
}

TEST(PackageEnrich, PrefersTheVcsUrlOverTheHomepage) {
  ParsedPackage p = package("debian", "bash", "5.2.15-2+b2");
  p.set_homepage("http://tiswww.case.edu/php/chet/bash/bashtop.html");
  p.set_vcs_url("https://salsa.debian.org/debian/bash.git");
  EnrichedPackage e = enrich(p, nullptr);
  EXPECT_EQ(e.repository().host(), SALSA);
  EXPECT_EQ(e.repository().source_field(), "vcs_url");
  p.clear_vcs_url();
  e = enrich(p, nullptr);
  EXPECT_EQ(e.repository().host(), OTHER);
  EXPECT_EQ(e.repository().host_name(), "tiswww.case.edu");
  EXPECT_EQ(e.repository().source_field(), "homepage");
}

TEST(PackageEnrich, CountsDirectDependenciesAndAlternatives) {
  ParsedPackage p = package("debian", "x", "1.0-1");
  auto* a = p.add_depends();
  a->add_alternatives("debconf");
  a->add_alternatives("debconf-2.0");
  p.add_depends()->add_alternatives("libc6");
  auto* pre = p.add_depends();
  pre->add_alternatives("dpkg");
  pre->set_pre_depends(true);
  const EnrichedPackage e = enrich(p, nullptr);
  EXPECT_EQ(e.dependencies().direct(), 3u);
  EXPECT_EQ(e.dependencies().with_alternatives(), 1u);
  EXPECT_EQ(e.dependencies().alternatives(), 1u);
  EXPECT_EQ(e.dependencies().pre_depends(), 1u);
}

TEST(PackageEnrich, JudgesSummaries) {
  ParsedPackage p = package("pypi", "0-618", "0.1.0");
  p.set_summary("My short description for my project.");
  EXPECT_TRUE(summary_quality(p).placeholder());
  p.set_summary("365scores");
  p.set_name("365scores");
  EXPECT_TRUE(summary_quality(p).same_as_name());
  p.set_summary("");
  EXPECT_TRUE(summary_quality(p).missing());
  p.set_summary("Python HTTP for Humans.");
  const SummaryQuality q = summary_quality(p);
  EXPECT_FALSE(q.placeholder() || q.missing() || q.same_as_name());
  EXPECT_EQ(q.words(), 4u);
  EXPECT_EQ(q.length(), 23u);
}

TEST(PackageEnrich, KeepsTheVersionHistoryInItsState) {
  enrich_behaviour b;
  testing::fake_context ctx("enrich", "npm/left-pad");
  for (const char* v : {"1.0.0", "1.0.0", "1.3.0", "1.1.0"}) {
    b.on_event(ctx, parsed_event(package("npm", "left-pad", v)));
  }
  EnrichedPackage state;
  ASSERT_TRUE(state.ParseFromString(ctx.state()));
  const VersionHistory& h = state.history();
  EXPECT_EQ(h.events_seen(), 4u);
  EXPECT_EQ(h.versions_seen(), 3u);
  EXPECT_EQ(h.first_version(), "1.0.0");
  EXPECT_EQ(h.last_version(), "1.1.0");
  EXPECT_TRUE(h.went_backwards());
  EXPECT_EQ(h.backward_steps(), 1u);
  EXPECT_EQ(ctx.emitted.size(), 4u);
  EXPECT_EQ(ctx.emitted.back().first, "enriched");
  EXPECT_EQ(ctx.emitted.back().second.payload, ctx.state());
  EXPECT_EQ(ctx.counters["version_went_backwards"], 1u);
}

TEST(PackageEnrich, ThrowsOnAPayloadThatIsNotAParsedPackage) {
  enrich_behaviour b;
  testing::fake_context ctx("enrich", "npm/x");
  sluice::event ev;
  ev.payload = "\xff\xff\xff";
  EXPECT_THROW(b.on_event(ctx, ev), std::runtime_error);
  EXPECT_FALSE(ctx.has_state());
}

} // namespace
} // namespace sluice::examples::package_trust
