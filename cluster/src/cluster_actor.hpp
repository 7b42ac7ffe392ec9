// Private: spawning the cluster actor (see cluster_actor.cpp).
#pragma once

#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "cluster_view.hpp"
#include "seed_list.hpp"
#include "sluice/cluster.hpp"
#include "sluice/node_extension.hpp"

namespace sluice::cluster {

/// What the cluster actor starts from.
struct cluster_start {
  cluster_options opts;
  seed_plan seeds; ///< opts.seeds checked: its own address and repeats out
  node_context ctx;
  std::shared_ptr<placement> place;
  std::shared_ptr<cluster_view> view;
  std::string address;           ///< HOST:PORT as published
  std::uint64_t incarnation = 0; ///< this start's, from the store
};

caf::actor spawn_cluster_actor(caf::actor_system& sys, cluster_start start);

} // namespace sluice::cluster
