// Cursor text form: version "1", then base64url (no padding) of: stage tag
// (u32 big-endian), log id (u64 big-endian), base (varint), the number of
// shard exceptions (varint), then per exception the shard's distance from
// the previous one (varint) and its offset (varint).
#include "sluice/feed/feed_cursor.hpp"

#include <array>
#include <optional>

#include <xxhash.h>

#include "sluice/placement.hpp"
#include "sluice/store/keys.hpp"

namespace sluice::feed {

namespace {

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Most exceptions a cursor may hold: one per shard.
constexpr std::uint64_t max_exceptions = 1u << 20;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::optional<std::uint64_t> get_varint(std::string_view in, std::size_t& pos) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size())
      return std::nullopt;
    auto b = static_cast<unsigned char>(in[pos++]);
    v |= std::uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0)
      return v;
  }
  return std::nullopt;
}

std::string to_base64url(std::string_view bytes) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(base64url_alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0)
    out.push_back(base64url_alphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<std::string> from_base64url(std::string_view text) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (std::size_t i = 0; i < base64url_alphabet.size(); ++i)
    value[static_cast<unsigned char>(base64url_alphabet[i])] =
        static_cast<int>(i);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    int v = value[static_cast<unsigned char>(ch)];
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

error bad_cursor(const std::string& what) {
  return {errc::invalid_argument, "malformed cursor: " + what};
}

} // namespace

std::uint64_t cursor::at(std::uint32_t shard) const {
  auto i = shards.find(shard);
  return i == shards.end() ? base : i->second;
}

std::uint64_t cursor::lowest() const {
  auto low = base;
  for (auto& [shard, offset] : shards)
    low = std::min(low, offset);
  return low;
}

std::uint32_t stage_tag(std::string_view stage) {
  return static_cast<std::uint32_t>(XXH3_64bits(stage.data(), stage.size()));
}

std::string encode(const cursor& c) {
  std::string bytes;
  keys::put_u32(bytes, c.stage_tag);
  keys::put_u64(bytes, c.log_id);
  put_varint(bytes, c.base);
  put_varint(bytes, c.shards.size());
  std::uint32_t prev = 0;
  for (auto& [shard, offset] : c.shards) {
    put_varint(bytes, shard - prev);
    put_varint(bytes, offset);
    prev = shard;
  }
  return "1" + to_base64url(bytes);
}

result<cursor> decode(std::string_view text) {
  if (text.empty())
    return bad_cursor("it is empty");
  if (text[0] == '2')
    return bad_cursor("it is a cluster member's (version 2), and this node "
                      "is not in a cluster");
  if (text[0] != '1')
    return bad_cursor("unknown version '" + std::string(1, text[0])
                      + "' (this node reads version 1)");
  auto bytes = from_base64url(text.substr(1));
  if (!bytes)
    return bad_cursor("not base64url after its version");
  cursor c;
  auto tag = keys::get_u32(*bytes);
  auto id = keys::get_u64(*bytes, 4);
  if (!tag || !id)
    return bad_cursor("too short");
  c.stage_tag = *tag;
  c.log_id = *id;
  std::size_t pos = 12;
  auto base = get_varint(*bytes, pos);
  auto n = get_varint(*bytes, pos);
  if (!base || !n)
    return bad_cursor("truncated");
  if (*n > max_exceptions)
    return bad_cursor("too many shards");
  c.base = *base;
  std::uint64_t shard = 0;
  for (std::uint64_t i = 0; i < *n; ++i) {
    auto step = get_varint(*bytes, pos);
    auto offset = get_varint(*bytes, pos);
    if (!step || !offset)
      return bad_cursor("truncated");
    shard += *step;
    if ((i > 0 && *step == 0) || shard > 0xffffffffu)
      return bad_cursor("shards out of order");
    c.shards[static_cast<std::uint32_t>(shard)] = *offset;
  }
  if (pos != bytes->size())
    return bad_cursor("trailing bytes");
  return c;
}

