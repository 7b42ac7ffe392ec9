// The HTTP listener of `sluice run --http`: cpp-httplib's server on its own
// thread, with a small pool for requests, answering from a `readiness`.
#include "http_endpoint.hpp"

#include <httplib.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>

#include "dashboard_routes.hpp"
#include "http_access.hpp"
#include "http_ingest_routes.hpp"
#include "log_format.hpp"
#include "ondemand_limits.hpp"

namespace sluice::cli {

// -- readiness ------------------------------------------------------------

void readiness::started(sluice::node& n) {
  std::unique_lock guard{mtx_};
  ready_ = true;
  reason_.clear();
  node_ = &n;
}

void readiness::stopped(const std::string& why) {
  std::unique_lock guard{mtx_};
  ready_ = false;
  reason_ = "the node stopped: " + why;
}

void readiness::detach() {
  std::unique_lock guard{mtx_};
  node_ = nullptr;
}

void readiness::gate(std::function<result<void>()> fn) {
  std::unique_lock guard{mtx_};
  gate_ = std::move(fn);
}

readiness::answer readiness::check() const {
  std::shared_lock guard{mtx_};
  if (ready_ && gate_)
    if (auto ok = gate_(); !ok)
      return {false, ok.error().message};
  if (ready_ && node_ != nullptr)
    if (auto why = node_->input_paused(); !why.empty())
      return {false, why};
  return {ready_, reason_};
}

std::optional<std::string> readiness::render_metrics() const {
  // Under the lock, so `detach` waits for a rendering in progress.
  std::shared_lock guard{mtx_};
  if (node_ == nullptr)
    return std::nullopt;
  return node_->prometheus(); // with the queue depths read from LMDB
}

bool readiness::with_node(const std::function<void(sluice::node&)>& fn) const {
  std::shared_lock guard{mtx_};
  if (node_ == nullptr || !ready_)
    return false;
  fn(*node_);
  return true;
}

// -- the endpoint ---------------------------------------------------------

namespace {

constexpr const char* example = "expected HOST:PORT, e.g. 127.0.0.1:9464";

struct address {
  std::string host;
  int port = 0;
};

result<address> parse_address(const std::string& value) {
  auto bad = [&](const std::string& why) {
    return error{errc::invalid_argument, "'" + value + "': " + why};
  };
  address a;
  std::string_view port;
  if (value.starts_with('[')) { // [IPv6]:PORT
    auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size()
        || value[close + 1] != ':')
      return bad(std::string{example} + " ([ADDRESS]:PORT for IPv6)");
    a.host = value.substr(1, close - 1);
    port = std::string_view{value}.substr(close + 2);
  } else {
    auto colon = value.rfind(':');
    if (colon == std::string::npos)
      return bad(std::string{"no port; "} + example);
    a.host = value.substr(0, colon);
    if (a.host.find(':') != std::string::npos)
      return bad("an IPv6 address needs brackets: [ADDRESS]:PORT");
    port = std::string_view{value}.substr(colon + 1);
  }
  if (a.host.empty())
    return bad(std::string{"no host; "} + example
               + " (0.0.0.0 for every interface)");
  if (port.empty())
    return bad(std::string{"no port; "} + example);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != port.npos)
    return bad("the port '" + std::string{port}
               + "' is not a number in 1..65535");
  a.port = std::stoi(std::string{port});
  if (a.port < 1 || a.port > 65535)
    return bad("the port " + std::string{port} + " is out of range 1..65535");
  return a;
}

std::string json_error(const std::string& message) {
  return "{\"error\":" + json_string(message) + "}";
}

} // namespace

struct http_endpoint::impl {
  explicit impl(const readiness& s) : state(s) {}
  const readiness& state;
  std::unique_ptr<httplib::Server> svr;
  std::thread thread;
};

