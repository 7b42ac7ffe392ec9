// Runs the bundled sample (over 20,000 real npm, PyPI and Debian records)
// through parse -> enrich -> score in-process, twice, and checks that every
// record is scored and that both runs leave byte-identical states.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <string>

#include "fake_context.hpp"
#include "package_trust.pb.h"
#include "package_trust/package_trust.hpp"
#include "sluice/feed_reader.hpp"
#include "sluice/registry.hpp"

#ifndef PACKAGE_TRUST_DATA_DIR
#define PACKAGE_TRUST_DATA_DIR "examples/package_trust/data"
#endif

namespace sluice::examples::package_trust {
namespace {

// Final states per stage and key, plus what went wrong on the way.
struct run_result {
  std::map<std::string, std::map<std::string, std::string>> states;
  std::size_t records = 0;
  std::size_t reader_errors = 0;
  std::size_t behaviour_errors = 0;
  std::string first_error;
};

// Delivers `ev` to `stage` for its key, then what it emits downstream, in
// order: a valid schedule, since each key's events stay in order.
void deliver(const sluice::registry& reg, run_result& out,
             const std::string& stage, const sluice::event& ev) {
  static const std::map<std::string, std::string> behaviour_of = {
      {"parse", "package.parse"},
      {"enrich", "package.enrich"},
      {"score", "package.score"}};
  static const std::map<std::string, std::string> stage_of_topic = {
      {"parsed", "enrich"}, {"enriched", "score"}};
  auto b = reg.create(behaviour_of.at(stage));
  ASSERT_TRUE(b);
  testing::fake_context ctx(stage, ev.key);
  auto& states = out.states[stage];
  if (auto it = states.find(ev.key); it != states.end()) {
    ctx.set_state(it->second);
  }
  try {
    (*b)->on_event(ctx, ev);
  } catch (const std::exception& e) {
    if (out.behaviour_errors++ == 0)
      out.first_error = e.what();
    return;
  }
  states[ev.key] = ctx.state();
  for (auto& [topic, emitted] : ctx.emitted) {
    deliver(reg, out, stage_of_topic.at(topic), emitted);
  }
}

run_result run_sample() {
  sluice::registry reg;
  run_result out;
  EXPECT_TRUE(register_package_trust(reg));
  for (const char* file : {"npm.tsv", "pypi.tsv", "debian.Packages"}) {
    auto reader = sluice::feed_reader::open(
        std::string(PACKAGE_TRUST_DATA_DIR) + "/" + file, "registry");
    EXPECT_TRUE(reader) << (reader ? "" : reader.error().describe());
    if (!reader)
      continue;
    for (;;) {
      auto batch = (*reader)->next(1024);
      if (batch.empty())
        break;
      for (const auto& rec : batch) {
        ++out.records;
        if (!rec.ok) {
          ++out.reader_errors;
          continue;
        }
        deliver(reg, out, "parse", rec.ev);
      }
    }
  }
  return out;
}

TEST(PackageTrustPipeline, ScoresEveryRecordOfTheSampleIdenticallyTwice) {
  const run_result first = run_sample();
  EXPECT_GE(first.records, 20000u);
  EXPECT_EQ(first.reader_errors, 0u);
  EXPECT_EQ(first.behaviour_errors, 0u) << first.first_error;
  const auto& scores = first.states.at("score");
  EXPECT_EQ(scores.size(), first.states.at("parse").size());
  EXPECT_GE(scores.size(), 20000u);

  const run_result second = run_sample();
  EXPECT_TRUE(first.states == second.states) << "runs differ";

  std::map<std::string, int> verdicts;
  int suspects = 0;
  for (const auto& [key, bytes] : scores) {
    PackageScore s;
    ASSERT_TRUE(s.ParseFromString(bytes)) << key;
    ++verdicts[s.ecosystem() + " " + s.verdict()];
    if (s.typosquatting() == 0 && suspects++ < 100) {
      std::cout << "  typosquat suspect " << key << " ~ "
                << s.typosquat_target() << "\n";
    }
  }
  std::cout << "  " << scores.size() << " keys scored, " << suspects
            << " typosquat suspects\n";
  for (const auto& [v, n] : verdicts)
    std::cout << "  " << v << ": " << n << "\n";

  PackageScore lodash;
  ASSERT_TRUE(lodash.ParseFromString(scores.at("npm/lodash")));
  EXPECT_EQ(lodash.verdict(), "trusted");
  PackageScore bash;
  ASSERT_TRUE(bash.ParseFromString(scores.at("debian/bash")));
  EXPECT_EQ(bash.verdict(), "trusted");
}

TEST(PackageTrustPipeline, RegistersItsThreeBehavioursOnce) {
  sluice::registry reg;
  ASSERT_TRUE(register_package_trust(reg));
  EXPECT_TRUE(reg.contains("package.parse"));
  EXPECT_TRUE(reg.contains("package.enrich"));
  EXPECT_TRUE(reg.contains("package.score"));
  EXPECT_FALSE(register_package_trust(reg));
}

TEST(PackageTrustPipeline, ParseAndEnrichReEmitTheirStateWhenReconciled) {
  sluice::registry reg;
  ASSERT_TRUE(register_package_trust(reg));
  for (auto [stage, topic] : {std::pair{"package.parse", "parsed"},
                              std::pair{"package.enrich", "enriched"}}) {
    auto b = reg.create(stage);
    ASSERT_TRUE(b);
    testing::fake_context empty{stage, "npm/x"};
    EXPECT_FALSE((*b)->reconcile(empty)) << stage << " has nothing to re-emit";
    EXPECT_TRUE(empty.emitted.empty());
    testing::fake_context ctx{stage, "npm/x"};
    ctx.set_state("last output");
    ASSERT_TRUE((*b)->reconcile(ctx)) << stage;
    ASSERT_EQ(ctx.emitted.size(), 1u);
    EXPECT_EQ(ctx.emitted[0].first, topic);
    EXPECT_EQ(ctx.emitted[0].second.payload, "last output");
  }
  auto score = reg.create("package.score");
  ASSERT_TRUE(score);
  testing::fake_context ctx{"package.score", "npm/x"};
  EXPECT_FALSE((*score)->reconcile(ctx)); // the last stage emits nothing
}

} // namespace
} // namespace sluice::examples::package_trust
