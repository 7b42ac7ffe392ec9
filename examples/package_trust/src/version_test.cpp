// Tests for version parsing and ordering across npm, PyPI and Debian.
#include "version.hpp"

#include <gtest/gtest.h>

namespace sluice::examples::package_trust {
namespace {

TEST(PackageVersion, SplitsSemverWithPrereleaseAndBuild) {
  const Version v = parse_version("npm", "0.0.1-pre.alpha.1+build.7");
  EXPECT_TRUE(v.parsed());
  EXPECT_EQ(v.upstream(), "0.0.1-pre.alpha.1");
  EXPECT_EQ(v.major(), 0u);
  EXPECT_EQ(v.patch(), 1u);
  EXPECT_TRUE(v.prerelease());
  EXPECT_FALSE(parse_version("npm", "v2.3.4").prerelease());
  EXPECT_EQ(parse_version("npm", "v2.3.4").major(), 2u);
}

TEST(PackageVersion, RecognisesPep440PrereleasesAndEpochs) {
  EXPECT_TRUE(parse_version("pypi", "1.0rc1").prerelease());
  EXPECT_TRUE(parse_version("pypi", "2.0.0.dev3").prerelease());
  EXPECT_TRUE(parse_version("pypi", "0.3b2").prerelease());
  EXPECT_FALSE(parse_version("pypi", "1.0.post2").prerelease());
  const Version v = parse_version("pypi", "2!1.4");
  EXPECT_EQ(v.epoch(), 2u);
  EXPECT_EQ(v.components(), 2u);
}

TEST(PackageVersion, SplitsDebianEpochUpstreamAndRevision) {
  const Version v = parse_version("debian", "1:1.2.13.dfsg-1+b1");
  EXPECT_EQ(v.epoch(), 1u);
  EXPECT_EQ(v.upstream(), "1.2.13.dfsg");
  EXPECT_EQ(v.revision(), "1+b1");
  EXPECT_EQ(v.components(), 3u);
  EXPECT_FALSE(v.prerelease());
  EXPECT_TRUE(parse_version("debian", "2.0~rc1-1").prerelease());
}

TEST(PackageVersion, MarksVersionsWithoutANumberAsUnparsed) {
  EXPECT_FALSE(parse_version("npm", "latest").parsed());
  EXPECT_FALSE(parse_version("pypi", "").parsed());
}

TEST(PackageVersion, OrdersVersionsWithinAnEcosystem) {
  EXPECT_LT(compare_versions("npm", "1.2.3", "1.10.0"), 0);
  EXPECT_LT(compare_versions("npm", "1.0.0-rc.1", "1.0.0"), 0);
  EXPECT_EQ(compare_versions("npm", "1.0.0", "1.0.0"), 0);
  EXPECT_GT(compare_versions("pypi", "1!0.1", "9.9"), 0);
  EXPECT_LT(compare_versions("pypi", "2.0", "2.0.1"), 0);
  EXPECT_LT(compare_versions("debian", "1.0~rc1-1", "1.0-1"), 0);
  EXPECT_LT(compare_versions("debian", "1.0-1", "1.0-1+b1"), 0);
  EXPECT_GT(compare_versions("debian", "1:0.9-1", "2.0-1"), 0);
  EXPECT_LT(compare_versions("debian", "1.2a-1", "1.2+dfsg-1"), 0);
}

} // namespace
} // namespace sluice::examples::package_trust
