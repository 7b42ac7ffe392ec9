// A replicated store's answers to its commits: held until the replication
// gate releases them (or failed when a shard they wrote was lost), the
// accepted events of a lost shard given back to be appended again (each
// naming the log record that first queued it), and the outbox fence told
// to the replication watcher and to the store (change feeds read the
// changelog below it). Private to the store actor; its thread only.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>

#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "sluice/node_extension.hpp"
#include "sluice/store/store.hpp"
#include "store_actor/replication_gate.hpp"

namespace sluice {

/// The answers a replicated store holds back. Owned by the store actor's
/// state (only when the store is replicated); `st` must outlive it. Every
/// call that decides tickets returns what to append again.
class replicated_answers {
public:
  /// For the next normal commit: accepted events of shards lost before
  /// they were replicated (the shards are remote now: they go to the new
  /// owner), with the answers that wait for their acknowledgement.
  struct again {
    std::vector<queue_append> appends;
    std::vector<caf::response_promise> promises;
    /// Failed commits whose events these are: `hold` of the commit that
    /// carries them must be told (commits held after older ones wait).
    std::size_t failed_commits = 0;
  };

  replicated_answers(store& st, std::shared_ptr<spdlog::logger> log)
      : st_(st), log_(std::move(log)) {}

  /// The actor that ships the records and sends the watermarks: told the
  /// outbox fence now and whenever it rises.
  void watch(caf::event_based_actor* self, caf::actor watcher);

  /// A commit's answers (`promises`, possibly none), held until the shards
  /// it changed are below their high-watermarks; `appends` are its
  /// appends, kept (less those dropped as published once) to be appended
  /// again if their shard is lost meanwhile. A commit that dropped
  /// publish-once duplicates (a retry) is answered only after every older
  /// one, so a retry is never acknowledged before its original. `carried`:
  /// the `failed_commits` of the `again`s whose events it carries. Tells
  /// the watcher the new heads of the log.
  again hold(caf::event_based_actor* self, const commit_report& rep,
             std::vector<caf::response_promise> promises,
             std::vector<queue_append> appends, std::size_t carried = 0);

  /// A read of `shard` (an on-demand answer) that saw its records up to
  /// `seq`: `rp` is answered once the shard's high-watermark reaches seq,
  /// or with an error (errc::unavailable) if the shard is lost first. It
  /// waits on the gate like a commit without records of its own, so it
  /// never holds a commit's answer back (its seq is an older commit's).
  again hold_read(caf::event_based_actor* self, std::uint32_t shard,
                  std::uint64_t seq, caf::response_promise rp);

  /// Reads held at most: a read beyond it (fewer than min_insync in sync
  /// for long while queries keep coming; their askers gave up after their
  /// timeout) is refused at once, so held reads take bounded memory.
  static constexpr std::size_t max_held_reads = 10'000;

  /// Shards' high-watermarks rose.
  again advance(caf::event_based_actor* self, const shard_positions& hw);

  /// Outbox entries the owners acknowledged.
  again forwarded(caf::event_based_actor* self, const outbox_positions& done);

  /// The shards are no longer owned here.
  again lose(caf::event_based_actor* self, const shard_positions& lost);

private:
  /// Answers the gate's decisions: released commits as done, those of lost
  /// shards with an error (or their events into `out`); tells the watcher
  /// how far the outbox may go.
  void settle(caf::event_based_actor* self, again& out);

  store& st_;
  std::shared_ptr<spdlog::logger> log_;
  replication_gate gate_;
  /// The answers of each held commit, by ticket.
  std::unordered_map<std::uint64_t, std::vector<caf::response_promise>> held_;
  /// The appends of each held commit: those of shards lost before they
  /// were replicated are appended again (they now go to the new owner).
  std::unordered_map<std::uint64_t, std::vector<queue_append>> held_appends_;
  /// Where each held commit with appends wrote its shards' records: an
  /// event appended again names its shard's (`queue_append::written_at`),
  /// so the new owner drops it if that record survived into its copy.
  std::unordered_map<std::uint64_t,
                     std::unordered_map<std::uint32_t, repl_position>>
      written_;
  /// Held reads (hold_read), by ticket: their shard, for the error.
  std::unordered_map<std::uint64_t, std::uint32_t> reads_;
  std::set<std::uint32_t> lost_shards_; ///< the last lose()'s
  caf::actor watcher_;
  std::uint64_t fence_sent_ = 0;
};

} // namespace sluice
