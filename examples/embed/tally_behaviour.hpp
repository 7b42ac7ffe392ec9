// tally.sum: per customer, counts orders and sums their amounts. Its state
// is a protobuf message of this project's own (tally.Tally). A customer
// with no new order for `settle_delay` is settled: a durable timer, reset
// by every order, then emits the customer's totals to `settled`.
#pragma once

#include <chrono>

#include "sluice/typed_behaviour.hpp"
#include "tally.pb.h"

namespace tally {

class sum_behaviour final : public sluice::typed_behaviour<Tally> {
public:
  static constexpr const char* name = "tally.sum";
  static constexpr std::chrono::milliseconds settle_delay{100};

  void on_event(sluice::context& ctx, const sluice::event& ev,
                Tally& t) override;
  void on_timer(sluice::context& ctx, const sluice::event& ev,
                Tally& t) override;
};

} // namespace tally
