// tally.sum: per customer, counts orders and sums their amounts. Its state
// is a protobuf message of this project's own (tally.Tally).
#pragma once

#include "sluice/behaviour.hpp"

namespace tally {

class sum_behaviour final : public sluice::behaviour {
public:
  static constexpr const char* name = "tally.sum";
  void on_event(sluice::context& ctx, const sluice::event& ev) override;
  std::string state_to_json(const std::string& state) const override;
};

} // namespace tally
