// A watch of a key prefix in etcd, on a thread of its own: delivers each
// change in revision order, reconnects from the revision after the last one
// delivered, and stops on compaction so the caller re-reads. cancel() is safe
// from any thread, the handlers' own included.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "controller/etcd_client.hpp"

namespace httplib {
class Client;
} // namespace httplib

namespace sluice::cluster {

/// A running watch, made by `etcd_client::watch_prefix`. Owns its thread:
/// destroying it cancels and joins. Must not be destroyed from one of its
/// own handlers (cancel() there instead).
class etcd_watch {
public:
  etcd_watch(std::shared_ptr<etcd_client::shared> state, std::string prefix,
             std::int64_t from_revision, etcd_client::event_handler on_event,
             etcd_client::error_handler on_error);
  ~etcd_watch();

  etcd_watch(const etcd_watch&) = delete;
  etcd_watch& operator=(const etcd_watch&) = delete;

  /// Stops the watch. From another thread it also waits for the watch's
  /// thread, so no handler runs once it returns. Idempotent.
  void cancel();

  /// False once the watch has stopped: cancelled, or after an error other
  /// than errc::unavailable went to the error handler.
  bool running() const noexcept { return running_.load(); }

  /// The revision a reconnection would start from (0: from now, nothing
  /// seen yet).
  std::int64_t next_revision() const noexcept { return next_.load(); }

private:
  /// How one connection ended.
  enum class ending { stopped, quiet, failed };

  void run();
  ending stream_once(std::size_t index);
  /// Handles one line of the stream; false to close the connection, with
  /// `end` saying how.
  bool on_line(const std::string& line, int status, const std::string& where,
               ending& end, bool& created);
  void sleep_for(std::chrono::milliseconds d);

  std::shared_ptr<etcd_client::shared> state_;
  std::string prefix_;
  etcd_client::event_handler on_event_;
  etcd_client::error_handler on_error_;
  std::atomic<std::int64_t> next_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{true};
  std::mutex mutex_;
  std::condition_variable wake_;
  /// The connection in use, so that cancel() can shut it. Under `mutex_`.
  httplib::Client* active_ = nullptr;
  std::thread thread_;
};

} // namespace sluice::cluster
