// Big-endian tuple encoding.
#include "sluice/store/keys.hpp"

#include <algorithm>
#include <cstdio>

namespace sluice::keys {

void put_u32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8)
    out.push_back(static_cast<char>((v >> s) & 0xff));
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8)
    out.push_back(static_cast<char>((v >> s) & 0xff));
}

std::optional<std::uint32_t> get_u32(std::string_view in, std::size_t pos) {
  if (in.size() < pos + 4)
    return std::nullopt;
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[pos + i]);
  return v;
}

std::optional<std::uint64_t> get_u64(std::string_view in, std::size_t pos) {
  if (in.size() < pos + 8)
    return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[pos + i]);
  return v;
}

std::string queue_key(queue_pos pos) {
  std::string out;
  out.reserve(9);
  out.push_back(static_cast<char>(pos.priority));
  put_u64(out, pos.seq);
  return out;
}

std::optional<queue_pos> parse_queue_key(std::string_view k) {
  if (k.size() != 9)
    return std::nullopt;
  auto p = static_cast<unsigned char>(k[0]);
  if (p > 1)
    return std::nullopt;
  return queue_pos{static_cast<priority>(p), *get_u64(k, 1)};
}

std::string state_key(std::uint32_t stage_id, std::string_view key) {
  std::string out;
  out.reserve(4 + key.size());
  put_u32(out, stage_id);
  out.append(key);
  return out;
}

std::optional<std::pair<std::uint32_t, std::string_view>>
parse_state_key(std::string_view k) {
  auto id = get_u32(k);
  if (!id)
    return std::nullopt;
  return std::make_pair(*id, k.substr(4));
}

std::string dead_letter_key(std::uint32_t stage_id, std::uint64_t seq) {
  std::string out;
  put_u32(out, stage_id);
  put_u64(out, seq);
  return out;
}

std::string timer_key(std::uint32_t stage_id, std::string_view key,
                      std::string_view name) {
  std::string out;
  out.reserve(8 + key.size() + name.size());
  put_u32(out, stage_id);
  put_u32(out, static_cast<std::uint32_t>(key.size()));
  out.append(key);
  out.append(name);
  return out;
}

std::optional<std::pair<std::string_view, std::string_view>>
parse_timer_key(std::string_view k) {
  auto len = get_u32(k, 4);
  if (!len || k.size() < 8 + std::size_t{*len})
    return std::nullopt;
  return std::make_pair(k.substr(8, *len), k.substr(8 + *len));
}

std::string timer_due_key(std::uint32_t stage_id, std::int64_t due_ns,
                          std::string_view timer_key) {
  std::string out;
  out.reserve(12 + timer_key.size());
  put_u32(out, stage_id);
  // Due times are after the epoch, so the unsigned order is the time order.
  put_u64(out, static_cast<std::uint64_t>(std::max<std::int64_t>(due_ns, 0)));
  out.append(timer_key);
  return out;
}

std::string printable(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[6];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

} // namespace sluice::keys