http_endpoint::http_endpoint(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

http_endpoint::~http_endpoint() {
  stop();
}

void http_endpoint::stop() {
  if (!impl_->thread.joinable())
    return;
  impl_->svr->stop();
  impl_->thread.join();
}

result<std::unique_ptr<http_endpoint>>
http_endpoint::start(const std::string& host_port, const readiness& state,
                     std::optional<ingest_options> ingest,
                     const https_options& https) {
  auto addr = parse_address(host_port);
  if (!addr)
    return addr.error();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(addr->host.c_str(), nullptr, &hints, &found);
      rc != 0)
    return error{errc::invalid_argument, "'" + host_port + "': unknown host '"
                                             + addr->host
                                             + "': " + ::gai_strerror(rc)};
  ::freeaddrinfo(found);

  auto p = std::make_unique<impl>(state);
  if (https.id) {
    auto s = make_https_server(*https.id, https.clients);
    if (!s)
      return s.error();
    p->svr = std::move(*s);
  } else {
    p->svr = std::make_unique<httplib::Server>();
  }
  auto& svr = *p->svr;
  // Health checks are rare and short: two threads. The event API waits
  // for commits, so it gets more, to let concurrent posts share them.
  // On-demand queries may each wait up to 30 s, but at most
  // `limits->max_in_flight` of them at once, so the rest of the pool stays
  // free for the webhook.
  // Each change-feed stream holds a thread while it is open: the pool has
  // one for each the node serves, besides the others.
  // So does each open dashboard page's live stream.
  std::size_t threads =
      ingest ? 16 + ingest->feed_subscribers + dashboard_streams : 2;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  if (ingest) {
    if (!ingest->access)
      ingest->access = std::make_shared<access_policy>();
    if (!ingest->limits)
      ingest->limits =
          std::make_shared<ondemand_limits>(ondemand_limit_options{});
    svr.set_payload_max_length(ingest->max_body_bytes);
    add_event_routes(svr, state, *ingest);
    add_feed_route(svr, state, *ingest);
    add_dashboard_routes(svr, state, *ingest, https.id != nullptr);
  }
  // SO_REUSEADDR (a restart binds despite TIME_WAIT) but not httplib's
  // default SO_REUSEPORT, which would let two nodes share one port.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Answers are written in more than one send: without TCP_NODELAY, Nagle
  // holds the second until the client's delayed ACK (some 40 ms).
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_timeout(1);
  svr.set_read_timeout(5);
  svr.set_write_timeout(5);

  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"alive"})", json_type);
  });
  svr.Get("/readyz", [&state](const httplib::Request&, httplib::Response& res) {
    auto a = state.check();
    if (a.ready) {
      res.set_content(R"({"ready":true})", json_type);
      return;
    }
    res.status = 503;
    res.set_content(R"({"ready":false,"reason":)" + json_string(a.reason) + "}",
                    json_type);
  });
  auto access = ingest ? ingest->access : nullptr;
  svr.Get("/metrics", [&state, access](const httplib::Request& req,
                                       httplib::Response& res) {
    if (access && access->private_metrics) {
      auto caller = identify(req, res, *access, state);
      if (!caller
          || !allowed(*caller, scope::read, false, request_name(req), res,
                      *access, state))
        return;
    }
    if (auto text = state.render_metrics()) {
      res.set_content(*text, "text/plain; version=0.0.4");
      return;
    }
    auto a = state.check();
    res.status = 503;
    res.set_content(
        json_error("no metrics: "
                   + (a.reason.empty() ? "the node stopped" : a.reason)),
        json_type);
  });
  // Unknown paths (and methods): httplib answers 404 with no body.
  svr.set_error_handler(httplib::Server::HandlerWithResponse{
      [](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty() || (res.status != 404 && res.status != 413))
          return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(json_error(res.status == 404
                                       ? "no such endpoint: " + req.path
                                       : "the body is larger than the "
                                         "server takes"),
                        json_type);
        return httplib::Server::HandlerResponse::Handled;
      }});
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("http: {} {} -> {}", req.method, req.path, res.status);
  });

  errno = 0;
  if (!svr.bind_to_port(addr->host, addr->port)) {
    int err = errno;
    return error{errc::invalid_argument,
                 "'" + host_port + "': cannot listen"
                     + (err != 0 ? ": " + std::generic_category().message(err)
                                 : std::string{})};
  }
  auto* raw = &svr;
  p->thread = std::thread{[raw] { raw->listen_after_bind(); }};
  // stop() only closes a server that is running: wait until it is.
  for (int i = 0; i < 5000 && !svr.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("http: serving /healthz, /readyz and /metrics on {}{}",
               host_port,
               !https.id ? ""
               : https.clients == client_certs::required
                   ? " (HTTPS; client certificates required)"
                   : " (HTTPS; client certificates optional)");
  if (ingest)
    spdlog::info(
        "http: events on {}/v1/events ({}), keys on {}/v1/keys", host_port,
        ingest->hmac_key.empty() ? "off: no --hmac-key-file" : "HMAC-signed",
        host_port);
  return std::unique_ptr<http_endpoint>{new http_endpoint(std::move(p))};
}

} // namespace sluice::cli
