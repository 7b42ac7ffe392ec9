// Rendezvous hashing of shards onto nodes, with XXH3 as the weight.
#include "shard_map.hpp"

#include <algorithm>
#include <array>
#include <cassert>

#include <xxhash.h>

namespace sluice::cluster {

namespace {

/// The weight of `shard` on the node whose name hashes to `node_seed`: XXH3
/// of the shard's four little-endian bytes, seeded by the node, so the result
/// does not depend on the host's byte order.
std::uint64_t score(std::uint64_t node_seed, std::uint32_t shard) noexcept {
  const std::array<unsigned char, 4> bytes{
      static_cast<unsigned char>(shard), static_cast<unsigned char>(shard >> 8),
      static_cast<unsigned char>(shard >> 16),
      static_cast<unsigned char>(shard >> 24)};
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), node_seed);
}

const std::string no_owner;

} // namespace

shard_map shard_map::compute(std::vector<std::string> owners) {
  shard_map result;
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  result.nodes_ = std::move(owners);
  if (result.nodes_.empty())
    return result;
  std::vector<std::uint64_t> seeds;
  seeds.reserve(result.nodes_.size());
  for (const auto& name : result.nodes_)
    seeds.push_back(XXH3_64bits(name.data(), name.size()));
  result.owners_.resize(shard_count);
  for (std::uint32_t shard = 0; shard < shard_count; ++shard) {
    // Names are ascending and only a strictly higher score replaces the
    // best, so a tie goes to the smaller name.
    std::uint32_t best = 0;
    std::uint64_t best_score = score(seeds[0], shard);
    for (std::uint32_t i = 1; i < seeds.size(); ++i) {
      auto s = score(seeds[i], shard);
      if (s > best_score) {
        best = i;
        best_score = s;
      }
    }
    result.owners_[shard] = best;
  }
  return result;
}

shard_map shard_map::from_owners(const std::vector<std::string>& per_shard) {
  shard_map result;
  result.nodes_ = per_shard;
  std::sort(result.nodes_.begin(), result.nodes_.end());
  result.nodes_.erase(std::unique(result.nodes_.begin(), result.nodes_.end()),
                      result.nodes_.end());
  result.owners_.resize(shard_count);
  for (std::uint32_t shard = 0; shard < shard_count; ++shard) {
    auto it = std::lower_bound(result.nodes_.begin(), result.nodes_.end(),
                               per_shard[shard]);
    result.owners_[shard] =
        static_cast<std::uint32_t>(it - result.nodes_.begin());
  }
  return result;
}

const std::string& shard_map::owner(std::uint32_t shard) const {
  assert(shard < shard_count);
  if (owners_.empty())
    return no_owner;
  return nodes_[owners_[shard]];
}

std::vector<std::string> shard_map::ranking(std::uint32_t shard,
                                            std::size_t count) const {
  assert(shard < shard_count);
  // (score, index) for every node; the same order as compute(): a higher
  // score first, on a tie the smaller name (the smaller index).
  std::vector<std::pair<std::uint64_t, std::uint32_t>> scored;
  scored.reserve(nodes_.size());
  for (std::uint32_t i = 0; i < nodes_.size(); ++i)
    scored.emplace_back(
        score(XXH3_64bits(nodes_[i].data(), nodes_[i].size()), shard), i);
  count = std::min(count, scored.size());
  std::partial_sort(
      scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(count),
      scored.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
  std::vector<std::string> result;
  result.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    result.push_back(nodes_[scored[i].second]);
  return result;
}

std::vector<std::uint32_t> shard_map::shards_of(std::string_view node) const {
  std::vector<std::uint32_t> result;
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), node);
  if (it == nodes_.end() || *it != node)
    return result;
  auto index = static_cast<std::uint32_t>(it - nodes_.begin());
  for (std::uint32_t shard = 0; shard < owners_.size(); ++shard)
    if (owners_[shard] == index)
      result.push_back(shard);
  return result;
}

std::vector<std::uint32_t> moved(const shard_map& from, const shard_map& to) {
  std::vector<std::uint32_t> result;
  for (std::uint32_t shard = 0; shard < shard_count; ++shard)
    if (from.owner(shard) != to.owner(shard))
      result.push_back(shard);
  return result;
}

} // namespace sluice::cluster
