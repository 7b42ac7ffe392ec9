// The member table's merge rules and failure detector.
#include "membership.hpp"

#include <algorithm>
#include <utility>

namespace sluice::cluster {

namespace {

bool is_gone(member_status s) noexcept {
  return s == member_status::leaving || s == member_status::left;
}

/// Whether `r` replaces `s` (the same member) in a merge: the higher
/// incarnation, then the more severe status, then the greater address. A
/// total order, so any order of merges ends on the same entry.
bool wins(const member& r, const member& s) noexcept {
  if (r.incarnation != s.incarnation)
    return r.incarnation > s.incarnation;
  if (r.status != s.status)
    return r.status > s.status;
  return r.address > s.address;
}

bool by_name(const member& a, const member& b) noexcept {
  return a.name < b.name;
}

} // namespace

std::string_view to_string(member_status s) noexcept {
  switch (s) {
  case member_status::up:
    return "up";
  case member_status::suspect:
    return "suspect";
  case member_status::down:
    return "down";
  case member_status::leaving:
    return "leaving";
  case member_status::left:
    return "left";
  }
  return "unknown";
}

membership::membership(member self, detection_options opts,
                       clock::time_point now)
    : self_name_(self.name), opts_(opts) {
  members_.push_back(std::move(self));
  heard_.push_back(now);
}

const member& membership::self() const {
  return members_[index_of(self_name_)];
}

const member* membership::find(std::string_view name) const {
  auto i = index_of(name);
  return i < members_.size() ? &members_[i] : nullptr;
}

std::size_t membership::index_of(std::string_view name) const {
  auto it = std::lower_bound(
      members_.begin(), members_.end(), name,
      [](const member& m, std::string_view n) { return m.name < n; });
  if (it == members_.end() || it->name != name)
    return members_.size();
  return static_cast<std::size_t>(it - members_.begin());
}

void membership::insert(member m, clock::time_point now) {
  auto it = std::lower_bound(members_.begin(), members_.end(), m, by_name);
  auto offset = it - members_.begin();
  members_.insert(it, std::move(m));
  heard_.insert(heard_.begin() + offset, now);
}

bool membership::merge(const std::vector<member>& remote,
                       std::uint64_t remote_epoch, clock::time_point now) {
  bool changed = false;
  for (const auto& r : remote) {
    auto i = index_of(r.name);
    if (i == members_.size()) {
      insert(r, now);
      changed = true;
      continue;
    }
    auto& s = members_[i];
    if (!wins(r, s))
      continue;
    changed = true;
    if (r.name != self_name_) {
      if (r.incarnation > s.incarnation)
        heard_[i] = std::max(heard_[i], now);
      s = r;
    } else if (is_gone(r.status)) {
      // Only self or an operator says a node leaves: take it.
      s.address = r.address;
      s.incarnation = r.incarnation;
      s.status = r.status;
    } else {
      // Self alone speaks for itself: refute with a higher incarnation.
      s.incarnation = r.incarnation + 1;
      if (!is_gone(s.status))
        s.status = member_status::up;
    }
  }
  if (!changed) {
    epoch_ = std::max(epoch_, remote_epoch);
    return false;
  }
  auto theirs = remote;
  std::sort(theirs.begin(), theirs.end(), by_name);
  if (theirs == members_)
    epoch_ = std::max(epoch_ + 1, remote_epoch);
  else
    epoch_ = std::max(epoch_, remote_epoch) + 1;
  return true;
}

void membership::heard_from(std::string_view name, clock::time_point now) {
  auto i = index_of(name);
  if (i < members_.size() && name != self_name_)
    heard_[i] = std::max(heard_[i], now);
}

bool membership::lost_contact(std::string_view name,
                              clock::time_point /*now*/) {
  auto i = index_of(name);
  if (i == members_.size() || name == self_name_
      || members_[i].status != member_status::up)
    return false;
  members_[i].status = member_status::suspect;
  ++epoch_;
  return true;
}

std::vector<std::string> membership::tick(clock::time_point now) {
  std::vector<std::string> changed;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    auto& m = members_[i];
    if (m.name == self_name_
        || (m.status != member_status::up
            && m.status != member_status::suspect))
      continue;
    auto silence = now - heard_[i];
    if (silence >= opts_.down_after)
      m.status = member_status::down;
    else if (silence >= opts_.suspect_after && m.status == member_status::up)
      m.status = member_status::suspect;
    else
      continue;
    changed.push_back(m.name);
  }
  if (!changed.empty())
    ++epoch_;
  return changed;
}

bool membership::admit(const member& m, clock::time_point now) {
  if (m.name == self_name_)
    return false;
  auto i = index_of(m.name);
  if (i == members_.size()) {
    insert(m, now);
    ++epoch_;
    return true;
  }
  if (m.incarnation < members_[i].incarnation)
    return false;
  heard_[i] = std::max(heard_[i], now);
  if (members_[i] == m)
    return false;
  members_[i] = m;
  ++epoch_;
  return true;
}

void membership::set_self_status(member_status s) {
  auto& self = members_[index_of(self_name_)];
  if (self.status == s)
    return;
  self.status = s;
  ++epoch_;
}

void membership::leave() {
  if (!is_gone(self().status))
    set_self_status(member_status::leaving);
}

void membership::finish_leave() {
  set_self_status(member_status::left);
}

bool membership::mark_left(std::string_view name) {
  auto i = index_of(name);
  if (i == members_.size() || members_[i].status == member_status::left)
    return false;
  members_[i].status = member_status::left;
  ++epoch_;
  return true;
}

std::vector<std::string> membership::shard_owners() const {
  std::vector<std::string> result;
  for (const auto& m : members_)
    if (!is_gone(m.status) && m.hosts_shards)
      result.push_back(m.name);
  return result;
}

std::vector<const member*> membership::peers() const {
  std::vector<const member*> result;
  for (const auto& m : members_)
    if (m.name != self_name_ && m.status != member_status::left)
      result.push_back(&m);
  return result;
}

} // namespace sluice::cluster
