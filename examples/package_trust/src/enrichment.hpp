// Derives repository, dependency, maturity and summary data from a parsed
// package, and keeps the key's version history across events.
#pragma once

#include "package_trust.pb.h"

namespace sluice::examples::package_trust {

/// The enrichment of `pkg`, carrying on the history in `previous` (the key's
/// last EnrichedPackage, or nullptr for its first event). Pure: the same
/// inputs always give the same message.
EnrichedPackage enrich(const ParsedPackage& pkg,
                       const EnrichedPackage* previous);

/// Summary checks: length, words, missing, equal to the name, template text.
SummaryQuality summary_quality(const ParsedPackage& pkg);

} // namespace sluice::examples::package_trust
