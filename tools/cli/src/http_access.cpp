// Bearer tokens on the HTTP API: the Authorization header parsed, the token
// found in constant time, scopes checked; refusals answered, counted and
// audited. The token itself never reaches a log line or an answer.
#include "http_access.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <mutex>

#include "http_endpoint.hpp"
#include "sluice/node.hpp"
#include "sluice/secret.hpp"

namespace sluice::cli {

namespace {

using clock_type = std::chrono::steady_clock;

/// Audit lines of one (client, reason): the first few each second, then
/// one summary of those left out, so a storm cannot flood the log.
bool audit_now(const std::string& key, std::size_t& left_out) {
  static std::mutex mtx;
  struct window {
    clock_type::time_point start;
    std::size_t logged = 0, skipped = 0;
  };
  static std::map<std::string, window> windows;
  constexpr std::size_t per_second = 5;
  std::lock_guard<std::mutex> guard{mtx};
  auto now = clock_type::now();
  if (windows.size() > 10000)
    windows.clear();
  auto& w = windows[key];
  if (now - w.start >= std::chrono::seconds(1)) {
    left_out = w.skipped;
    w = {now, 0, 0};
  } else {
    left_out = 0;
  }
  if (w.logged < per_second) {
    ++w.logged;
    return true;
  }
  ++w.skipped;
  return false;
}

} // namespace

bool same_origin(const httplib::Request& req) {
  if (req.get_header_value("Sec-Fetch-Site") == "cross-site"
      || req.get_header_value("Sec-Fetch-Site") == "same-site")
    return false;
  if (!req.has_header("Origin"))
    return true; // not a browser's cross-origin request
  auto origin = req.get_header_value("Origin");
  auto host = req.get_header_value("Host");
  return origin == "http://" + host || origin == "https://" + host;
}

namespace {

/// The caller of a request without an Authorization header: its
/// dashboard session's token, checked against forgery unless a GET.
std::optional<http_caller>
session_caller(const httplib::Request& req, httplib::Response& res,
               const access_policy& p, const readiness& state, http_caller c) {
  if (!p.sessions || !req.has_header("Cookie"))
    return c;
  auto id = cookie_value(req.get_header_value("Cookie"), session_cookie);
  if (!id)
    return c;
  auto s = p.sessions->find(*id);
  if (!s)
    return c; // ended: anonymous, and the page asks for a login again
  if (req.method != "GET" && req.method != "HEAD") {
    bool from_here = same_origin(req);
    bool csrf_ok = same_secret(req.get_header_value("X-Sluice-CSRF"), s->csrf);
    if (!from_here || !csrf_ok) {
      refuse_request(res, 403, "cross-site", "X-Sluice-CSRF",
                     !from_here
                         ? "a request from another site (Origin "
                               + req.get_header_value("Origin")
                               + ") may not use the dashboard's login"
                         : "a request with the dashboard's login needs its "
                           "X-Sluice-CSRF header",
                     c, request_name(req), state);
      return std::nullopt;
    }
  }
  c.token = p.tokens.named(s->token_name);
  if (c.token == nullptr)
    return c;
  c.session = std::move(s);
  return c;
}

} // namespace

audit_actor http_caller::actor() const {
  return {token ? token->name : "anonymous",
          session ? address + " (dashboard)" : address};
}

http_caller anonymous_caller(std::string address) {
  http_caller c;
  c.address = std::move(address);
  return c;
}

std::string request_name(const httplib::Request& req) {
  return req.method + " " + req.path;
}

void refuse(httplib::Response& res, int status, const std::string& why) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", why}}.dump(), json_type);
}

void record_refusal(const access_refusal& r, const http_caller& c,
                    const std::string& what, const readiness& state) {
  state.with_node([&](node& n) {
    n.metrics()
        .get_counter("sluice_http_refused_total", {{"reason", r.reason}},
                     "HTTP and gRPC requests refused, by reason")
        .add();
  });
  std::size_t left_out = 0;
  bool log = audit_now(c.address + "|" + r.reason, left_out);
  if (left_out > 0)
    audit_refused(c.actor(), std::to_string(left_out) + " more requests",
                  r.reason + " in the last second (not logged one by one)");
  if (log)
    audit_refused(c.actor(), what,
                  std::to_string(r.status) + " " + r.reason + ": " + r.why);
}

