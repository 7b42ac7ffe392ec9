// The `sluice.audit` logger: made once, on the default logger's sinks (so
// --log-format json applies), and shared by every thread.
#include "sluice/audit.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

namespace sluice {

namespace {

std::shared_ptr<spdlog::logger> audit_logger() {
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  if (auto l = spdlog::get("sluice.audit"))
    return l;
  auto def = spdlog::default_logger();
  auto l = std::make_shared<spdlog::logger>(
      "sluice.audit", def->sinks().begin(), def->sinks().end());
  // Refusals and admin actions are always worth a line: info at least,
  // even when the rest logs only warnings.
  l->set_level(std::min(def->level(), spdlog::level::info));
  spdlog::register_logger(l);
  return l;
}

} // namespace

void audit_refused(const audit_actor& a, const std::string& what,
                   const std::string& why) {
  audit_logger()->warn("refused {} by {} from {}: {}", what,
                       a.who.empty() ? "anonymous" : a.who, a.where, why);
}

void audit_action(const audit_actor& a, const std::string& what,
                  const std::string& outcome) {
  audit_logger()->info("{} by {} from {}: {}", what,
                       a.who.empty() ? "anonymous" : a.who, a.where, outcome);
}

void set_log_level(const std::string& name) {
  auto level = spdlog::level::from_str(name);
  spdlog::set_level(level); // every logger, the audit trail's too
  audit_logger()->set_level(std::min(level, spdlog::level::info));
}

} // namespace sluice
