// Splits registry version strings (npm semver, PEP 440, Debian
// epoch:upstream-revision) into comparable parts, and orders them.
#pragma once

#include <string_view>

#include "package_trust.pb.h"

namespace sluice::examples::package_trust {

/// Parses `raw` as a version of `ecosystem` ("npm", "pypi", "debian" or
/// another name, parsed loosely). Never throws; `parsed` says whether a
/// leading number was found.
Version parse_version(std::string_view ecosystem, std::string_view raw);

/// Orders two versions of one ecosystem: negative, zero or positive. Epoch
/// first, then the numeric components, then release above prerelease, then
/// the Debian revision, then the raw text (so that the order is total).
int compare_versions(std::string_view ecosystem, std::string_view a,
                     std::string_view b);

} // namespace sluice::examples::package_trust
