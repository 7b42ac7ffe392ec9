// The slice controller: a behaviour, available to any pipeline, that keeps
// one tenant's slices (sluice/slice_graph.hpp) in its key's state and
// emits one `slice_changed` event per changed slice, so a stage keyed by
// slice id runs one job per changed slice, in parallel, and only for
// those. Registered as "sluice.slices" by `add_slice_controller`.
//
// Its stage is keyed by tenant. Each event's payload is a JSON batch of
// records (the data that defines the slices):
//
//   {"upsert": [{"name": "a", "edges": ["b", "c"], "data": {...}}, ...],
//    "remove": ["x", ...]}
//
// `data` is any JSON value, the record's input to its slice's job; a
// record whose data or edges change marks its slice as changed. Malformed
// batches fail for good (a dead letter naming the field).
//
// It emits to its `topic` setting (default `slice_changed`):
//  - per changed slice, key "TENANT/ID", attribute change=upserted, merged,
//    split or removed: {"tenant", "slice", "change", "from": [ids],
//    "members": [{"name", "data"}], "references": [{"name", "data"}]};
//  - per reference record (a hub) that changed, appeared or went, key
//    "TENANT/ref/NAME", attribute change=reference or reference_removed:
//    {"tenant", "reference", "change", "data"}. A hub's
//    change is one event, not a rerun of every slice that reads it.
//
// Settings (`settings:` of the stage):
//  - min_in_degree: records depended on by at least this many others are
//    reference data (0, the default: none by count);
//  - reference: records that are reference data whatever their in-degree;
//  - topic: where the changes go (default slice_changed);
//  - reconcile_every: how often a from-scratch recompute checks the
//    incremental slices (default 10m; an in-memory timer, set again by
//    every batch for the same due time); a difference is counted
//    (sluice_behaviour_slices_reconcile_differences_total) and logged;
//  - max_event_bytes: the largest slice_changed payload (default 900000):
//    a larger slice is sent without its references' data, and one still
//    larger fails the batch, naming the slice, its size and this setting.
#pragma once

#include <string_view>

#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice::slices {

/// The controller's registry name.
inline constexpr std::string_view controller_name = "sluice.slices";

/// Registers the slice controller under `controller_name`.
result<void> add_slice_controller(registry& reg);

} // namespace sluice::slices
