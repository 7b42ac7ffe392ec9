// The audit trail: one logger, `sluice.audit`, for every refused request and
// every admin action, each line saying who (a token's name) and from where.
// Thread-safe (spdlog's logger is).
#pragma once

#include <string>

namespace sluice {

/// Who did something and from where, as the audit line names them.
struct audit_actor {
  std::string who;   ///< a token's name ("console"), or "anonymous"
  std::string where; ///< "127.0.0.1:53122", "console from node ...", "local"
};

/// Logs "refused WHAT by WHO from WHERE: WHY" at warning level. Never pass
/// a secret in `what` or `why`.
void audit_refused(const audit_actor& a, const std::string& what,
                   const std::string& why);

/// Logs "WHAT by WHO from WHERE: OUTCOME" at info level (an admin action).
void audit_action(const audit_actor& a, const std::string& what,
                  const std::string& outcome);

/// Sets every logger's level to the level named `name` ("warn"; one of
/// spdlog's names, checked by the caller), but keeps the audit trail at
/// info or lower: refusals and admin actions are always logged, even when
/// the rest logs only warnings (the console's `log-level`).
void set_log_level(const std::string& name);

} // namespace sluice
