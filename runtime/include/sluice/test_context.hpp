// A context for unit tests of behaviours: one key's state in memory, and a
// record of every emit, counter, observation, log line and timer, so a
// team tests its behaviour without a node, CAF or LMDB. Header-only; one
// thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/behaviour.hpp"

namespace sluice {

/// An in-memory `context` that records what the behaviour did. Unlike the
/// runtime, it applies every effect at once, also when the behaviour then
/// throws: check effects only after a call that returned.
class test_context final : public context {
public:
  /// A context for `key` in `stage`, without state.
  test_context(std::string stage, std::string key)
      : stage_(std::move(stage)), key_(std::move(key)) {}

  using context::emit;
  using context::set_timer;

  const std::string& stage() const override { return stage_; }
  const std::string& key() const override { return key_; }
  bool has_state() const override { return has_state_; }
  const std::string& state() const override { return state_; }
  void set_state(std::string bytes) override {
    state_ = std::move(bytes);
    has_state_ = true;
  }
  void clear_state() override {
    state_.clear();
    has_state_ = false;
  }
  /// Records the emit; an empty key is filled in with this context's key.
  void emit(std::string topic, event ev) override {
    if (ev.key.empty())
      ev.key = key_;
    emitted.emplace_back(std::move(topic), std::move(ev));
  }
  void count(std::string_view name, std::uint64_t n) override {
    counters[std::string(name)] += n;
  }
  void observe(std::string_view name,
               std::chrono::microseconds value) override {
    observed.emplace_back(std::string(name), value);
  }
  void log(log_level level, std::string_view message) override {
    logged.emplace_back(level, std::string(message));
  }
  void set_timer(std::string name, std::chrono::milliseconds delay,
                 std::string payload, timer_kind kind) override {
    timers.push_back({std::move(name), false, delay, std::move(payload), kind});
  }
  void cancel_timer(std::string name) override {
    timers.push_back({std::move(name), true, {}, {}, timer_kind::in_memory});
  }

  /// One `set_timer` or `cancel_timer` call.
  struct timer_call {
    std::string name;                ///< the timer's name
    bool cancel = false;             ///< a cancel_timer call
    std::chrono::milliseconds delay; ///< from set_timer
    std::string payload;             ///< from set_timer
    timer_kind kind;                 ///< from set_timer
  };

  /// Forgets the recorded effects (not the state), between two calls.
  void clear_effects() {
    emitted.clear();
    counters.clear();
    observed.clear();
    logged.clear();
    timers.clear();
  }

  /// Emits in call order, as (topic, event).
  std::vector<std::pair<std::string, event>> emitted;
  /// Counter totals by name.
  std::map<std::string, std::uint64_t> counters;
  /// `observe` calls in order.
  std::vector<std::pair<std::string, std::chrono::microseconds>> observed;
  /// `log` calls in order.
  std::vector<std::pair<log_level, std::string>> logged;
  /// Timer calls in order.
  std::vector<timer_call> timers;

private:
  std::string stage_;
  std::string key_;
  std::string state_;
  bool has_state_ = false;
};

} // namespace sluice
