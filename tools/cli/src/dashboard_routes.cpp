// The dashboard's routes: the page, its session, its JSON and its stream.
#include "dashboard_routes.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "dashboard_sample.hpp"
#include "embedded_file.hpp"
#include "http_access.hpp"
#include "sluice/node.hpp"

namespace sluice::cli {

namespace {

using nlohmann::json;

/// The console commands a page may run (all but leave and forget, which
/// stay the console's); `sub` is the first argument when it matters
/// ("dlq list"). Those that change the node (admin_changes_node) are
/// POSTs with scope admin, audited; the others GETs with scope read.
struct page_command {
  const char* name;
  const char* sub; ///< null: any arguments
};
constexpr page_command page_commands[] = {
    {"nodes", nullptr},       {"shards", nullptr},  {"stages", nullptr},
    {"subscribers", nullptr}, {"actors", nullptr},  {"inspect", nullptr},
    {"trace", nullptr},       {"digests", nullptr}, {"metrics", nullptr},
    {"dlq", "list"},          {"dlq", "show"},      {"topology", "diff"},
    {"pause", nullptr},       {"resume", nullptr},  {"drain", nullptr},
    {"log-level", nullptr},   {"dlq", "redrive"},   {"dlq", "drop"},
    {"topology", "apply"},
};

/// True when the page may run `command args` as an action (`action`) or
/// a read; else answers 400 naming those it may.
bool page_may_run(const std::string& command,
                  const std::vector<std::string>& args, bool action,
                  httplib::Response& res) {
  std::string allowed_ones;
  for (const auto& pc : page_commands) {
    std::vector<std::string> sub;
    if (pc.sub != nullptr)
      sub.emplace_back(pc.sub);
    if (admin_changes_node(pc.name, sub) != action)
      continue;
    if (pc.name == command
        && (pc.sub == nullptr || (!args.empty() && args[0] == pc.sub)))
      return true;
    allowed_ones +=
        (allowed_ones.empty() ? "" : ", ") + admin_command_line(pc.name, sub);
  }
  refuse(res, 400,
         "'" + command + "' is not " + (action ? "an action" : "a read")
             + " of the dashboard (" + (action ? "POST" : "GET")
             + "): " + allowed_ones);
  return false;
}

/// Why a node without tokens takes no action from the page.
constexpr const char* read_only_why =
    "this node knows no token, so the dashboard is read-only: start it with "
    "a console token (--token-file, SLUICE_TOKEN) or --tokens-file";

const char* content_type(std::string_view name) {
  if (name.ends_with(".js"))
    return "text/javascript; charset=utf-8";
  if (name.ends_with(".css"))
    return "text/css; charset=utf-8";
  if (name.ends_with(".html"))
    return "text/html; charset=utf-8";
  return "text/plain; charset=utf-8";
}

void serve_file(httplib::Response& res, std::string_view name) {
  auto* f = find_dashboard_file(name);
  if (f == nullptr) {
    refuse(res, 404, "no such file: " + std::string{name});
    return;
  }
  // Scripts and styles only from this origin; no framing (clickjacking).
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string{f->bytes}, content_type(name));
}

/// A console answer as an HTTP answer.
void send_answer(httplib::Response& res, const admin_answer& a) {
  switch (a.code) {
  case admin_code::ok:
    res.set_content(a.json, json_type);
    return;
  case admin_code::failed:
    return refuse(res, 409, a.error);
  case admin_code::bad_usage:
    return refuse(res, 400, a.error);
  case admin_code::refused:
    return refuse(res, 403, a.error);
  case admin_code::unreachable:
    return refuse(res, 503, a.error);
  }
}

/// Who may read: anyone when the node knows no token (the page is then
/// read-only), else a token with scope read.
bool may_read(const http_caller& c, const httplib::Request& req,
              httplib::Response& res, const access_policy& p,
              const readiness& state) {
  return allowed(c, scope::read, p.tokens.empty(), request_name(req), res, p,
                 state);
}

std::string session_cookie_header(const std::string& value, bool https,
                                  std::chrono::seconds max_age) {
  return std::string{session_cookie} + "=" + value
         + "; Path=/; HttpOnly; SameSite=Strict; Max-Age="
         + std::to_string(max_age.count()) + (https ? "; Secure" : "");
}

json session_json(const http_caller& c, const access_policy& p) {
  json out{{"tokens", !p.tokens.empty()},
           {"who", c.token ? json(c.token->name) : json(nullptr)},
           {"scopes", c.token ? c.token->scope_list() : ""},
           {"can_act", c.token != nullptr && c.token->grants(scope::admin)}};
  if (c.session)
    out["csrf"] = c.session->csrf;
  return out;
}

void post_login(const httplib::Request& req, httplib::Response& res,
                const readiness& state, const access_policy& p, bool https) {
  http_caller c;
  c.address = req.remote_addr;
  if (!same_origin(req)) // a login forged by another site
    return refuse_request(res, 403, "cross-site", "origin",
                          "a login from another site (Origin "
                              + req.get_header_value("Origin") + ") is refused",
                          c, "dashboard login", state);
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("token")
      || !body["token"].is_string())
    return refuse(res, 400, "the body must be JSON: {\"token\": \"...\"}");
  if (p.tokens.empty())
    return refuse_request(res, 403, "no-tokens", "token", read_only_why, c,
                          "dashboard login", state);
  auto* token = p.tokens.find(body["token"].get<std::string>());
  if (token == nullptr)
    return refuse_request(res, 401, "unauthenticated", "token",
                          "this token is not one the node knows", c,
                          "dashboard login", state);
  auto s = p.sessions->open(token->name, token->scopes, c.address);
  c.token = token;
  c.session = s;
  audit_action(c.actor(), "dashboard login", "scopes " + token->scope_list());
  res.set_header("Set-Cookie",
                 session_cookie_header(s.id, https, p.sessions->max_age()));
  res.set_content(session_json(c, p).dump(), json_type);
}

