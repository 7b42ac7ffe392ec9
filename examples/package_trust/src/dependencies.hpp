// Parses Debian relationship fields (Depends, Pre-Depends) into package
// names: entries split on ',', alternatives on '|', constraints dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "package_trust.pb.h"

namespace sluice::examples::package_trust {

/// The bare package name of one relationship term: version constraint
/// "(>= 1.0)", architecture list "[amd64]", build profiles "<!nocheck>" and
/// an architecture qualifier ":any" removed. Empty when nothing is left.
std::string dependency_name(std::string_view term);

/// The entries of a relationship field, in order; empty entries are skipped.
std::vector<Dependency> parse_dependencies(std::string_view field,
                                           bool pre_depends);

} // namespace sluice::examples::package_trust
