// The table mirror: a behaviour, available to any pipeline, that keeps the
// last row of each key of a database source (`sources:`) as the key's
// state, so a stage holds a table's current content (and, with
// `changelog:`, serves it as a change feed). Registered as "sluice.table"
// by `add_table_mirror`.
//
// Events are a source's: attribute `operation` = insert, update or
// snapshot sets the key's state to the payload (the row as a JSON
// object); delete clears it. An event without the attribute, or with
// another value, fails for good (a dead letter naming the value). With
// the stage's `emits:` (setting `topic`), each change is passed on, so
// later stages see every row change in order; a delete carries the
// row's last content.
#pragma once

#include <string_view>

#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice {

/// The mirror's registry name.
inline constexpr std::string_view table_mirror_name = "sluice.table";

/// Registers the table mirror under `table_mirror_name`.
result<void> add_table_mirror(registry& reg);

} // namespace sluice
