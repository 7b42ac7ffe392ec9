// The replication gate's bookkeeping: commits held in order, decided by
// the shards' high-watermarks and (for entries passing through to other
// owners) the owners' acknowledgements; the outbox fence is the prefix
// whose records are replicated.
#include "store_actor/replication_gate.hpp"

#include <algorithm>

namespace sluice {

std::uint64_t replication_gate::hold(requirements reqs, std::uint64_t seq_after,
                                     positions outbox, bool after_older) {
  held h;
  h.ticket = next_ticket_++;
  if (after_older) {
    h.barrier = h.ticket; // every commit held before it
    ++barriers_;
  }
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

bool replication_gate::barred(const held& h) const {
  if (h.barrier == 0)
    return false;
  if (unhandled_ > 0 || reappending_ > 0)
    return true;
  for (auto& e : held_) {
    if (e.ticket > h.barrier)
      break;
    if (e.ticket == h.ticket || e.answered)
      continue;
    // Another retry: only its own records count (not what it waits for,
    // or two retries would wait for each other).
    bool own_done = e.at != held::state::waiting && e.outbox_left == 0;
    if (e.barrier == 0 || !own_done)
      return true;
  }
  return false;
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
        if (h.barrier != 0)
          --barriers_;
        ++unhandled_;
        pending_.failed.push_back(h.ticket);
        auto& rest = pending_.failed_rest[h.ticket];
        for (auto& r : h.reqs)
          if (!lost_.count(r.first) && watermark(r.first) < r.second)
            rest.push_back(r);
        h.rest = rest;
        return;
      }
      all = all && watermark(shard) >= seq;
    }
    if (all)
      h.at = held::state::replicated;
  }
  if (h.at == held::state::replicated && h.outbox_left == 0 && !barred(h)) {
    h.answered = true;
    if (h.barrier != 0)
      --barriers_;
    pending_.released.push_back(h.ticket);
  }
}

void replication_gate::decide_all() {
  // A commit held after others may sit before the one it waits for (a
  // failed commit's replacement is newer): once more while that frees one.
  std::size_t decided = 0;
  do {
    decided = pending_.released.size() + pending_.failed.size();
    for (auto& h : held_)
      decide(h);
  } while (barriers_ > 0
           && pending_.released.size() + pending_.failed.size() != decided);
}

void replication_gate::failure_handled(std::uint64_t replacement) {
  if (unhandled_ > 0)
    --unhandled_;
  if (replacement != 0)
    extend_barriers(replacement);
  else
    decide_all();
}

void replication_gate::reappending() {
  ++reappending_;
}

void replication_gate::reappended(std::uint64_t ticket) {
  if (reappending_ > 0)
    --reappending_;
  if (ticket != 0)
    extend_barriers(ticket);
  else
    decide_all();
}

void replication_gate::extend_barriers(std::uint64_t ticket) {
  for (auto& h : held_)
    if (h.barrier != 0 && !h.answered && h.ticket != ticket)
      h.barrier = std::max(h.barrier, ticket);
  decide_all();
}

void replication_gate::advance(const requirements& watermarks) {
  for (auto& [shard, seq] : watermarks) {
    auto& w = hw_[shard];
    w = std::max(w, seq);
    lost_.erase(shard);
  }
  decide_all();
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
  if (barriers_ > 0)
    decide_all(); // a commit held after older ones may be free now
}

void replication_gate::lose(const std::vector<std::uint32_t>& shards) {
  for (auto s : shards) {
    lost_[s] = true;
    hw_.erase(s);
  }
  // A failed commit's records of these shards are gone with them (their
  // outbox entries too): they no longer hold the fence.
  for (auto& h : held_)
    std::erase_if(h.rest, [&](const auto& r) { return lost_.count(r.first); });
  decide_all();
  // Later commits of these shards (before they are owned again) are
  // refused by the store's placement; the mark ends with the next advance.
}

bool replication_gate::rest_replicated(held& h) {
  std::erase_if(h.rest,
                [&](const auto& r) { return watermark(r.first) >= r.second; });
  return h.rest.empty();
}

replication_gate::outcome replication_gate::take() {
  // The fence: the newest commit such that it and every older one have
  // their records replicated (or failed).
  for (auto& h : held_) {
    if (h.at == held::state::waiting || !rest_replicated(h))
      break;
    pending_.fence = std::max(pending_.fence, h.seq_after);
  }
  while (!held_.empty() && held_.front().at != held::state::waiting
         && held_.front().answered && held_.front().rest.empty()) {
    held_.pop_front();
    ++first_ticket_;
  }
  auto out = std::move(pending_);
  pending_ = outcome{};
  return out;
}

} // namespace sluice
