// Logs an outage of etcd once, when it starts, and once when it ends, however
// many calls fail in between (several threads retry with backoff). Safe from
// any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/logger.h>

#include "sluice/result.hpp"

namespace sluice::cluster {

class etcd_outage {
public:
  explicit etcd_outage(std::shared_ptr<spdlog::logger> log)
      : log_(std::move(log)) {}

  /// A call failed: logged if etcd was reachable until now.
  void failed(const error& e) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (down_)
      return;
    down_ = true;
    since_ = std::chrono::steady_clock::now();
    log_->warn("controller agent: etcd unreachable ({}); retrying with "
               "backoff, logged again when it answers",
               e.describe());
  }

  /// A call succeeded: logged if it ends an outage.
  void recovered() {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!down_)
      return;
    down_ = false;
    auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - since_);
    log_->info("controller agent: etcd answers again after {} ms",
               lasted.count());
  }

private:
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  bool down_ = false;
  std::chrono::steady_clock::time_point since_;
};

} // namespace sluice::cluster
