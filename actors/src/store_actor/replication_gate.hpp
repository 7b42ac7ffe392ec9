// The store actor's hold on acknowledgements of replicated shards: a
// commit that wrote replication records is answered (and its outbox
// entries may leave) only once every shard it changed has its
// high-watermark at or above the record's seq. Pure bookkeeping, no CAF;
// the store actor's thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

namespace sluice {

class replication_gate {
public:
  /// A commit's requirements: (shard, seq of its replication record).
  using requirements = std::vector<std::pair<std::uint32_t, std::uint64_t>>;

  /// Outbox positions (priority, seq).
  using positions = std::vector<std::pair<std::uint8_t, std::uint64_t>>;

  /// Holds a commit. `seq_after` is the store's seq counter after it (its
  /// outbox entries are below it). `outbox`: entries it put in the outbox
  /// that belong to no shard here (fed or published through this member
  /// for a key owned elsewhere): it is answered only once the owner took
  /// them (`forwarded`), which in turn waits for the owner's replicas.
  /// Returns its ticket; one with nothing to wait for is released at once.
  /// `after_older`: it dropped events published once before (a client's
  /// retry), so it is answered only after every older commit was, and
  /// after the events of those that failed were appended again and
  /// answered: the retry must not be acknowledged before the original.
  std::uint64_t hold(requirements reqs, std::uint64_t seq_after,
                     positions outbox = {}, bool after_older = false);

  /// A failed commit (reported by `take`) was dealt with: `replacement` is
  /// the ticket its other events are held again under (0: none). Until
  /// every failed commit was dealt with, commits held `after_older` wait.
  void failure_handled(std::uint64_t replacement = 0);
  /// A failed commit's events are to be appended again (in a commit not
  /// made yet): commits held `after_older` wait for `reappended`.
  void reappending();
  /// Those events were committed under `ticket` (0: their commit failed):
  /// commits held `after_older` wait for it too.
  void reappended(std::uint64_t ticket);
  /// Commits held `after_older` also wait for `ticket` (a failed commit's
  /// other events, held again under it).
  void extend_barriers(std::uint64_t ticket);

  /// Outbox entries the owners acknowledged (deleted here).
  void forwarded(const positions& done);

  /// Raises shards' high-watermarks (a lower value than known is ignored).
  void advance(const requirements& watermarks);

  /// The shards are no longer owned here: commits waiting on them fail.
  void lose(const std::vector<std::uint32_t>& shards);

  /// What the last changes decided.
  struct outcome {
    std::vector<std::uint64_t> released; ///< tickets: answer success
    std::vector<std::uint64_t> failed;   ///< tickets: answer an error
    /// The requirements of each failed ticket on shards not lost (its
    /// other shards' records, still to be replicated).
    std::map<std::uint64_t, requirements> failed_rest;
    /// Outbox entries below this seq may be forwarded (0: none released
    /// yet since the last call reported one).
    std::uint64_t fence = 0;
  };
  /// Takes the tickets decided since the last call, and the outbox fence:
  /// the seq_after of the newest commit such that it and every older one
  /// have their records replicated (a failed one: those of its shards
  /// not lost).
  outcome take();

  /// Commits still held.
  std::size_t waiting() const noexcept { return held_.size(); }

  /// The high-watermark known for `shard` (0: none yet).
  std::uint64_t watermark(std::uint32_t shard) const;

private:
  struct held {
    std::uint64_t ticket = 0;
    requirements reqs;
    std::uint64_t seq_after = 0;
    /// Its shards' records: below the watermarks, or a shard was lost.
    enum class state { waiting, replicated, failed } at = state::waiting;
    std::size_t outbox_left = 0; ///< its outbox entries not yet forwarded
    bool answered = false;
    /// Held after older commits: answered only once every held commit
    /// up to this ticket was (its own ticket excluded), 0: not so held.
    std::uint64_t barrier = 0;
    /// Failed: its records of shards still owned here, not yet below
    /// their watermarks. Until they are, the fence stays before it: the
    /// outbox entries those shards' keys emitted in it must not leave
    /// (should those shards be lost too, their keys run again and emit
    /// again).
    requirements rest;
  };
  /// True once a failed commit's records of shards still owned here are
  /// replicated (they no longer hold the fence); drops those that are.
  bool rest_replicated(held& h);
  void decide(held& h);
  void decide_all();
  /// True while a commit held `after_older` must wait for others.
  bool barred(const held& h) const;

  std::deque<held> held_; ///< in commit order
  /// Outbox entries waited for, to the ticket of the commit that wrote them.
  std::map<std::pair<std::uint8_t, std::uint64_t>, std::uint64_t> outbox_;
  std::uint64_t first_ticket_ = 1; ///< the ticket of held_.front()
  std::map<std::uint32_t, std::uint64_t> hw_;
  std::map<std::uint32_t, bool> lost_;
  std::uint64_t next_ticket_ = 1;
  std::size_t unhandled_ = 0;   ///< failed commits not yet dealt with
  std::size_t reappending_ = 0; ///< re-appends not yet committed
  std::size_t barriers_ = 0;    ///< held commits with a barrier
  outcome pending_;
};

} // namespace sluice
