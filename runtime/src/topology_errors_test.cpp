// Tests for the topology's strict validation: every error names file, line
// and field, and says what was expected (syntax, missing and unknown fields,
// types, ranges, names, topics, durations, priorities, cycles).
#include "sluice/topology.hpp"

#include <gtest/gtest.h>

#include "topology_test_support.hpp"

namespace sluice::topology_test {
namespace {

TEST(Topology, NamesFileAndLineOfAYamlSyntaxError) {
  const std::string message =
      config_message("pipeline: p\ntopics: [a, b\nstages: []\n");
  EXPECT_EQ(message.rfind("pipeline.yaml:3: YAML syntax error: ", 0), 0u)
      << message;
}

TEST(Topology, RejectsAnEmptyFile) {
  EXPECT_EQ(config_message("# nothing\n"),
            "pipeline.yaml: the file is empty; expected a map of fields");
}

TEST(Topology, NamesAMissingRequiredField) {
  EXPECT_EQ(config_message("topics: [in]\n"),
            "pipeline.yaml:1: pipeline: required field is missing");
  EXPECT_EQ(config_message(with_stage("    subscribe: [{topic: in}]\n")),
            "pipeline.yaml:4: stages[0].behaviour: required field is missing");
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n")),
            "pipeline.yaml:4: stages[0].subscribe: required field is missing");
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe:\n"
                                      "      - filter: {a: b}\n")),
            "pipeline.yaml:7: stages[0].subscribe[0].topic: required field is "
            "missing");
}

TEST(Topology, PointsAnEmptyValueAtItsOwnLine) {
  EXPECT_EQ(config_message("pipeline:\ntopics: [in]\n"),
            "pipeline.yaml:1: pipeline: expected a string, got an empty value");
}

TEST(Topology, RejectsAPipelineWithoutTopics) {
  EXPECT_EQ(config_message("pipeline: p\n"),
            "pipeline.yaml:1: topics: no topics declared");
}

TEST(Topology, RejectsAnEmptySubscribeList) {
  EXPECT_EQ(
      config_message(with_stage("    behaviour: b\n    subscribe: []\n")),
      "pipeline.yaml:6: stages[0].subscribe: list at least one subscription");
}

TEST(Topology, RejectsAMapWhereAListIsExpected) {
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe:\n"
                                      "      topic: in\n")),
            "pipeline.yaml:7: stages[0].subscribe: expected a list, got a map");
  EXPECT_EQ(config_message("pipeline: p\ntopics: {a: 1}\n"),
            "pipeline.yaml:2: topics: expected a list, got a map");
}

TEST(Topology, RejectsANonIntegerMaxInFlight) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  EXPECT_EQ(config_message(with_stage(stage + "    max_in_flight: lots\n")),
            "pipeline.yaml:7: stages[0].max_in_flight: expected an integer in "
            "1..1000000, got 'lots'");
  EXPECT_EQ(config_message(with_stage(stage + "    max_in_flight: 2.5\n")),
            "pipeline.yaml:7: stages[0].max_in_flight: expected an integer in "
            "1..1000000, got '2.5'");
}

TEST(Topology, RejectsIntegersOutOfRange) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  EXPECT_EQ(config_message(with_stage(stage + "    max_in_flight: 1000001\n")),
            "pipeline.yaml:7: stages[0].max_in_flight: expected an integer in "
            "1..1000000, got '1000001'");
  EXPECT_EQ(config_message(with_stage(stage + "    max_live_keys: 0\n")),
            "pipeline.yaml:7: stages[0].max_live_keys: expected an integer >= "
            "1, got '0'");
  EXPECT_EQ(
      config_message(with_stage(stage + "    retry: {max_attempts: -1}\n")),
      "pipeline.yaml:7: stages[0].retry.max_attempts: expected an integer >= "
      "1, got '-1'");
}

TEST(Topology, RejectsAPassivateAfterThatIsNoDurationOrNever) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  for (auto bad : {"0s", "soon", "-5s"})
    EXPECT_EQ(config_message(with_stage(
                  stage + "    passivate_after: " + std::string(bad) + "\n")),
              "pipeline.yaml:7: stages[0].passivate_after: bad duration '"
                  + std::string(bad)
                  + "' (expected a positive number with ms, s or m, e.g. "
                    "2m, or never)");
}

