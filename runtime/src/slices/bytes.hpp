// Private to the slices files: the little-endian integers and
// length-prefixed strings their state bytes are made of, and a reader that
// fails (instead of reading past the end) on a short input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::slices::bytes {

/// Appends `v` as 8 little-endian bytes.
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Appends `v`'s length, then `v`.
inline void put_str(std::string& out, std::string_view v) {
  put_u64(out, v.size());
  out.append(v);
}

/// Reads what put_u64 and put_str wrote; any short read clears `ok` and
/// gives zero or empty values from then on.
struct reader {
  std::string_view in; ///< what is left to read
  bool ok = true;      ///< false once a read ran past the end

  /// The next integer.
  std::uint64_t u64() {
    if (!ok || in.size() < 8) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i]))
           << (8 * i);
    in.remove_prefix(8);
    return v;
  }
  /// The next string.
  std::string str() {
    auto n = u64();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string v(in.substr(0, n));
    in.remove_prefix(n);
    return v;
  }
};

} // namespace sluice::slices::bytes
