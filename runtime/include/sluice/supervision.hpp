// Supervision policy in OTP's vocabulary: which children restart when one
// crashes, and how many restarts in how long a supervisor tolerates before
// it gives up and escalates to its parent. Plain values, no actors.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace sluice {

/// Which children restart when one crashes (OTP's restart strategies).
enum class restart_strategy : std::uint8_t {
  one_for_one,  ///< only the crashed child
  one_for_all,  ///< every child
  rest_for_one, ///< the crashed child and those started after it
};

/// The strategy's name as YAML spells it: "one_for_one" and so on.
const char* to_string(restart_strategy s) noexcept;
/// The strategy named `s` (as `to_string` spells it), or nullopt.
std::optional<restart_strategy> parse_restart_strategy(std::string_view s);

/// A supervisor's strategy and intensity: at most `max_restarts` restarts
/// within `within`; one more and the supervisor stops and escalates.
struct supervision_policy {
  restart_strategy strategy = restart_strategy::one_for_one; ///< who restarts
  std::uint32_t max_restarts = 10; ///< restarts tolerated within `within`
  std::chrono::milliseconds within{10000}; ///< the sliding window's length
};

/// The restarts a supervisor made in its sliding window.
class restart_window {
public:
  /// Monotonic: the window does not move with the wall clock.
  using clock = std::chrono::steady_clock;
  /// An empty window that enforces `p`.
  explicit restart_window(supervision_policy p) : policy_(p) {}

  /// Records a restart at `now`; false when it would exceed the intensity
  /// (the supervisor must then escalate instead of restarting).
  bool allow(clock::time_point now);
  /// Restarts inside the window as of the last call.
  std::size_t recent() const noexcept { return times_.size(); }
  /// The policy it enforces.
  const supervision_policy& policy() const noexcept { return policy_; }
  /// "11 restarts within 10s exceed the intensity (10 in 10s)".
  std::string exceeded_message() const;

private:
  supervision_policy policy_;
  std::deque<clock::time_point> times_;
};

} // namespace sluice