TEST(Topology, RejectsAChangelogRetainThatIsNoCountOrSpan) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  for (auto bad : {"0s", "soon", "-5", "3w", "h"})
    EXPECT_EQ(config_message(with_stage(stage + "    changelog: {retain: "
                                        + std::string(bad) + "}\n")),
              "pipeline.yaml:7: stages[0].changelog.retain: bad retain '"
                  + std::string(bad)
                  + "' (expected a count of changes, e.g. 100000, or a span "
                    "with ms, s, m, h or d, e.g. 10m)");
  EXPECT_EQ(config_message(with_stage(stage + "    changelog: {retain: 0}\n")),
            "pipeline.yaml:7: stages[0].changelog.retain: expected an "
            "integer in 1..1000000000000, got '0'");
  EXPECT_EQ(config_message(with_stage(stage + "    changelog: {keep: 5}\n")),
            "pipeline.yaml:7: stages[0].changelog.keep: unknown field 'keep' "
            "(known: retain)");
}

TEST(Topology, RejectsANonBoolSkipUnchanged) {
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe: [{topic: in}]\n"
                                      "    skip_unchanged: maybe\n")),
            "pipeline.yaml:7: stages[0].skip_unchanged: expected true or "
            "false, got 'maybe'");
}

TEST(Topology, RefusesAStateSettingThatCannotWork) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  EXPECT_EQ(config_message(with_stage(stage + "    state: stateless\n")),
            "pipeline.yaml:7: stages[0].state: bad state 'stateless' "
            "(expected none, for a stage whose behaviour keeps no state "
            "between events, or kept, the default)");
  EXPECT_EQ(config_message(with_stage(stage
                                      + "    skip_unchanged: true\n"
                                        "    state: none\n")),
            "pipeline.yaml:8: stages[0].state: state: none cannot go with "
            "skip_unchanged: true (the payload hash it compares is kept in "
            "the key's state); drop one of them");
  EXPECT_EQ(config_message(with_stage(stage
                                      + "    state: none\n"
                                        "    changelog: {retain: 10m}\n")),
            "pipeline.yaml:7: stages[0].state: state: none cannot go with "
            "changelog: (a change feed serves the stage's state); drop one "
            "of them");
}

TEST(Topology, SuggestsTheClosestKnownFieldForATypo) {
  EXPECT_EQ(config_message(
                with_stage("    behavior: b\n    subscribe: [{topic: in}]\n")),
            "pipeline.yaml:5: stages[0].behavior: unknown field 'behavior' "
            "(did you mean 'behaviour'?)");
  EXPECT_EQ(
      config_message(with_stage("    behaviour: b\n"
                                "    subscribe: [{topic: in}]\n"
                                "    skip_unchaged: true\n")),
      "pipeline.yaml:7: stages[0].skip_unchaged: unknown field 'skip_unchaged' "
      "(did you mean 'skip_unchanged'?)");
}

TEST(Topology, ListsTheKnownFieldsWhenNoneIsClose) {
  EXPECT_EQ(
      config_message(with_stage("    behaviour: b\n"
                                "    subscribe: [{topic: in, colour: red}]\n")),
      "pipeline.yaml:6: stages[0].subscribe[0].colour: unknown field 'colour' "
      "(known: topic, filter, priority, priority_from)");
}

TEST(Topology, RejectsAFieldGivenTwice) {
  EXPECT_EQ(
      config_message("pipeline: p\ntopics: [in]\npipeline: q\n"),
      "pipeline.yaml:3: pipeline: duplicate field (first at pipeline.yaml:1)");
}

TEST(Topology, RejectsADuplicateStageName) {
  EXPECT_EQ(
      config_message("pipeline: p\n"
                     "topics: [in]\n"
                     "stages:\n"
                     "  - {name: s, behaviour: b, subscribe: [{topic: in}]}\n"
                     "  - name: s\n"
                     "    behaviour: c\n"
                     "    subscribe: [{topic: in}]\n"),
      "pipeline.yaml:5: stages[1].name: duplicate stage name 's' "
      "(first defined at pipeline.yaml:4)");
}

TEST(Topology, RejectsBadStageNames) {
  const std::string rest = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  const auto named = [&](const std::string& name) {
    return "pipeline: p\ntopics: [in]\nstages:\n  - name: " + name + "\n"
           + rest;
  };
  EXPECT_EQ(config_message(named("Parse")),
            "pipeline.yaml:4: stages[0].name: bad stage name 'Parse' (use only "
            "a-z, 0-9 and _)");
  EXPECT_EQ(config_message(named(std::string(65, 'a'))),
            "pipeline.yaml:4: stages[0].name: stage name is 65 characters long "
            "(at most 64)");
  EXPECT_TRUE(parse_topology(named(std::string(64, 'a')), "pipeline.yaml"));
}

