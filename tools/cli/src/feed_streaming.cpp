// What the change feed's transports share: subscribing through the
// endpoint's readiness, pacing, and the JSON form of an event.
#include "feed_streaming.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <thread>

#include "http_endpoint.hpp"
#include "log_format.hpp"
#include "sluice/utc_time.hpp"

namespace sluice::cli {

result<std::unique_ptr<feed_subscription>>
subscribe_feed(const readiness& state, const std::string& stage,
               feed_options opts) {
  std::optional<result<std::unique_ptr<feed_subscription>>> sub;
  state.with_node(
      [&](node& n) { sub.emplace(n.subscribe(stage, std::move(opts))); });
  if (!sub)
    return fail(errc::unavailable,
                "the node is not ready: " + state.check().reason);
  return std::move(*sub);
}

feed_pacer::feed_pacer(double max_rate)
    : max_rate_(max_rate), started_(std::chrono::steady_clock::now()) {}

std::size_t feed_pacer::batch() const noexcept {
  if (max_rate_ <= 0)
    return feed_batch_events;
  // About ten writes a second at a capped rate.
  return std::clamp<std::size_t>(static_cast<std::size_t>(max_rate_ / 10), 1,
                                 feed_batch_events);
}

void feed_pacer::pace(std::size_t n, const std::function<bool()>& stop) {
  if (max_rate_ <= 0)
    return;
  sent_ += n;
  auto due = started_
             + std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::duration<double>(static_cast<double>(sent_)
                                               / max_rate_));
  for (auto now = std::chrono::steady_clock::now(); due > now;
       now = std::chrono::steady_clock::now()) {
    if (stop && stop())
      return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        due - now, std::chrono::milliseconds(100)));
  }
}

result<double> parse_max_rate(const std::string& text,
                              const std::string& what) {
  char* end = nullptr;
  double rate = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(rate)
      || rate <= 0)
    return fail(errc::invalid_argument,
                what + "=" + text
                    + ": give a positive number of events per second");
  return rate;
}

std::string feed_event_json(const feed_event& e) {
  std::string out = "{\"type\":\"";
  out += to_string(e.kind);
  out += '"';
  if (!e.key.empty())
    out += ",\"key\":" + json_string(e.key);
  if (e.kind == feed_event_kind::snapshot || e.kind == feed_event_kind::change)
    out += ",\"state\":" + (e.state_json.empty() ? "null" : e.state_json);
  if (!e.event_id.empty())
    out += ",\"event_id\":" + json_string(e.event_id);
  if (!e.attributes.empty()) {
    out += ",\"attributes\":{";
    bool first = true;
    for (auto& [name, value] : e.attributes) {
      out += (first ? "" : ",") + json_string(name) + ":" + json_string(value);
      first = false;
    }
    out += '}';
  }
  if (e.ts_ns > 0)
    out += ",\"ts\":\"" + utc_time(e.ts_ns) + "\"";
  if (e.version > 0)
    out += ",\"version\":" + std::to_string(e.version);
  if (e.kind == feed_event_kind::change || e.kind == feed_event_kind::removed
      || e.kind == feed_event_kind::progress
      || e.kind == feed_event_kind::snapshot_end)
    out += ",\"offset\":" + std::to_string(e.offset);
  if (e.kind == feed_event_kind::change || e.kind == feed_event_kind::removed)
    out += ",\"shard\":" + std::to_string(e.shard);
  if (e.kind == feed_event_kind::snapshot_end)
    out += ",\"keys\":" + std::to_string(e.keys);
  if (!e.reason.empty())
    out += ",\"reason\":" + json_string(e.reason);
  if (!e.cursor.empty())
    out += ",\"cursor\":" + json_string(e.cursor);
  out += '}';
  return out;
}

} // namespace sluice::cli
