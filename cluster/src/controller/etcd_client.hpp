// A small blocking client of etcd 3.4's v3 JSON gateway over cpp-httplib:
// leases, reads, writes, transactions and watches, with failover between
// endpoints and a timeout on every call. No CAF: call it from a blocking
// actor or a thread of its own. Safe to use from several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/etcd_types.hpp"
#include "sluice/result.hpp"

namespace sluice::cluster {

class etcd_watch;

/// How to reach etcd.
struct etcd_options {
  /// `http://HOST:PORT` of each etcd member, tried in order from the one
  /// that last answered.
  std::vector<std::string> endpoints;
  /// To open a connection to one endpoint.
  std::chrono::milliseconds connect_timeout{500};
  /// To send a request and read its answer, once connected.
  std::chrono::milliseconds request_timeout{2000};
  /// A watch with nothing to read for this long reconnects (from the last
  /// revision it saw), which also notices a member that went silent.
  std::chrono::milliseconds watch_idle_timeout{30000};
};

/// etcd's client. Errors are values whose message names the endpoint, the
/// operation and etcd's own words, by family:
///
/// | errc               | meaning                                          |
/// |--------------------|--------------------------------------------------|
/// | `unavailable`      | no endpoint answered, or etcd could not serve it |
/// |                    | now (no leader, timeout): try again              |
/// | `not_found`        | the lease expired or was revoked; the revision   |
/// |                    | asked for was compacted                          |
/// | `invalid_argument` | etcd refused the request as malformed            |
/// | `parse`            | the answer was not what etcd answers             |
///
/// A call that could not connect goes to the next endpoint. One sent but
/// not answered in time goes to the next endpoint only when repeating it
/// is harmless (reads, keepalive, revoke); a write or transaction reports
/// errc::unavailable "outcome unknown" instead, and the caller re-reads.
class etcd_client {
public:
  /// Checks the endpoints (each `http://HOST:PORT`; at least one) without
  /// connecting: errc::invalid_argument naming the bad one.
  static result<etcd_client> make(etcd_options options);

  /// A lease of `ttl` (etcd may grant more).
  result<etcd_lease> grant_lease(std::chrono::seconds ttl);
  /// Renews `lease`; returns the TTL left (the granted one).
  /// errc::not_found once the lease has expired or was revoked.
  result<std::chrono::seconds> keep_alive(std::int64_t lease);
  /// Ends `lease` and deletes its keys. errc::not_found if it was gone.
  result<void> revoke_lease(std::int64_t lease);

  /// `key`, if it exists (then `kvs` has one entry), and the revision read.
  result<etcd_range> get(std::string_view key);
  /// Every key starting with `prefix`, ascending.
  result<etcd_range> get_prefix(std::string_view prefix);
  /// Writes `key` (attached to `lease` if not 0); the revision written.
  result<std::int64_t> put(std::string_view key, std::string_view value,
                           std::int64_t lease = 0);
  /// Deletes `key`; how many keys went (0 or 1).
  result<std::int64_t> erase(std::string_view key);
  /// Runs `txn` atomically. Several operations on one key in one branch
  /// are refused by etcd (errc::invalid_argument).
  result<etcd_txn_result> txn(const etcd_txn& txn);
  /// Drops the history before `revision`; the store's revision.
  result<std::int64_t> compact(std::int64_t revision);

  /// Called on the watch's thread for each change, in revision order.
  using event_handler = std::function<void(const etcd_event&)>;
  /// Called on the watch's thread when something goes wrong. With
  /// errc::unavailable the watch carries on (it reconnects, from the
  /// revision after the last it delivered, to the next endpoint); with
  /// any other family it has stopped: errc::not_found means the revision
  /// to resume from was compacted, so re-read and watch again.
  using error_handler = std::function<void(const error&)>;

  /// Watches every key starting with `prefix` from `from_revision` (0: from
  /// now) on a thread of its own until the returned watch is cancelled or
  /// destroyed. The handlers must not block for long.
  std::unique_ptr<etcd_watch> watch_prefix(std::string prefix,
                                           std::int64_t from_revision,
                                           event_handler on_event,
                                           error_handler on_error) const;

  /// The endpoint that answered last (the first one tried next).
  std::string current_endpoint() const;

  /// The options and the endpoint that answered last, shared by a client
  /// and the watches it started (they fail over the same way).
  struct shared;

private:
  explicit etcd_client(std::shared_ptr<shared> state);

  std::shared_ptr<shared> state_;
};

/// One etcd endpoint, parsed.
struct etcd_endpoint {
  std::string url;
  std::string host;
  int port = 0;
};

/// Parses `http://HOST:PORT` (a trailing slash allowed): errc::invalid_argument
/// saying what is wrong otherwise (https is not supported yet).
result<etcd_endpoint> parse_etcd_endpoint(std::string_view url);

struct etcd_client::shared {
  etcd_options options;
  std::vector<etcd_endpoint> endpoints;
  std::atomic<std::size_t> preferred{0};
};

} // namespace sluice::cluster
