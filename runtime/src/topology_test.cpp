// Tests for the topology: loading and strict validation of the YAML (every
// error names file, line and field), include composition, and the routing
// queries (filters, priority rules, routes).
#include "sluice/topology.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace sluice {
namespace {

namespace fs = std::filesystem;

constexpr const char* full_example = R"(pipeline: package_trust
topics: [registry, parsed, enriched]
feed: { topic: registry }
max_payload_bytes: 4096
stages:
  - name: parse
    behaviour: package.parse
    subscribe:
      - topic: registry
        filter: { ecosystem: [npm, pypi, debian], kind: release }
        priority: urgent
    emits: [parsed]
    retry: { max_attempts: 7, backoff: 150ms..2m }
    skip_unchanged: true
    max_in_flight: 64
    max_live_keys: 500
  - name: enrich
    behaviour: package.enrich
    subscribe:
      - topic: parsed
        priority_from: { attribute: prio, urgent: ["1", high] }
    emits: [enriched]
)";

/// A fresh directory under the system temp dir, removed afterwards.
class temp_dir {
public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path()
            / ("sluice_topology_test_" + std::to_string(::getpid()) + "_"
               + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const fs::path& path() const { return path_; }

  /// Writes `text` to `relative` (creating folders); returns the full path.
  std::string write(const std::string& relative,
                    const std::string& text) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }

private:
  fs::path path_;
};

/// The error of parsing `yaml` as "pipeline.yaml"; fails the test if it parses.
error parse_error(const std::string& yaml) {
  auto parsed = parse_topology(yaml, "pipeline.yaml");
  if (parsed) {
    ADD_FAILURE() << "expected an error, but the topology parsed";
    return error{};
  }
  return parsed.error();
}

std::string config_message(const std::string& yaml) {
  const error err = parse_error(yaml);
  EXPECT_EQ(err.code, errc::config) << err.message;
  return err.message;
}

/// A one-stage pipeline whose stage body is `stage` (indented by 4).
std::string with_stage(const std::string& stage) {
  return "pipeline: p\n"
         "topics: [in, out]\n"
         "stages:\n"
         "  - name: s\n"
         + stage;
}

event event_with(std::map<std::string, std::string> attributes,
                 priority p = priority::normal) {
  event ev;
  ev.attributes = std::move(attributes);
  ev.priority = p;
  return ev;
}

// ---- a valid pipeline
// -----------------------------------------------------------

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
  EXPECT_EQ(s.retry.max_attempts, 5u);
  EXPECT_EQ(s.retry.backoff_min, std::chrono::milliseconds(200));
  EXPECT_EQ(s.retry.backoff_max, std::chrono::milliseconds(30000));
  EXPECT_TRUE(s.subscribe[0].filter.accept.empty());
  EXPECT_FALSE(s.subscribe[0].priority.fixed.has_value());
  EXPECT_TRUE(s.subscribe[0].priority.attribute.empty());
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

// ---- loading files and includes
// ---------------------------------------------------

TEST(Topology, LoadsAFileAndRecordsWhereEachStageWasDefined) {
  temp_dir dir;
  const std::string path = dir.write("pipeline.yaml", full_example);
  auto loaded = load_topology(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->stages.at(1).source_file, path);
  EXPECT_EQ(loaded->stages.at(1).source_line, 17);
}

TEST(Topology, ReportsAMissingFileAsNotFoundNamingThePath) {
  temp_dir dir;
  const std::string path = (dir.path() / "nope.yaml").string();
  auto loaded = load_topology(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, errc::not_found);
  EXPECT_EQ(loaded.error().message, path + ": no such file");
}

TEST(Topology,
     AppendsStagesAndTopicsOfIncludedFilesRelativeToTheIncludingFile) {
  temp_dir dir;
  dir.write("stages/parse.yaml", "topics: [parsed]\n"
                                 "include: [more/enrich.yaml]\n"
                                 "stages:\n"
                                 "  - name: parse\n"
                                 "    behaviour: package.parse\n"
                                 "    subscribe: [{topic: registry}]\n"
                                 "    emits: [parsed]\n");
  dir.write("stages/more/enrich.yaml", "stages:\n"
                                       "  - name: enrich\n"
                                       "    behaviour: package.enrich\n"
                                       "    subscribe: [{topic: parsed}]\n");
  const std::string root =
      dir.write("pipeline.yaml", "pipeline: p\n"
                                 "topics: [registry]\n"
                                 "include: [stages/parse.yaml]\n"
                                 "stages:\n"
                                 "  - name: audit\n"
                                 "    behaviour: audit\n"
                                 "    subscribe: [{topic: parsed}]\n");
  auto loaded = load_topology(root);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->topics, (std::vector<std::string>{"registry", "parsed"}));
  ASSERT_EQ(loaded->stages.size(), 3u);
  EXPECT_EQ(loaded->stages[0].name, "audit");
  EXPECT_EQ(loaded->stages[1].name, "parse");
  EXPECT_EQ(loaded->stages[1].source_file,
            (dir.path() / "stages/parse.yaml").string());
  EXPECT_EQ(loaded->stages[1].source_line, 4);
  EXPECT_EQ(loaded->stages[2].name, "enrich");
  EXPECT_EQ(loaded->stages[2].source_file,
            (dir.path() / "stages/more/enrich.yaml").string());
  EXPECT_EQ(loaded->stages[2].source_line, 2);
}

