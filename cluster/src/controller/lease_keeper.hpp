// A member's lease in etcd and the key on it, kept alive: a keepalive every
// TTL/4 on one thread, and a watchdog on another that reports the lease
// unconfirmed as soon as the last successful keepalive was sent more than
// 3/4 of the TTL ago (so the member stops before etcd can expire it). A lease
// etcd says is gone is replaced (grant, key written again). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "controller/etcd_client.hpp"
#include "controller/etcd_outage.hpp"

namespace sluice::cluster {

class lease_keeper {
public:
  /// Called on the keeper's threads, in order, whenever the lease becomes
  /// confirmed (with its id) or unconfirmed (with the id it had).
  using report = std::function<void(bool confirmed, std::int64_t lease)>;

  /// Grants a lease of `ttl` (rounded up to seconds, at least 1; etcd may
  /// raise it) and puts `key` = `value` on it; errors as etcd_client's.
  /// Then starts the threads; the first report (confirmed) comes from them.
  static result<std::unique_ptr<lease_keeper>>
  start(etcd_client client, std::string key, std::string value,
        std::chrono::milliseconds ttl, report on_change, etcd_outage& outage,
        std::shared_ptr<spdlog::logger> log);

  /// Stops and joins the threads (at most one etcd call's time); the lease
  /// is left as it is (see revoke()).
  ~lease_keeper();
  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

  /// Stops the threads. Idempotent.
  void stop();

  /// The lease in use (confirmed or not), 0 while none is granted.
  std::int64_t lease() const;
  /// The TTL etcd granted.
  std::chrono::milliseconds ttl() const;

  /// Ends the lease and deletes its keys, once stopped; best effort with
  /// `client`'s timeouts.
  void revoke(etcd_client& client);

private:
  lease_keeper(etcd_client client, std::string key, std::string value,
               std::chrono::seconds asked, report on_change,
               etcd_outage& outage, std::shared_ptr<spdlog::logger> log);

  /// Grants a lease and puts the key on it; the lease, or why not.
  result<etcd_lease> grant_and_put();
  /// Runs a thread's body; an exception ends it with the lease reported
  /// unconfirmed, never the process.
  void guarded(void (lease_keeper::*body)());
  void keep();
  void watch_deadline();
  /// Reports `to` if it differs from what was reported and `still` (checked
  /// under the lock) holds; whether it did.
  bool transition(bool to, const std::function<bool()>& still);
  bool fresh_locked(std::chrono::steady_clock::time_point now) const;

  etcd_client client_;
  std::string key_;
  std::string value_;
  std::chrono::seconds asked_;
  report on_change_;
  etcd_outage& outage_;
  std::shared_ptr<spdlog::logger> log_;

  /// Held while reporting, so that reports keep their order.
  std::mutex report_mutex_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool confirmed_ = false;
  std::int64_t lease_ = 0;
  std::chrono::milliseconds ttl_{0};
  /// When the last keepalive (or the grant) that etcd answered was sent.
  std::chrono::steady_clock::time_point last_ok_sent_;
  std::thread keeper_;
  std::thread watchdog_;
};

} // namespace sluice::cluster
