// package.score: EnrichedPackage -> PackageScore (0-100 with named component
// scores and reasons), kept as the key's state. Emits nothing.
#pragma once

#include "sluice/behaviour.hpp"

namespace sluice::examples::package_trust {

class score_behaviour final : public sluice::behaviour {
public:
  static constexpr const char* name = "package.score";

  void on_event(sluice::context& ctx, const sluice::event& ev) override;
  std::string state_to_json(const std::string& state) const override;
};

} // namespace sluice::examples::package_trust
