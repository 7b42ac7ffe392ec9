// A stage's `settings:`: read from YAML as scalars and lists, typed and
// checked by their readers, compared by the topology diff, and a setting
// the behaviour refuses refused when the topology is bound, named by the
// stage's file and line.
#include "sluice/stage_settings.hpp"

#include <gtest/gtest.h>

#include "sluice/pipeline_plan.hpp"
#include "sluice/registry.hpp"
#include "sluice/store/store.hpp"
#include "sluice/topology_diff.hpp"
#include "topology_test_support.hpp"

namespace sluice {
namespace {

using topology_test::config_message;
using topology_test::temp_dir;
using topology_test::with_stage;

const std::string stage_with_settings =
    with_stage("    behaviour: b\n"
               "    subscribe: [{ topic: in }]\n"
               "    settings:\n"
               "      min_in_degree: 3\n"
               "      reference: [libc6, perl-base]\n"
               "      recommends: false\n"
               "      reconcile_every: 10m\n");

TEST(StageSettings, AreReadFromTheTopologyAsScalarsAndLists) {
  auto topo = parse_topology(stage_with_settings, "pipeline.yaml");
  ASSERT_TRUE(topo) << topo.error().describe();
  const auto& s = topo->stages.at(0).settings;
  EXPECT_EQ(*s.integer("min_in_degree", 0, 0, 10), 3u);
  EXPECT_EQ(s.list("reference"),
            (std::vector<std::string>{"libc6", "perl-base"}));
  EXPECT_EQ(*s.boolean("recommends", true), false);
  EXPECT_EQ(*s.duration("reconcile_every", {}), std::chrono::minutes(10));
  EXPECT_EQ(*s.text("absent", "fallback"), "fallback");
  EXPECT_EQ(s.describe(), "min_in_degree 3, recommends false, "
                          "reconcile_every 10m, reference [libc6, perl-base]");
  EXPECT_TRUE(parse_topology(with_stage("    behaviour: b\n"
                                        "    subscribe: [{ topic: in }]\n"),
                             "p.yaml")
                  ->stages.at(0)
                  .settings.empty());
}

TEST(StageSettings, MalformedSettingsAreNamedByLineAndField) {
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe: [{ topic: in }]\n"
                                      "    settings: [a, b]\n")),
            "pipeline.yaml:7: stages[0].settings: expected a map, got a list");
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe: [{ topic: in }]\n"
                                      "    settings:\n"
                                      "      nested: { a: 1 }\n")),
            "pipeline.yaml:8: stages[0].settings.nested: expected a list or "
            "a single value, got a map");
  EXPECT_EQ(config_message(with_stage("    behaviour: b\n"
                                      "    subscribe: [{ topic: in }]\n"
                                      "    settings:\n"
                                      "      empty: \"\"\n")),
            "pipeline.yaml:8: stages[0].settings.empty: must not be empty");
}

TEST(StageSettings, TypedReadersNameTheSettingAndWhatTheyExpected) {
  stage_settings s;
  s.set("n", {"12x"});
  s.set("flag", {"yes"});
  s.set("every", {"0s"});
  s.set("two", {"a", "b"});
  EXPECT_EQ(s.integer("n", 0, 0, 100).error().message,
            "settings.n: expected an integer in [0, 100], got '12x'");
  s.set("n", {"101"});
  EXPECT_FALSE(s.integer("n", 0, 0, 100));
  EXPECT_EQ(s.boolean("flag", false).error().message,
            "settings.flag: expected true or false, got 'yes'");
  EXPECT_EQ(s.duration("every", {}).error().message,
            "settings.every: expected a positive duration such as 500ms, 30s, "
            "5m or 1h, got '0s'");
  EXPECT_EQ(s.text("two", "").error().message,
            "settings.two: expected one value, got a list of 2");
  EXPECT_EQ(s.only({"n", "flag", "every"}).error().message,
            "settings.two: unknown setting (known: n, flag, every)");
  EXPECT_EQ(s.only({}).error().message,
            "settings.every: this behaviour takes no settings");
}

TEST(StageSettings, AChangedSettingIsADifferenceOfItsStage) {
  auto a = parse_topology(stage_with_settings, "a.yaml");
  auto changed = stage_with_settings;
  changed.replace(changed.find("min_in_degree: 3"), 16, "min_in_degree: 4");
  auto b = parse_topology(changed, "b.yaml");
  ASSERT_TRUE(a && b);
  auto d = diff_topologies(*a, *b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(describe(d[0]),
            "~ stage s: settings min_in_degree 3, recommends false, "
            "reconcile_every 10m, reference [libc6, perl-base] -> "
            "min_in_degree 4, recommends false, reconcile_every 10m, "
            "reference [libc6, perl-base]");
}

/// Takes one setting, `limit`, an integer up to 10.
class limited final : public behaviour {
public:
  result<void> configure(const stage_settings& s) override {
    if (auto ok = s.only({"limit"}); !ok)
      return ok;
    auto n = s.integer("limit", 1, 1, 10);
    if (!n)
      return n.error();
    return {};
  }
  void on_event(context&, const event&) override {}
};

TEST(StageSettings, ASettingTheBehaviourRefusesRefusesTheTopologyAtBind) {
  temp_dir dir;
  auto st = store::open({(dir.path() / "data").string()});
  ASSERT_TRUE(st) << st.error().describe();
  registry reg;
  ASSERT_TRUE(reg.add("limited", [] { return std::make_unique<limited>(); }));
  ASSERT_TRUE(reg.add("plain", [] { return std::make_unique<limited>(); }));
  auto bind = [&](const std::string& body) -> std::string {
    auto topo = parse_topology(with_stage(body), "pipeline.yaml");
    EXPECT_TRUE(topo) << topo.error().describe();
    auto plan = pipeline_plan::bind(std::move(*topo), reg, **st);
    return plan ? "bound" : plan.error().describe();
  };
  EXPECT_EQ(bind("    behaviour: limited\n"
                 "    subscribe: [{ topic: in }]\n"
                 "    settings: { limit: 5 }\n"),
            "bound");
  EXPECT_EQ(bind("    behaviour: limited\n"
                 "    subscribe: [{ topic: in }]\n"
                 "    settings: { limit: 50 }\n"),
            "config: pipeline.yaml:4: stages.s.settings.limit: expected an "
            "integer in [1, 10], got '50'");
  EXPECT_EQ(bind("    behaviour: limited\n"
                 "    subscribe: [{ topic: in }]\n"
                 "    settings: { limt: 5 }\n"),
            "config: pipeline.yaml:4: stages.s.settings.limt: unknown setting "
            "(known: limit)");
}

TEST(StageSettings, TheDefaultBehaviourTakesNone) {
  class plain final : public behaviour {
  public:
    void on_event(context&, const event&) override {}
  } b;
  EXPECT_TRUE(b.configure({}));
  stage_settings s;
  s.set("x", {"1"});
  EXPECT_EQ(b.configure(s).error().message,
            "settings.x: this behaviour takes no settings");
}

} // namespace
} // namespace sluice
