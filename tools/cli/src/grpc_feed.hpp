// Private: change feeds over gRPC (`--grpc HOST:PORT` of `run` and `node`):
// the Feeds service of protocols/sluice/v1/feed.proto, served from the
// node's subscriptions like GET /v1/feed/STAGE (the same cursors, filters
// and limits), with the HTTP API's tokens and the node's TLS directory.
// And the client side, for `sluice subscribe --grpc`. This header does not
// include gRPC's.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http_endpoint.hpp"
#include "sluice/feed.hpp"
#include "sluice/result.hpp"

namespace sluice::cli {

struct access_policy;

/// The Feeds service on a gRPC server of its own, on background threads.
/// Stopped by `stop` or its destructor.
class grpc_endpoint {
public:
  /// Binds `host_port` ("127.0.0.1:9465", "[::1]:9465"; port 0: any free
  /// one) and serves. `state` must outlive the endpoint; callers are
  /// checked against `access` (scope read; anonymous ones too with its
  /// public_read). With `tls.id`, TLS with that identity, client
  /// certificates verified when presented (required with
  /// client_certs::required). An address it cannot bind is an
  /// invalid_argument error naming it.
  static result<std::unique_ptr<grpc_endpoint>>
  start(const std::string& host_port, const readiness& state,
        std::shared_ptr<const access_policy> access,
        const https_options& tls = {});
  ~grpc_endpoint();
  grpc_endpoint(const grpc_endpoint&) = delete;
  grpc_endpoint& operator=(const grpc_endpoint&) = delete;

  /// The port it listens on.
  int port() const noexcept;

  /// Ends every stream (their clients see UNAVAILABLE and resume from
  /// their cursors later) and joins the server's threads. Idempotent.
  void stop();

  struct impl;

private:
  explicit grpc_endpoint(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// What a client asks of the Feeds service.
struct grpc_feed_request {
  std::string stage;
  feed_options options; ///< cursor, prefix, keys, filter
  double max_rate = 0;  ///< events a second; 0: no cap
  std::string token;    ///< sent as "authorization: Bearer TOKEN" if set
};

/// How one call of the client ended.
struct grpc_feed_end {
  bool ok = false;      ///< the server ended the stream without an error
  errc code = errc::io; ///< else what kind of error
  std::string message;  ///< and its text
  bool retry = false;   ///< worth trying again (unavailable, cut off)
};

/// A client of one node's Feeds service. `cancel` may be called from
/// another thread (a signal watcher).
class grpc_feed_client {
public:
  /// A channel to `host_port`, over TLS with `tls` (its CA checks the
  /// server, its certificate is presented) when not null.
  grpc_feed_client(const std::string& host_port,
                   std::shared_ptr<const tls::identity> tls);
  ~grpc_feed_client();
  grpc_feed_client(const grpc_feed_client&) = delete;
  grpc_feed_client& operator=(const grpc_feed_client&) = delete;

  /// Calls Subscribe and hands each event to `on_event` (which returns
  /// false to stop; `last`: the last of the batch the server wrote) until
  /// the stream ends, fails or is cancelled.
  grpc_feed_end
  follow(const grpc_feed_request& req,
         const std::function<bool(const feed_event&, bool last)>& on_event);

  /// Ends the call `follow` is in, and any later one.
  void cancel();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace sluice::cli
