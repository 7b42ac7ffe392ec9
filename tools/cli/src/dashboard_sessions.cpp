// The dashboard's sessions: random ids, idle and absolute expiry, a cap.
#include "dashboard_sessions.hpp"

#include <algorithm>

#include "sluice/secret.hpp"

namespace sluice::cli {

dashboard_sessions::dashboard_sessions(std::chrono::seconds idle,
                                       std::chrono::seconds max_age,
                                       std::size_t capacity)
    : idle_(idle), max_age_(max_age),
      capacity_(std::max<std::size_t>(1, capacity)) {}

dashboard_session dashboard_sessions::open(const std::string& token_name,
                                           unsigned scopes,
                                           const std::string& address,
                                           clock::time_point now) {
  dashboard_session s{to_hex(random_bytes(32)), to_hex(random_bytes(32)),
                      token_name, scopes, address};
  std::lock_guard guard{mtx_};
  expire(now);
  while (by_id_.size() >= capacity_) {
    auto oldest =
        std::min_element(by_id_.begin(), by_id_.end(), [](auto& a, auto& b) {
          return a.second.used < b.second.used;
        });
    by_id_.erase(oldest);
  }
  by_id_.emplace(s.id, entry{s, now, now});
  return s;
}

std::optional<dashboard_session>
dashboard_sessions::find(std::string_view id, clock::time_point now) {
  std::lock_guard guard{mtx_};
  expire(now);
  // Every live id is compared, so the time taken does not tell how much of
  // a guessed id matched.
  entry* match = nullptr;
  for (auto& [key, e] : by_id_)
    if (same_secret(key, id))
      match = &e;
  if (match == nullptr)
    return std::nullopt;
  match->used = now;
  return match->s;
}

bool dashboard_sessions::close(std::string_view id) {
  std::lock_guard guard{mtx_};
  for (auto it = by_id_.begin(); it != by_id_.end(); ++it)
    if (same_secret(it->first, id)) {
      by_id_.erase(it);
      return true;
    }
  return false;
}

std::size_t dashboard_sessions::size() const {
  std::lock_guard guard{mtx_};
  return by_id_.size();
}

void dashboard_sessions::expire(clock::time_point now) {
  std::erase_if(by_id_, [&](auto& kv) {
    return now - kv.second.used >= idle_ || now - kv.second.opened >= max_age_;
  });
}

std::optional<std::string> cookie_value(std::string_view header,
                                        std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    auto part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{}
                                            : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ')
      part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name)
      return std::string{part.substr(eq + 1)};
  }
  return std::nullopt;
}

} // namespace sluice::cli
