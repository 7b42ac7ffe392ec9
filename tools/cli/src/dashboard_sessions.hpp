// Private: the dashboard's login sessions. A token presented once in the
// login form becomes a session: a random id kept in an HttpOnly, SameSite
// cookie, and a random CSRF value the page sends back in a header with every
// action. Only the token's name and scopes are kept, never the token.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::cli {

/// One logged-in page.
struct dashboard_session {
  std::string id;         ///< the cookie's value (64 hex digits)
  std::string csrf;       ///< what X-Sluice-CSRF must carry (64 hex digits)
  std::string token_name; ///< who logged in ("console", a named token)
  unsigned scopes = 0;    ///< the token's scopes (a bit set of `scope`)
  std::string address;    ///< where the login came from
};

/// The sessions of one endpoint.
class dashboard_sessions {
public:
  using clock = std::chrono::steady_clock;

  /// Sessions end `idle` after their last use and at most `max_age` after
  /// the login; past `capacity`, the least recently used ends first.
  explicit dashboard_sessions(
      std::chrono::seconds idle = std::chrono::hours(8),
      std::chrono::seconds max_age = std::chrono::hours(24),
      std::size_t capacity = 1000);

  /// A new session for the token named `token_name` with `scopes`.
  dashboard_session open(const std::string& token_name, unsigned scopes,
                         const std::string& address,
                         clock::time_point now = clock::now());

  /// The live session whose id is `id` (compared in constant time), and
  /// marks it used; nothing when there is none or it has ended.
  std::optional<dashboard_session> find(std::string_view id,
                                        clock::time_point now = clock::now());

  /// Ends the session `id`; false when there was none.
  bool close(std::string_view id);

  /// Live sessions.
  std::size_t size() const;

  /// How long a session lasts at most after its login (the cookie's
  /// Max-Age).
  std::chrono::seconds max_age() const noexcept { return max_age_; }

private:
  struct entry {
    dashboard_session s;
    clock::time_point opened, used;
  };
  void expire(clock::time_point now);

  std::chrono::seconds idle_, max_age_;
  std::size_t capacity_;
  mutable std::mutex mtx_;
  std::map<std::string, entry, std::less<>> by_id_;
};

/// The value of cookie `name` in a Cookie header ("a=1; b=2"), or nothing.
std::optional<std::string> cookie_value(std::string_view header,
                                        std::string_view name);

} // namespace sluice::cli