TEST(Topology, ResolvesIncludesOfParsedTextAgainstTheBaseDir) {
  temp_dir dir;
  dir.write("extra.yaml", "topics: [out]\n");
  auto parsed =
      parse_topology("pipeline: p\ntopics: [in]\ninclude: [extra.yaml]\n",
                     "inline", dir.path().string());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->topics, (std::vector<std::string>{"in", "out"}));
}

TEST(Topology, NamesTheIncludingFileAndLineOfAMissingInclude) {
  temp_dir dir;
  const std::string root =
      dir.write("pipeline.yaml", "pipeline: p\n"
                                 "topics: [in]\n"
                                 "include:\n"
                                 "  - a.yaml\n"
                                 "  - stages/prase.yaml\n");
  dir.write("a.yaml", "topics: [a]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, errc::not_found);
  const std::string resolved = (dir.path() / "stages/prase.yaml").string();
  EXPECT_EQ(loaded.error().message,
            root
                + ":5: include[1]: include file 'stages/prase.yaml' not found "
                  "(resolved to '"
                + resolved + "')");
}

TEST(Topology, ReportsAnIncludeCycleWithItsChain) {
  temp_dir dir;
  const std::string root = dir.write(
      "pipeline.yaml", "pipeline: p\ntopics: [in]\ninclude: [a.yaml]\n");
  dir.write("a.yaml", "include: [b.yaml]\n");
  dir.write("b.yaml", "topics: [b]\ninclude: [a.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, errc::config);
  const std::string a = (dir.path() / "a.yaml").string();
  const std::string b = (dir.path() / "b.yaml").string();
  EXPECT_EQ(loaded.error().message, b + ":2: include[0]: include cycle: " + a
                                        + " -> " + b + " -> " + a);
}

TEST(Topology, ReportsAFileThatIncludesTheRootPipeline) {
  temp_dir dir;
  const std::string root = dir.write(
      "pipeline.yaml", "pipeline: p\ntopics: [in]\ninclude: [a.yaml]\n");
  dir.write("a.yaml", "include: [pipeline.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("include cycle: " + root + " -> "),
            std::string::npos)
      << loaded.error().message;
}

TEST(Topology, RejectsAFileIncludedTwice) {
  temp_dir dir;
  dir.write("a.yaml", "topics: [a]\n");
  const std::string root =
      dir.write("pipeline.yaml",
                "pipeline: p\ntopics: [in]\ninclude: [a.yaml, ./a.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            root + ":3: include[1]: '" + (dir.path() / "a.yaml").string()
                + "' is already included at " + root + ":3");
}

TEST(Topology, NamesTheIncludedFileInErrorsFoundThere) {
  temp_dir dir;
  dir.write("stages.yaml", "stages:\n"
                           "  - name: s\n"
                           "    behavior: b\n");
  const std::string root = dir.write(
      "pipeline.yaml", "pipeline: p\ntopics: [in]\ninclude: [stages.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            (dir.path() / "stages.yaml").string()
                + ":3: stages[0].behavior: unknown field 'behavior' "
                  "(did you mean 'behaviour'?)");
}

TEST(Topology, RejectsPipelineLevelFieldsInAnIncludedFile) {
  temp_dir dir;
  dir.write("stages.yaml", "pipeline: other\n");
  auto parsed =
      parse_topology("pipeline: p\ntopics: [in]\ninclude: [stages.yaml]\n",
                     "pipeline.yaml", dir.path().string());
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message,
            (dir.path() / "stages.yaml").string()
                + ":1: pipeline: unknown field 'pipeline' (known: include, "
                  "stages, topics)");
}

// ---- validation errors
// ------------------------------------------------------------

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

TEST(Topology, RejectsANonBoolSkipUnchanged) {
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe: [{topic: in}]\n"
                                      "    skip_unchanged: maybe\n")),
            "pipeline.yaml:7: stages[0].skip_unchanged: expected true or "
            "false, got 'maybe'");
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

// ---- routing
// ------------------------------------------------------------------------

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

} // namespace
} // namespace sluice

namespace sluice {
namespace {

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

} // namespace
} // namespace sluice
