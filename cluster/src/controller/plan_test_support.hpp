// Test support for the controller's plan and snapshot tests: the keys they
// use and a one-shard table. Header-only, test targets only.
#pragma once

#include <cstdint>
#include <utility>

#include "controller/controller_table.hpp"

namespace sluice::cluster::plan_testing {

/// The controller's keys under the root "test".
inline const controller_keys test_keys = *controller_keys::make("test");

/// A table of one shard holding `a`, read at `revision`.
inline shard_table one_shard(std::uint32_t shard, shard_assignment a,
                             std::int64_t revision = 40) {
  return {{shard, {std::move(a), revision}}};
}

} // namespace sluice::cluster::plan_testing
