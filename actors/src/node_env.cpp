// Loggers per component and the wall clock used for timestamps.
#include "node_env.hpp"

#include <chrono>
#include <mutex>

namespace sluice {

std::shared_ptr<spdlog::logger>
node_env::logger(const std::string& component) const {
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  auto name = "sluice." + component;
  if (auto l = spdlog::get(name))
    return l;
  auto def = spdlog::default_logger();
  auto l = std::make_shared<spdlog::logger>(name, def->sinks().begin(),
                                            def->sinks().end());
  l->set_level(def->level());
  spdlog::register_logger(l);
  return l;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace sluice
