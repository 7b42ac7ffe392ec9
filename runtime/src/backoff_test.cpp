#include "sluice/backoff.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sluice {
namespace {

retry_policy policy(int lo_ms, int hi_ms) {
  retry_policy p;
  p.backoff_min = std::chrono::milliseconds(lo_ms);
  p.backoff_max = std::chrono::milliseconds(hi_ms);
  return p;
}

TEST(Backoff, StaysBetweenTheFloorAndTheCapForEveryFailureCount) {
  auto p = policy(200, 30000);
  std::mt19937_64 rng{7};
  for (std::uint32_t n = 1; n <= 64; ++n)
    for (int i = 0; i < 200; ++i) {
      auto d = retry_delay(p, n, rng());
      EXPECT_GE(d.count(), 200) << "failure " << n;
      EXPECT_LE(d.count(), 30000) << "failure " << n;
    }
}

TEST(Backoff, DoublesPerFailureWithJitterInTheUpperHalf) {
  auto p = policy(100, 100000);
  // Nominal delays: 100, 200, 400, 800 ms; each draw lies in [n/2, n].
  for (std::uint32_t n = 1; n <= 4; ++n) {
    std::int64_t nominal = 100LL << (n - 1);
    EXPECT_EQ(retry_delay(p, n, 0).count(),
              std::max<std::int64_t>(100, nominal / 2));
    EXPECT_EQ(retry_delay(p, n, nominal / 2).count(), nominal);
  }
}

TEST(Backoff, JitterSpreadsKeysThatFailedTogether) {
  auto p = policy(200, 30000);
  std::mt19937_64 rng{42};
  std::set<std::int64_t> seen;
  for (int i = 0; i < 100; ++i)
    seen.insert(retry_delay(p, 5, rng()).count());
  EXPECT_GT(seen.size(), 50u);
}

TEST(Backoff, ACapBelowTheFloorIsTheFloor) {
  EXPECT_EQ(retry_delay(policy(500, 500), 10, 12345).count(), 500);
}

} // namespace
} // namespace sluice
