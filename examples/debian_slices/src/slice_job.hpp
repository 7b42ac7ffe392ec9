// The `debian.slice_job` behaviour: one job per changed slice (key
// TENANT/ID) or changed reference package (key TENANT/ref/NAME), from the
// slice controller's events. A slice's result, kept as its state: the
// members' total installed size, their maintainers, and the dependencies
// that cannot be satisfied inside the suite (no alternative is a member,
// a reference package the slice reads, or provided by one). A removed
// slice or reference clears its state.
#pragma once

#include <string>

#include "sluice/behaviour.hpp"

namespace debian_slices {

/// A slice_changed payload's result as JSON text (the job's state), or an
/// error naming what the payload lacks (thrown as sluice::permanent_error).
std::string slice_result(const std::string& payload);

/// See the top of this file.
class slice_job final : public sluice::behaviour {
public:
  void on_event(sluice::context& ctx, const sluice::event& ev) override;
  /// The state is JSON already.
  std::string state_to_json(const std::string& state) const override {
    return state;
  }
};

} // namespace debian_slices
