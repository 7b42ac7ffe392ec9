// Shard hashing, the atomic shard-state table and the repair requests.
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
  for (auto& r : repairs_)
    r.store(static_cast<std::uint8_t>(repair::none), std::memory_order_relaxed);
}

void placement::on_repair(repair_handler fn) {
  std::lock_guard<std::mutex> guard{repair_mtx_};
  repair_fn_ = std::move(fn);
  // Refused for want of a handler: a new one is asked afresh.
  if (repair_fn_)
    for (auto& r : repairs_)
      r.store(static_cast<std::uint8_t>(repair::none),
              std::memory_order_relaxed);
}

bool placement::ask_repair(std::string_view key, const std::string& why) const {
  auto shard = shard_of(key);
  auto& r = repairs_[shard];
  auto none = static_cast<std::uint8_t>(repair::none);
  // Only the first asker of a shard calls the handler; the rest wait too.
  if (!r.compare_exchange_strong(none, static_cast<std::uint8_t>(repair::asked),
                                 std::memory_order_acq_rel))
    return none == static_cast<std::uint8_t>(repair::asked);
  std::lock_guard<std::mutex> guard{repair_mtx_};
  if (!repair_fn_) {
    r.store(static_cast<std::uint8_t>(repair::refused),
            std::memory_order_release);
    return false;
  }
  repair_fn_(shard, why);
  return true;
}

void placement::repair_refused(std::uint32_t shard) noexcept {
  repairs_[shard].store(static_cast<std::uint8_t>(repair::refused),
                        std::memory_order_release);
}

void placement::repair_over(std::uint32_t shard) noexcept {
  repairs_[shard].store(static_cast<std::uint8_t>(repair::none),
                        std::memory_order_release);
}

std::vector<std::uint32_t> placement::shards_in(shard_state s) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < shard_count; ++i)
    if (state(i) == s)
      out.push_back(i);
  return out;
}

} // namespace sluice
