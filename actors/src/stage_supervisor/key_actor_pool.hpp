// The key-actor pool of one stage supervisor: each key's entry with its
// actor handle, the keys that went idle (oldest first, with when), reuse of
// an idle actor for another key, and passivation beyond a live-key limit
// or after an idle time. Generic
// over the entry (and so the handle) type, with no actor system: the
// supervisor passes in how to spawn and rebind. Not thread-safe: owned by
// its stage supervisor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::stage_supervision {

/// The live entries of a stage's keys and their actors. `Entry` has the
/// members `actor` (a handle: default-constructed is null, `explicit
/// operator bool`, `id()`), `bool express`, `std::uint64_t started`,
/// `std::chrono::steady_clock::time_point idle_since` (the pool's: when
/// the key last went idle; default max, never) and `bool forgettable()
/// const` (nothing in it that LMDB does not hold: only such an entry may
/// be dropped, or its actor reused).
template <class Entry>
class key_actor_pool {
public:
  using handle = std::remove_cvref_t<decltype(std::declval<Entry&>().actor)>;
  using id_type =
      std::remove_cvref_t<decltype(std::declval<const handle&>().id())>;
  using map_type = std::unordered_map<std::string, Entry>;

  /// How the pool gets new actors: `spawn(key, express)` starts one for
  /// `key` (the key's entry exists already); `rebind(actor, key)` tells an
  /// idle actor taken over that it runs `key` from now on.
  struct hooks {
    std::function<handle(const std::string& key, bool express)> spawn;
    std::function<void(const handle& actor, const std::string& key)> rebind;
  };

  key_actor_pool() = default;
  explicit key_actor_pool(hooks h) : hooks_(std::move(h)) {}
  void set_hooks(hooks h) { hooks_ = std::move(h); }

  /// `key`'s entry, made empty (no actor) when it has none.
  Entry& entry(const std::string& key) { return entries_[key]; }
  /// `key`'s entry, or null.
  Entry* find(const std::string& key) {
    auto i = entries_.find(key);
    return i == entries_.end() ? nullptr : &i->second;
  }
  const Entry* find(const std::string& key) const {
    auto i = entries_.find(key);
    return i == entries_.end() ? nullptr : &i->second;
  }
  /// How many keys have an entry (live keys).
  std::size_t size() const noexcept { return entries_.size(); }
  auto begin() { return entries_.begin(); }
  auto end() { return entries_.end(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

  /// The key whose live actor has `id`, or null (a passivated, retired or
  /// unknown actor).
  const std::string* key_of(id_type id) const {
    auto i = key_of_actor_.find(id);
    return i == key_of_actor_.end() ? nullptr : &i->second;
  }

  /// `key`'s actor. When it has none: at the live-key limit (more than
  /// `max_live` entries) and not `express`, the actor of the oldest idle
  /// key is taken over; otherwise (or when no key is idle) one is spawned.
  handle& actor_of(const std::string& key, bool express, std::size_t max_live) {
    auto& e = entries_[key];
    if (!e.actor && !express && entries_.size() > max_live)
      e.actor = take_idle(key);
    if (!e.actor) {
      e.actor = hooks_.spawn(key, express);
      e.express = express;
      e.started = ++spawned_;
      key_of_actor_.emplace(e.actor.id(), key);
    }
    return e.actor;
  }

  /// Detaches `e`'s actor and returns it, for the caller to stop. Its down
  /// message then names no key (`key_of` is null). Null when it had none.
  handle retire(Entry& e) {
    if (!e.actor)
      return handle{};
    handle a = std::move(e.actor);
    e.actor = handle{};
    e.express = false;
    key_of_actor_.erase(a.id());
    return a;
  }

  using clock = std::chrono::steady_clock;

  /// `key` has nothing in flight any more (since `at`): a candidate for
  /// reuse and for passivation, after the keys that went idle before it.
  void went_idle(const std::string& key, clock::time_point at = clock::now()) {
    if (auto i = entries_.find(key); i != entries_.end())
      went_idle(key, i->second, at);
  }
  /// `went_idle` for `key` whose entry `e` the caller holds.
  void went_idle(const std::string& key, Entry& e,
                 clock::time_point at = clock::now()) {
    idle_.push_back({key, at});
    e.idle_since = at;
  }

  /// Drops the entries of keys idle since `cutoff` or earlier (and still
  /// forgettable), oldest first. Returns their actors (null for an entry
  /// without one), for the caller to stop; one element per dropped entry.
  std::vector<handle> passivate_idle(clock::time_point cutoff) {
    std::vector<handle> out;
    while (!idle_.empty() && idle_.front().second <= cutoff) {
      auto key = std::move(idle_.front().first);
      idle_.pop_front();
      auto i = entries_.find(key);
      // Busy again since, and idle again later: that later time counts.
      if (i == entries_.end() || i->second.idle_since > cutoff
          || !i->second.forgettable())
        continue;
      out.push_back(drop(i));
    }
    return out;
  }

  /// Drops idle, forgettable entries while there are more than `max_live`,
  /// oldest idle first. Returns their actors (null for an entry without
  /// one), for the caller to stop; one element per dropped entry.
  std::vector<handle> passivate(std::size_t max_live) {
    std::vector<handle> out;
    while (entries_.size() > max_live && !idle_.empty()) {
      auto key = std::move(idle_.front().first);
      idle_.pop_front();
      auto i = entries_.find(key);
      if (i == entries_.end() || !i->second.forgettable())
        continue;
      out.push_back(drop(i));
    }
    return out;
  }

  /// Drops `key`'s entry whatever it holds; returns its actor (maybe null),
  /// for the caller to stop.
  handle forget(const std::string& key) {
    handle a;
    auto i = entries_.find(key);
    if (i == entries_.end())
      return a;
    return drop(i);
  }

private:
  /// Drops entry `i`; returns its actor (maybe null).
  handle drop(typename map_type::iterator i) {
    handle a = std::move(i->second.actor);
    entries_.erase(i);
    if (a)
      key_of_actor_.erase(a.id());
    return a;
  }

  /// The actor of the oldest idle key that is forgettable and not express,
  /// rebound to `key` (its entry dropped); null when no key is idle.
  handle take_idle(const std::string& key) {
    while (!idle_.empty()) {
      auto victim = std::move(idle_.front().first);
      idle_.pop_front();
      auto i = entries_.find(victim);
      if (i == entries_.end() || victim == key || !i->second.forgettable()
          || i->second.express || !i->second.actor)
        continue;
      handle a = std::move(i->second.actor);
      entries_.erase(i);
      key_of_actor_[a.id()] = key;
      hooks_.rebind(a, key);
      return a;
    }
    return handle{};
  }

  hooks hooks_;
  map_type entries_;
  std::unordered_map<id_type, std::string> key_of_actor_; ///< live actors
  /// Keys that went idle and when, oldest first (a key busy again and idle
  /// again later is in it twice: its entry's `idle_since` has the latest).
  std::deque<std::pair<std::string, clock::time_point>> idle_;
  std::uint64_t spawned_ = 0; ///< actors spawned, for their order
};

} // namespace sluice::stage_supervision
