// package.parse. The ecosystem comes from the event's "ecosystem" attribute
// (set by the feed reader), else from the key's "<ecosystem>/" prefix.
#include "parse_behaviour.hpp"

#include "package_trust.pb.h"
#include "proto_io.hpp"
#include "record_parser.hpp"

namespace sluice::examples::package_trust {

void parse_behaviour::on_event(sluice::context& ctx, const sluice::event& ev) {
  std::string ecosystem;
  if (const auto it = ev.attributes.find("ecosystem");
      it != ev.attributes.end()) {
    ecosystem = it->second;
  } else if (const auto slash = ev.key.find('/'); slash != std::string::npos) {
    ecosystem = ev.key.substr(0, slash);
  }
  const std::string origin = ev.key + " (" + ev.id + ")";
  const ParsedPackage pkg = parse_record(ecosystem, ev.payload, origin);
  std::string bytes = to_bytes(pkg);
  ctx.set_state(bytes);
  ctx.emit(output_topic, std::move(bytes));
  ctx.count("parsed_" + ecosystem);
}

bool parse_behaviour::reconcile(sluice::context& ctx) {
  if (!ctx.has_state())
    return false;
  ctx.emit(output_topic, ctx.state());
  return true;
}

std::string parse_behaviour::state_to_json(const std::string& state) const {
  ParsedPackage msg;
  return state_json(state, msg);
}

} // namespace sluice::examples::package_trust