TEST(Topology, RejectsADuplicateTopic) {
  EXPECT_EQ(config_message("pipeline: p\n"
                           "topics:\n"
                           "  - registry\n"
                           "  - parsed\n"
                           "  - registry\n"),
            "pipeline.yaml:5: topics[2]: duplicate topic 'registry' "
            "(first declared at pipeline.yaml:3)");
}

TEST(Topology, NamesFileLineAndFieldOfAnUnknownTopic) {
  EXPECT_EQ(
      config_message("pipeline: package_trust\n"
                     "topics: [registry, parsed, enriched]\n"
                     "stages:\n"
                     "  - name: parse\n"
                     "    behaviour: package.parse\n"
                     "    subscribe: [{topic: registry}]\n"
                     "  - name: enrich\n"
                     "    behaviour: package.enrich\n"
                     "    subscribe:\n"
                     "      - topic: parsd\n"),
      "pipeline.yaml:10: stages[1].subscribe[0].topic: unknown topic 'parsd' "
      "(declared: registry, parsed, enriched)");
}

TEST(Topology, RejectsAnUnknownEmittedOrFedTopic) {
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe: [{topic: in}]\n"
                                      "    emits: [out, outt]\n")),
            "pipeline.yaml:7: stages[0].emits[1]: unknown topic 'outt' "
            "(declared: in, out)");
  EXPECT_EQ(config_message("pipeline: p\ntopics: [in]\nfeed: {topic: inn}\n"),
            "pipeline.yaml:3: feed.topic: unknown topic 'inn' (declared: in)");
}

TEST(Topology, RejectsAFeedAttributeListedTwice) {
  EXPECT_EQ(config_message("pipeline: p\ntopics: [in]\n"
                           "feed:\n  topic: in\n  attributes: [tier, tier]\n"),
            "pipeline.yaml:5: feed.attributes[1]: attribute 'tier' is listed "
            "twice");
}

TEST(Topology, RejectsBadDurations) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  EXPECT_EQ(
      config_message(with_stage(stage + "    retry: {backoff: 200ms..30h}\n")),
      "pipeline.yaml:7: stages[0].retry.backoff: bad duration in backoff "
      "'200ms..30h' "
      "(expected MIN..MAX with ms, s or m units, e.g. 200ms..30s)");
  EXPECT_EQ(config_message(with_stage(stage + "    retry: {backoff: 5s}\n")),
            "pipeline.yaml:7: stages[0].retry.backoff: bad backoff '5s' "
            "(expected MIN..MAX with ms, s or m units, e.g. 200ms..30s)");
  EXPECT_EQ(
      config_message(with_stage(stage + "    retry: {backoff: 1.5s..2s}\n")),
      "pipeline.yaml:7: stages[0].retry.backoff: bad duration in backoff "
      "'1.5s..2s' "
      "(expected MIN..MAX with ms, s or m units, e.g. 200ms..30s)");
  EXPECT_EQ(
      config_message(with_stage(stage + "    retry: {backoff: 1m..30s}\n")),
      "pipeline.yaml:7: stages[0].retry.backoff: backoff minimum exceeds its "
      "maximum in '1m..30s'");
}

TEST(Topology, RejectsBadPriorityValues) {
  EXPECT_EQ(
      config_message(with_stage("    behaviour: b\n"
                                "    subscribe:\n"
                                "      - topic: in\n"
                                "        priority: high\n")),
      "pipeline.yaml:8: stages[0].subscribe[0].priority: bad priority 'high' "
      "(expected urgent or normal)");
  EXPECT_EQ(config_message(with_stage(
                "    behaviour: b\n"
                "    subscribe:\n"
                "      - topic: in\n"
                "        priority: urgent\n"
                "        priority_from: {attribute: a, urgent: [x]}\n")),
            "pipeline.yaml:9: stages[0].subscribe[0].priority_from: cannot be "
            "combined with "
            "priority; use one of them");
}

TEST(Topology, RejectsAnEmptyFilterValueList) {
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe:\n"
                                      "      - topic: in\n"
                                      "        filter: {ecosystem: []}\n")),
            "pipeline.yaml:8: stages[0].subscribe[0].filter.ecosystem: an "
            "empty list accepts "
            "nothing; list at least one value");
}

