// The records of a set of shards, wherever they are stored: one scan for
// the hand-off's sender (export) and for deleting them (a release, or what
// an interrupted import left). Any thread for the scan; erasing writes in
// the caller's transaction.
#include <mutex>
#include <tuple>

#include "cluster_db.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

result<void>
scan_records(const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
             const std::function<result<bool>(handoff_record&, MDB_dbi,
                                              std::string_view)>& fn,
             const damaged_record_fn& on_damaged) {
  using kind = handoff_record::kind;
  // One pass over a whole database; `make` fills a record from an entry,
  // or returns false for an entry of another shard.
  auto pass = [&](MDB_dbi dbi, const char* what, auto make) -> result<bool> {
    int rc = 0;
    cursor c{t, dbi, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on " + what);
    MDB_val k, v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST);
         rc == 0 || (rc == value_damaged && on_damaged);
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      handoff_record r;
      if (rc == value_damaged) {
        // Its shard from the key alone (a queued event's: unknown).
        auto made = make(as_view(k), std::string_view{}, r);
        if (!made || !*made || r.shard >= shard_count || !in[r.shard])
          continue;
        auto go = on_damaged(r.shard, dbi, as_view(k));
        if (!go)
          return go.error();
        if (!*go)
          return false;
        continue;
      }
      auto made = make(as_view(k), as_view(v), r);
      if (!made)
        return made.error();
      if (!*made || r.shard >= shard_count || !in[r.shard])
        continue;
      auto go = fn(r, dbi, as_view(k));
      if (!go)
        return go.error();
      if (!*go)
        return false;
    }
    if (rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": scan " + what);
    return true;
  };
  std::vector<std::pair<std::uint32_t, MDB_dbi>> queues;
  {
    std::lock_guard<std::mutex> guard{p.dbi_mtx};
    queues.assign(p.queues.begin(), p.queues.end());
  }
  for (auto& [id, dbi] : queues) {
    auto stage_id = id;
    auto go = pass(dbi, "a queue",
                   [&](std::string_view k, std::string_view v,
                       handoff_record& r) -> result<bool> {
                     auto pos = keys::parse_queue_key(k);
                     auto ev = decode_event(v, "hand-off scan");
                     if (!pos || !ev)
                       return false; // a corrupt entry stays behind
                     r.what = kind::queued;
                     r.stage_id = stage_id;
                     r.pos = *pos;
                     r.key = std::move(ev->key);
                     r.shard = shard_of(r.key);
                     r.value = std::string(v);
                     return true;
                   });
    if (!go || !*go)
      return go ? result<void>{} : result<void>{go.error()};
  }
  auto stage_keyed = [&](kind what) {
    return [what](std::string_view k, std::string_view v,
                  handoff_record& r) -> result<bool> {
      auto sk = keys::parse_state_key(k);
      if (!sk)
        return false;
      r.what = what;
      r.stage_id = sk->first;
      r.key = std::string(sk->second);
      r.shard = shard_of(r.key);
      r.value = std::string(v);
      return true;
    };
  };
  for (auto [dbi, what, k] : {std::tuple{p.state, "state", kind::state},
                              std::tuple{p.retries, "retries", kind::retry}}) {
    if (what == std::string("retries") && !p.has_retries)
      continue;
    auto go = pass(dbi, what, stage_keyed(k));
    if (!go || !*go)
      return go ? result<void>{} : result<void>{go.error()};
  }
  auto go = pass(p.status, "status",
                 [](std::string_view k, std::string_view v,
                    handoff_record& r) -> result<bool> {
                   r.what = kind::status;
                   r.key = std::string(k);
                   r.shard = shard_of(r.key);
                   r.value = std::string(v);
                   return true;
                 });
  if (!go || !*go)
    return go ? result<void>{} : result<void>{go.error()};
  if (p.has_timers) {
    go = pass(p.timers, "timers",
              [](std::string_view k, std::string_view v,
                 handoff_record& r) -> result<bool> {
                auto tk = keys::parse_timer_key(k);
                auto stage = keys::get_u32(k);
                if (!tk || !stage)
                  return false;
                r.what = kind::timer;
                r.stage_id = *stage;
                r.key = std::string(tk->first);
                r.name = std::string(tk->second);
                r.shard = shard_of(r.key);
                r.value = std::string(v);
                return true;
              });
    if (!go || !*go)
      return go ? result<void>{} : result<void>{go.error()};
  }
  go = pass(p.inbox, "inbox",
            [](std::string_view k, std::string_view v,
               handoff_record& r) -> result<bool> {
              auto shard = keys::get_u32(k);
              if (!shard || k.size() < 5)
                return false;
              r.what = kind::inbox;
              r.shard = *shard;
              r.pos.priority = k[4] == 0 ? priority::urgent : priority::normal;
              r.name = std::string(k.substr(5));
              r.value = std::string(v);
              return true;
            });
  if (!go)
    return go.error();
  return {};
}

result<void> erase_records(store::impl& p, cluster_writer& w,
                           const std::vector<bool>& in) {
  std::vector<std::pair<MDB_dbi, std::string>> doomed;
  auto r = scan_records(
      p, w.get(), in,
      [&](handoff_record& rec, MDB_dbi dbi,
          std::string_view k) -> result<bool> {
        doomed.emplace_back(dbi, std::string(k));
        if (rec.what == handoff_record::kind::timer) {
          v1::TimerRecord tr;
          if (tr.ParseFromString(rec.value))
            doomed.emplace_back(
                p.timers_due,
                keys::timer_due_key(rec.stage_id, tr.due_ts_ns(), k));
        }
        return true;
      },
      // A damaged record goes with its shard (a replica's copy replaces
      // it); a damaged timer's index entry, unreadable, stays and finds
      // no timer when due.
      [&](std::uint32_t, MDB_dbi dbi, std::string_view k) -> result<bool> {
        doomed.emplace_back(dbi, std::string(k));
        return true;
      });
  if (!r)
    return r;
  // The shards' changelog entries and bounds go with them.
  r = scan_changelogs(
      p, w.get(), in,
      [&](handoff_record&, MDB_dbi dbi, std::string_view k) -> result<bool> {
        doomed.emplace_back(dbi, std::string(k));
        return true;
      });
  if (!r)
    return r;
  for (auto& [dbi, k] : doomed)
    if (auto d = w.del(dbi, k, "delete a handed-off record"); !d)
      return d;
  return {};
}

} // namespace sluice
