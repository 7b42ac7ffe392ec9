// Subscription filters take exactly the keys and states they name.
#include "sluice/feed/feed_filter.hpp"

#include <gtest/gtest.h>

using namespace sluice;

TEST(FeedFilter, TakesKeysByPrefixAndList) {
  auto f = feed::filter::make("npm/", {"npm/a", "pypi/b"}, "");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->takes_key("npm/a"));
  EXPECT_FALSE(f->takes_key("npm/b"));  // not listed
  EXPECT_FALSE(f->takes_key("pypi/b")); // listed, outside the prefix
  auto all = feed::filter::make("", {}, "");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->takes_key("anything"));
  EXPECT_TRUE(all->takes_state("not json at all"));
}

TEST(FeedFilter, MatchesStateFieldsLikeAFilterPolicy) {
  auto f = feed::filter::make(
      "", {}, R"({"ecosystem": ["npm", "pypi"], "score.band": [3, true]})");
  ASSERT_TRUE(f) << f.error().describe();
  EXPECT_TRUE(f->on_state());
  EXPECT_TRUE(f->takes_state(R"({"ecosystem":"npm","score":{"band":3}})"));
  EXPECT_TRUE(f->takes_state(R"({"ecosystem":"pypi","score":{"band":true}})"));
  EXPECT_FALSE(f->takes_state(R"({"ecosystem":"debian","score":{"band":3}})"));
  EXPECT_FALSE(f->takes_state(R"({"ecosystem":"npm","score":{"band":4}})"));
  EXPECT_FALSE(f->takes_state(R"({"ecosystem":"npm"})")); // field missing
  EXPECT_FALSE(f->takes_state(R"("npm")"));               // not an object
  EXPECT_FALSE(f->takes_state("{broken"));
  // One value instead of a list.
  auto one = feed::filter::make("", {}, R"({"ecosystem": "npm"})");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->takes_state(R"({"ecosystem":"npm"})"));
}

TEST(FeedFilter, RefusesMalformedPoliciesNamingWhat) {
  auto expect_bad = [](const std::string& policy, const std::string& why) {
    auto f = feed::filter::make("", {}, policy);
    ASSERT_FALSE(f) << policy;
    EXPECT_EQ(f.error().code, errc::invalid_argument);
    EXPECT_NE(f.error().message.find(why), std::string::npos)
        << f.error().message;
  };
  expect_bad("{ecosystem: npm", "not JSON");
  expect_bad("[1,2]", "expected a JSON object");
  expect_bad(R"({"a": []})", "field 'a' accepts no value");
  expect_bad(R"({"a": [{"b": 1}]})", "field 'a': values are strings");
  expect_bad(R"({"a..b": [1]})", "empty name part");
}

TEST(FeedFilter, MatchesEventAttributesLikeATopologysFilter) {
  auto f = feed::filter::make(
      "", {}, "", R"({"tier": ["gold", "silver"], "region": "eu"})");
  ASSERT_TRUE(f) << f.error().describe();
  using attrs = std::map<std::string, std::string>;
  EXPECT_TRUE(f->takes_attributes(attrs{{"tier", "gold"}, {"region", "eu"}}));
  EXPECT_TRUE(f->takes_attributes(
      attrs{{"tier", "silver"}, {"region", "eu"}, {"other", "x"}}));
  EXPECT_FALSE(f->takes_attributes(attrs{{"tier", "free"}, {"region", "eu"}}));
  EXPECT_FALSE(f->takes_attributes(attrs{{"tier", "gold"}})); // one missing
  EXPECT_FALSE(f->takes_attributes(attrs{}));
  // No attribute policy: everything, with or without attributes.
  auto all = feed::filter::make("", {}, "");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->takes_attributes(attrs{}));
  auto expect_bad = [](const std::string& policy, const std::string& why) {
    auto b = feed::filter::make("", {}, "", policy);
    ASSERT_FALSE(b) << policy;
    EXPECT_EQ(b.error().code, errc::invalid_argument);
    EXPECT_NE(b.error().message.find(why), std::string::npos)
        << b.error().message;
  };
  expect_bad("{tier", "bad attributes filter: not JSON");
  expect_bad("{}", "expected a JSON object of attribute");
  expect_bad(R"({"tier": []})", "attribute 'tier' accepts no value");
  expect_bad(R"({"tier": [1]})", "values are strings (attributes are text)");
  expect_bad(R"({"": ["x"]})", "an attribute has an empty name");
}
