// Shard hashing and the atomic shard-state table.
#include "sluice/placement.hpp"

#include <xxhash.h>

namespace sluice {

std::uint32_t shard_of(std::string_view key) noexcept {
  return static_cast<std::uint32_t>(XXH3_64bits(key.data(), key.size())
                                    % shard_count);
}

placement::placement() noexcept {
  for (auto& s : states_)
    s.store(static_cast<std::uint8_t>(shard_state::remote),
            std::memory_order_relaxed);
}

std::vector<std::uint32_t> placement::shards_in(shard_state s) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < shard_count; ++i)
    if (state(i) == s)
      out.push_back(i);
  return out;
}

} // namespace sluice
