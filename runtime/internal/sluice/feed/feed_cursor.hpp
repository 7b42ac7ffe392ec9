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

/// A 32-bit tag of a stage's name, so a cursor given to another stage is
/// refused rather than read as offsets of the wrong log.
std::uint32_t stage_tag(std::string_view stage);

/// The cursor's text form.
std::string encode(const cursor& c);

/// A cursor from its text form; invalid_argument naming what is wrong
/// (not base64url, truncated, an unknown version, trailing bytes).
result<cursor> decode(std::string_view text);

} // namespace sluice::feed
