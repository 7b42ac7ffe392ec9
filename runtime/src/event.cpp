// Event helpers: priority names and the xxh3 content hash.
#include "sluice/event.hpp"

#include <xxhash.h>

namespace sluice {

const char* to_string(priority p) noexcept {
  return p == priority::urgent ? "urgent" : "normal";
}

std::uint64_t content_hash(const std::string& bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

} // namespace sluice
