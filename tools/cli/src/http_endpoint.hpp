// Private: the HTTP listener of `sluice run --http HOST:PORT`. GET /healthz
// (the process runs), /readyz (the node is started, not failed, and takes
// input) and /metrics (Prometheus text), served on a background thread. This
// header does not include httplib.h.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

#include "http_ingest.hpp"
#include "sluice/node.hpp"
#include "sluice/result.hpp"
#include "tls_options.hpp"

namespace sluice::cli {

/// What /readyz and /metrics answer. The run command moves it along
/// (opening -> started -> stopped); the endpoint's threads read it. All
/// members are safe from any thread.
class readiness {
public:
  /// The node is started (its store is open): ready, and /metrics renders
  /// `m`. `m` must stay valid until `stopped` or `detach` is called.
  void started(sluice::node& n);
  /// The node stopped or failed: not ready, with the reason "the node
  /// stopped: `why`". /metrics still renders the node's metrics until
  /// `detach`.
  void stopped(const std::string& why);
  /// Forgets the metrics: call it before the node they belong to is
  /// destroyed. /metrics answers 503 afterwards.
  void detach();

  /// Adds a condition to readiness once started (a cluster member: joined,
  /// shards assigned): `fn` returns success when it is ready, else why
  /// not. Set before `started`; called from HTTP threads.
  void gate(std::function<result<void>()> fn);

  /// Ready, or why not.
  struct answer {
    bool ready = false;
    std::string reason; ///< empty when ready
  };
  /// The current state; before `started`, "the store is opening"; not
  /// ready while the node's input is paused (node::input_paused).
  answer check() const;
  /// The node's metrics in the Prometheus text format, or nothing before
  /// `started` and after `detach`.
  std::optional<std::string> render_metrics() const;
  /// Runs `fn` with the node while it is started (and keeps it from being
  /// detached meanwhile); false when there is no node.
  bool with_node(const std::function<void(sluice::node&)>& fn) const;

private:
  mutable std::shared_mutex mtx_;
  bool ready_ = false;
  std::string reason_ = "the store is opening";
  sluice::node* node_ = nullptr;
  std::function<result<void>()> gate_;
};

/// HTTPS for the endpoint (--tls-dir, --http-client-certs).
struct https_options {
  std::shared_ptr<const tls::identity> id; ///< null: plain HTTP
  client_certs clients = client_certs::optional;
};

/// An HTTP server on a background thread, answering from a `readiness`.
/// Stopped by `stop` or its destructor.
class http_endpoint {
public:
  /// Binds `host_port` ("HOST:PORT"; "[::1]:PORT" for IPv6) and starts
  /// serving. `state` must outlive the endpoint. A bad value (no port, a
  /// port out of 1..65535, an unknown host, an address in use) is an
  /// `invalid_argument` error that names it.
  /// With `ingest`, it also serves the event API (POST /v1/events, GET
  /// /v1/keys/STAGE/KEY; see http_ingest.hpp).
  /// With `https.id`, it serves HTTPS with that identity's certificate.
  static result<std::unique_ptr<http_endpoint>>
  start(const std::string& host_port, const readiness& state,
        std::optional<ingest_options> ingest = std::nullopt,
        const https_options& https = {});
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  /// Closes the listening socket and joins the server's threads. Idempotent.
  void stop();

  struct impl;

private:
  explicit http_endpoint(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice::cli
