// How many records a normal commit may hold: as many as fit in a time
// budget, by the recent time per record of normal commits, between a
// floor and the configured maximum. A commit of n records takes about
// F + r*n (a fixed cost, mostly the fsync, and a cost per record); the
// average per record, F/n + r, shrinks as batches grow, so the limit moves
// toward the n whose commit takes the budget. Plain arithmetic, no actor
// system.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace sluice::store_writer {

class commit_sizing {
public:
  /// Learns from a normal commit of `records` that took `took`.
  void learn(std::chrono::steady_clock::duration took, std::size_t records) {
    if (records == 0)
      return;
    double us = std::chrono::duration<double, std::micro>(took).count()
                / static_cast<double>(records);
    us_per_record_ =
        us_per_record_ == 0 ? us : (1 - weight) * us_per_record_ + weight * us;
  }

  /// The most records a normal commit may hold: those that fit `budget`
  /// at the learned time per record, at least `floor` (and at most
  /// `max`). `max` alone before anything is learned, or with no budget.
  std::size_t limit(std::chrono::milliseconds budget, std::size_t max,
                    std::size_t floor) const {
    if (budget.count() <= 0 || us_per_record_ <= 0)
      return max;
    double fit = std::chrono::duration<double, std::micro>(budget).count()
                 / us_per_record_;
    auto n =
        fit >= static_cast<double>(max) ? max : static_cast<std::size_t>(fit);
    return std::min(max, std::max(n, floor));
  }

  /// The learned microseconds per record (0: nothing learned yet).
  double us_per_record() const noexcept { return us_per_record_; }

private:
  /// How much the latest commit counts against the ones before.
  static constexpr double weight = 0.25;
  double us_per_record_ = 0;
};

} // namespace sluice::store_writer
