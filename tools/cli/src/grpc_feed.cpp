// The Feeds gRPC service: each Subscribe call is one subscription of the
// node (sluice/feed.hpp) on one of the gRPC server's threads, pulled at the
// client's pace like GET /v1/feed: a batch of events per write, a
// heartbeat (an empty batch) after 5 s of quiet, the client's cancellation
// seen within half a second.
#include "grpc_feed.hpp"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "feed_streaming.hpp"
#include "grpc_feed_messages.hpp"
#include "http_access.hpp"
#include "sluice/v1/feed.grpc.pb.h"

namespace sluice::cli {

namespace {

/// How often a quiet stream checks whether its client went away.
constexpr std::chrono::milliseconds grpc_cancel_check{500};

/// A batch is written once its events hold about this many bytes (gRPC
/// clients refuse messages over 4 MiB by default).
constexpr std::size_t grpc_batch_bytes = 1u << 20;

grpc::StatusCode grpc_code_of(errc c) {
  switch (c) {
  case errc::invalid_argument:
  case errc::parse:
    return grpc::StatusCode::INVALID_ARGUMENT;
  case errc::not_found:
    return grpc::StatusCode::NOT_FOUND;
  case errc::config:
    return grpc::StatusCode::FAILED_PRECONDITION;
  case errc::unavailable:
  case errc::no_space:
    return grpc::StatusCode::UNAVAILABLE;
  default:
    return grpc::StatusCode::INTERNAL;
  }
}

/// "127.0.0.1:52814" of gRPC's "ipv4:127.0.0.1:52814" (and "[::1]:52814"
/// of "ipv6:%5B::1%5D:52814").
std::string peer_address(std::string peer) {
  for (std::string_view scheme : {"ipv4:", "ipv6:"})
    if (peer.starts_with(scheme))
      peer.erase(0, scheme.size());
  for (auto [from, to] : {std::pair{"%5B", "["}, {"%5D", "]"}})
    for (auto i = peer.find(from); i != std::string::npos; i = peer.find(from))
      peer.replace(i, 3, to);
  return peer;
}

/// The host of "HOST:PORT".
std::string host_of(const std::string& address) {
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

/// An estimate of an event's bytes in a batch.
std::size_t event_bytes(const feed_event& e) {
  return e.state_json.size() + e.state.size() + e.key.size() + e.cursor.size()
         + e.event_id.size() + e.reason.size() + 48;
}

class feeds_service final : public v1::Feeds::Service {
public:
  feeds_service(const readiness& state,
                std::shared_ptr<const access_policy> access)
      : state_(state), access_(std::move(access)) {}

  grpc::Status Subscribe(grpc::ServerContext* ctx,
                         const v1::SubscribeRequest* req,
                         grpc::ServerWriter<v1::FeedBatch>* out) override {
    auto peer = peer_address(ctx->peer());
    if (auto refused = check_caller(*ctx, peer, *req))
      return *refused;
    if (req->stage().empty())
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "give the stage to follow (SubscribeRequest.stage)"};
    if (!std::isfinite(req->max_rate()) || req->max_rate() < 0)
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "max_rate=" + std::to_string(req->max_rate())
                  + ": give a positive number of events per second (0: no "
                    "cap)"};
    feed_options fo;
    fo.cursor = req->cursor();
    fo.prefix = req->prefix();
    fo.keys.assign(req->keys().begin(), req->keys().end());
    fo.filter = req->filter();
    fo.attributes = req->attributes();
    fo.raw_state = req->raw_state();
    fo.client = peer + " (gRPC)";
    auto sub = subscribe_feed(state_, req->stage(), std::move(fo));
    if (!sub) {
      if (sub.error().code == errc::unavailable) // as HTTP's Retry-After
        ctx->AddTrailingMetadata("retry-after",
                                 std::to_string(feed_retry_after_seconds));
      return {grpc_code_of(sub.error().code), sub.error().message};
    }
    return stream(*ctx, **sub, req->max_rate(), *out);
  }

private:
  /// Nothing when the caller may subscribe; else the refusal (counted and
  /// audited as the HTTP API's are).
  std::optional<grpc::Status> check_caller(grpc::ServerContext& ctx,
                                           const std::string& peer,
                                           const v1::SubscribeRequest& req) {
    std::optional<std::string_view> authorization;
    const auto& md = ctx.client_metadata();
    if (auto i = md.find("authorization"); i != md.end())
      authorization = std::string_view(i->second.data(), i->second.size());
    std::string what = "gRPC Subscribe " + req.stage();
    auto who = bearer_caller(authorization, host_of(peer), *access_);
    const auto* caller = std::get_if<http_caller>(&who);
    std::optional<access_refusal> refusal;
    auto anonymous = anonymous_caller(host_of(peer));
    if (!caller)
      refusal = std::get<access_refusal>(who);
    else
      refusal = check_scope(*caller, scope::read, access_->public_read, what,
                            *access_);
    if (!refusal)
      return std::nullopt;
    record_refusal(*refusal, caller ? *caller : anonymous, what, state_);
    return grpc::Status(refusal->status == 401
                            ? grpc::StatusCode::UNAUTHENTICATED
                            : grpc::StatusCode::PERMISSION_DENIED,
                        refusal->why);
  }

