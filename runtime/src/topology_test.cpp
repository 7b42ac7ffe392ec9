// Tests for the topology: a valid pipeline's every field, the defaults, and
// the durations and policies it reads. Errors, includes and routing have
// test files of their own (topology_*_test.cpp).
#include "sluice/topology.hpp"

#include <gtest/gtest.h>

#include "topology_test_support.hpp"

namespace sluice::topology_test {
namespace {

TEST(Topology, ParsesEveryFieldOfAFullExample) {
  auto parsed = parse_topology(full_example, "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  const topology& topo = *parsed;
  EXPECT_EQ(topo.name, "package_trust");
  EXPECT_EQ(topo.topics,
            (std::vector<std::string>{"registry", "parsed", "enriched"}));
  EXPECT_EQ(topo.feed.topic, "registry");
  EXPECT_EQ(topo.max_payload_bytes, 4096u);
  ASSERT_EQ(topo.stages.size(), 2u);

  const stage_spec& parse = topo.stages[0];
  EXPECT_EQ(parse.name, "parse");
  EXPECT_EQ(parse.behaviour, "package.parse");
  ASSERT_EQ(parse.subscribe.size(), 1u);
  const subscription& sub = parse.subscribe[0];
  EXPECT_EQ(sub.topic, "registry");
  EXPECT_EQ(sub.filter.accept.at("ecosystem"),
            (std::set<std::string>{"npm", "pypi", "debian"}));
  EXPECT_EQ(sub.filter.accept.at("kind"), (std::set<std::string>{"release"}));
  EXPECT_EQ(sub.priority.fixed, priority::urgent);
  EXPECT_EQ(parse.emits, (std::vector<std::string>{"parsed"}));
  EXPECT_EQ(parse.retry.max_attempts, 7u);
  EXPECT_EQ(parse.retry.backoff_min, std::chrono::milliseconds(150));
  EXPECT_EQ(parse.retry.backoff_max, std::chrono::milliseconds(120000));
  EXPECT_TRUE(parse.skip_unchanged);
  EXPECT_EQ(parse.max_in_flight, 64u);
  EXPECT_EQ(parse.max_live_keys, 500u);
  EXPECT_EQ(parse.source_file, "pipeline.yaml");
  EXPECT_EQ(parse.source_line, 6);

  const stage_spec& enrich = topo.stages[1];
  EXPECT_EQ(enrich.source_line, 17);
  const priority_rule& rule = enrich.subscribe[0].priority;
  EXPECT_FALSE(rule.fixed.has_value());
  EXPECT_EQ(rule.attribute, "prio");
  EXPECT_EQ(rule.urgent_values, (std::set<std::string>{"1", "high"}));
}

TEST(Topology, PassivateAfterTakesADurationOrNever) {
  for (auto [text, ms] :
       {std::pair{"90s", 90000}, {"250ms", 250}, {"never", 0}}) {
    auto parsed = parse_topology(
        with_stage("    behaviour: b\n    subscribe: [{topic: in}]\n"
                   "    passivate_after: "
                   + std::string(text) + "\n"),
        "pipeline.yaml");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->stages.at(0).passivate_after.count(), ms) << text;
  }
}

TEST(Topology, AStageKeepsStateUnlessItSaysStateNone) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  for (auto [text, stateless] : {std::pair{"", false},
                                 {"    state: kept\n", false},
                                 {"    state: none\n", true}}) {
    auto parsed =
        parse_topology(with_stage(stage + std::string(text)), "pipeline.yaml");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->stages.at(0).stateless, stateless) << text;
  }
}

TEST(Topology, ChangelogRetainsByCountOrBySpan) {
  struct want {
    const char* yaml;
    std::uint64_t changes;
    std::int64_t ms;
  };
  for (auto w :
       {want{"{retain: 50000}", 50000, 0}, want{"{retain: 10m}", 0, 600000},
        want{"{retain: 2h}", 0, 7200000}, want{"{retain: 7d}", 0, 604800000},
        want{"{}", 1000000, 0}}) {
    auto parsed = parse_topology(
        with_stage("    behaviour: b\n    subscribe: [{topic: in}]\n"
                   "    changelog: "
                   + std::string(w.yaml) + "\n"),
        "pipeline.yaml");
    ASSERT_TRUE(parsed) << parsed.error().message;
    auto& c = parsed->stages.at(0).changelog;
    EXPECT_TRUE(c.enabled) << w.yaml;
    EXPECT_EQ(c.retain_changes, w.changes) << w.yaml;
    EXPECT_EQ(c.retain_for.count(), w.ms) << w.yaml;
  }
  auto none = parse_topology(
      with_stage("    behaviour: b\n    subscribe: [{topic: in}]\n"),
      "pipeline.yaml");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->stages.at(0).changelog.enabled);
}

