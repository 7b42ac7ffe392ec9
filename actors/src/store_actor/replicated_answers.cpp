// A replicated store's answers: held per gate ticket, released, failed, or
// their lost shards' events given back to be appended again. The store
// actor's thread only.
#include "store_actor/replicated_answers.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>

#include "sluice/caf_error.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/placement.hpp"

namespace sluice {

void replicated_answers::watch(caf::event_based_actor* self,
                               caf::actor watcher) {
  watcher_ = std::move(watcher);
  self->send(watcher_, ext::outbox_fence_atom::value, fence_sent_);
}

replicated_answers::again
replicated_answers::hold(caf::event_based_actor* self, const commit_report& rep,
                         std::vector<caf::response_promise> promises,
                         std::vector<queue_append> appends,
                         std::size_t carried) {
  // A retry dropped as published once by an earlier opening of the store
  // waits, too, for the shard's log that holds the original.
  auto needs = rep.replicated;
  for (auto& [shard, seq] : rep.awaits)
    needs[shard] = std::max(needs[shard], seq);
  replication_gate::requirements reqs(needs.begin(), needs.end());
  if (!reqs.empty() && watcher_) {
    shard_positions heads{reqs};
    self->send<caf::message_priority::high>(
        watcher_, ext::replicated_atom::value, std::move(heads));
  }
  replication_gate::positions outbox;
  for (auto& p : rep.member_outbox)
    outbox.emplace_back(static_cast<std::uint8_t>(p.priority), p.seq);
  // Dropped appends are the original commit's: never appended again here.
  for (auto i = rep.skipped_appends.rbegin(); i != rep.skipped_appends.rend();
       ++i)
    if (*i < appends.size())
      appends.erase(appends.begin() + static_cast<std::ptrdiff_t>(*i));
  bool retry = !rep.skipped_appends.empty();
  auto t =
      gate_.hold(std::move(reqs), st_.next_seq(), std::move(outbox), retry);
  for (std::size_t i = 0; i < carried; ++i)
    gate_.reappended(t);
  if (!promises.empty())
    held_[t] = std::move(promises);
  if (!appends.empty()) {
    held_appends_[t] = std::move(appends);
    auto& written = written_[t];
    for (auto& [shard, seq] : rep.replicated)
      if (auto e = rep.replicated_epochs.find(shard);
          e != rep.replicated_epochs.end())
        written[shard] = {e->second, seq};
  }
  again out;
  settle(self, out);
  return out;
}

replicated_answers::again
replicated_answers::hold_read(caf::event_based_actor* self, std::uint32_t shard,
                              std::uint64_t seq, caf::response_promise rp) {
  if (reads_.size() >= max_held_reads) {
    rp.deliver(to_caf_error(fail(
        errc::unavailable,
        "shard " + std::to_string(shard) + ": " + std::to_string(reads_.size())
            + " reads already wait for replication: not answered, ask "
              "again")));
    return {};
  }
  // seq_after 0: a read moves no outbox fence (the commit that wrote seq
  // is held before it, with the same requirement, or was released).
  auto t = gate_.hold({{shard, seq}}, 0);
  held_[t].push_back(std::move(rp));
  reads_[t] = shard;
  again out;
  settle(self, out);
  return out;
}

replicated_answers::again
replicated_answers::advance(caf::event_based_actor* self,
                            const shard_positions& hw) {
  gate_.advance(hw.items);
  again out;
  settle(self, out);
  return out;
}

replicated_answers::again
replicated_answers::forwarded(caf::event_based_actor* self,
                              const outbox_positions& done) {
  gate_.forwarded(done.items);
  again out;
  settle(self, out);
  return out;
}

replicated_answers::again
replicated_answers::lose(caf::event_based_actor* self,
                         const shard_positions& lost) {
  std::vector<std::uint32_t> shards;
  for (auto& [shard, seq] : lost.items)
    shards.push_back(shard);
  lost_shards_ = {shards.begin(), shards.end()};
  gate_.lose(shards);
  again out;
  settle(self, out);
  return out;
}

void replicated_answers::settle(caf::event_based_actor* self, again& out) {
  auto o = gate_.take();
  bool more = false; // tickets made here: decided by the next take()
  for (auto t : o.released) {
    auto i = held_.find(t);
    if (i == held_.end())
      continue;
    for (auto& rp : i->second)
      rp.deliver(caf::unit);
    held_.erase(i);
  }
  for (auto t : o.released) {
    held_appends_.erase(t);
    written_.erase(t);
    reads_.erase(t);
  }
  for (auto t : o.failed) {
    // Accepted events of a shard lost before they were replicated: append
    // them again (the shard is remote now: they go to its new owner) and
    // answer once that is acknowledged. Publish-once ids are not checked
    // again (they are recorded here already). Other work of the commit
    // (completions) is redone by the new owner from its queues.
    if (auto r = reads_.find(t); r != reads_.end()) {
      auto e = to_caf_error(
          fail(errc::unavailable,
               "shard " + std::to_string(r->second)
                   + " went to another member before the data read was "
                     "replicated: not answered, ask again"));
      if (auto i = held_.find(t); i != held_.end()) {
        for (auto& rp : i->second)
          rp.deliver(e);
        held_.erase(i);
      }
      reads_.erase(r);
      gate_.failure_handled();
      more = true;
      continue;
    }
    std::vector<queue_append> again_here, rest;
    std::unordered_map<std::uint32_t, repl_position> written;
    if (auto w = written_.find(t); w != written_.end()) {
      written = std::move(w->second);
      written_.erase(w);
    }
    if (auto a = held_appends_.find(t); a != held_appends_.end()) {
      for (auto& ap : a->second) {
        std::uint32_t shard = 0;
        if (!ap.key.empty()) {
          shard = shard_of(ap.key);
        } else if (auto ev = decode_event(ap.event_bytes, "held append")) {
          shard = shard_of(ev->key);
        } else {
          continue;
        }
        if (!lost_shards_.count(shard)) {
          rest.push_back(std::move(ap));
          continue;
        }
        ap.appended_again = true; // its publish-once id: this member's now
        // The record that queued it here: the new owner drops the event
        // when that record survived into its copy (its epoch history).
        if (auto w = written.find(shard); w != written.end())
          ap.written_at = w->second;
        again_here.push_back(std::move(ap));
      }
      held_appends_.erase(a);
    }
    // The commit's events of shards still owned here wait on under a
    // ticket of their own, to be appended again if those are lost too.
    std::uint64_t t2 = 0;
    if (auto r = o.failed_rest.find(t);
        r != o.failed_rest.end() && !r->second.empty() && !rest.empty()) {
      t2 = gate_.hold(std::move(r->second), st_.next_seq());
      held_appends_[t2] = std::move(rest);
      written_[t2] = std::move(written);
    }
    // Retries held after this commit wait for its events' new tickets.
    if (!again_here.empty()) {
      gate_.reappending();
      ++out.failed_commits;
    }
    gate_.failure_handled(t2);
    more = true;
    auto i = held_.find(t);
    if (!again_here.empty()) {
      log_->warn("{} accepted events of shards lost before they were "
                 "replicated: appended again for their new owner",
                 again_here.size());
      for (auto& ap : again_here)
        out.appends.push_back(std::move(ap));
      if (i != held_.end()) {
        for (auto& rp : i->second)
          out.promises.push_back(std::move(rp));
        held_.erase(i);
      }
      continue;
    }
    if (i == held_.end())
      continue;
    auto e = to_caf_error(fail(errc::unavailable,
                               "a shard it wrote is no longer owned here: "
                               "not acknowledged, send it again"));
    for (auto& rp : i->second)
      rp.deliver(e);
    held_.erase(i);
  }
  if (more)
    settle(self, out); // a ticket made above may be decided already
  // Changelog entries below the fence are held by min_insync members:
  // subscriptions may read them.
  if (o.fence > 0)
    st_.changelog_visible(o.fence);
  if (o.fence > fence_sent_ && watcher_) {
    fence_sent_ = o.fence;
    self->send(watcher_, ext::outbox_fence_atom::value, o.fence);
  }
}

} // namespace sluice
