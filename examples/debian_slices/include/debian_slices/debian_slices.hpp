// The debian_slices example's behaviours, for a registry: `debian.index`
// (a suite's Packages index, in batches, into slice records) and
// `debian.slice_job` (one job per changed slice or reference package).
// Their pipeline is pipeline.yaml beside this folder; the slice controller
// between them is the runtime's `sluice.slices`.
#pragma once

#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace debian_slices {

/// The index behaviour's registry name.
inline constexpr const char* index_name = "debian.index";
/// The slice job's registry name.
inline constexpr const char* job_name = "debian.slice_job";

/// Registers `debian.index` and `debian.slice_job`; a name registered
/// before is an error.
sluice::result<void> register_debian_slices(sluice::registry& reg);

} // namespace debian_slices
