// package.score. Uses the bundled popular-name list, shared by all instances.
#include "score_behaviour.hpp"

#include "package_trust.pb.h"
#include "proto_io.hpp"
#include "scoring.hpp"
#include "typosquat.hpp"

namespace sluice::examples::package_trust {

void score_behaviour::on_event(sluice::context& ctx, const sluice::event& ev) {
  EnrichedPackage pkg;
  from_bytes(ev.payload, pkg, "package.score: " + ev.key + " (" + ev.id + ")");
  const PackageScore score = score_package(pkg, popular_names::bundled());
  ctx.set_state(to_bytes(score));
  ctx.count("verdict_" + score.verdict());
  if (score.typosquatting() == 0)
    ctx.count("typosquat_suspects");
}

std::string score_behaviour::state_to_json(const std::string& state) const {
  PackageScore msg;
  return state_json(state, msg);
}

} // namespace sluice::examples::package_trust
