// Tests for typosquatting detection against the bundled popular names and
// small hand-made lists.
#include "typosquat.hpp"

#include <gtest/gtest.h>

namespace sluice::examples::package_trust {
namespace {

TEST(PackageTyposquat, MeasuresTranspositionsAsOneEdit) {
  EXPECT_EQ(edit_distance("lodash", "lodash"), 0u);
  EXPECT_EQ(edit_distance("lodahs", "lodash"), 1u);
  EXPECT_EQ(edit_distance("reqeusts", "requests"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

TEST(PackageTyposquat, BundlesPopularNamesOfEveryEcosystem) {
  const popular_names& list = popular_names::bundled();
  EXPECT_GT(list.size(), 1000u);
  EXPECT_TRUE(list.contains("npm", "lodash"));
  EXPECT_TRUE(list.contains("pypi", "requests"));
  EXPECT_TRUE(list.contains("debian", "bash"));
  EXPECT_FALSE(list.contains("npm", "requests"));
}

TEST(PackageTyposquat, FlagsNearMissesOfPopularNames) {
  const popular_names& list = popular_names::bundled();
  const auto lodahs = find_typosquat(list, "npm", "lodahs");
  ASSERT_TRUE(lodahs);
  EXPECT_EQ(lodahs->target, "lodash");
  EXPECT_EQ(lodahs->how, "1 edit");
  const auto reqeusts = find_typosquat(list, "pypi", "reqeusts");
  ASSERT_TRUE(reqeusts);
  EXPECT_EQ(reqeusts->target, "requests");
  EXPECT_EQ(find_typosquat(list, "debian", "coreutlis")->target, "coreutils");
}

TEST(PackageTyposquat, DoesNotFlagThePopularNameItself) {
  const popular_names& list = popular_names::bundled();
  EXPECT_FALSE(find_typosquat(list, "npm", "lodash"));
  EXPECT_FALSE(find_typosquat(list, "pypi", "requests"));
  EXPECT_FALSE(find_typosquat(list, "pypi", "Requests")); // PEP 503: same
  EXPECT_FALSE(find_typosquat(list, "npm", "completely-unrelated-name"));
}

TEST(PackageTyposquat, OnlyComparesWithinTheSameEcosystem) {
  const popular_names& list = popular_names::bundled();
  EXPECT_FALSE(find_typosquat(list, "npm", "reqeusts"));
  EXPECT_FALSE(find_typosquat(list, "cargo", "lodahs"));
}

TEST(PackageTyposquat, FlagsSeparatorSwapsAndLookAlikeCharacters) {
  const popular_names list = popular_names::parse("# test list\n"
                                                  "npm cross-spawn\n"
                                                  "npm lodash\n"
                                                  "npm Xyz-Case\n"
                                                  "pypi python-dateutil\n"
                                                  "\n");
  EXPECT_EQ(list.size(), 4u);
  auto swap = find_typosquat(list, "npm", "cross_spawn");
  ASSERT_TRUE(swap);
  EXPECT_EQ(swap->how, "separator swap");
  EXPECT_EQ(find_typosquat(list, "npm", "crossspawn")->how, "separator swap");
  EXPECT_EQ(find_typosquat(list, "npm", "l0dash")->how,
            "look-alike characters");
  EXPECT_EQ(find_typosquat(list, "npm", "1odash")->how,
            "look-alike characters");
  EXPECT_EQ(find_typosquat(list, "npm", "xyz-case")->how, "case variant");
  EXPECT_EQ(find_typosquat(list, "pypi", "pythondateutil")->how,
            "separator swap");
  EXPECT_FALSE(find_typosquat(list, "pypi", "python_dateutil")); // PEP 503
}

TEST(PackageTyposquat, AllowsMoreEditsForLongerNames) {
  const popular_names list =
      popular_names::parse("npm ms\nnpm chalk\nnpm typescript\n");
  EXPECT_FALSE(find_typosquat(list, "npm", "mz"));     // too short
  EXPECT_TRUE(find_typosquat(list, "npm", "chalks"));  // 1 edit
  EXPECT_FALSE(find_typosquat(list, "npm", "chulks")); // 2 edits, short
  EXPECT_TRUE(find_typosquat(list, "npm", "typescirpt"));
  EXPECT_TRUE(find_typosquat(list, "npm", "typescrpit2")); // 2 edits
}

TEST(PackageTyposquat, DoesNotFlagSiblingsOfOnePackageFamily) {
  const popular_names list = popular_names::parse(
      "pypi mypy-boto3-s3\npypi nvidia-cudnn-cu12\npypi pytest-cov\n");
  EXPECT_FALSE(find_typosquat(list, "pypi", "mypy-boto3-sso"));
  EXPECT_FALSE(find_typosquat(list, "pypi", "nvidia-cudnn-cu11"));
  EXPECT_FALSE(find_typosquat(list, "pypi", "pytest-csv"));
  EXPECT_TRUE(find_typosquat(list, "pypi", "pytset-cov"));
}

} // namespace
} // namespace sluice::examples::package_trust
