// Big-endian binary tuple keys for LMDB, so byte order is the order you
// expect: (stage_id, key), (priority, seq). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/event.hpp"

namespace sluice::keys {

/// Appends `v` as 4 / 8 big-endian bytes.
void put_u32(std::string& out, std::uint32_t v);
void put_u64(std::string& out, std::uint64_t v);
/// Reads 4 / 8 big-endian bytes at `pos`; nullopt when too short.
std::optional<std::uint32_t> get_u32(std::string_view in, std::size_t pos = 0);
std::optional<std::uint64_t> get_u64(std::string_view in, std::size_t pos = 0);

/// A position in a durable queue: urgent sorts before normal, then by seq.
struct queue_pos {
  sluice::priority priority = priority::normal;
  std::uint64_t seq = 0;
  friend bool operator==(const queue_pos&, const queue_pos&) = default;
  friend auto operator<=>(const queue_pos&, const queue_pos&) = default;
};

/// 9 bytes: priority byte, then seq.
std::string queue_key(queue_pos pos);
std::optional<queue_pos> parse_queue_key(std::string_view k);

/// state db: stage id then the raw key bytes.
std::string state_key(std::uint32_t stage_id, std::string_view key);
/// The stage id and key of a state-db key.
std::optional<std::pair<std::uint32_t, std::string_view>>
parse_state_key(std::string_view k);

/// dead_letters db: stage id then seq.
std::string dead_letter_key(std::uint32_t stage_id, std::uint64_t seq);

/// Printable form of arbitrary key bytes, for error messages.
std::string printable(std::string_view bytes);

} // namespace sluice::keys
