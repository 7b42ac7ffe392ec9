// A damaged record fetched again from a replica. An owner whose stage reads
// a record of a key that fails its checksum gives the key's shard to
// another live in-sync replica (the controller's resign, at epoch + 1):
// that replica's copy is whole and holds every acknowledged record, the
// key's queued events among them, so it runs them; this member drops what
// it holds of the shard (the damaged record too) as a demoted owner does,
// and takes a snapshot back as a follower. The rebalance later makes it
// the owner again if it is the shard's preferred member. Without another
// live in-sync copy the shard stays here and the damaged key's events are
// dead-lettered, as on a single node.
#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <chrono>

#include "cluster_messages.hpp"
#include "controller/controller_table.hpp"
#include "replication/replication.hpp"

namespace sluice::cluster {

namespace {

/// A shard damaged again this soon after it was fetched again is not
/// given again: the replica's copy may hold the same bytes.
constexpr auto again_after = std::chrono::minutes(10);
/// A refusal holds this long; then the next damaged read asks again.
constexpr auto refusal_holds = std::chrono::seconds(30);

void refuse_repair(cluster_actor* self, std::uint32_t shard,
                   const std::string& why, const std::string& why_not) {
  auto& s = self->state;
  s.log->error("shard {}: {}; it cannot be fetched again from a replica "
               "({}): the key's events are dead-lettered (rebuild this member "
               "from its replicas or restore a backup: docs/OPERATIONS.md)",
               shard, why, why_not);
  s.place->repair_refused(shard);
  s.repair_refused_at[shard] = clock::now();
}

} // namespace

void watch_repairs(cluster_actor* self) {
  auto& s = self->state;
  if (!s.replicated || !s.place)
    return;
  auto me = caf::actor_cast<caf::actor>(self);
  s.place->on_repair([me](std::uint32_t shard, const std::string& why) {
    caf::anon_send(me, repair_atom::value, shard, why);
  });
  // The placement outlives the actor: its handle must not.
  self->attach_functor([place = s.place] { place->on_repair({}); });
}

void on_repair(cluster_actor* self, std::uint32_t shard,
               const std::string& why) {
  auto& s = self->state;
  auto r = s.repl.find(shard);
  if (r == s.repl.end()) {
    // Gone meanwhile (or never owned here): its events are not run here.
    s.place->repair_over(shard);
    return;
  }
  if (!s.agent)
    return refuse_repair(self, shard, why,
                         "the controller agent has not started");
  bool other =
      std::any_of(r->second.isr.begin(), r->second.isr.end(),
                  [&](const std::string& m) { return m != s.opts.name; });
  if (!other)
    return refuse_repair(self, shard, why, "no other replica is in sync");
  auto now = clock::now();
  if (auto at = s.repaired_at.find(shard);
      at != s.repaired_at.end() && now - at->second < again_after)
    return refuse_repair(
        self, shard, why,
        "it was fetched again "
            + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                 now - at->second)
                                 .count())
            + " s ago and is damaged again: the replica's copy may be too");
  s.repaired_at[shard] = now;
  s.log->warn("shard {}: {}; giving the shard to an in-sync replica, which "
              "runs the key's events on its whole copy; this member drops "
              "its records of the shard (the damaged one too) and takes a "
              "snapshot of it",
              shard, why);
  auto me = caf::actor_cast<caf::actor>(self);
  s.agent->resign({shard}, true, [me, shard](result<resign_outcome> done) {
    if (!done)
      caf::anon_send(me, repair_done_atom::value, shard, false,
                     done.error().describe());
    else if (done->moved == 0)
      caf::anon_send(me, repair_done_atom::value, shard, false,
                     std::string("no other in-sync replica is live"));
    else
      caf::anon_send(me, repair_done_atom::value, shard, true, std::string());
  });
}

void on_repair_done(cluster_actor* self, std::uint32_t shard, bool given,
                    const std::string& why_not) {
  auto& s = self->state;
  if (given) {
    s.repairs->add();
    s.log->info("shard {}: given to an in-sync replica to fetch its damaged "
                "record again",
                shard);
    return; // the table's change demotes it here (assignments.cpp)
  }
  s.repaired_at.erase(shard); // not given: a later damage may try again
  refuse_repair(self, shard, "a damaged record", why_not);
}

void tend_repairs(cluster_actor* self) {
  auto& s = self->state;
  auto now = clock::now();
  for (auto it = s.repair_refused_at.begin(); it != s.repair_refused_at.end();)
    if (now - it->second >= refusal_holds) {
      s.place->repair_over(it->first);
      it = s.repair_refused_at.erase(it);
    } else {
      ++it;
    }
}

} // namespace sluice::cluster