/// Runs `command args` for the caller, audited when it changes anything.
void run_console_command(const http_caller& c, const std::string& command,
                         const std::vector<std::string>& args, bool action,
                         httplib::Response& res, const readiness& state) {
  admin_answer a;
  bool ran = state.with_node([&](node& n) { a = n.admin(command, args); });
  if (!ran)
    return refuse(res, 503, "the node is not ready: " + state.check().reason);
  if (action)
    audit_action(c.actor(), admin_command_line(command, args),
                 a.code == admin_code::ok ? "done" : "failed: " + a.error);
  send_answer(res, a);
}

json topology_json(const topology& t) {
  json stages = json::array();
  for (auto& s : t.stages) {
    json subscribe = json::array();
    for (auto& sub : s.subscribe)
      subscribe.push_back(sub.topic);
    stages.push_back({{"name", s.name},
                      {"behaviour", s.behaviour},
                      {"subscribe", subscribe},
                      {"emits", s.emits},
                      {"changelog", s.changelog.enabled},
                      {"max_in_flight", s.max_in_flight}});
  }
  json sources = json::array();
  for (auto& src : t.sources)
    sources.push_back({{"name", src.name}, {"topic", src.topic}});
  return {{"name", t.name},
          {"topics", t.topics},
          {"feed_topic", t.feed.topic},
          {"sources", sources},
          {"stages", stages}};
}

/// The stream of one page: its history first, then a sample a second.
class dashboard_stream {
public:
  dashboard_stream(const readiness& state,
                   std::shared_ptr<dashboard_sampler> sampler,
                   std::shared_ptr<std::atomic<int>> open)
      : state_(state), sampler_(std::move(sampler)), open_(std::move(open)) {}
  ~dashboard_stream() { open_->fetch_sub(1); }
  dashboard_stream(const dashboard_stream&) = delete;
  dashboard_stream& operator=(const dashboard_stream&) = delete;

  bool pump(httplib::DataSink& sink) {
    std::string sample;
    if (!first_)
      std::this_thread::sleep_for(std::chrono::seconds(1));
    bool up = state_.with_node([&](node& n) { sample = sampler_->latest(n); });
    if (!up) {
      std::string out =
          "event: down\ndata: " + json{{"reason", state_.check().reason}}.dump()
          + "\n\n";
      sink.write(out.data(), out.size());
      sink.done();
      return true;
    }
    std::string out;
    if (first_)
      out = "event: history\ndata: " + sampler_->history() + "\n\n";
    else
      out = "event: sample\ndata: " + sample + "\n\n";
    first_ = false;
    return sink.write(out.data(), out.size());
  }

private:
  const readiness& state_;
  std::shared_ptr<dashboard_sampler> sampler_;
  std::shared_ptr<std::atomic<int>> open_;
  bool first_ = true;
};

} // namespace

