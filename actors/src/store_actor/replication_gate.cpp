// The replication gate's bookkeeping: commits held in order, decided by
// the shards' high-watermarks, the outbox fence as the decided prefix.
#include "store_actor/replication_gate.hpp"

#include <algorithm>

namespace sluice {

std::uint64_t replication_gate::hold(requirements reqs,
                                     std::uint64_t seq_after) {
  held h;
  h.ticket = next_ticket_++;
  h.reqs = std::move(reqs);
  h.seq_after = seq_after;
  decide(h);
  held_.push_back(std::move(h));
  return held_.back().ticket;
}

std::uint64_t replication_gate::watermark(std::uint32_t shard) const {
  auto i = hw_.find(shard);
  return i == hw_.end() ? 0 : i->second;
}

void replication_gate::decide(held& h) {
  if (h.at != held::state::waiting)
    return;
  bool all = true;
  for (auto& [shard, seq] : h.reqs) {
    if (lost_.count(shard)) {
      h.at = held::state::failed;
      pending_.failed.push_back(h.ticket);
      return;
    }
    all = all && watermark(shard) >= seq;
  }
  if (all) {
    h.at = held::state::released;
    pending_.released.push_back(h.ticket);
  }
}

void replication_gate::advance(const requirements& watermarks) {
  for (auto& [shard, seq] : watermarks) {
    auto& w = hw_[shard];
    w = std::max(w, seq);
    lost_.erase(shard);
  }
  for (auto& h : held_)
    decide(h);
}

void replication_gate::lose(const std::vector<std::uint32_t>& shards) {
  for (auto s : shards) {
    lost_[s] = true;
    hw_.erase(s);
  }
  for (auto& h : held_)
    decide(h);
  // Later commits of these shards (before they are owned again) are
  // refused by the store's placement; the mark ends with the next advance.
}

replication_gate::outcome replication_gate::take() {
  while (!held_.empty() && held_.front().at != held::state::waiting) {
    pending_.fence = std::max(pending_.fence, held_.front().seq_after);
    held_.pop_front();
  }
  auto out = std::move(pending_);
  pending_ = outcome{};
  return out;
}

} // namespace sluice
