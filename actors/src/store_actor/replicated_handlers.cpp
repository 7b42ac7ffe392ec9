// A replicated store's side of the store actor: commit answers held until
// replicated (store_actor/replicated_answers.hpp), what they give back
// appended again, shipped batches applied to the follower copies, and the
// cluster's messages about watermarks, forwarding and lost shards. The
// store actor's thread only.
#include <caf/event_based_actor.hpp>

#include "messages.hpp"
#include "sluice/caf_error.hpp"
#include "store_actor/state.hpp"

namespace sluice::store_writer {

namespace {

/// Puts what the replicated answers gave back into the next normal commit.
void append_again(store_state& s, replicated_answers::again a) {
  if (a.appends.empty() && a.promises.empty())
    return;
  auto& l = normal_lane(s);
  for (auto& ap : a.appends)
    l.batch.appends.push_back(std::move(ap));
  for (auto& rp : a.promises)
    l.promises.push_back(std::move(rp));
  l.failed_commits += a.failed_commits;
}

} // namespace

void answer_after_replication(store_actor_t* self, const commit_report& rep,
                              std::vector<caf::response_promise> promises,
                              std::vector<queue_append> appends,
                              std::size_t failed_commits) {
  auto& s = self->state;
  if (!s.replicated) {
    for (auto& rp : promises)
      rp.deliver(caf::unit);
    return;
  }
  append_again(s, s.replicated->hold(self, rep, std::move(promises),
                                     std::move(appends), failed_commits));
}

caf::message_handler replicated_handlers(store_actor_t* self) {
  return {
      [self](msg::replicated_read_atom, std::uint32_t shard,
             std::uint64_t seq) -> caf::result<void> {
        auto& s = self->state;
        if (!s.replicated)
          return caf::unit;
        auto rp = self->make_response_promise();
        append_again(s, s.replicated->hold_read(self, shard, seq, rp));
        maybe_commit(self);
        return rp;
      },
      [self](ext::replica_apply_atom,
             std::vector<replog_entry>& recs) -> caf::result<replica_report> {
        auto& s = self->state;
        if (!s.env.st->replicated()) {
          maybe_commit(self);
          return to_caf_error(
              fail(errc::invalid_argument,
                   "this store keeps no replica copies (no replication)"));
        }
        auto& l = normal_lane(s);
        auto rp = self->make_response_promise();
        l.batch.copies.push_back(std::move(recs));
        l.copy_promises.push_back(rp);
        maybe_commit(self);
        return rp;
      },
      [self](ext::replication_watch_atom, caf::actor& watcher) {
        auto& s = self->state;
        if (s.replicated) // without, nothing is held, nothing to tell it
          s.replicated->watch(self, std::move(watcher));
        maybe_commit(self);
      },
      [self](ext::watermark_atom, shard_positions& hw) {
        auto& s = self->state;
        if (s.replicated)
          append_again(s, s.replicated->advance(self, hw));
        maybe_commit(self);
      },
      [self](ext::outbox_forwarded_atom, outbox_positions& done) {
        auto& s = self->state;
        if (s.replicated)
          append_again(s, s.replicated->forwarded(self, done));
        maybe_commit(self);
      },
      [self](ext::shards_lost_atom, shard_positions& lost) {
        auto& s = self->state;
        if (s.replicated)
          append_again(s, s.replicated->lose(self, lost));
        maybe_commit(self);
      },
  };
}

} // namespace sluice::store_writer
