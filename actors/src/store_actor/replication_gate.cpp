// The replication gate's bookkeeping: commits held in order, decided by
// the shards' high-watermarks and (for entries passing through to other
// owners) the owners' acknowledgements; the outbox fence is the prefix
// whose records are replicated.
#include "store_actor/replication_gate.hpp"

#include <algorithm>

namespace sluice {

std::uint64_t replication_gate::hold(requirements reqs, std::uint64_t seq_after,
                                     positions outbox) {
  held h;
  h.ticket = next_ticket_++;
  h.reqs = std::move(reqs);
  h.seq_after = seq_after;
  h.outbox_left = outbox.size();
  for (auto& p : outbox)
    outbox_[p] = h.ticket;
  if (held_.empty())
    first_ticket_ = h.ticket;
  held_.push_back(std::move(h));
  decide(held_.back());
  return held_.back().ticket;
}

std::uint64_t replication_gate::watermark(std::uint32_t shard) const {
  auto i = hw_.find(shard);
  return i == hw_.end() ? 0 : i->second;
}

void replication_gate::decide(held& h) {
  if (h.answered)
    return;
  if (h.at == held::state::waiting) {
    bool all = true;
    for (auto& [shard, seq] : h.reqs) {
      if (lost_.count(shard)) {
        h.at = held::state::failed;
        h.answered = true;
        pending_.failed.push_back(h.ticket);
        auto& rest = pending_.failed_rest[h.ticket];
        for (auto& r : h.reqs)
          if (!lost_.count(r.first) && watermark(r.first) < r.second)
            rest.push_back(r);
        return;
      }
      all = all && watermark(shard) >= seq;
    }
    if (all)
      h.at = held::state::replicated;
  }
  if (h.at == held::state::replicated && h.outbox_left == 0) {
    h.answered = true;
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

void replication_gate::forwarded(const positions& done) {
  for (auto& p : done) {
    auto it = outbox_.find(p);
    if (it == outbox_.end())
      continue;
    auto ticket = it->second;
    outbox_.erase(it);
    if (ticket < first_ticket_ || ticket - first_ticket_ >= held_.size())
      continue;
    auto& h = held_[ticket - first_ticket_];
    if (h.outbox_left > 0)
      --h.outbox_left;
    decide(h);
  }
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
  // The fence: the newest commit such that it and every older one have
  // their records replicated (or failed).
  for (auto& h : held_) {
    if (h.at == held::state::waiting)
      break;
    pending_.fence = std::max(pending_.fence, h.seq_after);
  }
  while (!held_.empty() && held_.front().at != held::state::waiting
         && held_.front().answered) {
    held_.pop_front();
    ++first_ticket_;
  }
  auto out = std::move(pending_);
  pending_ = outcome{};
  return out;
}

} // namespace sluice
