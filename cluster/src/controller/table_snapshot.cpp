// Reading the table key by key, so that one bad value costs only its key.
#include "controller/table_snapshot.hpp"

#include <algorithm>

namespace sluice::cluster {

std::vector<std::string> table_snapshot::hosting() const {
  std::vector<std::string> out;
  for (const auto& [name, record] : members)
    if (record.hosts_shards)
      out.push_back(name);
  return out;
}

std::set<std::string> table_snapshot::live() const {
  std::set<std::string> out;
  for (const auto& [name, record] : members)
    out.insert(name);
  return out;
}

snapshot_change apply(table_snapshot& s, const controller_keys& keys,
                      const etcd_event& event,
                      std::vector<std::string>& problems) {
  const auto& kv = event.kv;
  const bool put = event.what == etcd_event::kind::put;
  s.revision = std::max(s.revision, kv.mod_revision);
  if (kv.key == keys.controller()) {
    if (put)
      s.controller = kv;
    else
      s.controller.reset();
    return snapshot_change::controller;
  }
  if (kv.key.starts_with(keys.members_prefix())) {
    auto name = keys.member_of(kv.key);
    if (!name) {
      problems.push_back(name.error().message);
      return snapshot_change::nothing;
    }
    if (!put)
      return s.members.erase(*name) > 0 ? snapshot_change::members
                                        : snapshot_change::nothing;
    auto record = decode_member(kv.value);
    if (!record) {
      problems.push_back(kv.key + ": " + record.error().message);
      s.members.erase(*name);
    } else {
      s.members[*name] = std::move(*record);
    }
    return snapshot_change::members;
  }
  if (kv.key.starts_with(keys.shards_prefix())) {
    auto shard = keys.shard_of(kv.key);
    if (!shard) {
      problems.push_back(shard.error().message);
      return snapshot_change::nothing;
    }
    s.shards.erase(*shard);
    s.unreadable.erase(*shard);
    if (put) {
      auto value = decode_assignment(kv.value);
      if (value) {
        s.shards[*shard] = shard_entry{std::move(*value), kv.mod_revision};
      } else {
        problems.push_back(kv.key + ": " + value.error().message);
        s.unreadable[*shard] = kv.mod_revision;
      }
    }
    return snapshot_change::shards;
  }
  return snapshot_change::nothing; // another writer's key: not ours to read
}

table_snapshot read_snapshot(const controller_keys& keys,
                             const etcd_range& range,
                             std::vector<std::string>& problems) {
  table_snapshot s;
  for (const auto& kv : range.kvs)
    apply(s, keys, {etcd_event::kind::put, kv}, problems);
  s.revision = range.revision;
  return s;
}

} // namespace sluice::cluster
