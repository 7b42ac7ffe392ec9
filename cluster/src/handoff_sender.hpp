// Private: one outgoing hand-off, run by a blocking actor of its own (it
// reads LMDB snapshots and waits for answers). Steps: mark the shards
// leaving (durably; nothing new is dispatched, new events go to the
// outbox), wait until none of their events is in flight, stream their
// records to the new owner in chunks with a bounded window (backpressure),
// have it commit ownership at the new epoch, then delete them here. It
// tells the cluster actor (handoff_atom) how it ended.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sluice/metrics.hpp"
#include "sluice/node_extension.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace sluice::cluster {

struct handoff_job {
  std::uint64_t transfer = 0;
  std::vector<std::uint32_t> shards;
  std::uint64_t epoch = 0; ///< the new owner's
  std::string from;        ///< this member
  std::string target_name;
  caf::actor target; ///< the new owner's cluster actor
  /// Resuming after a restart: the shards are leaving already.
  bool resuming = false;
  node_context ctx;
  /// The cluster actor: gets the outcome, and relays every request to the
  /// new owner over its link.
  caf::actor parent;
  std::map<std::uint32_t, std::string> stage_names;
  std::shared_ptr<spdlog::logger> log;
  counter* shards_moved = nullptr;
};

caf::actor spawn_handoff_sender(caf::actor_system& sys, handoff_job job);

} // namespace sluice::cluster
