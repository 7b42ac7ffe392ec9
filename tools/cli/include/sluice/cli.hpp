// The `sluice` command line as a library, so a team's own binary gets the
// same commands with its own behaviours registered. No CAF in this header.
#pragma once

#include "sluice/registry.hpp"

namespace sluice {

/// Runs the `sluice` command line (`run`, `export`, ...) with the
/// behaviours in `reg`, plus the runtime's own: the slice controller
/// (`sluice/slice_controller.hpp`) unless `reg` has its name. Returns the
/// process exit code: 0 on success, 1 when the work failed, 2 for bad usage, a
/// bad file or a bad data directory.
int main(int argc, char** argv, const registry& reg);

} // namespace sluice
