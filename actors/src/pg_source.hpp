// A PostgreSQL source (`sources:`): reads its slot's changes and appends
// them to the store with its position in the same transaction, then
// confirms that position to PostgreSQL; a restart resumes exactly.
#pragma once

#include <caf/fwd.hpp>

#include <string>

#include "node_env.hpp"
#include "sluice/result.hpp"
#include "sluice/topology.hpp"

namespace sluice {

/// The progress key of a source in the `offsets` database.
std::string pg_source_name(const source_spec& spec);

/// Connects once and checks what the source needs of the server: a
/// misconfiguration (wal_level, privileges, slot, tables) is an error; a
/// server that cannot be reached yet is logged and left to the source,
/// which keeps trying.
result<void> check_pg_source(const source_spec& spec, const node_env& env);

/// Spawns a detached source, linked to `parent`.
caf::actor spawn_pg_source(caf::event_based_actor* parent, node_env env,
                           source_spec spec, caf::actor store_actor);

} // namespace sluice
