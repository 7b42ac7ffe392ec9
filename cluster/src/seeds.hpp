// Private: the cluster actor's side of the seed list until it is in a
// cluster: what each seed answered, the start of a new cluster by the first
// seed, and the periodic line on what it waits for. Called on the cluster
// actor only.
#pragma once

#include <string>

#include "cluster_state.hpp"

namespace sluice::cluster {

/// The seed at `address` (if it is one) answered: up, but in no cluster.
void seed_unformed(cluster_state& s, const std::string& address,
                   const std::string& name, bool may_form, bool has_shards);

/// This member's data directory owns shards (owned or leaving).
bool holds_shards(const cluster_state& s);

/// An attempt to reach the seed at `address` (if it is one) failed.
void seed_silent(cluster_state& s, const std::string& address,
                 const std::string& why);

/// The seed at `address` turned out to be this member itself (another
/// spelling of its address that did not resolve alike at start): dropped;
/// if it was the first seed, this member may start the cluster.
void seed_is_self(cluster_state& s, const std::string& address);

/// Every heartbeat until joined: starts a new cluster when this member is
/// the first seed and no other seed is in one (see should_form), and logs
/// what it waits for every few seconds.
void check_seeds(cluster_actor* self);

} // namespace sluice::cluster
