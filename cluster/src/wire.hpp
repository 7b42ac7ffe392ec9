// Private: building and reading the cluster's protobuf messages, and the
// handshake's proofs of the shared secret.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "membership.hpp"
#include "sluice/result.hpp"
#include "sluice/store/cluster_records.hpp"
#include "sluice/v1/cluster.pb.h"

namespace sluice::cluster {

/// The handshake protocol version this build speaks.
inline constexpr std::uint32_t protocol_version = 1;

/// Serialized `Reply{ok}`.
std::string reply_ok();
/// Serialized `Reply{error}`: the error's message and its errc as `code`.
std::string reply_error(const error& err);
/// The error a `Reply` with `!ok` carries: its errc (errc::unavailable when
/// the code is missing or unknown, as from an older member) and message.
error error_of(const v1::Reply& reply);

/// Proof that the sender knows `secret`: HMAC-SHA256 over the role
/// ("server" or "client"), the other side's nonce and the sender's name.
std::string proof_of(std::string_view secret, std::string_view role,
                     std::string_view nonce, std::string_view name);

void to_wire(const std::vector<member>& in,
             google::protobuf::RepeatedPtrField<v1::Member>& out);
std::vector<member>
from_wire(const google::protobuf::RepeatedPtrField<v1::Member>& in);

/// An outbox entry's origin on the wire and back.
void to_wire(const outbox_origin& in, v1::OutboxOrigin& out);
outbox_origin from_wire(const v1::OutboxOrigin& in);

/// The name of a message's body, for logs ("hello", "forward", ...).
std::string body_name(const v1::ClusterMessage& m);

} // namespace sluice::cluster
