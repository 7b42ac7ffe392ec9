#include "dashboard_sample.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sluice::cli {
namespace {

TEST(SelectSeries, ParsesNamesLabelsAndValuesOfTheFamiliesAsked) {
  auto text = "# HELP sluice_x help\n"
              "# TYPE sluice_x counter\n"
              "sluice_x{stage=\"a\\\"b\",priority=\"normal\"} 42\n"
              "sluice_y 7\n"
              "sluice_x_total 3\n"
              "sluice_z 1.5e3\n"
              "garbage line without value\n"
              "sluice_x{stage=\"broken} 1\n";
  auto got = select_series(text, {"sluice_x", "sluice_z"});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].name, "sluice_x");
  EXPECT_EQ(got[0].labels.at("stage"), "a\"b");
  EXPECT_EQ(got[0].labels.at("priority"), "normal");
  EXPECT_EQ(got[0].value, 42);
  EXPECT_EQ(got[1].name, "sluice_z");
  EXPECT_EQ(got[1].value, 1500);
}

TEST(SampleMetrics, LatencyBucketsAloneAndSummedOverPriorities) {
  auto text =
      "sluice_stage_latency_seconds_bucket{priority=\"normal\",stage=\"s\","
      "le=\"0.000001\"} 1\n"
      "sluice_stage_latency_seconds_bucket{priority=\"normal\",stage=\"s\","
      "le=\"0.000002\"} 4\n"
      "sluice_stage_latency_seconds_bucket{priority=\"normal\",stage=\"s\","
      "le=\"+Inf\"} 10\n"
      "sluice_stage_latency_seconds_bucket{priority=\"urgent\",stage=\"s\","
      "le=\"0.000001\"} 0\n"
      "sluice_stage_latency_seconds_bucket{priority=\"urgent\",stage=\"s\","
      "le=\"0.000002\"} 2\n"
      "sluice_stage_latency_seconds_bucket{priority=\"urgent\",stage=\"s\","
      "le=\"+Inf\"} 2\n"
      "sluice_stage_key_restarts_total{stage=\"s\"} 3\n"
      "sluice_stage_retrying_keys{stage=\"s\"} 1\n"
      "sluice_store_used_bytes 4096\n"
      "sluice_store_max_bytes 65536\n"
      "sluice_stage_in_total{stage=\"s\"} 99\n";
  auto j = nlohmann::json::parse(sample_metrics(text));
  EXPECT_EQ(j["stages"]["s"]["latency_buckets"],
            nlohmann::json::parse("[1, 5, 6]"));
  EXPECT_EQ(j["stages"]["s"]["restarts"], 3);
  EXPECT_EQ(j["stages"]["s"]["retrying"], 1);
  EXPECT_EQ(j["store_used_bytes"], 4096);
  EXPECT_EQ(j["store_max_bytes"], 65536);
  EXPECT_FALSE(j.contains("stage_in_total"));
}

} // namespace
} // namespace sluice::cli
