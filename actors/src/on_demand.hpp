// Private: indexing the on-demand source's catalog file (see
// on_demand.cpp; node::query is there too).
#pragma once

#include <string>

#include "sluice/result.hpp"
#include "sluice/store/store.hpp"
#include "sluice/topology.hpp"

namespace sluice {

/// Indexes the catalog file `path` (read like a feed as `feed` says) into
/// the store's `catalog` database, unless it is indexed already (same
/// path, size and modification time). Run before the store actor starts.
result<void> index_catalog_file(store& st, const std::string& path,
                                const feed_spec& feed);

} // namespace sluice
