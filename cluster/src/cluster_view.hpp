// Private: what the cluster actor publishes for other threads (the
// console's `nodes` and `shards`, the node's drained check, a fatal
// refusal). Guarded by its mutex.
#pragma once

#include <nlohmann/json.hpp>

#include <mutex>
#include <string>

namespace sluice::cluster {

struct cluster_view {
  mutable std::mutex mtx;
  nlohmann::json nodes = nlohmann::json::object();
  nlohmann::json shards = nlohmann::json::object();
  bool busy = true;         ///< a hand-off runs, or the node has not joined yet
  std::string fatal;        ///< why the member gave up; empty while it runs
  bool left = false;        ///< it left the cluster gracefully (`leave`)
  bool joined = false;      ///< it knows the cluster
  std::size_t owned = 0;    ///< shards it owns
  bool hosts_shards = true; ///< false: a proxy
  bool replicated = false;  ///< shards assigned by the controller (etcd)
  bool lease_ok = false;    ///< replicated: its lease in etcd is confirmed
};

} // namespace sluice::cluster
