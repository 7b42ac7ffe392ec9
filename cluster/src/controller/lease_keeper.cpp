// The keeper sends; the watchdog only watches the clock, so that a keepalive
// stuck in a slow call (its timeouts may exceed the TTL) cannot delay the
// report that the lease is unconfirmed. A lease that was unconfirmed but
// answers again in time is kept (its keys never went, so nothing was given
// away); only one etcd says is gone is replaced.
#include "controller/lease_keeper.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace sluice::cluster {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

result<std::unique_ptr<lease_keeper>>
lease_keeper::start(etcd_client client, std::string key, std::string value,
                    std::chrono::milliseconds ttl, report on_change,
                    etcd_outage& outage, std::shared_ptr<spdlog::logger> log) {
  auto seconds = std::max<std::int64_t>(1, (ttl.count() + 999) / 1000);
  std::unique_ptr<lease_keeper> k{
      new lease_keeper(std::move(client), std::move(key), std::move(value),
                       std::chrono::seconds(seconds), std::move(on_change),
                       outage, std::move(log))};
  auto sent = clock_type::now();
  auto lease = k->grant_and_put();
  if (!lease)
    return lease.error();
  k->lease_ = lease->id;
  k->ttl_ = lease->ttl;
  k->last_ok_sent_ = sent;
  k->keeper_ = std::thread([p = k.get()] { p->guarded(&lease_keeper::keep); });
  k->watchdog_ =
      std::thread([p = k.get()] { p->guarded(&lease_keeper::watch_deadline); });
  return k;
}

lease_keeper::lease_keeper(etcd_client client, std::string key,
                           std::string value, std::chrono::seconds asked,
                           report on_change, etcd_outage& outage,
                           std::shared_ptr<spdlog::logger> log)
    : client_(std::move(client)), key_(std::move(key)),
      value_(std::move(value)), asked_(asked), on_change_(std::move(on_change)),
      outage_(outage), log_(std::move(log)) {}

lease_keeper::~lease_keeper() {
  stop();
}

void lease_keeper::stop() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  if (keeper_.joinable())
    keeper_.join();
  if (watchdog_.joinable())
    watchdog_.join();
}

std::int64_t lease_keeper::lease() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return lease_;
}

std::chrono::milliseconds lease_keeper::ttl() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return ttl_;
}

void lease_keeper::revoke(etcd_client& client) {
  auto id = lease();
  if (id == 0)
    return;
  if (auto ok = client.revoke_lease(id); !ok)
    log_->info("controller agent: lease {:x} not revoked ({}); it expires "
               "within its TTL",
               id, ok.error().describe());
}

result<etcd_lease> lease_keeper::grant_and_put() {
  auto lease = client_.grant_lease(asked_);
  if (!lease)
    return lease.error();
  // A put whose outcome is unknown is repeated: the same value twice is
  // harmless. A lease that expired meanwhile makes it fail for good.
  for (int attempt = 0;; ++attempt) {
    auto put = client_.put(key_, value_, lease->id);
    if (put)
      return lease;
    if (put.error().code != errc::unavailable || attempt == 3)
      return put.error();
  }
}

void lease_keeper::guarded(void (lease_keeper::*body)()) {
  try {
    (this->*body)();
  } catch (const std::exception& e) {
    // Nothing keeps the lease any more: say so, so the member stops.
    log_->error("controller agent: the lease keeper stopped: {}", e.what());
    try {
      transition(false, [] { return true; });
    } catch (...) {
    }
  }
}

bool lease_keeper::fresh_locked(clock_type::time_point now) const {
  return lease_ != 0 && now < last_ok_sent_ + ttl_ * 3 / 4;
}

bool lease_keeper::transition(bool to, const std::function<bool()>& still) {
  std::lock_guard<std::mutex> order{report_mutex_};
  std::int64_t id = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (confirmed_ == to || stop_ || !still())
      return false;
    confirmed_ = to;
    id = lease_;
  }
  wake_.notify_all();
  try {
    on_change_(to, id);
  } catch (const std::exception& e) {
    log_->error("controller agent: the lease handler threw: {}", e.what());
  }
  return true;
}

void lease_keeper::keep() {
  auto always = [] { return true; };
  transition(true, [this] { return fresh_locked(clock_type::now()); });
  auto backoff = 100ms;
  clock_type::time_point retry_at{};
  while (true) {
    std::int64_t lease = 0;
    {
      std::unique_lock<std::mutex> lock{mutex_};
      auto next =
          lease_ == 0 ? retry_at : std::max(retry_at, last_ok_sent_ + ttl_ / 4);
      wake_.wait_until(lock, next, [this] { return stop_; });
      if (stop_)
        return;
      lease = lease_;
    }
    auto sent = clock_type::now();
    auto quarter = std::max<std::chrono::milliseconds>(ttl() / 4, 100ms);
    if (lease == 0) { // gone: a new one
      auto granted = grant_and_put();
      if (!granted) {
        outage_.failed(granted.error());
        retry_at = clock_type::now() + backoff;
        backoff = std::min(backoff * 2, quarter);
        continue;
      }
      outage_.recovered();
      backoff = 100ms;
      retry_at = {};
      {
        std::lock_guard<std::mutex> guard{mutex_};
        lease_ = granted->id;
        ttl_ = granted->ttl;
        last_ok_sent_ = sent;
      }
      log_->info("controller agent: new lease {:x} for {}", granted->id, key_);
      transition(true, [this] { return fresh_locked(clock_type::now()); });
      continue;
    }
    auto answer = client_.keep_alive(lease);
    if (answer) {
      outage_.recovered();
      backoff = 100ms;
      retry_at = {};
      {
        std::lock_guard<std::mutex> guard{mutex_};
        if (lease_ == lease) {
          last_ok_sent_ = std::max(last_ok_sent_, sent);
          if (answer->count() > 0)
            ttl_ = *answer;
        }
      }
      transition(true, [this] { return fresh_locked(clock_type::now()); });
      continue;
    }
    if (answer.error().code == errc::not_found) {
      log_->warn("controller agent: lease {:x} is gone ({}); granting a new "
                 "one",
                 lease, answer.error().describe());
      transition(false, always);
      std::lock_guard<std::mutex> guard{mutex_};
      if (lease_ == lease)
        lease_ = 0;
      continue;
    }
    outage_.failed(answer.error());
    retry_at = clock_type::now() + backoff;
    backoff = std::min(backoff * 2, quarter);
  }
}

void lease_keeper::watch_deadline() {
  std::unique_lock<std::mutex> lock{mutex_};
  while (!stop_) {
    if (!confirmed_) {
      wake_.wait(lock);
      continue;
    }
    auto deadline = last_ok_sent_ + ttl_ * 3 / 4;
    if (clock_type::now() < deadline) {
      wake_.wait_until(lock, deadline);
      continue;
    }
    lock.unlock();
    if (transition(false, [this] { return !fresh_locked(clock_type::now()); }))
      log_->warn("controller agent: lease unconfirmed for 3/4 of its TTL; this "
                 "member stops acting on its shards until it is");
    lock.lock();
  }
}

} // namespace sluice::cluster
