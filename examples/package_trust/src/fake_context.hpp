// Test double for sluice::context: holds one key's state in memory and
// records emits and counters, so behaviours can be tested without a runtime.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/behaviour.hpp"

namespace sluice::examples::package_trust::testing {

class fake_context final : public sluice::context {
public:
  fake_context(std::string stage, std::string key)
      : stage_(std::move(stage)), key_(std::move(key)) {}

  using sluice::context::emit;

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
  void emit(std::string topic, sluice::event ev) override {
    if (ev.key.empty())
      ev.key = key_;
    emitted.emplace_back(std::move(topic), std::move(ev));
  }
  void count(std::string_view name, std::uint64_t n) override {
    counters[std::string(name)] += n;
  }

  std::vector<std::pair<std::string, sluice::event>> emitted;
  std::map<std::string, std::uint64_t> counters;

private:
  std::string stage_;
  std::string key_;
  std::string state_;
  bool has_state_ = false;
};

/// An event as the feed reader makes it.
inline sluice::event registry_event(const std::string& ecosystem,
                                    const std::string& name,
                                    std::string payload,
                                    const std::string& id = "test:1") {
  sluice::event ev;
  ev.id = id;
  ev.topic = "registry";
  ev.key = ecosystem + "/" + name;
  ev.attributes["ecosystem"] = ecosystem;
  ev.attributes["format"] = ecosystem == "debian" ? "debian" : "tsv";
  ev.payload = std::move(payload);
  return ev;
}

} // namespace sluice::examples::package_trust::testing
