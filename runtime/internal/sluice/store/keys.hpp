// Big-endian binary tuple keys for LMDB, so byte order is the order you
// expect: (stage_id, key), (priority, seq). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/event.hpp"

/// The store's LMDB key encodings: big-endian integers and tuples of them,
/// so that the byte order of a key is the order of its fields.
namespace sluice::keys {

/// Appends `v` as 4 big-endian bytes.
void put_u32(std::string& out, std::uint32_t v);
/// Appends `v` as 8 big-endian bytes.
void put_u64(std::string& out, std::uint64_t v);
/// Reads 4 big-endian bytes at `pos`; nullopt when too short.
std::optional<std::uint32_t> get_u32(std::string_view in, std::size_t pos = 0);
/// Reads 8 big-endian bytes at `pos`; nullopt when too short.
std::optional<std::uint64_t> get_u64(std::string_view in, std::size_t pos = 0);

/// A position in a durable queue: urgent sorts before normal, then by seq.
struct queue_pos {
  sluice::priority priority = priority::normal; ///< urgent entries sort first
  /// The entry's sequence number, unique across all queues and dead letters
  /// of a store.
  std::uint64_t seq = 0;
  /// Equal when both priority and seq are.
  friend bool operator==(const queue_pos&, const queue_pos&) = default;
  /// Queue order: by priority (urgent first), then by seq.
  friend auto operator<=>(const queue_pos&, const queue_pos&) = default;
};

/// 9 bytes: priority byte, then seq.
std::string queue_key(queue_pos pos);
/// The position a queue key encodes; nullopt when `k` is not 9 bytes or
/// its priority byte is neither 0 (urgent) nor 1 (normal).
std::optional<queue_pos> parse_queue_key(std::string_view k);

/// state db: stage id then the raw key bytes.
std::string state_key(std::uint32_t stage_id, std::string_view key);
/// The stage id and key of a state-db key.
std::optional<std::pair<std::uint32_t, std::string_view>>
parse_state_key(std::string_view k);

/// dead_letters db: stage id then seq.
std::string dead_letter_key(std::uint32_t stage_id, std::uint64_t seq);

/// timers db: stage id, key length (u32), key, then the timer's name, so
/// one key's timers are adjacent and names of different keys never mix.
std::string timer_key(std::uint32_t stage_id, std::string_view key,
                      std::string_view name);
/// The key and name of a timers-db key.
std::optional<std::pair<std::string_view, std::string_view>>
parse_timer_key(std::string_view k);
/// timers_due db: stage id, due time, then the timers-db key, so a stage's
/// timers sort by when they are due.
std::string timer_due_key(std::uint32_t stage_id, std::int64_t due_ns,
                          std::string_view timer_key);

/// Printable form of arbitrary key bytes, for error messages.
std::string printable(std::string_view bytes);

} // namespace sluice::keys
