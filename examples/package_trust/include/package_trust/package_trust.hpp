// The package_trust example pipeline: parse -> enrich -> score over real
// npm, PyPI and Debian registry records. See examples/package_trust/README.md.
#pragma once

#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice::examples {

/// Registers "package.parse", "package.enrich" and "package.score" in `reg`.
/// Fails, naming the name, if one of them is already registered.
sluice::result<void> register_package_trust(sluice::registry& reg);

} // namespace sluice::examples
