// The team's unit test of its behaviour, with Sluice's test_context: no
// node, no CAF, no LMDB.
#include "sluice/test_context.hpp"
#include "tally_behaviour.hpp"

#include <cstdio>

namespace {

int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what);
    ++failures;
  }
}

} // namespace

int main() {
  tally::sum_behaviour b;
  sluice::test_context ctx("sum", "orders/alice");
  sluice::event ev;
  ev.id = "orders.tsv:2";
  ev.payload = R"({"name":"alice","order":"o-1","cents":"1250"})";
  static_cast<sluice::behaviour&>(b).on_event(ctx, ev);
  tally::Tally t;
  expect(t.ParseFromString(ctx.state()), "the state is a Tally");
  expect(t.orders() == 1 && t.cents() == 1250, "one order of 1250 cents");
  expect(ctx.timers.size() == 1 && ctx.timers[0].name == "settle"
             && ctx.timers[0].kind == sluice::timer_kind::durable,
         "a durable settle timer is set");
  ctx.clear_effects();
  sluice::event fired;
  fired.timer = "settle";
  static_cast<sluice::behaviour&>(b).on_timer(ctx, fired);
  expect(ctx.emitted.size() == 1 && ctx.emitted[0].first == "settled"
             && ctx.emitted[0].second.payload == "1 orders, 1250 cents",
         "the settle timer emits the totals");
  expect(
      b.state_to_json(ctx.state())
          == R"({"orders":1,"cents":1250,"last_order":"o-1","settled":true})",
      "state_to_json renders the Tally");
  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
