// A topology bound to one data directory: every stage has its store id, and
// events published on a topic become queue appends. Immutable once built;
// shared read-only by all actors of a node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/registry.hpp"
#include "sluice/result.hpp"
#include "sluice/store/store.hpp"
#include "sluice/topology.hpp"

namespace sluice {

/// A topology bound to a store: each stage's store id, and the routing of
/// published events into queue appends. Immutable once bound.
class pipeline_plan {
public:
  /// Checks that every behaviour exists in `reg` and records every stage in
  /// `st`. Errors name the stage and its YAML file and line.
  static result<pipeline_plan> bind(topology topo, const registry& reg,
                                    store& st);

  /// The topology it was bound from.
  const topology& topo() const noexcept { return topo_; }
  /// The store id of stage `index` (into `topo().stages`); throws
  /// std::out_of_range past the end.
  std::uint32_t stage_id(std::size_t index) const { return ids_.at(index); }
  /// The number of stages.
  std::size_t stage_count() const noexcept { return ids_.size(); }

  /// Success when `size` is within the topology's limit; otherwise
  /// errc::invalid_argument "payload of N bytes exceeds max_payload_bytes
  /// M". Every way in (feeds, publish, emits) checks with this, and
  /// prefixes where the payload came from.
  result<void> check_payload_size(std::size_t size) const;

  /// The queue appends for `ev` published on `topic`, one per subscribing
  /// stage whose filter matches, with the subscription's priority class.
  /// Empty when nothing subscribes: callers count that as unrouted, and
  /// `why_unrouted` (when given) receives `topology::why_unrouted`'s text.
  /// `first_stage` receives the index of the first target stage.
  std::vector<queue_append> route(const std::string& topic, event ev,
                                  std::size_t* first_stage = nullptr,
                                  std::string* why_unrouted = nullptr) const;

private:
  topology topo_;
  std::vector<std::uint32_t> ids_;
};

} // namespace sluice
