// Retry delays: exponential backoff with jitter between a floor and a cap.
#pragma once

#include <chrono>
#include <cstdint>

#include "sluice/topology.hpp"

namespace sluice {

/// The wait before the next try of an event that has failed `failures`
/// times (1 after the first failure). The nominal delay doubles per failure
/// from `backoff_min` up to `backoff_max`; the result is drawn from the
/// upper half of it ("equal jitter") using `random_bits`, so keys that failed
/// together do not retry together, and it never leaves [min, max].
std::chrono::milliseconds retry_delay(const retry_policy& policy,
                                      std::uint32_t failures,
                                      std::uint64_t random_bits) noexcept;

} // namespace sluice