void refuse_request(httplib::Response& res, int status,
                    const std::string& reason, const std::string& missing,
                    const std::string& why, const http_caller& c,
                    const std::string& what, const readiness& state) {
  res.status = status;
  nlohmann::json body{{"error", why}};
  if (!missing.empty())
    body["missing"] = missing;
  res.set_content(body.dump(), json_type);
  record_refusal({status, reason, missing, why}, c, what, state);
}

namespace {

/// Answers a refusal of the token checks on `res`.
void refuse_access(httplib::Response& res, const access_refusal& r,
                   const http_caller& c, const std::string& what,
                   const readiness& state) {
  if (r.status == 401)
    res.set_header("WWW-Authenticate", "Bearer realm=\"sluice\"");
  refuse_request(res, r.status, r.reason, r.missing, r.why, c, what, state);
}

} // namespace

std::variant<http_caller, access_refusal>
bearer_caller(std::optional<std::string_view> authorization,
              std::string address, const access_policy& p) {
  auto c = anonymous_caller(std::move(address));
  if (!authorization)
    return c;
  constexpr std::string_view bearer = "Bearer ";
  if (!authorization->starts_with(bearer)
      || authorization->size() == bearer.size())
    return access_refusal{401, "unauthenticated", "token",
                          "the Authorization header must be 'Bearer TOKEN'"};
  c.token = p.tokens.find(authorization->substr(bearer.size()));
  if (c.token == nullptr)
    return access_refusal{401, "unauthenticated", "token",
                          p.tokens.empty()
                              ? "this node knows no token: start it with "
                                "--tokens-file FILE or a console token "
                                "(--token-file, SLUICE_TOKEN)"
                              : "the bearer token is not one this node knows"};
  return c;
}

std::optional<access_refusal> check_scope(const http_caller& c, scope need,
                                          bool anonymous_ok,
                                          const std::string& what,
                                          const access_policy& p) {
  std::string scope_text = scope_name(need);
  if (c.token == nullptr) {
    if (anonymous_ok)
      return std::nullopt;
    return access_refusal{
        401, "unauthenticated", "token",
        what + " needs a token with scope '" + scope_text
            + "' (Authorization: Bearer TOKEN)"
            + (p.tokens.empty() ? "; this node knows no token: start it with "
                                  "--tokens-file FILE or a console token"
                                : "")};
  }
  if (c.token->grants(need))
    return std::nullopt;
  return access_refusal{403, "forbidden", "scope " + scope_text,
                        what + " needs scope '" + scope_text + "'; token '"
                            + c.token->name + "' has " + c.token->scope_list()};
}

std::optional<http_caller> identify(const httplib::Request& req,
                                    httplib::Response& res,
                                    const access_policy& p,
                                    const readiness& state) {
  if (!req.has_header("Authorization"))
    return session_caller(req, res, p, state,
                          anonymous_caller(req.remote_addr));
  auto value = req.get_header_value("Authorization");
  auto who = bearer_caller(value, req.remote_addr, p);
  if (auto* r = std::get_if<access_refusal>(&who)) {
    refuse_access(res, *r, anonymous_caller(req.remote_addr), request_name(req),
                  state);
    return std::nullopt;
  }
  return std::get<http_caller>(std::move(who));
}

bool allowed(const http_caller& c, scope need, bool anonymous_ok,
             const std::string& what, httplib::Response& res,
             const access_policy& p, const readiness& state) {
  auto r = check_scope(c, need, anonymous_ok, what, p);
  if (!r)
    return true;
  refuse_access(res, *r, c, what, state);
  return false;
}

} // namespace sluice::cli
