// Exponential backoff with equal jitter.
#include "sluice/backoff.hpp"

#include <algorithm>

namespace sluice {

std::chrono::milliseconds retry_delay(const retry_policy& policy,
                                      std::uint32_t failures,
                                      std::uint64_t random_bits) noexcept {
  const std::uint64_t lo = static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, policy.backoff_min.count()));
  const std::uint64_t hi = std::max<std::uint64_t>(
      lo, static_cast<std::uint64_t>(policy.backoff_max.count()));
  std::uint64_t nominal = std::max<std::uint64_t>(lo, 1);
  for (std::uint32_t i = 1; i < failures && nominal < hi; ++i)
    nominal *= 2;
  nominal = std::min(nominal, hi);
  const std::uint64_t half = nominal / 2;
  const std::uint64_t jitter = half == 0 ? 0 : random_bits % (half + 1);
  const std::uint64_t delay = std::clamp(nominal - half + jitter, lo, hi);
  return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
}

} // namespace sluice
