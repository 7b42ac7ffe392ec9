// A follower becoming a shard's owner: its replica copy imported into the
// databases dispatched from (the hand-off's import, in one transaction),
// the shard owned at the new epoch, its log continued from the copy's seq
// with one record of what the import renumbered (so a follower whose copy
// was where this one was continues without a snapshot), the copy dropped;
// outbox entries keep their origins, in origin order; changelog entries
// keep their shard offsets; the shard's epoch history gains the copy's
// epoch, ended at its seq. Store actor's thread only.
#include <algorithm>
#include <mutex>
#include <set>

#include "epoch_history.hpp"
#include "replica_db.hpp"

namespace sluice {

namespace {

/// A shard's record as replicas key it, with what makes its change.
struct keyed_record {
  std::string key; ///< repl::replica_key
  handoff_record rec;
  std::string stage;
};

std::vector<keyed_record> by_key(std::vector<keyed_record> v) {
  std::sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.key < y.key; });
  return v;
}

/// Imports the copy of `shard` within `w`, mapping stage names to this
/// directory's ids (`ids`); `copy` gets the copy's records as replicas key
/// them, `has_changelog` whether it holds the owner's changelog (a
/// snapshot brings a bound per stage with one). Returns the copy's epoch
/// history.
result<epoch_history>
import_copy(store::impl& p, cluster_writer& w, std::uint32_t shard,
            const std::map<std::string, std::uint32_t, std::less<>>& ids,
            std::vector<keyed_record>& copy, bool& has_changelog) {
  std::vector<handoff_record> recs;
  epoch_history history;
  auto history_name = epoch_history_name();
  auto r = scan_replica_copy(
      p, w.get(), shard,
      [&](handoff_record& rec, std::string_view stage) -> result<bool> {
        copy.push_back(
            {repl::replica_key(rec, stage), rec, std::string(stage)});
        auto i = ids.find(stage);
        if (i == ids.end())
          return fail(errc::not_found,
                      "shard " + std::to_string(shard)
                          + ": its replica holds records of stage "
                          + std::string(stage) + ", not registered in "
                          + p.opts.dir);
        rec.stage_id = i->second;
        if (rec.what == handoff_record::kind::changelog_bound)
          has_changelog = true;
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
  // Logged with the new epoch's first record (the import's renumbering,
  // which this put is part of), and carried by snapshots.
  return w.put(p.inbox, inbox_key(shard, priority::urgent, name), value,
               "write the epoch history");
}

/// What turns a shard's copy (`copy`) into the shard as imported here
/// (`owned`): a put for each record the import added or changed (renumbered
/// queue positions, statuses and retries pointing at them, outbox entries
/// and dead letters), a delete for each one it left behind.
v1::ReplRecord renumbering(std::vector<keyed_record> copy,
                           std::vector<keyed_record> owned) {
  auto before = by_key(std::move(copy));
  auto after = by_key(std::move(owned));
  v1::ReplRecord out;
  std::size_t i = 0, j = 0;
  while (i < before.size() || j < after.size()) {
    if (j == after.size()
        || (i < before.size() && before[i].key < after[j].key)) {
      repl::to_change(before[i].rec, before[i].stage, true, *out.add_changes());
      ++i;
    } else if (i == before.size() || after[j].key < before[i].key) {
      repl::to_change(after[j].rec, after[j].stage, false, *out.add_changes());
      ++j;
    } else {
      if (before[i].rec.value != after[j].rec.value)
        repl::to_change(after[j].rec, after[j].stage, false,
                        *out.add_changes());
      ++i;
      ++j;
    }
  }
  return out;
}

/// A shard being promoted: its log head at the new epoch, and, when the
/// epoch continues its copy (`based`), the copy's records.
struct promoting {
  std::uint32_t shard = 0;
  repl_position head;
  bool based = false;
  std::vector<keyed_record> copy;
};

/// Writes the first record of each based shard's new epoch: what the
/// import renumbered, perhaps nothing (one scan for all of them: a scan
/// reads every database whole), and moves its head past it.
result<void> write_renumberings(store::impl& p, cluster_writer& w,
                                std::vector<promoting>& ps) {
  std::vector<std::uint32_t> based;
  for (auto& x : ps)
    if (x.based)
      based.push_back(x.shard);
  if (based.empty())
    return {};
  std::map<std::uint32_t, std::vector<keyed_record>> owned;
  auto r = scan_shards(
      p, w.get(), shard_set(based),
      [&](handoff_record& rec, std::string_view stage) -> result<bool> {
        auto shard = rec.shard;
        auto key = repl::replica_key(rec, stage);
        owned[shard].push_back(
            {std::move(key), std::move(rec), std::string(stage)});
        return true;
      });
  if (!r)
    return r;
  for (auto& x : ps) {
    if (!x.based)
      continue;
    // Written even when nothing was renumbered, as a Raft leader's first
    // entry of its term: a follower of an idle shard moves to the new epoch
    // with it (else it would stay at the base, below every position of the
    // epoch, and never count as in sync).
    auto diff = renumbering(std::move(x.copy), std::move(owned[x.shard]));
    ++x.head.seq;
    if (auto put =
            w.put(p.replog, repl::log_key(x.shard, x.head.epoch, x.head.seq),
                  diff.SerializeAsString(),
                  "write the promotion's replication record");
        !put)
      return put;
  }
  return {};
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
  // The copies as taken: records still in the replica_log applied first.
  if (auto r = apply_replica_log(p, w.get()); !r)
    return w.undo(r.error());
  std::vector<promoting> ps;
  for (auto s : std::set<std::uint32_t>(shards.begin(), shards.end())) {
    auto name = "shard " + std::to_string(s);
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (s >= shard_count || db_get(w.get(), p.shards, &k, &v) == 0)
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
    promoting x;
    x.shard = s;
    // The copy's changelog entries go after this offset of this member's
    // log, keeping their shard offsets, as a hand-off's do: a cursor of
    // the old owner's goes on here with no gap (issue 16).
    auto log_from = p.next_seq - 1;
    if (log_from == 0)
      log_from = p.next_seq++; // 0 would read as "none came"
    bool has_changelog = false;
    auto history = import_copy(p, w, s, ids, x.copy, has_changelog);
    if (!history)
      return w.undo(history.error());
    if (auto r = write_history(p, w, s, std::move(*history), **at); !r)
      return w.undo(r.error());
    // The log goes on from the copy's seq (never back), at the new epoch;
    // whatever this member logged of the shard before is void.
    x.head = {epoch, (*at)->seq};
    if (db_get(w.get(), p.replog_head, &k, &v) == 0)
      if (auto old = repl::parse_position(as_view(v)))
        x.head.seq = std::max(x.head.seq, old->seq);
    if (auto r = drop_replog(w.get(), p, s); !r)
      return w.undo(r.error());
    // Where the new epoch continues from: a follower whose copy is at
    // exactly that position holds this copy too (one owner per epoch wrote
    // it), so the epoch's first record (what the import renumbered) turns
    // it into this shard, and it takes the new records without a snapshot.
    // Not when an older log of this member's moved the seq on (a gap).
    v1::ShardRecord sr;
    sr.set_epoch(epoch);
    // A copy without the owner's changelog (from an owner that did not
    // replicate it) brings none: cursors of earlier epochs start again.
    if (has_changelog)
      sr.set_changelog_from(log_from);
    sr.set_changelog_own(p.next_seq - 1);
    x.based = x.head.seq == (*at)->seq;
    if (x.based) {
      sr.set_base_epoch((*at)->epoch);
      sr.set_base_seq((*at)->seq);
    } else {
      x.copy.clear();
    }
    if (auto r =
            w.put(p.shards, sk, sr.SerializeAsString(), "write shard record");
        !r)
      return w.undo(r.error());
    if (auto r = erase_replica(p, w, s); !r)
      return w.undo(r.error());
    ps.push_back(std::move(x));
  }
  if (auto r = write_renumberings(p, w, ps); !r)
    return w.undo(r.error());
  for (auto& x : ps)
    if (auto r = w.put(p.replog_head, shard_key(x.shard),
                       repl::position_value(x.head), "write replication head");
        !r)
      return w.undo(r.error());
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