void add_dashboard_routes(httplib::Server& svr, const readiness& state,
                          const ingest_options& opts, bool https) {
  auto access = opts.access;
  auto sampler = std::make_shared<dashboard_sampler>();
  auto streams = std::make_shared<std::atomic<int>>(0);

  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    serve_file(res, "index.html");
  });
  svr.Get(R"(/dashboard/([a-z0-9.\-]+))",
          [](const httplib::Request& req, httplib::Response& res) {
            serve_file(res, req.matches[1].str());
          });
  svr.Get("/v1/dashboard/session", [&state, access](const httplib::Request& req,
                                                    httplib::Response& res) {
    auto c = identify(req, res, *access, state);
    if (!c)
      return;
    auto out = session_json(*c, *access);
    state.with_node([&](node& n) { out["pipeline"] = n.pipeline().name; });
    res.set_content(out.dump(), json_type);
  });
  svr.Post("/v1/dashboard/login",
           [&state, access, https](const httplib::Request& req,
                                   httplib::Response& res) {
             post_login(req, res, state, *access, https);
           });
  svr.Post("/v1/dashboard/logout", [&state, access,
                                    https](const httplib::Request& req,
                                           httplib::Response& res) {
    auto c = identify(req, res, *access, state);
    if (!c)
      return;
    if (c->session) {
      access->sessions->close(c->session->id);
      audit_action(c->actor(), "dashboard logout", "done");
    }
    res.set_header("Set-Cookie",
                   session_cookie_header("", https, std::chrono::seconds{0}));
    res.set_content(R"({"logged_out":true})", json_type);
  });
  svr.Get("/v1/dashboard/topology", [&state,
                                     access](const httplib::Request& req,
                                             httplib::Response& res) {
    auto c = identify(req, res, *access, state);
    if (!c || !may_read(*c, req, res, *access, state))
      return;
    json out;
    if (!state.with_node([&](node& n) { out = topology_json(n.pipeline()); }))
      return refuse(res, 503, "the node is not ready: " + state.check().reason);
    res.set_content(out.dump(), json_type);
  });
  // GET /v1/dashboard/console?c=inspect&a=score&a=npm/react
  svr.Get("/v1/dashboard/console", [&state, access](const httplib::Request& req,
                                                    httplib::Response& res) {
    auto c = identify(req, res, *access, state);
    if (!c || !may_read(*c, req, res, *access, state))
      return;
    auto command = req.get_param_value("c");
    std::vector<std::string> args;
    for (std::size_t i = 0; i < req.get_param_value_count("a"); ++i)
      args.push_back(req.get_param_value("a", i));
    if (!page_may_run(command, args, false, res))
      return;
    run_console_command(*c, command, args, false, res, state);
  });
  // POST /v1/dashboard/console {"command": "pause", "args": ["score"]}
  svr.Post(
      "/v1/dashboard/console",
      [&state, access](const httplib::Request& req, httplib::Response& res) {
        auto c = identify(req, res, *access, state);
        if (!c)
          return;
        auto what = request_name(req);
        if (access->tokens.empty())
          return refuse_request(res, 403, "read-only", "token", read_only_why,
                                *c, what, state);
        if (!allowed(*c, scope::admin, false, what, res, *access, state))
          return;
        auto body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("command")
            || !body["command"].is_string()
            || (body.contains("args") && !body["args"].is_array()))
          return refuse(res, 400,
                        "the body must be JSON: {\"command\": \"pause\", "
                        "\"args\": [\"STAGE\"]}");
        auto command = body["command"].get<std::string>();
        std::vector<std::string> args;
        for (auto& a : body.value("args", json::array())) {
          if (!a.is_string())
            return refuse(res, 400, "every argument must be a string");
          args.push_back(a.get<std::string>());
        }
        if (!page_may_run(command, args, true, res))
          return;
        run_console_command(*c, command, args, true, res, state);
      });
  svr.Get("/v1/dashboard/stream", [&state, access, sampler,
                                   streams](const httplib::Request& req,
                                            httplib::Response& res) {
    auto c = identify(req, res, *access, state);
    if (!c || !may_read(*c, req, res, *access, state))
      return;
    if (streams->fetch_add(1) >= dashboard_streams) {
      streams->fetch_sub(1);
      res.set_header("Retry-After", "5");
      return refuse(res, 503,
                    "this node serves " + std::to_string(dashboard_streams)
                        + " dashboard streams at once; close a page");
    }
    auto s = std::make_shared<dashboard_stream>(state, sampler, streams);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [s](std::size_t, httplib::DataSink& sink) { return s->pump(sink); });
  });
}

} // namespace sluice::cli
