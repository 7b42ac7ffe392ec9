// Private: what the dashboard's live stream sends once a second. One sample
// holds the console's `stages` and `nodes` answers and a few series of the
// node's metrics (latency buckets, restarts, retries waiting, the store's
// size), taken at one moment. Samples are made only while a page is open,
// and shared by every open page.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
class node;
}

namespace sluice::cli {

/// One series of the Prometheus text format.
struct prometheus_series {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// The series of `text` (Prometheus text format 0.0.4) whose family is one
/// of `families` ("sluice_stage_latency_seconds_bucket"); comments and
/// other families are skipped, a line that does not parse too.
std::vector<prometheus_series>
select_series(std::string_view text, const std::vector<std::string>& families);

/// The metrics part of a sample as JSON text: per stage its latency
/// bucket counts (each bucket alone, both priorities summed, from 1 us to
/// +Inf), key restarts and keys waiting for a retry; the store's used and
/// maximum bytes, the outbox and the commits.
std::string sample_metrics(std::string_view prometheus_text);

/// The samples of the last `keep`, made at most once per `every`.
class dashboard_sampler {
public:
  explicit dashboard_sampler(
      std::chrono::milliseconds every = std::chrono::milliseconds(950),
      std::size_t keep = 600);

  /// The newest sample, made now from `n` when the last is older than
  /// `every`. JSON text: {"t": UNIX_MS, "stages": ..., "nodes": ...,
  /// "metrics": ...}.
  std::string latest(node& n);

  /// Every kept sample as one JSON array.
  std::string history() const;

private:
  std::chrono::milliseconds every_;
  std::size_t keep_;
  mutable std::mutex mtx_;
  std::deque<std::string> samples_;
  std::chrono::steady_clock::time_point made_{};
};

} // namespace sluice::cli
