// etcd 3.4's v3 JSON gateway spoken as values: base64, key ranges, and
// request bodies from the types of etcd_types.hpp (answers: etcd_answers.hpp).
// Pure functions, no I/O; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controller/etcd_types.hpp"
#include "sluice/result.hpp"

namespace sluice::cluster::etcd_codec {

/// Standard base64 with padding, as the gateway wants keys and values.
std::string base64_encode(std::string_view bytes);
/// Decodes standard base64 (padding optional); an error names the offset.
result<std::string> base64_decode(std::string_view text);

/// The end of the range of every key starting with `prefix`: the prefix with
/// its last byte below 0xff raised by one ("\0" for an empty prefix or one
/// of only 0xff bytes: to the end of the key space, as etcd reads it).
std::string prefix_end(std::string_view prefix);

/// Request bodies, as JSON text.
std::string range_request(std::string_view key, bool prefix,
                          std::int64_t revision = 0);
std::string put_request(std::string_view key, std::string_view value,
                        std::int64_t lease);
std::string erase_request(std::string_view key, bool prefix);
std::string txn_request(const etcd_txn& txn);
std::string watch_request(std::string_view prefix, std::int64_t start_revision);
std::string lease_request(std::int64_t lease);
std::string grant_request(std::chrono::seconds ttl);
std::string compact_request(std::int64_t revision);

} // namespace sluice::cluster::etcd_codec
