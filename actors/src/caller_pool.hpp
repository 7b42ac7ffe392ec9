// A few threads of the node's own that make its blocking calls (publish,
// admin) for whichever thread asked. CAF 0.17's actor system does not
// finish shutting down while a foreign thread that used a scoped actor is
// still alive (measured: node::stop hung until that thread exited), so no
// caller's thread ever becomes an actor; these threads are joined before
// the actor system is destroyed. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {

class caller_pool {
public:
  explicit caller_pool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { work(); });
  }
  ~caller_pool() { stop(); }
  caller_pool(const caller_pool&) = delete;
  caller_pool& operator=(const caller_pool&) = delete;

  /// Thrown by `run` once the pool is stopping.
  struct stopped {};

  /// Runs `f` on a pool thread and returns its result to this one.
  template <class F>
  auto run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task{std::move(f)};
    auto done = task.get_future();
    {
      std::lock_guard lock{mtx_};
      if (stopping_)
        throw stopped{};
      tasks_.emplace_back([&task] { task(); });
    }
    cv_.notify_one();
    return done.get();
  }

  /// Finishes the queued calls and joins the threads. Idempotent.
  void stop() {
    {
      std::lock_guard lock{mtx_};
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

private:
  void work() {
    std::unique_lock lock{mtx_};
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty())
        return; // stopping, and nothing left
      auto t = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      t();
      lock.lock();
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

} // namespace sluice
