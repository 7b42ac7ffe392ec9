// Protobuf plumbing shared by the package_trust behaviours: deterministic
// serialisation, strict decoding and JSON rendering of states.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace sluice::examples::package_trust {

/// Serialises with deterministic output, so equal messages give equal bytes.
std::string to_bytes(const google::protobuf::Message& msg);

/// Decodes `bytes` into `msg`; throws std::runtime_error naming `what` when
/// they do not decode.
void from_bytes(std::string_view bytes, google::protobuf::Message& msg,
                std::string_view what);

/// JSON of a state for `sluice export`: proto field names, primitive fields
/// always printed. Undecodable bytes give {"error": "..."}.
std::string state_json(const std::string& state,
                       google::protobuf::Message& prototype);

} // namespace sluice::examples::package_trust
