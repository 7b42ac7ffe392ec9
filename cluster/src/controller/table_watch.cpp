// One read of the whole prefix, then a watch from the revision after it: the
// watch's own thread only queues events; this thread applies them in batches
// (what arrived together, a txn's keys included) and reports.
#include "controller/table_watch.hpp"

#include <spdlog/spdlog.h>

#include "controller/etcd_watch.hpp"

namespace sluice::cluster {

using namespace std::chrono_literals;

table_watch::table_watch(etcd_client client, controller_keys keys,
                         controller_callbacks callbacks, changed on_change,
                         etcd_outage& outage,
                         std::shared_ptr<spdlog::logger> log)
    : client_(std::move(client)), keys_(std::move(keys)),
      callbacks_(std::move(callbacks)), on_change_(std::move(on_change)),
      outage_(outage), log_(std::move(log)) {
  thread_ = std::thread([this] { run(); });
}

table_watch::~table_watch() {
  stop();
}

void table_watch::stop() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void table_watch::note(std::vector<std::string>& problems) {
  for (auto& p : problems)
    if (logged_.insert(p).second)
      log_->warn("controller agent: skipped {}", p);
  problems.clear();
}

void table_watch::report(const table_snapshot& s, bool members, bool shards) {
  try {
    if (members && callbacks_.on_members)
      callbacks_.on_members(s.members);
    if (shards && callbacks_.on_table)
      callbacks_.on_table(std::make_shared<const shard_table>(s.shards));
    if (on_change_)
      on_change_(s.controller.has_value());
  } catch (const std::exception& e) {
    log_->error("controller agent: a table handler threw: {}", e.what());
  }
}

bool table_watch::read(table_snapshot& snapshot) {
  auto backoff = 100ms;
  while (true) {
    auto range = client_.get_prefix(keys_.root());
    if (range) {
      outage_.recovered();
      std::vector<std::string> problems;
      snapshot = read_snapshot(keys_, *range, problems);
      note(problems);
      report(snapshot, true, true);
      return true;
    }
    outage_.failed(range.error());
    std::unique_lock<std::mutex> lock{mutex_};
    if (wake_.wait_for(lock, backoff, [this] { return stop_; }))
      return false;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2s);
  }
}

void table_watch::follow(table_snapshot& snapshot) {
  auto watch = client_.watch_prefix(
      keys_.root(), snapshot.revision + 1,
      [this](const etcd_event& e) {
        {
          std::lock_guard<std::mutex> guard{mutex_};
          events_.push_back(e);
        }
        wake_.notify_all();
      },
      [this](const error& e) {
        if (e.code == errc::unavailable) {
          outage_.failed(e);
          return;
        }
        log_->warn("controller agent: the table's watch stopped ({}); "
                   "reading the table again",
                   e.describe());
        {
          std::lock_guard<std::mutex> guard{mutex_};
          restart_ = true;
        }
        wake_.notify_all();
      });
  std::unique_lock<std::mutex> lock{mutex_};
  while (!stop_) {
    wake_.wait(lock, [this] { return stop_ || restart_ || !events_.empty(); });
    if (stop_ || restart_)
      break;
    // Events of one txn come in one answer: let the rest of it arrive
    // (at most 60 ms, so a steady stream is still reported).
    for (std::size_t seen = 0, waits = 0;
         seen != events_.size() && !stop_ && waits < 20; ++waits) {
      seen = events_.size();
      wake_.wait_for(lock, 3ms);
    }
    auto batch = std::move(events_);
    events_.clear();
    lock.unlock();
    outage_.recovered();
    bool members = false, shards = false, controller = false;
    std::vector<std::string> problems;
    for (const auto& e : batch) {
      switch (apply(snapshot, keys_, e, problems)) {
      case snapshot_change::members:
        members = true;
        break;
      case snapshot_change::shards:
        shards = true;
        break;
      case snapshot_change::controller:
        controller = true;
        break;
      case snapshot_change::nothing:
        break;
      }
    }
    note(problems);
    if (members || shards || controller)
      report(snapshot, members, shards);
    lock.lock();
  }
  lock.unlock();
  watch->cancel(); // no handler runs after this, so nothing stale is queued
  lock.lock();
  restart_ = false;
  events_.clear();
}

void table_watch::run() {
  try {
    table_snapshot snapshot;
    while (true) {
      {
        std::lock_guard<std::mutex> guard{mutex_};
        if (stop_)
          return;
      }
      if (!read(snapshot))
        return;
      follow(snapshot);
    }
  } catch (const std::exception& e) {
    log_->error("controller agent: the table watch stopped: {}", e.what());
  }
}

} // namespace sluice::cluster
