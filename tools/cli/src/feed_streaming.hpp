// Private: what the change feed's two transports share (GET /v1/feed over
// HTTP, http_feed.cpp; the Feeds service over gRPC, grpc_feed.cpp, and the
// `sluice subscribe` client of both): the node's subscription, the size and
// pace of writes, the heartbeat, and an event as its JSON object.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sluice/feed.hpp"
#include "sluice/result.hpp"

namespace sluice::cli {

class readiness;

/// Events taken from a subscription per write.
inline constexpr std::size_t feed_batch_events = 1024;

/// A heartbeat after this long without an event: proxies keep the
/// connection, and a client that went away is noticed.
inline constexpr std::chrono::milliseconds feed_heartbeat{5000};

/// How long a refused subscriber (the node's limit) is told to wait.
inline constexpr int feed_retry_after_seconds = 5;

/// A subscription to `stage` of the node `state` serves; unavailable when
/// the node is not ready, else node::subscribe's errors.
result<std::unique_ptr<feed_subscription>>
subscribe_feed(const readiness& state, const std::string& stage,
               feed_options opts);

/// Keeps a stream at or under `max_rate` events a second (0: no cap).
class feed_pacer {
public:
  explicit feed_pacer(double max_rate);
  /// How many events to take for the next write.
  std::size_t batch() const noexcept;
  /// Sleeps until sending `n` more events keeps to the rate, or until
  /// `stop` (checked every 100 ms) says the stream ends.
  void pace(std::size_t n, const std::function<bool()>& stop = {});

private:
  double max_rate_;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t sent_ = 0;
};

/// A rate given as text ("500", "0.5"): a positive number of events a
/// second, else invalid_argument naming it as `what` (e.g. "max_rate").
result<double> parse_max_rate(const std::string& text, const std::string& what);

/// One event as the JSON object both NDJSON and SSE carry:
/// {"type":"change","key":...,"state":{...},"offset":...,"cursor":...}.
std::string feed_event_json(const feed_event& e);

} // namespace sluice::cli
