// Private: the loop behind `sluice run` and `sluice node`: start the node
// (and its HTTP endpoint), show progress, stop on drain (run) or on a
// signal (--serve, node), and exit with the shared codes.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "sluice/node.hpp"
#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace CLI {
class App;
} // namespace CLI

namespace sluice::cli {

struct run_args {
  std::string pipeline;
  std::vector<std::string> feeds;
  std::string format; ///< --format: the feeds' format, over the topology's
  std::vector<std::string> sources; ///< --source URLs, beside `sources:`
  std::string data_dir;
  bool no_sync = false;
  bool refeed = false;
  bool quiet = false;
  bool serve = false;
  std::string http;
  std::string grpc; ///< --grpc: change feeds over gRPC
  std::string listen;
  std::string hmac_key_file;
  std::string catalog;
  std::string token_file;
  std::string
      cluster_secret_file; ///< `node --secret-file`: its mode is checked
  /// A data directory open to other users is an error, not a warning.
  bool strict_permissions = false;
  std::string tls_dir; ///< --tls-dir: mutual TLS and HTTPS
  std::string http_client_certs = "optional"; ///< or "required"
  std::string tokens_file;      ///< named bearer tokens of the HTTP API
  bool public_read = false;     ///< GET /v1/keys (known keys) without a token
  bool private_metrics = false; ///< GET /metrics needs scope read
  double query_rate = 20;       ///< on-demand requests/s per client and token
  std::size_t query_in_flight = 8;
  std::size_t query_per_client = 16;
  /// --feed-subscribers: change-feed streams served at once.
  std::size_t feed_subscribers = 64;
  std::string name = "local";
  std::size_t threads = 0;
  std::size_t commit_batch = 4096;
  unsigned commit_window_ms = 20;
  unsigned commit_budget_ms = 10; ///< --commit-budget
  /// --max-data-size: the largest the data directory's file may grow.
  std::uint64_t max_data_size = std::uint64_t{64} << 30;
  /// `node --check`: validate everything a start would, start nothing.
  bool check_only = false;
};

/// What `sluice node` adds to the loop: its options (the cluster
/// extension), a check for a member that gave up (exit 1), and one for a
/// member that left the cluster (a clean stop, exit 0).
struct member_hooks {
  std::function<result<void>(node_options&)> extend;
  /// Success while the member runs; else why it gave up.
  std::function<result<void>()> running;
  std::function<bool()> finished;
  /// Success when ready; else why /readyz should say no although the node
  /// runs.
  std::function<result<void>()> ready;
};

/// The options `sluice run` and `sluice node` share for the store:
/// --threads, --commit-batch, --commit-window, --commit-budget,
/// --max-data-size.
void add_store_options(CLI::App& cmd, run_args& a);

/// Runs a pipeline as `sluice run` does; with `member`, as a cluster
/// member. Returns the exit code.
int run_pipeline(const run_args& a, const registry& reg,
                 const member_hooks* member = nullptr);

} // namespace sluice::cli
