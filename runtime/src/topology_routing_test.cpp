// Tests for the topology's routing queries: subscription filters, priority
// rules, and which stages an event published on a topic goes to.
#include "sluice/topology.hpp"

#include <gtest/gtest.h>

#include "topology_test_support.hpp"

namespace sluice::topology_test {
namespace {

TEST(FilterPolicy, EmptyPolicyMatchesEverything) {
  const filter_policy policy;
  EXPECT_TRUE(policy.matches({}));
  EXPECT_TRUE(policy.matches({{"ecosystem", "npm"}}));
}

TEST(FilterPolicy, MatchesWhenEveryAttributeHasAnAcceptedValue) {
  filter_policy policy;
  policy.accept["ecosystem"] = {"npm", "pypi"};
  policy.accept["kind"] = {"release"};
  EXPECT_TRUE(policy.matches(
      {{"ecosystem", "pypi"}, {"kind", "release"}, {"extra", "x"}}));
  EXPECT_FALSE(policy.matches({{"ecosystem", "cargo"}, {"kind", "release"}}));
  EXPECT_FALSE(policy.matches({{"ecosystem", "npm"}}));
  EXPECT_FALSE(policy.matches({}));
}

TEST(PriorityRule, FixedClassOverridesTheEvent) {
  priority_rule rule;
  rule.fixed = priority::normal;
  rule.attribute = "prio";
  rule.urgent_values = {"high"};
  EXPECT_EQ(rule.apply(event_with({{"prio", "high"}}, priority::urgent)),
            priority::normal);
}

TEST(PriorityRule, ListedAttributeValueMakesAnEventUrgent) {
  priority_rule rule;
  rule.attribute = "prio";
  rule.urgent_values = {"1", "high"};
  EXPECT_EQ(rule.apply(event_with({{"prio", "high"}})), priority::urgent);
  EXPECT_EQ(rule.apply(event_with({{"prio", "low"}})), priority::normal);
  EXPECT_EQ(rule.apply(event_with({{"prio", "low"}}, priority::urgent)),
            priority::urgent);
}

TEST(PriorityRule, WithoutARuleTheEventKeepsItsPriority) {
  const priority_rule rule;
  EXPECT_EQ(rule.apply(event_with({}, priority::urgent)), priority::urgent);
  EXPECT_EQ(rule.apply(event_with({}, priority::normal)), priority::normal);
}

TEST(Topology, RoutesToEachMatchingStageOnceWithTheFirstMatchingSubscription) {
  auto parsed = parse_topology(
      "pipeline: p\n"
      "topics: [in, other]\n"
      "stages:\n"
      "  - name: npm_only\n"
      "    behaviour: b\n"
      "    subscribe:\n"
      "      - {topic: in, filter: {ecosystem: npm}, priority: urgent}\n"
      "      - {topic: in}\n"
      "  - name: elsewhere\n"
      "    behaviour: b\n"
      "    subscribe: [{topic: other}]\n"
      "  - name: pypi_only\n"
      "    behaviour: b\n"
      "    subscribe: [{topic: in, filter: {ecosystem: pypi}}]\n",
      "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;

  const auto npm = parsed->routes("in", event_with({{"ecosystem", "npm"}}));
  ASSERT_EQ(npm.size(), 1u);
  EXPECT_EQ(npm[0].stage, 0u);
  EXPECT_EQ(npm[0].priority, priority::urgent);

  const auto pypi = parsed->routes("in", event_with({{"ecosystem", "pypi"}}));
  ASSERT_EQ(pypi.size(), 2u);
  EXPECT_EQ(pypi[0].stage, 0u);
  EXPECT_EQ(pypi[0].priority, priority::normal);
  EXPECT_EQ(pypi[1].stage, 2u);

  EXPECT_TRUE(parsed->routes("nowhere", event_with({})).empty());
}

TEST(TopologyRoutes, SaysWhyAnEventWasTakenByNoStage) {
  const auto parsed = parse_topology(
      "pipeline: p\n"
      "topics: [registry, other]\n"
      "stages:\n"
      "  - name: parse\n"
      "    behaviour: b\n"
      "    subscribe:\n"
      "      - {topic: registry, filter: {ecosystem: [npm, pypi, debian]}}\n"
      "  - name: audit\n"
      "    behaviour: b\n"
      "    subscribe:\n"
      "      - {topic: registry, filter: {ecosystem: npm, tier: gold}}\n"
      "  - name: elsewhere\n"
      "    behaviour: b\n"
      "    subscribe: [{topic: other}]\n",
      "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  // The feed file named feed.tsv gives every record ecosystem=feed.
  EXPECT_EQ(
      parsed->why_unrouted("registry", event_with({{"ecosystem", "feed"}})),
      "ecosystem=feed matched no subscription: parse takes ecosystem "
      "debian, npm or pypi; audit takes ecosystem npm");
  // The first attribute a subscription refuses names it.
  EXPECT_EQ(
      parsed->why_unrouted("registry", event_with({{"ecosystem", "cargo"}})),
      "ecosystem=cargo matched no subscription: parse takes ecosystem "
      "debian, npm or pypi; audit takes ecosystem npm");
  EXPECT_EQ(parsed->why_unrouted("registry", event_with({})),
            "ecosystem (missing) matched no subscription: parse takes "
            "ecosystem debian, npm or pypi; audit takes ecosystem npm");
  EXPECT_EQ(parsed->why_unrouted("nowhere", event_with({})),
            "no stage subscribes to topic 'nowhere'");
}

} // namespace
} // namespace sluice::topology_test
