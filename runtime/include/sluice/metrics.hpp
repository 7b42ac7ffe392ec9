// Counters, gauges and latency histograms, rendered in the Prometheus text
// format. Updates are lock-free atomics, safe from any thread; creating a
// metric takes a lock and is meant for start-up or first use.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice {

/// A monotonically increasing count.
class counter {
public:
  /// Adds `n`. Safe from any thread.
  void add(std::uint64_t n = 1) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  /// The count so far.
  std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down; also remembers its peak.
class gauge {
public:
  /// Sets the value to `v`, raising the peak when `v` is above it.
  void set(std::int64_t v) noexcept;
  /// Adds `d` (negative to lower it), raising the peak as `set` does.
  void add(std::int64_t d) noexcept { set(value_.fetch_add(d) + d); }
  /// The current value.
  std::int64_t value() const noexcept { return value_.load(); }
  /// The highest value it has had since it was created (it starts at 0).
  std::int64_t peak() const noexcept { return peak_.load(); }

private:
  std::atomic<std::int64_t> value_{0};
  std::atomic<std::int64_t> peak_{0};
};

/// A histogram with fixed log-spaced buckets (powers of two, 1 .. 2^26),
/// for durations in microseconds (1 us .. ~67 s) or for counts. A family
/// whose name ends in `_seconds` is rendered in seconds; any other renders
/// its values as they are. Quantiles are estimated from bucket bounds.
class histogram {
public:
  /// The number of bounded buckets, 2^0 .. 2^26 us; then +Inf. Bucket `i`
  /// holds the values above `bound_us(i - 1)` up to `bound_us(i)` (bucket
  /// 0: up to 1 us), bucket `bucket_count` those above 2^26 us.
  static constexpr std::size_t bucket_count = 27;

  /// Records one value of `us` microseconds: its bucket, count, sum, max.
  void observe_us(std::uint64_t us) noexcept;
  /// The number of values recorded.
  std::uint64_t count() const noexcept { return count_.load(); }
  /// The sum of all values recorded, in us.
  std::uint64_t sum_us() const noexcept { return sum_.load(); }
  /// The largest value recorded, in us; 0 when there is none.
  std::uint64_t max_us() const noexcept { return max_.load(); }
  /// Upper bound (us) of the bucket holding quantile `q` in [0, 1].
  std::uint64_t quantile_us(double q) const noexcept;
  /// Upper bound in us of bucket `i`.
  static std::uint64_t bound_us(std::size_t i) noexcept {
    return std::uint64_t{1} << i;
  }
  /// The number of values in bucket `i` alone (not cumulative), for `i`
  /// in [0, bucket_count]; `bucket_count` is the +Inf bucket.
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i]; }

private:
  std::array<std::atomic<std::uint64_t>, bucket_count + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> max_{0};
};

/// Labels of one series, e.g. {{"stage","parse"},{"priority","urgent"}}.
using labels = std::map<std::string, std::string>;

/// All metrics of one node. Metrics live as long as the registry; returned
/// references stay valid.
class metrics {
public:
  /// The counter `name` with labels `l`, created on first use. `help` is
  /// the family's HELP text; the first non-empty one given is kept. Takes
  /// the registry's lock: look a metric up once and keep the reference.
  counter& get_counter(const std::string& name, const labels& l = {},
                       const std::string& help = "");
  /// The gauge `name` with labels `l`, created on first use; `help` as for
  /// `get_counter`.
  gauge& get_gauge(const std::string& name, const labels& l = {},
                   const std::string& help = "");
  /// The histogram `name` with labels `l`, created on first use; `help` as
  /// for `get_counter`. Rendered in seconds, with `_bucket`, `_sum` and
  /// `_count` series.
  histogram& get_histogram(const std::string& name, const labels& l = {},
                           const std::string& help = "");

  /// Prometheus text exposition format 0.0.4.
  std::string render_prometheus() const;

  /// Value of a counter, or 0 when it does not exist (for tests and tools).
  std::uint64_t counter_value(const std::string& name,
                              const labels& l = {}) const;

private:
  template <class T>
  struct family {
    std::string help;
    std::map<labels, std::unique_ptr<T>> series;
  };
  template <class T>
  T& get(std::map<std::string, family<T>>& fams, const std::string& name,
         const labels& l, const std::string& help);

  mutable std::mutex mtx_;
  std::map<std::string, family<counter>> counters_;
  std::map<std::string, family<gauge>> gauges_;
  std::map<std::string, family<histogram>> histograms_;
};

} // namespace sluice
