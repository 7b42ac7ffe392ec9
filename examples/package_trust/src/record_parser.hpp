// Turns the JSON payload of a registry record (as sluice::feed_reader makes
// it) into a typed ParsedPackage, per ecosystem.
#pragma once

#include <string_view>

#include "package_trust.pb.h"

namespace sluice::examples::package_trust {

/// Parses one record. `ecosystem` is "npm", "pypi", "debian" or another TSV
/// ecosystem (read with the generic column names). Throws std::runtime_error
/// naming `origin` and the field when the payload is not a JSON object of
/// strings, a required field is missing, or a number does not parse.
/// Required: npm name and version; pypi name; debian Package and Version;
/// others name.
ParsedPackage parse_record(std::string_view ecosystem, std::string_view payload,
                           std::string_view origin);

} // namespace sluice::examples::package_trust