  /// Writes the subscription's events until the client goes or the node
  /// stops.
  grpc::Status stream(grpc::ServerContext& ctx, feed_subscription& sub,
                      double max_rate, grpc::ServerWriter<v1::FeedBatch>& out) {
    feed_pacer pacer(max_rate);
    std::vector<feed_event> events;
    v1::FeedBatch batch;
    auto quiet_since = std::chrono::steady_clock::now();
    auto cancelled = [&ctx] { return ctx.IsCancelled(); };
    while (!ctx.IsCancelled()) {
      events.clear();
      auto r = sub.next(events, pacer.batch(), grpc_cancel_check);
      if (!r)
        return {grpc_code_of(r.error().code), r.error().message};
      auto now = std::chrono::steady_clock::now();
      if (events.empty()) {
        if (now - quiet_since < feed_heartbeat)
          continue;
        batch.Clear();
        if (!out.Write(batch))
          break;
        quiet_since = now;
        continue;
      }
      pacer.pace(events.size(), cancelled);
      batch.Clear();
      std::size_t bytes = 0;
      for (auto& e : events) {
        bytes += event_bytes(e);
        to_message(std::move(e), *batch.add_events());
        if (bytes >= grpc_batch_bytes) {
          if (!out.Write(batch))
            return grpc::Status::OK;
          batch.Clear();
          bytes = 0;
        }
      }
      if (batch.events_size() > 0 && !out.Write(batch))
        break;
      quiet_since = now;
    }
    return grpc::Status::OK; // the client went away
  }

  const readiness& state_;
  std::shared_ptr<const access_policy> access_;
};

} // namespace

struct grpc_endpoint::impl {
  impl(const readiness& state, std::shared_ptr<const access_policy> access)
      : service(state, std::move(access)) {}
  feeds_service service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::once_flag stopped;
};

grpc_endpoint::grpc_endpoint(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

grpc_endpoint::~grpc_endpoint() {
  stop();
}

int grpc_endpoint::port() const noexcept {
  return impl_->port;
}

result<std::unique_ptr<grpc_endpoint>>
grpc_endpoint::start(const std::string& host_port, const readiness& state,
                     std::shared_ptr<const access_policy> access,
                     const https_options& tls) {
  auto colon = host_port.rfind(':');
  auto port_text =
      colon == std::string::npos ? std::string{} : host_port.substr(colon + 1);
  if (colon == std::string::npos || colon == 0 || port_text.empty()
      || port_text.size() > 5
      || !std::all_of(port_text.begin(), port_text.end(),
                      [](char c) { return c >= '0' && c <= '9'; })
      || std::stoi(port_text) > 65535)
    return fail(errc::invalid_argument,
                "'" + host_port + "': expected HOST:PORT, e.g. 127.0.0.1:9465");
  if (!access)
    return fail(errc::invalid_argument, "the gRPC endpoint needs its access "
                                        "policy");
  auto p = std::make_unique<impl>(state, std::move(access));
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (tls.id) {
    grpc::SslServerCredentialsOptions o(
        tls.clients == client_certs::required
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    o.pem_root_certs = tls.id->ca_pem;
    o.pem_key_cert_pairs.push_back({tls.id->key_pem, tls.id->cert_pem});
    creds = grpc::SslServerCredentials(o);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::ServerBuilder b;
  // Not gRPC's default SO_REUSEPORT, which would let two nodes share one
  // port.
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Clients ping quiet connections (sluice subscribe every 20 s).
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                       10000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  b.AddListeningPort(host_port, creds, &p->port);
  b.RegisterService(&p->service);
  p->server = b.BuildAndStart();
  if (!p->server || p->port == 0)
    return fail(errc::invalid_argument,
                "cannot listen on " + host_port
                    + " (the port is in use, or the host is not an address "
                      "of this machine)");
  spdlog::info("grpc: change feeds (sluice.v1.Feeds) on {}{}",
               host_port.ends_with(":0")
                   ? host_port.substr(0, host_port.size() - 1)
                         + std::to_string(p->port)
                   : host_port,
               !tls.id ? ""
               : tls.clients == client_certs::required
                   ? " (TLS; client certificates required)"
                   : " (TLS; client certificates optional)");
  return std::unique_ptr<grpc_endpoint>(new grpc_endpoint(std::move(p)));
}

void grpc_endpoint::stop() {
  std::call_once(impl_->stopped, [this] {
    // Streams see their cancellation within grpc_cancel_check.
    impl_->server->Shutdown(std::chrono::system_clock::now()
                            + std::chrono::milliseconds(200));
    impl_->server->Wait();
  });
}

} // namespace sluice::cli
