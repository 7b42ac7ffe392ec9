// Registers the three package_trust behaviours under their dotted names.
#include "enrich_behaviour.hpp"
#include "package_trust/package_trust.hpp"
#include "parse_behaviour.hpp"
#include "score_behaviour.hpp"

namespace sluice::examples {

sluice::result<void> register_package_trust(sluice::registry& reg) {
  using namespace package_trust;
  if (auto r = reg.add<parse_behaviour>(parse_behaviour::name); !r)
    return r;
  if (auto r = reg.add<enrich_behaviour>(enrich_behaviour::name); !r)
    return r;
  return reg.add<score_behaviour>(score_behaviour::name);
}

} // namespace sluice::examples
