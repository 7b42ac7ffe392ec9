// Private: how a changelog entry is laid out in `changelog.<stage>`. Key:
// offset (u64 big-endian). Value: commit time (ns, u64), key length (u32),
// key, then the state record as `state` holds it (version u64, KeyState).
// On a cluster member the key length has its high bit set and the entry's
// shard offset (u64: the shard's epoch << 40 | the writer's seq) follows
// it, before the key: an entry a hand-off brought keeps the offset its
// writer gave it. Without it the shard offset is the entry's offset.
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

/// Set in an entry's key length when its shard offset follows.
inline constexpr std::uint32_t shard_offset_flag = 0x80000000u;

/// An entry's value: when, whose, and the state record it wrote; with a
/// shard offset (nonzero) on a cluster member.
inline std::string entry_value(std::int64_t ts_ns, std::string_view key,
                               std::string_view state_value,
                               std::uint64_t shard_offset = 0) {
  std::string out;
  out.reserve(20 + key.size() + state_value.size());
  keys::put_u64(out, static_cast<std::uint64_t>(ts_ns));
  auto len = static_cast<std::uint32_t>(key.size());
  if (shard_offset != 0) {
    keys::put_u32(out, len | shard_offset_flag);
    keys::put_u64(out, shard_offset);
  } else {
    keys::put_u32(out, len);
  }
  out.append(key);
  out.append(state_value);
  return out;
}

/// Where an entry's key starts in its value and how long it is, and its
/// shard offset (0: none written); nullopt when the value is too short.
struct entry_layout {
  std::size_t key_at = 12;
  std::size_t key_len = 0;
  std::uint64_t shard_offset = 0;
};
inline std::optional<entry_layout> layout_of(std::string_view value) {
  auto len = keys::get_u32(value, 8);
  if (!len)
    return std::nullopt;
  entry_layout l;
  l.key_len = *len & ~shard_offset_flag;
  if ((*len & shard_offset_flag) != 0) {
    auto so = keys::get_u64(value, 12);
    if (!so)
      return std::nullopt;
    l.shard_offset = *so;
    l.key_at = 20;
  }
  if (value.size() < l.key_at + l.key_len)
    return std::nullopt;
  return l;
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
  auto l = layout_of(value);
  if (!l)
    return std::nullopt;
  return value.substr(l->key_at, l->key_len);
}

/// The entry at (`k`, `v`); nullopt when either does not decode.
inline std::optional<changelog_entry> parse_entry(std::string_view k,
                                                  std::string_view v) {
  auto offset = keys::get_u64(k);
  auto ts = keys::get_u64(v);
  auto l = layout_of(v);
  if (k.size() != 8 || !offset || !ts || !l
      || v.size() < l->key_at + l->key_len + 8)
    return std::nullopt;
  changelog_entry e;
  e.offset = *offset;
  e.shard_offset = l->shard_offset != 0 ? l->shard_offset : *offset;
  e.ts_ns = static_cast<std::int64_t>(*ts);
  e.key.assign(v.substr(l->key_at, l->key_len));
  e.version = *keys::get_u64(v, l->key_at + l->key_len);
  e.key_state.assign(v.substr(l->key_at + l->key_len + 8));
  return e;
}

} // namespace sluice::changelog_codec
