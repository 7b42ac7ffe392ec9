// Token buckets, the in-flight cap and the per-client bound on ingestions
// under way, behind one mutex. Maps are pruned as they are used, so a
// storm from many addresses cannot grow them without bound.
#include "ondemand_limits.hpp"

#include <algorithm>
#include <cmath>

namespace sluice::cli {

namespace {

/// Past this many clients, idle entries are dropped at the next insert.
constexpr std::size_t prune_above = 10000;

} // namespace

int token_buckets::take(const std::string& who, clock::time_point now) {
  if (buckets_.size() > prune_above)
    std::erase_if(buckets_, [&](auto& kv) {
      auto idle = std::chrono::duration<double>(now - kv.second.at).count();
      return kv.second.tokens + idle * rate_ >= burst_; // full: forgettable
    });
  auto [i, added] = buckets_.try_emplace(who, bucket{burst_, now});
  auto& b = i->second;
  auto elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  auto wait = rate_ > 0 ? (1 - b.tokens) / rate_ : 60.0;
  return std::max(1, static_cast<int>(std::ceil(wait)));
}

ondemand_limits::ondemand_limits(ondemand_limit_options o)
    : opts_(o), by_client_(o.rate, o.burst), by_token_(o.rate, o.burst) {}

std::size_t ondemand_limits::pending_of(const std::string& client,
                                        clock::time_point now) {
  auto i = pending_.find(client);
  if (i == pending_.end())
    return 0;
  std::erase_if(i->second, [&](auto& kv) { return kv.second <= now; });
  if (i->second.empty()) {
    pending_.erase(i);
    return 0;
  }
  return i->second.size();
}

ondemand_limits::decision ondemand_limits::admit(const std::string& client,
                                                 const std::string& token,
                                                 clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto rate = std::to_string(static_cast<long>(opts_.rate));
  if (int wait = by_client_.take(client, now); wait > 0)
    return {429, wait, "rate_limited",
            "too many on-demand requests from " + client + " (at most " + rate
                + "/s); retry after " + std::to_string(wait) + " s"};
  if (!token.empty())
    if (int wait = by_token_.take(token, now); wait > 0)
      return {429, wait, "rate_limited",
              "too many on-demand requests with token '" + token + "' (at most "
                  + rate + "/s); retry after " + std::to_string(wait) + " s"};
  if (auto n = pending_of(client, now); n >= opts_.max_pending_per_client)
    return {429, 1, "client_backlog",
            client + " has " + std::to_string(n)
                + " on-demand ingestions under way (at most "
                + std::to_string(opts_.max_pending_per_client)
                + "); ask their links until they finish"};
  if (in_flight_ >= opts_.max_in_flight)
    return {503, 1, "in_flight",
            "overloaded: " + std::to_string(in_flight_)
                + " on-demand ingestions in flight (at most "
                + std::to_string(opts_.max_in_flight) + "); retry after 1 s"};
  ++in_flight_;
  return {};
}

void ondemand_limits::finished(const std::string& client,
                               const std::string& pending_key,
                               clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (in_flight_ > 0)
    --in_flight_;
  if (pending_key.empty())
    return;
  if (pending_.size() > prune_above) // many clients: drop the expired
    for (auto i = pending_.begin(); i != pending_.end();) {
      std::erase_if(i->second, [&](auto& e) { return e.second <= now; });
      i = i->second.empty() ? pending_.erase(i) : std::next(i);
    }
  pending_[client][pending_key] = now + opts_.pending_ttl;
}

void ondemand_limits::settled(const std::string& client,
                              const std::string& key) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = pending_.find(client); i != pending_.end()) {
    i->second.erase(key);
    if (i->second.empty())
      pending_.erase(i);
  }
}

} // namespace sluice::cli
