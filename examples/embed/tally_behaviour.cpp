#include "tally_behaviour.hpp"

#include <string>

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

void sum_behaviour::on_event(sluice::context& ctx, const sluice::event& ev,
                             Tally& t) {
  auto cents = field(ev.payload, "cents");
  if (cents.empty() || cents.size() > 9
      || cents.find_first_not_of("0123456789") != std::string::npos)
    throw sluice::permanent_error(ev.id + ": 'cents' is not a number: '" + cents
                                  + "'");
  t.set_orders(t.orders() + 1);
  t.set_cents(t.cents() + static_cast<std::uint32_t>(std::stoul(cents)));
  t.set_last_order(field(ev.payload, "order"));
  t.set_settled(false);
  // Replaces the customer's pending timer: it settles once orders pause.
  ctx.set_timer("settle", settle_delay, sluice::timer_kind::durable);
  ctx.count("orders");
}

void sum_behaviour::on_timer(sluice::context& ctx, const sluice::event&,
                             Tally& t) {
  t.set_settled(true);
  ctx.log(sluice::log_level::debug, "settled");
  ctx.emit("settled", std::to_string(t.orders()) + " orders, "
                          + std::to_string(t.cents()) + " cents");
}

} // namespace tally
