// The trust score of package.score: six named 0-100 components with a
// reason each, combined into a weighted 0-100 score and a verdict.
#pragma once

#include "package_trust.pb.h"
#include "typosquat.hpp"

namespace sluice::examples::package_trust {

/// Weights of the components, in percent; they add up to 100.
struct score_weights {
  static constexpr int maturity = 15;
  static constexpr int popularity = 25;
  static constexpr int maintenance = 15;
  static constexpr int repository = 15;
  static constexpr int dependency_surface = 10;
  static constexpr int typosquatting = 20;
};

/// A suspected typosquat caps the total at this.
constexpr int typosquat_cap = 30;

/// A name that resembles a popular one is not suspected when its own
/// popularity component is at least this (PyPI rank <= ~2000, npm >= ~63,000
/// downloads a month): typosquats do not get that far.
constexpr int established_popularity = 60;

/// PyPI release months are aged against this month ("2026-11", the newest in
/// the bundled sample), never against the clock, so scores are reproducible.
constexpr int reference_year = 2026;
constexpr int reference_month = 11;

/// Scores `pkg` against the popular names in `popular`. Pure.
PackageScore score_package(const EnrichedPackage& pkg,
                           const popular_names& popular);

} // namespace sluice::examples::package_trust