TEST(Topology, FillsDefaultsAndFeedsTheFirstTopic) {
  auto parsed = parse_topology(with_stage("    behaviour: b\n"
                                          "    subscribe: [{topic: out}]\n"),
                               "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->feed.topic, "in");
  EXPECT_EQ(parsed->max_payload_bytes, 1u << 20);
  const stage_spec& s = parsed->stages.at(0);
  EXPECT_TRUE(s.emits.empty());
  EXPECT_FALSE(s.skip_unchanged);
  EXPECT_EQ(s.max_in_flight, 2048u);
  EXPECT_EQ(s.max_live_keys, 4096u);
  EXPECT_EQ(s.passivate_after, std::chrono::minutes(2));
  EXPECT_EQ(s.retry.max_attempts, 5u);
  EXPECT_EQ(s.retry.backoff_min, std::chrono::milliseconds(200));
  EXPECT_EQ(s.retry.backoff_max, std::chrono::milliseconds(30000));
  EXPECT_TRUE(s.subscribe[0].filter.accept.empty());
  EXPECT_FALSE(s.subscribe[0].priority.fixed.has_value());
  EXPECT_TRUE(s.subscribe[0].priority.attribute.empty());
}

TEST(Topology, ReadsTheFeedsKeyAndAttributes) {
  auto parsed = parse_topology(
      "pipeline: p\ntopics: [in]\n"
      "feed: {topic: in, key: customer, attributes: [tier, region]}\n"
      "stages:\n  - name: s\n    behaviour: b\n    subscribe: [{topic: in}]\n",
      "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->feed.key, "customer");
  EXPECT_EQ(parsed->feed.attributes,
            (std::vector<std::string>{"tier", "region"}));
}

TEST(Topology, ReadsBackoffDurationsInMillisecondsSecondsAndMinutes) {
  const auto backoff = [](const std::string& text) {
    auto parsed = parse_topology(with_stage("    behaviour: b\n"
                                            "    subscribe: [{topic: in}]\n"
                                            "    retry: { backoff: \""
                                            + text + "\" }\n"),
                                 "pipeline.yaml");
    EXPECT_TRUE(parsed) << parsed.error().message;
    return parsed ? std::make_pair(parsed->stages[0].retry.backoff_min.count(),
                                   parsed->stages[0].retry.backoff_max.count())
                  : std::make_pair(std::int64_t{-1}, std::int64_t{-1});
  };
  EXPECT_EQ(backoff("200ms..30s"),
            std::make_pair(std::int64_t{200}, std::int64_t{30000}));
  EXPECT_EQ(backoff("1s..5m"),
            std::make_pair(std::int64_t{1000}, std::int64_t{300000}));
  EXPECT_EQ(backoff("0ms..0ms"),
            std::make_pair(std::int64_t{0}, std::int64_t{0}));
}

TEST(Topology, FindsAStageByNameOrReturnsNull) {
  auto parsed = parse_topology(full_example, "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_NE(parsed->find_stage("enrich"), nullptr);
  EXPECT_EQ(parsed->find_stage("enrich")->behaviour, "package.enrich");
  EXPECT_EQ(parsed->find_stage("absent"), nullptr);
}

TEST(Topology, ReadsSupervisionStuckAfterAndTheReconcilerInterval) {
  auto parsed = parse_topology(
      "pipeline: p\n"
      "topics: [in]\n"
      "supervision: { strategy: rest_for_one, max_restarts: 2, within: 30s }\n"
      "reconciler: { interval: 250ms }\n"
      "stages:\n"
      "  - name: s\n"
      "    behaviour: b\n"
      "    subscribe: [{topic: in}]\n"
      "    supervision: { strategy: one_for_all, max_restarts: 7 }\n"
      "    stuck_after: 2m\n",
      "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->supervision.strategy, restart_strategy::rest_for_one);
  EXPECT_EQ(parsed->supervision.max_restarts, 2u);
  EXPECT_EQ(parsed->supervision.within, std::chrono::seconds(30));
  EXPECT_EQ(parsed->reconcile_every, std::chrono::milliseconds(250));
  auto& s = parsed->stages.at(0);
  EXPECT_EQ(s.supervision.strategy, restart_strategy::one_for_all);
  EXPECT_EQ(s.supervision.max_restarts, 7u);
  EXPECT_EQ(s.supervision.within, std::chrono::seconds(10)); // the default
  EXPECT_EQ(s.stuck_after, std::chrono::minutes(2));
}

TEST(Topology, DefaultsAreOneForOneAndFiveMinutesStuckAfter) {
  auto parsed = parse_topology("pipeline: p\ntopics: [in]\nstages:\n"
                               "  - name: s\n    behaviour: b\n"
                               "    subscribe: [{topic: in}]\n",
                               "pipeline.yaml");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  auto& s = parsed->stages.at(0);
  EXPECT_EQ(s.supervision.strategy, restart_strategy::one_for_one);
  EXPECT_EQ(s.retry.max_attempts, 5u);
  EXPECT_EQ(s.stuck_after, std::chrono::minutes(5));
  EXPECT_EQ(parsed->reconcile_every, std::chrono::seconds(30));
}

} // namespace
} // namespace sluice::topology_test
