// A change feed's cursor: where a subscriber resumes, per shard. Opaque to
// clients: "1" and the base64url of the stage's tag, the changelog's id, a
// base offset and the shards whose offset differs from it. A node serving
// its changelogs in offset order advances every shard together, so its
// cursors hold the base alone (about 20 characters). Pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::feed {

/// Per shard, the offset of the last change passed (delivered or filtered
/// out): a subscriber resumes after it.
struct cursor {
  std::uint32_t stage_tag = 0; ///< stage_tag() of the stage it follows
  std::uint64_t log_id = 0;    ///< changelog_span::log_id it was read from
  std::uint64_t base = 0;      ///< every shard's offset, except...
  std::map<std::uint32_t, std::uint64_t> shards; ///< ...these
  /// The offset of `shard`.
  std::uint64_t at(std::uint32_t shard) const;
  /// The smallest offset of any shard.
  std::uint64_t lowest() const;
  /// Equal when every field is.
  friend bool operator==(const cursor&, const cursor&) = default;
};

/// A subscription's cursor through a cluster member (issue 16): the shard
/// offset passed, per shard (shard_count of them). Text form "2" and the
/// base64url of the stage tag, the distinct offsets and, per shard, the
/// index of its offset in as few bits as they need: the shards a member
/// holds at one epoch share one offset, so with up to 4 distinct offsets a
/// cursor is about 370 characters.
struct shard_cursor {
  std::uint32_t stage_tag = 0;
  std::vector<std::uint64_t> at; ///< per shard
  friend bool operator==(const shard_cursor&, const shard_cursor&) = default;
};

/// The text form of a cluster cursor.
std::string encode(const shard_cursor& c);

/// A cluster cursor from its text form; a version 1 cursor (a single
/// node's) becomes its per-shard offsets. invalid_argument naming what is
/// wrong.
result<shard_cursor> decode_shards(std::string_view text);

/// A 32-bit tag of a stage's name, so a cursor given to another stage is
/// refused rather than read as offsets of the wrong log.
std::uint32_t stage_tag(std::string_view stage);

/// The cursor's text form.
std::string encode(const cursor& c);

/// A cursor from its text form; invalid_argument naming what is wrong
/// (not base64url, truncated, an unknown version, trailing bytes).
result<cursor> decode(std::string_view text);

} // namespace sluice::feed
