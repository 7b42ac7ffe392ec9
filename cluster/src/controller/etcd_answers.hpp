// etcd 3.4's v3 JSON gateway answers decoded into the types of
// etcd_types.hpp, with errors that say what was wrong. Pure functions, no
// I/O; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "controller/etcd_types.hpp"
#include "sluice/result.hpp"

namespace sluice::cluster::etcd_codec {

/// The JSON of one answer (or one line of a stream), with a streamed
/// answer's `{"result": ...}` unwrapped. An `"error"` in it becomes an error
/// with etcd's message and its gRPC code mapped: 3 (invalid argument) to
/// errc::invalid_argument, 5 (not found) and 11 (out of range: a compacted
/// revision) to errc::not_found, anything else to errc::unavailable. Text
/// that is not a JSON object, or a status other than 200 without an etcd
/// error, is errc::parse naming the status and the start of the text.
result<nlohmann::json> parse_answer(int http_status, std::string_view body);

/// The header's revision of a put, erase or compaction answer.
result<std::int64_t> decode_revision(const nlohmann::json& answer);
/// How many keys an erase removed.
result<std::int64_t> decode_deleted(const nlohmann::json& answer);
result<etcd_range> decode_range(const nlohmann::json& answer);
result<etcd_txn_result> decode_txn(const nlohmann::json& answer);
result<etcd_lease> decode_grant(const nlohmann::json& answer);
/// The TTL left. A lease etcd no longer knows (expired or revoked) comes
/// back without a TTL: errc::not_found naming the lease.
result<std::chrono::seconds> decode_keepalive(const nlohmann::json& answer,
                                              std::int64_t lease);

/// One message of a watch stream.
struct watch_message {
  /// The watch was set up; events follow.
  bool created = false;
  /// The watch ended; `compact_revision` > 0 when because the revision it
  /// started from was compacted away (the oldest one left).
  bool canceled = false;
  std::int64_t compact_revision = 0;
  std::string cancel_reason;
  /// The header's revision: with no events and not created, a progress
  /// notice (every change up to it has been sent).
  std::int64_t revision = 0;
  std::vector<etcd_event> events;
};
result<watch_message> decode_watch(const nlohmann::json& answer);

} // namespace sluice::cluster::etcd_codec