TEST(Topology, ReportsACycleInTheStageGraph) {
  EXPECT_EQ(config_message("pipeline: p\n"
                           "topics: [registry, parsed, back]\n"
                           "stages:\n"
                           "  - name: parse\n"
                           "    behaviour: b\n"
                           "    subscribe: [{topic: registry}, {topic: back}]\n"
                           "    emits: [parsed]\n"
                           "  - name: enrich\n"
                           "    behaviour: b\n"
                           "    subscribe: [{topic: parsed}]\n"
                           "    emits: [back]\n"),
            "pipeline.yaml: stages form a cycle: parse -> enrich -> parse (via "
            "topics parsed, back)");
}

TEST(Topology, ReportsACycleFoundDeeperInTheGraph) {
  EXPECT_EQ(
      config_message(
          "pipeline: p\n"
          "topics: [t0, t1, t2, t3]\n"
          "stages:\n"
          "  - {name: a, behaviour: b, subscribe: [{topic: t0}], emits: [t1]}\n"
          "  - {name: b, behaviour: b, subscribe: [{topic: t1}], emits: [t2]}\n"
          "  - {name: c, behaviour: b, subscribe: [{topic: t2}], emits: [t3]}\n"
          "  - {name: d, behaviour: b, subscribe: [{topic: t3}], emits: "
          "[t1]}\n"),
      "pipeline.yaml: stages form a cycle: b -> c -> d -> b (via topics t2, "
      "t3, t1)");
}

TEST(Topology, ReportsAStageThatFeedsItself) {
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe: [{topic: in}]\n"
                                      "    emits: [in]\n")),
            "pipeline.yaml: stages form a cycle: s -> s (via topic in)");
}

TEST(Topology, AcceptsADiamondShapedStageGraph) {
  auto parsed = parse_topology(
      "pipeline: p\n"
      "topics: [t0, t1, t2]\n"
      "stages:\n"
      "  - {name: a, behaviour: b, subscribe: [{topic: t0}], emits: [t1]}\n"
      "  - {name: b, behaviour: b, subscribe: [{topic: t1}], emits: [t2]}\n"
      "  - {name: c, behaviour: b, subscribe: [{topic: t1}], emits: [t2]}\n"
      "  - {name: d, behaviour: b, subscribe: [{topic: t2}]}\n",
      "pipeline.yaml");
  EXPECT_TRUE(parsed) << parsed.error().message;
}

TEST(Topology, RejectsABadStrategyIntensityOrStuckAfter) {
  const std::string stage = "    behaviour: b\n    subscribe: [{topic: in}]\n";
  EXPECT_EQ(config_message(with_stage(
                stage + "    supervision: { strategy: simple_one_for_one }\n")),
            "pipeline.yaml:7: stages[0].supervision.strategy: unknown "
            "strategy 'simple_one_for_one' (expected one_for_one, "
            "one_for_all or rest_for_one)");
  EXPECT_EQ(config_message(with_stage(stage + "    stuck_after: soon\n")),
            "pipeline.yaml:7: stages[0].stuck_after: bad duration 'soon' "
            "(expected a positive number with ms, s or m, e.g. 30s)");
  EXPECT_NE(config_message(
                with_stage(stage + "    supervision: { max_restarts: -1 }\n"))
                .find("stages[0].supervision.max_restarts"),
            std::string::npos);
  EXPECT_NE(
      config_message(with_stage(stage + "    supervision: { wtihin: 5s }\n"))
          .find("wtihin"),
      std::string::npos);
}

TEST(TopologyFeed, FormatAndPriorityAreReadAndCheckedByLine) {
  const std::string base = "pipeline: p\n"
                           "topics: [in]\n"
                           "stages:\n"
                           "  - name: s\n"
                           "    behaviour: b\n"
                           "    subscribe: [{ topic: in }]\n";
  auto topo = parse_topology(
      base + "feed: { topic: in, format: jsonl, priority: urgency }\n",
      "pipeline.yaml");
  ASSERT_TRUE(topo) << topo.error().describe();
  EXPECT_EQ(topo->feed.format, "jsonl");
  EXPECT_EQ(topo->feed.priority, "urgency");
  EXPECT_EQ(config_message(base + "feed: { topic: in, format: csv }\n"),
            "pipeline.yaml:7: feed.format: unknown format 'csv' (expected "
            "tsv, debian, jsonl or lines)");
  EXPECT_EQ(config_message(base
                           + "feed: { topic: in, format: lines, priority: p "
                             "}\n"),
            "pipeline.yaml:7: feed.priority: raw lines (format: lines) have "
            "no columns or fields to take a priority from");
}

} // namespace
} // namespace sluice::topology_test
