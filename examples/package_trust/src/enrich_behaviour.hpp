// package.enrich: ParsedPackage -> EnrichedPackage (repository, dependency
// surface, maturity, summary quality, version history), kept as the key's
// state and emitted to topic `enriched`.
#pragma once

#include "sluice/behaviour.hpp"

namespace sluice::examples::package_trust {

class enrich_behaviour final : public sluice::behaviour {
public:
  static constexpr const char* name = "package.enrich";
  static constexpr const char* output_topic = "enriched";

  void on_event(sluice::context& ctx, const sluice::event& ev) override;
  /// The state is what the stage emitted last: emit it again.
  bool reconcile(sluice::context& ctx) override;
  std::string state_to_json(const std::string& state) const override;
};

} // namespace sluice::examples::package_trust
