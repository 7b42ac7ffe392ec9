// Private to the HTTP endpoint: who is asking (a bearer token, from which
// address) and whether they may. Refusals answer 401 (no or unknown token)
// or 403 (a token without the scope) with a JSON body naming what is
// missing, are counted in sluice_http_refused_total and logged on the audit
// trail. Thread-safe: the policy is immutable once the endpoint starts.
#pragma once

#include <httplib.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "access_tokens.hpp"
#include "dashboard_sessions.hpp"
#include "sluice/audit.hpp"

namespace sluice::cli {

class readiness;

/// Who may use the HTTP API.
struct access_policy {
  token_set tokens; ///< named tokens and the console token
  /// Anonymous GET /v1/keys for keys the node has (never ingestion).
  bool public_read = false;
  /// GET /metrics needs a token with `read`.
  bool private_metrics = false;
  /// The dashboard's logins: a request without an Authorization header is
  /// the session's token when it carries the session cookie (and, unless
  /// it is a GET, the session's X-Sluice-CSRF header from this origin).
  std::shared_ptr<dashboard_sessions> sessions =
      std::make_shared<dashboard_sessions>();
};

/// The name of the dashboard's session cookie.
inline constexpr const char* session_cookie = "sluice_session";

/// The caller of one request: its token (nullptr when anonymous) and its
/// address.
struct http_caller {
  const access_token* token = nullptr;
  std::string address; ///< the client's IP address
  /// Logged in through the dashboard: its session (the token is the one
  /// it logged in with).
  std::optional<dashboard_session> session;
  audit_actor actor() const;
  std::string token_name() const { return token ? token->name : ""; }
};

/// Why a caller is refused, whatever the transport.
struct access_refusal {
  int status = 401;    ///< 401: no or an unknown token; 403: not allowed
  std::string reason;  ///< the counter's label: "unauthenticated", "forbidden"
  std::string missing; ///< "token", "scope read"
  std::string why;     ///< the message for the caller
};

/// A caller without a token (nor a session) from `address`: how a request
/// without credentials, or a refused one, is named.
http_caller anonymous_caller(std::string address);

/// The caller presenting `authorization` (the value of an Authorization
/// header or gRPC metadata; nothing: anonymous) from `address`, or why a
/// malformed or unknown token is refused.
std::variant<http_caller, access_refusal>
bearer_caller(std::optional<std::string_view> authorization,
              std::string address, const access_policy& p);

/// Nothing when `c` may do `what` (e.g. "GET /v1/keys/score/k"), which
/// needs `need` (`anonymous_ok`: an anonymous caller may); else why not.
std::optional<access_refusal> check_scope(const http_caller& c, scope need,
                                          bool anonymous_ok,
                                          const std::string& what,
                                          const access_policy& p);

/// Counts `r` in sluice_http_refused_total and logs it on the audit trail
/// (refusals of one client for one reason are summarised once a second
/// past the first few).
void record_refusal(const access_refusal& r, const http_caller& c,
                    const std::string& what, const readiness& state);

/// The caller of `req`. A malformed or unknown Authorization header is
/// answered 401 on `res` (counted, audited) and gives nothing; no header
/// gives the dashboard session of the cookie, or an anonymous caller. A
/// request other than GET or HEAD with a session cookie must come from
/// this origin (Origin, Sec-Fetch-Site) with the session's X-Sluice-CSRF
/// header, else it is answered 403 (a forged cross-site request).
std::optional<http_caller> identify(const httplib::Request& req,
                                    httplib::Response& res,
                                    const access_policy& p,
                                    const readiness& state);

/// True when `c` may do `what` (e.g. "GET /v1/keys/score/k"), which needs
/// `need`; `anonymous_ok`: an anonymous caller may. Otherwise answers 401
/// (anonymous) or 403 (a token without the scope) naming the scope.
bool allowed(const http_caller& c, scope need, bool anonymous_ok,
             const std::string& what, httplib::Response& res,
             const access_policy& p, const readiness& state);

/// False when a browser says `req` comes from another site (Origin is not
/// this Host, or Sec-Fetch-Site is cross-site or same-site); true for
/// clients that send neither (curl, scripts).
bool same_origin(const httplib::Request& req);

/// The content type of every JSON answer.
inline constexpr const char* json_type = "application/json";

/// Answers `status` with {"error": why}: a bad request's plain refusal.
void refuse(httplib::Response& res, int status, const std::string& why);

/// Answers `status` with {"error": why, "missing": missing}, counts it
/// under `reason` and logs it on the audit trail (refusals of one client
/// for one reason are summarised once a second past the first few).
void refuse_request(httplib::Response& res, int status,
                    const std::string& reason, const std::string& missing,
                    const std::string& why, const http_caller& c,
                    const std::string& what, const readiness& state);

/// "GET /v1/keys/score/k": the request as the audit trail names it.
std::string request_name(const httplib::Request& req);

} // namespace sluice::cli
