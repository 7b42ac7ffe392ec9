// Restart strategies by name, and the sliding restart window.
#include "sluice/supervision.hpp"

namespace sluice {

const char* to_string(restart_strategy s) noexcept {
  switch (s) {
  case restart_strategy::one_for_one:
    return "one_for_one";
  case restart_strategy::one_for_all:
    return "one_for_all";
  case restart_strategy::rest_for_one:
    return "rest_for_one";
  }
  return "?";
}

std::optional<restart_strategy> parse_restart_strategy(std::string_view s) {
  for (auto v : {restart_strategy::one_for_one, restart_strategy::one_for_all,
                 restart_strategy::rest_for_one})
    if (s == to_string(v))
      return v;
  return std::nullopt;
}

bool restart_window::allow(clock::time_point now) {
  while (!times_.empty() && now - times_.front() > policy_.within)
    times_.pop_front();
  times_.push_back(now);
  return times_.size() <= policy_.max_restarts;
}

std::string restart_window::exceeded_message() const {
  auto secs = [](std::chrono::milliseconds d) {
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                                 : std::to_string(d.count()) + "ms";
  };
  return std::to_string(times_.size()) + " restarts within "
         + secs(policy_.within) + " exceed the intensity ("
         + std::to_string(policy_.max_restarts) + " in " + secs(policy_.within)
         + ")";
}

} // namespace sluice
