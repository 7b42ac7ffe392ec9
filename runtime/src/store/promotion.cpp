// A follower becoming a shard's owner: its replica copy imported into the
// databases dispatched from (the hand-off's import, in one transaction),
// the shard owned at the new epoch, its log continued from the copy's seq,
// the copy dropped; outbox entries keep their origins, in origin order;
// the shard's epoch history gains the copy's epoch, ended at its seq.
// Store actor's thread only.
#include <algorithm>
#include <mutex>
#include <set>

#include "epoch_history.hpp"
#include "replica_db.hpp"

namespace sluice {

namespace {

/// Imports the copy of `shard` within `w`, mapping stage names to this
/// directory's ids (`ids`); returns the copy's epoch history.
result<epoch_history>
import_copy(store::impl& p, cluster_writer& w, std::uint32_t shard,
            const std::map<std::string, std::uint32_t, std::less<>>& ids) {
  std::vector<handoff_record> recs;
  epoch_history history;
  auto history_name = epoch_history_name();
  auto r = scan_replica_copy(
      p, w.get(), shard,
      [&](handoff_record& rec, std::string_view stage) -> result<bool> {
        auto i = ids.find(stage);
        if (i == ids.end())
          return fail(errc::not_found,
                      "shard " + std::to_string(shard)
                          + ": its replica holds records of stage "
                          + std::string(stage) + ", not registered in "
                          + p.opts.dir);
        rec.stage_id = i->second;
        if (rec.what == handoff_record::kind::inbox
            && rec.name == history_name) {
          history = parse_epoch_history(rec.value).value_or(epoch_history{});
          return true; // written anew by the promotion
        }
        recs.push_back(std::move(rec));
        return true;
      });
  if (!r)
    return r.error();
  // Queued events sort first in the copy, so statuses and retries find
  // their entries' new positions. Outbox entries sort last, by stage, but
  // must take their new outbox positions in origin order: the forwarder
  // sends in outbox order, and a receiver takes a source shard's origins
  // only rising (a later one sent first would make the earlier a
  // "duplicate"). Those without an origin keep their old order.
  auto outbox = std::stable_partition(recs.begin(), recs.end(), [](auto& x) {
    return x.what != handoff_record::kind::outbox;
  });
  std::stable_sort(outbox, recs.end(), [](auto& x, auto& y) {
    return std::pair{x.origin, x.pos} < std::pair{y.origin, y.pos};
  });
  position_map added;
  for (auto& rec : recs)
    if (auto x = import_record(p, w, rec, added, {}); !x)
      return x.error();
  return history;
}

/// Writes `shard`'s epoch history within `w`: the copy's, with the copy's
/// epoch ended at its seq. Every record of that epoch up to that seq is in
/// this data now, and none after it: a member that lost the shard and
/// appends an event again names where it first wrote it, and the receiver
/// drops it when that record survived (`receive_forwarded`).
result<void> write_history(store::impl& p, cluster_writer& w,
                           std::uint32_t shard, epoch_history copied,
                           const repl_position& copy_at) {
  auto value = encode_epoch_history(
      with_ended_epoch(std::move(copied), copy_at.epoch, copy_at.seq));
  auto name = epoch_history_name();
  // Not logged: every follower takes a snapshot at the new epoch (the
  // import moved positions), and the snapshot carries it.
  return w.put(p.inbox, inbox_key(shard, priority::urgent, name), value,
               "write the epoch history");
}

} // namespace

result<commit_report>
store::promote_replica(const std::vector<std::uint32_t>& shards,
                       std::uint64_t epoch) {
  auto& p = *impl_;
  if (!p.has_replication)
    return fail(errc::invalid_argument, p.opts.dir + " has no replication");
  std::map<std::string, std::uint32_t, std::less<>> ids{{"", 0}};
  {
    std::lock_guard<std::mutex> guard{p.dbi_mtx};
    for (auto& [id, name] : p.stage_names)
      ids[name] = id;
  }
  cluster_writer w{p, "promote replicas"};
  if (w.failed())
    return *w.failed();
  v1::ShardRecord sr;
  sr.set_epoch(epoch);
  auto record = sr.SerializeAsString();
  for (auto s : std::set<std::uint32_t>(shards.begin(), shards.end())) {
    auto name = "shard " + std::to_string(s);
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (s >= shard_count || mdb_get(w.get(), p.shards, &k, &v) == 0)
      return w.undo(fail(errc::invalid_argument,
                         name + " is out of range or owned here already"));
    auto at = read_replica_position(p, w.get(), s);
    if (!at)
      return w.undo(at.error());
    if (!*at)
      return w.undo(fail(errc::not_found, name + " has no replica in "
                                              + p.opts.dir + " to promote"));
    if (epoch <= (*at)->epoch)
      return w.undo(fail(errc::invalid_argument,
                         name + ": promotion to epoch " + std::to_string(epoch)
                             + " is not above the replica's epoch "
                             + std::to_string((*at)->epoch)));
    auto history = import_copy(p, w, s, ids);
    if (!history)
      return w.undo(history.error());
    if (auto r = write_history(p, w, s, std::move(*history), **at); !r)
      return w.undo(r.error());
    // The log goes on from the copy's seq (never back), at the new epoch;
    // whatever this member logged of the shard before is void.
    repl_position head{epoch, (*at)->seq};
    if (mdb_get(w.get(), p.replog_head, &k, &v) == 0)
      if (auto old = repl::parse_position(as_view(v)))
        head.seq = std::max(head.seq, old->seq);
    if (auto r = drop_replog(w.get(), p, s); !r)
      return w.undo(r.error());
    if (auto r = w.put(p.replog_head, sk, repl::position_value(head),
                       "write replication head");
        !r)
      return w.undo(r.error());
    if (auto r = w.put(p.shards, sk, record, "write shard record"); !r)
      return w.undo(r.error());
    if (auto r = erase_replica(p, w, s); !r)
      return w.undo(r.error());
  }
  if (auto r = w.finish(); !r)
    return r.error();
  if (p.opts.place)
    for (auto s : shards)
      p.opts.place->set(s, shard_state::owned);
  commit_report rep;
  rep.rewind = true;
  return rep;
}

} // namespace sluice
