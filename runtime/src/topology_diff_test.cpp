// diff_topologies names every difference, and nothing else.
#include "sluice/topology_diff.hpp"

#include <gtest/gtest.h>

using namespace sluice;

namespace {

const char* base = R"(
pipeline: p
topics: [registry, parsed]
feed: { topic: registry }
stages:
  - name: parse
    behaviour: package.parse
    subscribe:
      - topic: registry
        filter: { ecosystem: [npm, pypi] }
    emits: [parsed]
    max_in_flight: 2048
  - name: score
    behaviour: package.score
    subscribe: [{ topic: parsed }]
)";

topology parse(const std::string& yaml) {
  auto t = parse_topology(yaml, "test.yaml");
  EXPECT_TRUE(t) << (t ? "" : t.error().describe());
  return t ? *t : topology{};
}

std::vector<std::string> lines(const topology& a, const topology& b) {
  std::vector<std::string> out;
  for (auto& c : diff_topologies(a, b))
    out.push_back(describe(c));
  return out;
}

} // namespace

TEST(TopologyDiff, TheSameTopologyHasNoDifference) {
  EXPECT_TRUE(diff_topologies(parse(base), parse(base)).empty());
}

TEST(TopologyDiff, AnAddedStageAndTopicAreNamedWithWhatTheyTake) {
  std::string more = base;
  more.replace(more.find("topics: [registry, parsed]"), 26,
               "topics: [registry, parsed, scored]");
  more += R"(    emits: [scored]
  - name: audit
    behaviour: package.score
    subscribe: [{ topic: scored, priority: urgent }]
)";
  EXPECT_EQ(lines(parse(base), parse(more)),
            (std::vector<std::string>{
                "+ topic scored",
                "+ stage audit: behaviour package.score, takes scored, "
                "always urgent",
                "~ stage score: emits (none) -> scored",
            }));
  EXPECT_EQ(lines(parse(more), parse(base)),
            (std::vector<std::string>{
                "- topic scored",
                "- stage audit: behaviour package.score, takes scored, "
                "always urgent",
                "~ stage score: emits scored -> (none)",
            }));
}

TEST(TopologyDiff, FilterPriorityAndFlowChangesAreEachNamed) {
  std::string changed = base;
  changed.replace(changed.find("[npm, pypi]"), 11, "[npm, pypi, debian]");
  changed.replace(changed.find("max_in_flight: 2048"), 19,
                  "max_in_flight: 512\n    skip_unchanged: true");
  changed.replace(changed.find("[{ topic: parsed }]"), 19,
                  "[{ topic: parsed, priority_from: { attribute: tier, "
                  "urgent: [gold] } }]");
  EXPECT_EQ(
      lines(parse(base), parse(changed)),
      (std::vector<std::string>{
          "~ stage parse: skip_unchanged false -> true",
          "~ stage parse: max_in_flight 2048 -> 512",
          "~ stage parse: subscription to registry: registry where "
          "ecosystem in [npm, pypi] -> registry where ecosystem in "
          "[debian, npm, pypi]",
          "~ stage score: subscription to parsed: parsed -> parsed, urgent "
          "when tier in [gold]",
      }));
}

TEST(TopologyDiff, SourcesAreNamedWithoutTheirConnection) {
  const std::string sources = R"(sources:
  - postgres: "host=db password=secret"
    slot: shop
    tables: [items]
)";
  std::string with = base;
  with.insert(with.find("stages:"), sources);
  std::string changed = with;
  changed.replace(changed.find("[items]"), 7, "[items, owners]");
  changed.replace(changed.find("password=secret"), 15, "password=other");
  EXPECT_EQ(lines(parse(base), parse(with)),
            (std::vector<std::string>{
                "+ source shop: slot shop, tables public.items -> topic "
                "registry, poll 100ms, batch 1000"}));
  auto diff = lines(parse(with), parse(changed));
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0], "~ source shop: slot shop, tables public.items -> topic "
                     "registry, poll 100ms, batch 1000 -> slot shop, tables "
                     "public.items, public.owners -> topic registry, poll "
                     "100ms, batch 1000 (its connection changed)");
  EXPECT_EQ(diff[0].find("secret"), std::string::npos);
  EXPECT_EQ(lines(parse(with), parse(base)),
            (std::vector<std::string>{
                "- source shop: slot shop, tables public.items -> topic "
                "registry, poll 100ms, batch 1000"}));
}
