// Private: what keeps on-demand ingestion (GET /v1/keys for an unknown key,
// ?refresh=1) from filling the urgent lane: a token bucket per client
// address and per token (429 + Retry-After), a cap on ingestions in flight
// (503), and a bound on the ingestions one client has under way (429).
// Thread-safe: one mutex, held for a few map operations per request.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sluice::cli {

/// The limits; every one is per node.
struct ondemand_limit_options {
  double rate = 20;  ///< requests per second, per client and per token
  double burst = 40; ///< the bucket's size: requests allowed at once
  /// On-demand requests being served at once (each may wait up to its
  /// ?wait for the pipeline); beyond it 503.
  std::size_t max_in_flight = 8;
  /// Ingestions one client started that are not known to be finished
  /// (each forgotten after `pending_ttl`); beyond it 429.
  std::size_t max_pending_per_client = 16;
  std::chrono::seconds pending_ttl{60};
};

/// Token buckets keyed by a string (a client address, a token name).
class token_buckets {
public:
  using clock = std::chrono::steady_clock;
  token_buckets(double rate, double burst) : rate_(rate), burst_(burst) {}
  /// Takes one token of `who`'s bucket: 0 when there was one, else the
  /// whole seconds (at least 1) until there is.
  int take(const std::string& who, clock::time_point now);

private:
  struct bucket {
    double tokens;
    clock::time_point at;
  };
  double rate_, burst_;
  std::unordered_map<std::string, bucket> buckets_;
};

/// Admission of on-demand requests; one per endpoint.
class ondemand_limits {
public:
  using clock = std::chrono::steady_clock;
  explicit ondemand_limits(ondemand_limit_options o);

  /// Whether a request may start an ingestion, and if not why.
  struct decision {
    int status = 0;      ///< 0: admitted; 429 or 503
    int retry_after = 0; ///< seconds, for the Retry-After header
    std::string reason;  ///< the metric label: rate_limited, ...
    std::string message; ///< for the body and the audit line
  };
  /// Admits a request from `client` (its address) with `token` (its name,
  /// "" when anonymous). When admitted, the caller must call `finished`
  /// once its call into the node returns.
  decision admit(const std::string& client, const std::string& token,
                 clock::time_point now = clock::now());
  /// The admitted request's call returned; `pending_key` non-empty: it
  /// left an ingestion under way for that key (a 202).
  void finished(const std::string& client, const std::string& pending_key,
                clock::time_point now = clock::now());
  /// The client saw `key` finished (a 200): it no longer counts.
  void settled(const std::string& client, const std::string& key);

  const ondemand_limit_options& options() const noexcept { return opts_; }

private:
  std::size_t pending_of(const std::string& client, clock::time_point now);

  ondemand_limit_options opts_;
  std::mutex mtx_;
  token_buckets by_client_, by_token_;
  std::size_t in_flight_ = 0;
  /// client -> key -> when it stops counting
  std::unordered_map<std::string,
                     std::unordered_map<std::string, clock::time_point>>
      pending_;
};

} // namespace sluice::cli
