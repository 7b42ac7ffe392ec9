// The file feed source: reads a feed file in batches and appends its events
// to the store, one batch at a time (credit of one), with its byte offset
// committed in the same transaction, so a restart resumes exactly.
#pragma once

#include <caf/fwd.hpp>

#include <string>

#include "node_env.hpp"

namespace sluice {

/// The progress key of a feed file in the `offsets` database.
std::string feed_source_name(const std::string& path);

/// Spawns a detached feed source for `path`, linked to `parent`.
caf::actor spawn_feed_source(caf::event_based_actor* parent, node_env env,
                             std::string path, caf::actor store_actor);

} // namespace sluice
