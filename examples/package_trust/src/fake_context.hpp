// Test helpers for the example's behaviours: Sluice's test_context, and
// events as the feed reader makes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/test_context.hpp"

namespace sluice::examples::package_trust::testing {

/// Sluice's own behaviour test double.
using fake_context = sluice::test_context;

/// An event as the feed reader makes it.
inline sluice::event registry_event(const std::string& ecosystem,
                                    const std::string& name,
                                    std::string payload,
                                    const std::string& id = "test:1") {
  sluice::event ev;
  ev.id = id;
  ev.topic = "registry";
  ev.key = ecosystem + "/" + name;
  ev.attributes["ecosystem"] = ecosystem;
  ev.attributes["format"] = ecosystem == "debian" ? "debian" : "tsv";
  ev.payload = std::move(payload);
  return ev;
}

} // namespace sluice::examples::package_trust::testing
