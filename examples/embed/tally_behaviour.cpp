#include "tally_behaviour.hpp"

#include <string>

#include "tally.pb.h"

namespace tally {

namespace {

/// The value of "field":"..." in the feed's JSON payload, or "".
std::string field(const std::string& json, const std::string& name) {
  auto key = "\"" + name + "\":\"";
  auto at = json.find(key);
  if (at == std::string::npos)
    return "";
  at += key.size();
  return json.substr(at, json.find('"', at) - at);
}

} // namespace

void sum_behaviour::on_event(sluice::context& ctx, const sluice::event& ev) {
  Tally t;
  if (ctx.has_state() && !t.ParseFromString(ctx.state()))
    throw sluice::permanent_error("state of " + ctx.key() + " is not a Tally");
  auto cents = field(ev.payload, "cents");
  if (cents.empty()
      || cents.find_first_not_of("0123456789") != std::string::npos)
    throw sluice::permanent_error(ev.id + ": 'cents' is not a number: '" + cents
                                  + "'");
  t.set_orders(t.orders() + 1);
  t.set_cents(t.cents() + std::stoull(cents));
  t.set_last_order(field(ev.payload, "order"));
  ctx.set_state(t.SerializeAsString());
  ctx.count("orders");
}

std::string sum_behaviour::state_to_json(const std::string& state) const {
  Tally t;
  if (!t.ParseFromString(state))
    return "null";
  return "{\"orders\":" + std::to_string(t.orders())
         + ",\"cents\":" + std::to_string(t.cents())
         + ",\"last_order\":" + sluice::json_quote(t.last_order()) + "}";
}

} // namespace tally
