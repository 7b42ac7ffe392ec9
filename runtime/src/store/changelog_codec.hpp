// Private: how a changelog entry is laid out in `changelog.<stage>`. Key:
// offset (u64 big-endian). Value: commit time (ns, u64), key length (u32),
// key, then the state record as `state` holds it (version u64, KeyState).
// Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sluice/store/changelog.hpp"
#include "sluice/store/keys.hpp"

namespace sluice::changelog_codec {

/// The LMDB key of the entry at `offset`.
inline std::string offset_key(std::uint64_t offset) {
  std::string out;
  keys::put_u64(out, offset);
  return out;
}

/// An entry's value: when, whose, and the state record it wrote.
inline std::string entry_value(std::int64_t ts_ns, std::string_view key,
                               std::string_view state_value) {
  std::string out;
  out.reserve(12 + key.size() + state_value.size());
  keys::put_u64(out, static_cast<std::uint64_t>(ts_ns));
  keys::put_u32(out, static_cast<std::uint32_t>(key.size()));
  out.append(key);
  out.append(state_value);
  return out;
}

/// The commit time of an entry's value; nullopt when it is too short.
inline std::optional<std::int64_t> entry_ts(std::string_view value) {
  auto ts = keys::get_u64(value);
  if (!ts)
    return std::nullopt;
  return static_cast<std::int64_t>(*ts);
}

/// The key of an entry's value, without copying; nullopt when too short.
inline std::optional<std::string_view> entry_key(std::string_view value) {
  auto len = keys::get_u32(value, 8);
  if (!len || value.size() < 12 + std::size_t{*len})
    return std::nullopt;
  return value.substr(12, *len);
}

/// The entry at (`k`, `v`); nullopt when either does not decode.
inline std::optional<changelog_entry> parse_entry(std::string_view k,
                                                  std::string_view v) {
  auto offset = keys::get_u64(k);
  auto ts = keys::get_u64(v);
  auto len = keys::get_u32(v, 8);
  if (k.size() != 8 || !offset || !ts || !len
      || v.size() < 12 + std::size_t{*len} + 8)
    return std::nullopt;
  changelog_entry e;
  e.offset = *offset;
  e.ts_ns = static_cast<std::int64_t>(*ts);
  e.key.assign(v.substr(12, *len));
  e.version = *keys::get_u64(v, 12 + *len);
  e.key_state.assign(v.substr(12 + *len + 8));
  return e;
}

} // namespace sluice::changelog_codec
