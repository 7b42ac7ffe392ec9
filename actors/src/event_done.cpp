#include "sluice/event_done.hpp"

#include <condition_variable>
#include <mutex>
#include <unordered_map>

namespace sluice {

const char* to_string(done_outcome o) noexcept {
  switch (o) {
  case done_outcome::done:
    return "done";
  case done_outcome::duplicate:
    return "duplicate";
  case done_outcome::pending:
    return "pending";
  case done_outcome::abandoned:
    return "abandoned";
  case done_outcome::failed:
    return "failed";
  }
  return "unknown";
}

struct done_waiter::shared {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<event_done> outcomes;
  /// Per id, the slots still waiting, first first.
  std::unordered_map<std::string, std::vector<std::size_t>> slots;
  std::size_t left = 0;
};

done_waiter::done_waiter(const std::vector<std::string>& ids)
    : s_(std::make_shared<shared>()) {
  s_->outcomes.resize(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    s_->outcomes[i].id = ids[i];
    s_->slots[ids[i]].push_back(i);
  }
  s_->left = ids.size();
}

done_callback done_waiter::callback() const {
  return [s = s_](const event_done& d) {
    std::lock_guard<std::mutex> guard{s->mtx};
    auto i = s->slots.find(d.id);
    if (i == s->slots.end() || i->second.empty())
      return;
    s->outcomes[i->second.front()] = d;
    i->second.erase(i->second.begin());
    if (--s->left == 0)
      s->cv.notify_all();
  };
}

std::vector<event_done>
done_waiter::wait_until(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock{s_->mtx};
  s_->cv.wait_until(lock, deadline, [&] { return s_->left == 0; });
  return s_->outcomes;
}

} // namespace sluice
