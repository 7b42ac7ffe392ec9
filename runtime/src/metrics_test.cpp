// Tests of counters, gauges, histograms and the Prometheus rendering.
#include "sluice/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace sluice;

TEST(Metrics, CountersAddUpAcrossThreads) {
  metrics m;
  auto& c = m.get_counter("sluice_events_total", {{"stage", "parse"}});
  std::vector<std::thread> ts;
  ts.reserve(4);
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        c.add();
    });
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(m.counter_value("sluice_events_total", {{"stage", "parse"}}),
            40000u);
  EXPECT_EQ(m.counter_value("sluice_events_total", {{"stage", "x"}}), 0u);
}

TEST(Metrics, GaugeRemembersItsPeak) {
  gauge g;
  g.add(5);
  g.add(-3);
  g.set(4);
  EXPECT_EQ(g.value(), 4);
  EXPECT_EQ(g.peak(), 5);
}

TEST(Metrics, HistogramQuantilesFallInTheRightBucket) {
  histogram h;
  for (int i = 0; i < 99; ++i)
    h.observe_us(100); // bucket (64, 128]
  h.observe_us(50000);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.quantile_us(0.5), 128u);
  EXPECT_EQ(h.quantile_us(0.99), 50000u);
  EXPECT_EQ(h.max_us(), 50000u);
}

TEST(Metrics, RendersPrometheusTextFormat) {
  metrics m;
  m.get_counter("sluice_done_total", {{"stage", "a\"b"}}, "Events done").add(3);
  m.get_histogram("sluice_latency_seconds").observe_us(3);
  auto text = m.render_prometheus();
  EXPECT_NE(text.find("# HELP sluice_done_total Events done\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE sluice_done_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_done_total{stage=\"a\\\"b\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_latency_seconds_bucket{le=\"+Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_latency_seconds_count 1\n"), std::string::npos);
}

TEST(Metrics, ACountHistogramRendersItsBoundsAsCountsAndADurationInSeconds) {
  metrics m;
  m.get_histogram("sluice_commit_records").observe_us(200);    // (128, 256]
  m.get_histogram("sluice_commit_seconds").observe_us(200000); // 0.2 s
  auto text = m.render_prometheus();
  EXPECT_NE(text.find("sluice_commit_records_bucket{le=\"128\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_commit_records_bucket{le=\"256\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_commit_records_sum 200\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_commit_seconds_bucket{le=\"0.262144\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_commit_seconds_sum 0.2\n"), std::string::npos);
}
