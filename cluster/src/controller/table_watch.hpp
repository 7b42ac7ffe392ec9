// The table under /sluice/<cluster>/ read once and then watched, on a thread
// of its own: reports the members and the shard table after the first read
// and after each batch of changes, and tells its owner of every change. A
// compacted history means a new read. Thread-safe; handlers run on its thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "controller/controller_agent.hpp"
#include "controller/etcd_outage.hpp"
#include "controller/table_snapshot.hpp"

namespace sluice::cluster {

class table_watch {
public:
  /// After each report: whether a controller key exists now.
  using changed = std::function<void(bool controller_present)>;

  table_watch(etcd_client client, controller_keys keys,
              controller_callbacks callbacks, changed on_change,
              etcd_outage& outage, std::shared_ptr<spdlog::logger> log);
  ~table_watch();
  table_watch(const table_watch&) = delete;
  table_watch& operator=(const table_watch&) = delete;

  /// Stops the watch and joins the thread. Idempotent.
  void stop();

private:
  void run();
  /// Reads the table and reports it; false when stopped first.
  bool read(table_snapshot& snapshot);
  /// Streams changes until the watch stops or must restart.
  void follow(table_snapshot& snapshot);
  void note(std::vector<std::string>& problems);
  void report(const table_snapshot& s, bool members, bool shards);

  etcd_client client_;
  controller_keys keys_;
  controller_callbacks callbacks_;
  changed on_change_;
  etcd_outage& outage_;
  std::shared_ptr<spdlog::logger> log_;
  /// Problems logged already (each once).
  std::set<std::string> logged_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool restart_ = false;
  std::deque<etcd_event> events_;
  std::thread thread_;
};

} // namespace sluice::cluster
