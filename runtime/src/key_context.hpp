// Private: the context a key processor hands a behaviour for one event. It
// collects the behaviour's effects (state, emits, timers, counters, logs);
// the processor applies them only when the behaviour returns normally. Used
// by one thread at a time, for one event.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/behaviour.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/key_processor.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

/// The context handed to a behaviour for one event. Collects effects; the
/// processor applies them only when the behaviour returns normally.
class key_context final : public context {
public:
  key_context(const std::string& stage, const std::string& key,
              const v1::KeyState& ks, const key_processor::log_sink& log)
      : stage_(stage), key_(key),
        has_(!ks.cleared() && ks.events_processed() > 0), state_(ks.state()),
        log_(log) {}

  const std::string& stage() const override { return stage_; }
  const std::string& key() const override { return key_; }
  bool has_state() const override { return has_; }
  const std::string& state() const override { return state_; }
  void set_state(std::string bytes) override {
    state_ = std::move(bytes);
    has_ = true;
    cleared_ = false;
    wrote_state = true;
  }
  void clear_state() override {
    state_.clear();
    has_ = false;
    cleared_ = true;
    wrote_state = true;
  }
  void emit(std::string topic, event ev) override {
    emitted.emplace_back(std::move(topic), std::move(ev));
  }
  void count(std::string_view name, std::uint64_t n) override {
    counts[std::string(name)] += n;
  }
  void observe(std::string_view name,
               std::chrono::microseconds value) override {
    observed.emplace_back(std::string(name),
                          static_cast<std::uint64_t>(std::max<std::int64_t>(
                              0, static_cast<std::int64_t>(value.count()))));
  }
  void log(log_level level, std::string_view message) override {
    if (log_)
      log_(level, key_, message);
  }
  void set_timer(std::string name, std::chrono::milliseconds delay,
                 std::string payload, timer_kind kind) override {
    timer_request t;
    t.name = std::move(name);
    t.delay = std::max(delay, std::chrono::milliseconds::zero());
    t.payload = std::move(payload);
    t.kind = kind;
    timers.push_back(std::move(t));
  }
  void cancel_timer(std::string name) override {
    timer_request t;
    t.name = std::move(name);
    t.cancel = true;
    timers.push_back(std::move(t));
  }

  struct timer_request {
    std::string name;
    bool cancel = false;
    std::chrono::milliseconds delay{0};
    std::string payload;
    timer_kind kind = timer_kind::in_memory;
  };

  std::vector<std::pair<std::string, event>> emitted;
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::pair<std::string, std::uint64_t>> observed;
  std::vector<timer_request> timers;
  bool cleared_ = false;
  bool wrote_state = false; ///< set_state or clear_state was called

private:
  const std::string& stage_;
  const std::string& key_;
  bool has_;
  std::string state_;
  const key_processor::log_sink& log_;
};

/// The store's form of a timer the behaviour set or cancelled while
/// handling `ev`: a set carries the event it fires, under an id unique to
/// (stage, key, name, due time), at `ev`'s priority.
inline timer_op timer_op_of(const std::string& stage, const std::string& key,
                            const event& ev, std::int64_t now_ns,
                            const key_context::timer_request& t) {
  timer_op op;
  op.name = t.name;
  op.cancel = t.cancel;
  if (t.cancel)
    return op;
  op.durable = t.kind == timer_kind::durable;
  op.due_ns =
      now_ns
      + std::chrono::duration_cast<std::chrono::nanoseconds>(t.delay).count();
  op.priority = ev.priority;
  event fired;
  fired.id = "timer/" + stage + "/" + key + "/" + t.name + "@"
             + std::to_string(op.due_ns);
  fired.key = key;
  fired.tenant = ev.tenant;
  fired.priority = ev.priority;
  fired.attributes = ev.attributes;
  fired.payload = t.payload;
  fired.content_hash = content_hash(fired.payload);
  fired.origin_ts_ns = now_ns;
  fired.ingest_ts_ns = op.due_ns; // its latency counts from when it fires
  fired.timer = t.name;
  op.event_bytes = encode_event(fired);
  return op;
}

} // namespace sluice
