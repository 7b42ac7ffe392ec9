// The Feeds service's client side, for `sluice subscribe --grpc`: one
// Subscribe call at a time, its events handed over one by one, its end
// told apart (worth retrying or not).
#include <grpcpp/grpcpp.h>

#include <mutex>

#include "grpc_feed.hpp"
#include "grpc_feed_messages.hpp"
#include "sluice/v1/feed.grpc.pb.h"

namespace sluice::cli {

namespace {

errc errc_of(grpc::StatusCode c) {
  switch (c) {
  case grpc::StatusCode::INVALID_ARGUMENT:
    return errc::invalid_argument;
  case grpc::StatusCode::NOT_FOUND:
    return errc::not_found;
  case grpc::StatusCode::FAILED_PRECONDITION:
  case grpc::StatusCode::UNAUTHENTICATED:
  case grpc::StatusCode::PERMISSION_DENIED:
    return errc::config;
  case grpc::StatusCode::UNAVAILABLE:
  case grpc::StatusCode::DEADLINE_EXCEEDED:
  case grpc::StatusCode::RESOURCE_EXHAUSTED:
  case grpc::StatusCode::ABORTED:
    return errc::unavailable;
  default:
    return errc::io;
  }
}

} // namespace

struct grpc_feed_client::impl {
  std::string target;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  std::unique_ptr<v1::Feeds::Stub> stub;
  std::mutex mtx;
  grpc::ClientContext* call = nullptr; ///< the call in progress
  bool cancelled = false;

  /// A new channel: after a lost connection, gRPC's own channel would
  /// retry on its own backoff schedule (seconds, under load); a new one
  /// connects at once, so `sluice subscribe`'s backoff alone decides.
  void connect() {
    stub = v1::Feeds::NewStub(grpc::CreateCustomChannel(target, creds, args));
  }
};

grpc_feed_client::grpc_feed_client(const std::string& host_port,
                                   std::shared_ptr<const tls::identity> tls)
    : impl_(std::make_unique<impl>()) {
  impl_->target = host_port;
  if (tls) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = tls->ca_pem;
    o.pem_private_key = tls->key_pem;
    o.pem_cert_chain = tls->cert_pem;
    impl_->creds = grpc::SslCredentials(o);
  } else {
    impl_->creds = grpc::InsecureChannelCredentials();
  }
  // A node that vanished (a cut network, no FIN) is noticed in about 30 s.
  impl_->args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  impl_->args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  impl_->args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  impl_->connect();
}

grpc_feed_client::~grpc_feed_client() = default;

void grpc_feed_client::cancel() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->cancelled = true;
  if (impl_->call)
    impl_->call->TryCancel();
}

grpc_feed_end grpc_feed_client::follow(
    const grpc_feed_request& req,
    const std::function<bool(const feed_event&, bool last)>& on_event) {
  grpc::ClientContext ctx;
  if (!req.token.empty())
    ctx.AddMetadata("authorization", "Bearer " + req.token);
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->cancelled)
      return {true, errc::io, "", false};
    impl_->call = &ctx;
  }
  v1::SubscribeRequest r;
  r.set_stage(req.stage);
  r.set_cursor(req.options.cursor);
  r.set_prefix(req.options.prefix);
  for (auto& k : req.options.keys)
    r.add_keys(k);
  r.set_filter(req.options.filter);
  r.set_attributes(req.options.attributes);
  r.set_max_rate(req.max_rate);
  auto reader = impl_->stub->Subscribe(&ctx, r);
  v1::FeedBatch batch;
  bool stopped = false;
  while (!stopped && reader->Read(&batch))
    for (int i = 0; i < batch.events_size(); ++i)
      if (!on_event(from_message(batch.events(i)),
                    i + 1 == batch.events_size())) {
        stopped = true;
        ctx.TryCancel();
        break;
      }
  auto status = reader->Finish();
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->call = nullptr;
    cancelled = impl_->cancelled;
  }
  if (status.ok() || stopped || cancelled)
    return {true, errc::io, "", false};
  auto code = errc_of(status.error_code());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE)
    impl_->connect(); // the next call on a fresh channel
  return {false, code, status.error_message(),
          code == errc::unavailable || code == errc::io};
}

} // namespace sluice::cli
