// The reconciler's scan: finds keys stuck half-way through a pipeline and
// plans their re-drive. A key is stuck in stage S when its status says it
// waits for an event of S, that event is no longer queued (a lost message),
// and it has waited longer than S's `stuck_after`. It is re-driven by a
// reconcile event to the stage that emitted the lost event, whose behaviour
// re-derives its output from the key's state (behaviour::reconcile).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/pipeline_plan.hpp"
#include "sluice/result.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

/// What one scan found.
struct reconcile_scan {
  std::uint64_t keys = 0;          ///< statuses scanned
  std::uint64_t stuck = 0;         ///< stuck keys found
  std::uint64_t unrecoverable = 0; ///< stuck, but nothing upstream to ask
  std::vector<redrive> redrives;   ///< to commit; re-checked at commit
  std::vector<std::string> unrecoverable_keys; ///< the first few, for logs
};

/// Scans every key's status in one snapshot. `now_ns` is wall-clock time.
/// Re-drives are normal priority and idempotent: the store applies one
/// only if the key's status is still the one scanned and its event still
/// missing, and a re-driven key's status moves, so it is not found again
/// until it is stuck again.
result<reconcile_scan> scan_for_stuck_keys(const store& st,
                                           const pipeline_plan& plan,
                                           std::int64_t now_ns);

} // namespace sluice
