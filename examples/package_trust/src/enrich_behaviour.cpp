// package.enrich. The previous state carries the version history forward.
#include "enrich_behaviour.hpp"

#include "enrichment.hpp"
#include "package_trust.pb.h"
#include "proto_io.hpp"

namespace sluice::examples::package_trust {

void enrich_behaviour::on_event(sluice::context& ctx, const sluice::event& ev) {
  ParsedPackage pkg;
  from_bytes(ev.payload, pkg, "package.enrich: " + ev.key + " (" + ev.id + ")");
  EnrichedPackage previous;
  const bool has_previous = ctx.has_state();
  if (has_previous) {
    from_bytes(ctx.state(), previous, "package.enrich: state of " + ctx.key());
  }
  const EnrichedPackage out = enrich(pkg, has_previous ? &previous : nullptr);
  if (out.history().went_backwards()
      && !(has_previous && previous.history().went_backwards())) {
    ctx.count("version_went_backwards");
  }
  std::string bytes = to_bytes(out);
  ctx.set_state(bytes);
  ctx.emit(output_topic, std::move(bytes));
}

bool enrich_behaviour::reconcile(sluice::context& ctx) {
  if (!ctx.has_state())
    return false;
  ctx.emit(output_topic, ctx.state());
  return true;
}

std::string enrich_behaviour::state_to_json(const std::string& state) const {
  EnrichedPackage msg;
  return state_json(state, msg);
}

} // namespace sluice::examples::package_trust
