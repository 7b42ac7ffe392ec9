// The `debian.index` behaviour: keyed by tenant (a suite and architecture),
// it takes chunks of a Packages index (the payload; attributes `source`
// and `line` say where the chunk starts, for problems), keeps the suite's
// packages in its state, and emits the records whose edges or content
// changed to the slice controller, as its JSON batches: edges are the
// resolved dependencies, data the package's fields a slice job reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "debian_slices/packages_index.hpp"
#include "sluice/behaviour.hpp"

namespace debian_slices {

/// See the top of this file.
class index_behaviour final : public sluice::behaviour {
public:
  /// Settings: recommends (count Recommends as edges; default false),
  /// topic (default `records`), records_per_event (default 1000).
  sluice::result<void> configure(const sluice::stage_settings& s) override;
  void on_event(sluice::context& ctx, const sluice::event& ev) override;
  /// {"packages", "problems", "unresolved_names"}.
  std::string state_to_json(const std::string& state) const override;

private:
  /// The suite as committed: the cached copy while its generation matches.
  struct suite {
    suite_graph graph;
    std::uint64_t generation = 0;
    std::uint64_t problems = 0; ///< stanzas skipped so far
  };
  suite& load(sluice::context& ctx);

  bool recommends_ = false;
  std::string topic_ = "records";
  std::uint64_t per_event_ = 1000;
  std::optional<suite> cached_;
  std::string cached_key_;
  bool valid_ = false;
};

/// The index state's bytes: a header line, the generation and problem
/// count, then every package as a stanza.
std::string index_state(const suite_graph& g, std::uint64_t generation,
                        std::uint64_t problems);

} // namespace debian_slices