std::string encode(const shard_cursor& c) {
  // The distinct offsets, in the order first seen (a handful: one per
  // member and epoch), and each shard's index among them.
  std::vector<std::uint64_t> values;
  std::vector<std::uint32_t> index(c.at.size());
  for (std::size_t s = 0; s < c.at.size(); ++s) {
    auto v = c.at[s];
    std::size_t i = 0;
    while (i < values.size() && values[i] != v)
      ++i;
    if (i == values.size())
      values.push_back(v);
    index[s] = static_cast<std::uint32_t>(i);
  }
  int bits = 0;
  while ((std::size_t{1} << bits) < values.size())
    ++bits;
  std::string bytes;
  keys::put_u32(bytes, c.stage_tag);
  put_varint(bytes, c.at.size());
  put_varint(bytes, values.size());
  for (auto v : values)
    put_varint(bytes, v);
  std::uint32_t acc = 0;
  int held = 0;
  for (auto i : index) {
    acc = (acc << bits) | i;
    held += bits;
    while (held >= 8) {
      held -= 8;
      bytes.push_back(static_cast<char>((acc >> held) & 0xff));
    }
  }
  if (held > 0)
    bytes.push_back(static_cast<char>((acc << (8 - held)) & 0xff));
  return "2" + to_base64url(bytes);
}

result<shard_cursor> decode_shards(std::string_view text) {
  if (!text.empty() && text[0] == '1') {
    auto v1 = decode(text);
    if (!v1)
      return v1.error();
    shard_cursor c;
    c.stage_tag = v1->stage_tag;
    c.at.resize(shard_count);
    for (std::uint32_t s = 0; s < shard_count; ++s)
      c.at[s] = v1->at(s);
    return c;
  }
  if (text.empty())
    return bad_cursor("it is empty");
  if (text[0] != '2')
    return bad_cursor("unknown version '" + std::string(1, text[0])
                      + "' (this member reads versions 1 and 2)");
  auto bytes = from_base64url(text.substr(1));
  if (!bytes)
    return bad_cursor("not base64url after its version");
  shard_cursor c;
  auto tag = keys::get_u32(*bytes);
  if (!tag)
    return bad_cursor("too short");
  c.stage_tag = *tag;
  std::size_t pos = 4;
  auto shards = get_varint(*bytes, pos);
  auto n = get_varint(*bytes, pos);
  if (!shards || !n)
    return bad_cursor("truncated");
  if (*shards != shard_count)
    return bad_cursor("it has " + std::to_string(*shards)
                      + " shards, not this cluster's "
                      + std::to_string(shard_count));
  if (*n == 0 || *n > shard_count)
    return bad_cursor("its offsets are missing");
  std::vector<std::uint64_t> values;
  for (std::uint64_t i = 0; i < *n; ++i) {
    auto v = get_varint(*bytes, pos);
    if (!v)
      return bad_cursor("truncated");
    values.push_back(*v);
  }
  int bits = 0;
  while ((std::size_t{1} << bits) < values.size())
    ++bits;
  auto need = (shard_count * static_cast<std::size_t>(bits) + 7) / 8;
  if (bytes->size() - pos != need)
    return bad_cursor(bytes->size() - pos < need ? "truncated"
                                                 : "trailing bytes");
  c.at.resize(shard_count);
  std::size_t bit = 0;
  for (std::uint32_t s = 0; s < shard_count; ++s) {
    std::uint32_t i = 0;
    for (int b = 0; b < bits; ++b, ++bit) {
      auto byte = static_cast<unsigned char>((*bytes)[pos + bit / 8]);
      i = (i << 1) | ((byte >> (7 - bit % 8)) & 1u);
    }
    if (i >= values.size())
      return bad_cursor("a shard's offset index is out of range");
    c.at[s] = values[i];
  }
  return c;
}

} // namespace sluice::feed
