// Private: the event API of `sluice run --http`: POST /v1/events (the
// webhook, HMAC-signed, acknowledged after commit) and GET
// /v1/keys/{stage}/{key}. Routes added to the endpoint's server; the
// handlers run on its threads and reach the node through its readiness.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/result.hpp"

namespace sluice::cli {

struct access_policy;
class ondemand_limits;

/// How the webhook accepts events.
struct ingest_options {
  /// The HMAC-SHA256 key (from --hmac-key-file); empty: POST /v1/events is
  /// refused (403), since every webhook must be signed.
  std::string hmac_key;
  std::size_t max_body_bytes = 8u << 20; ///< larger bodies get 413
  std::size_t max_events = 10000;        ///< per request, else 413
  std::size_t max_in_flight = 64;        ///< concurrent posts, else 503
  /// Change-feed streams served at once (the node's
  /// `max_feed_subscribers`): each has a thread of the endpoint's own.
  std::size_t feed_subscribers = 64;
  std::uint64_t max_backlog = 10000000; ///< queued events, else 429
  /// The node has an on-demand source (--catalog): GET /v1/keys ingests an
  /// unknown key from it. Only changes the wording of a 404.
  bool catalog = false;
  /// Who may read, query, publish and administer (http_access.hpp); never
  /// null once the endpoint starts (an empty policy refuses every token).
  std::shared_ptr<const access_policy> access;
  /// The limits of on-demand ingestion (ondemand_limits.hpp); never null
  /// once the endpoint starts.
  std::shared_ptr<ondemand_limits> limits;
};

/// "sha256=<hex>" of `body` under `key`, as in X-Sluice-Signature.
std::string sign_body(const std::string& key, const std::string& body);

/// True when `header` is "sha256=<hex>" and matches `body` under `key`;
/// compared in constant time.
bool signature_matches(const std::string& key, const std::string& body,
                       const std::string& header);

/// A JSON webhook body (one event object or an array of them) as events,
/// or an error naming what is wrong and where ("event 3: no key").
/// Missing ids are derived from the body, so a resent body has the same.
result<std::vector<event>> events_from_json(const std::string& body);

} // namespace sluice::cli
