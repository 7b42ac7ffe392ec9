// The console's views of a stage supervisor: its live keys with their
// mailboxes, parked events and restarts (`actors`, `inspect`). Pure
// functions of the supervisor's state, called in the supervisor.
#include <algorithm>
#include <array>
#include <unordered_map>

#include "state.hpp"

namespace sluice::stage_supervision {

namespace {

/// A live key's entry as the console sees it (in-flight counts apart).
msg::key_snapshot entry_view(const std::string& key, const key_entry& e) {
  msg::key_snapshot k;
  k.key = key;
  k.live = true;
  k.actor = static_cast<bool>(e.actor);
  k.express = e.express;
  k.parked = static_cast<std::uint32_t>(e.parked.size());
  k.retrying = e.blocked;
  k.restarts = e.restarts;
  return k;
}

} // namespace

msg::key_snapshot key_view(const stage_supervisor_state& s,
                           const std::string& key) {
  auto* e = s.keys.find(key);
  if (!e) {
    msg::key_snapshot k;
    k.key = key;
    return k;
  }
  auto k = entry_view(key, *e);
  for (auto& [pos, f] : s.in_flight)
    if (f.key == key)
      ++k.in_flight[static_cast<int>(pos.priority)];
  return k;
}

msg::stage_snapshot snapshot(const stage_supervisor_state& s,
                             std::size_t limit) {
  msg::stage_snapshot out;
  out.paused = s.paused;
  out.live_keys = s.keys.size();
  out.in_flight = s.in_flight.size();
  std::unordered_map<std::string, std::array<std::uint32_t, 2>> counts;
  for (auto& [pos, f] : s.in_flight)
    if (!f.key.empty())
      ++counts[f.key][static_cast<int>(pos.priority)];
  for (auto& [key, e] : s.keys) {
    auto k = entry_view(key, e);
    if (auto c = counts.find(key); c != counts.end()) {
      k.in_flight[0] = c->second[0];
      k.in_flight[1] = c->second[1];
    }
    out.keys.push_back(std::move(k));
  }
  auto load = [](const msg::key_snapshot& k) {
    return k.in_flight[0] + k.in_flight[1] + k.parked;
  };
  std::sort(out.keys.begin(), out.keys.end(), [&](auto& a, auto& b) {
    return load(a) != load(b) ? load(a) > load(b) : a.key < b.key;
  });
  if (out.keys.size() > limit)
    out.keys.resize(limit);
  return out;
}

} // namespace sluice::stage_supervision
