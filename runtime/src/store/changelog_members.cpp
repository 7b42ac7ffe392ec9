// A member's part of a change feed read through any cluster member: the
// changes and key states of the shards it holds, with the shards (and
// their epochs) read in the same transaction, and the check of a resumed
// cursor against what this member's log holds. Any thread.
#include <set>

#include "changelog_codec.hpp"
#include "cluster_db.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// The shards held here, read in `t`: every shard at epoch 0 on a single
/// node (no placement), else those with a shard record.
result<std::vector<held_shard>> read_held(MDB_txn* t, const store::impl& p) {
  std::vector<held_shard> out;
  if (!p.opts.place || !p.has_cluster) {
    out.reserve(shard_count);
    for (std::uint32_t s = 0; s < shard_count; ++s)
      out.push_back({s, 0, 0, 0});
    return out;
  }
  auto records = read_shard_records(t, p);
  if (!records)
    return records.error();
  out.reserve(records->size());
  for (auto& r : *records)
    out.push_back({r.shard, r.epoch, r.changelog_from, r.changelog_own});
  return out;
}

result<member_view> read_view(MDB_txn* t, const store::impl& p,
                              std::uint32_t stage_id) {
  auto log = changelog_span_in(t, p, stage_id);
  if (!log)
    return log.error();
  member_view view;
  view.log_id = log->log_id;
  view.low = log->low;
  view.head = log->head;
  view.seq = log->head;
  MDB_val sk = as_val(seq_key_name), sv;
  if (db_get(t, p.meta, &sk, &sv) == 0)
    if (auto next = keys::get_u64(as_view(sv)); next && *next > 0)
      view.seq = std::max(view.seq, *next - 1);
  auto held = read_held(t, p);
  if (!held)
    return held.error();
  view.held = std::move(*held);
  return view;
}

/// The lowest bound a hand-off brought for (stage, shard): the shard
/// offset after which the previous owners' log was complete (0: none).
result<std::uint64_t> bound_of(MDB_txn* t, const store::impl& p,
                               std::uint32_t stage_id, std::uint32_t shard) {
  auto mk = changelog_bound_key(shard, stage_id);
  MDB_val k = as_val(mk), v;
  int rc = db_get(t, p.meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::uint64_t{0};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read a changelog bound");
  return keys::get_u64(as_view(v)).value_or(0);
}

std::string describe(std::uint32_t shard, std::uint64_t offset) {
  return "shard " + std::to_string(shard) + " at epoch "
         + std::to_string(epoch_of(offset)) + ", seq "
         + std::to_string(seq_of(offset));
}

/// Where this member's log must be read from for `cursor` (one shard
/// offset per shard), or why it cannot serve it.
result<std::uint64_t> resume_start(MDB_txn* t, const store::impl& p,
                                   std::uint32_t stage_id,
                                   const member_view& view,
                                   const std::vector<std::uint64_t>& cursor,
                                   std::string& why) {
  auto start = view.head;
  for (auto& h : view.held) {
    if (h.shard >= cursor.size())
      break;
    auto at = cursor[h.shard];
    auto epoch = epoch_of(at);
    std::uint64_t from = 0;
    if (epoch > h.epoch) {
      why = "the cursor is ahead of this member's copy ("
            + describe(h.shard, at) + "; the shard is at epoch "
            + std::to_string(h.epoch) + " here)";
      return start;
    }
    if (epoch == h.epoch) {
      from = seq_of(at);
      if (from > view.seq) {
        why = "the cursor is ahead of this member's log ("
              + describe(h.shard, at) + "; its last seq is "
              + std::to_string(view.seq) + ")";
        return start;
      }
    } else if (h.import_from == 0) {
      why = "shard " + std::to_string(h.shard) + " began here at epoch "
            + std::to_string(h.epoch)
            + " without the changes before it (the cursor is at epoch "
            + std::to_string(epoch) + ")";
      return start;
    } else {
      from = h.import_from;
      auto bound = bound_of(t, p, stage_id, h.shard);
      if (!bound)
        return bound.error();
      if (at < *bound) {
        why = "the cursor's changes of shard " + std::to_string(h.shard)
              + " had left its changelog before it came here ("
              + describe(h.shard, at) + "): raise the stage's retain";
        return start;
      }
    }
    if (from < view.low) {
      why = "the cursor's changes have left the changelog (it keeps "
            "changes after offset "
            + std::to_string(view.low) + "; " + describe(h.shard, at)
            + " needs offset " + std::to_string(from)
            + "): raise the stage's retain";
      return start;
    }
    start = std::min(start, from);
  }
  return start;
}

/// Lowers `view.head` below `visible`, the first offset the replicas may
/// not hold yet (store::changelog_visible); true when it did.
bool cap_to_visible(member_view& view, std::uint64_t visible) {
  if (visible > view.head)
    return false;
  view.head = std::max(view.low, visible - 1);
  return true;
}

/// The keys of the changes at or after `visible` (not held by the
/// replicas yet), read in `t`; `view.head` is lowered below them.
result<std::set<std::string, std::less<>>>
unreplicated_keys(MDB_txn* t, const store::impl& p, std::uint32_t stage_id,
                  std::uint64_t visible, member_view& view) {
  std::set<std::string, std::less<>> out;
  if (!cap_to_visible(view, visible))
    return out;
  auto dbi = changelog_dbi_of(p, stage_id);
  if (!dbi)
    return dbi.error();
  int rc = 0;
  cursor c{t, *dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": open changelog cursor");
  auto from = changelog_codec::offset_key(view.head + 1);
  MDB_val k = as_val(from), v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT))
    if (auto key = changelog_codec::entry_key(as_view(v)))
      out.emplace(*key);
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read changelog");
  return out;
}

} // namespace

result<member_changes>
changelog_reader::changes_held(std::uint32_t stage_id,
                               const member_read& req) const {
  auto& p = *st_.impl_;
  // Read before the transaction begins: every entry below it is in it.
  auto visible = p.changelog_visible.load(std::memory_order_acquire);
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin read transaction");
  member_changes out;
  auto view = read_view(t.get(), p, stage_id);
  if (!view)
    return view.error();
  out.view = std::move(*view);
  // Entries the replicas do not hold yet are not there for subscribers.
  cap_to_visible(out.view, visible);
  out.from = req.after;
  if (req.resume) {
    auto start =
        resume_start(t.get(), p, stage_id, out.view, req.cursor, out.reset);
    if (!start)
      return start.error();
    out.from = *start;
  } else if (req.after < out.view.low) {
    out.reset = "this subscriber fell behind the changelog (it keeps changes "
                "after offset "
                + std::to_string(out.view.low) + " here, the subscriber was at "
                + std::to_string(req.after)
                + "): raise the stage's retain or read faster";
  }
  out.passed = out.from;
  if (!out.reset.empty() || out.from >= out.view.head || req.max == 0)
    return out;
  std::vector<bool> held(shard_count, false);
  for (auto& h : out.view.held)
    held[h.shard] = true;
  auto dbi = changelog_dbi_of(p, stage_id);
  if (!dbi)
    return dbi.error();
  cursor c{t.get(), *dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": open changelog cursor");
  auto from = changelog_codec::offset_key(out.from + 1);
  MDB_val k = as_val(from), v;
  std::size_t looked = 0;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
       rc == 0 && looked < req.max;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT), ++looked) {
    auto offset = keys::get_u64(as_view(k));
    auto key = changelog_codec::entry_key(as_view(v));
    if (!offset || !key)
      return fail(errc::corrupt, p.opts.dir + ": changelog entry "
                                     + keys::printable(as_view(k))
                                     + " does not decode");
    if (*offset > out.view.head)
      break; // not replicated yet
    out.passed = *offset;
    auto shard = shard_of(*key);
    if (!held[shard] || !key->starts_with(req.prefix))
      continue;
    auto e = changelog_codec::parse_entry(as_view(k), as_view(v));
    if (!e)
      return fail(errc::corrupt, p.opts.dir + ": changelog entry "
                                     + keys::printable(as_view(k))
                                     + " does not decode");
    if (req.resume && shard < req.cursor.size()
        && e->shard_offset <= req.cursor[shard])
      continue; // the subscriber has it
    out.entries.push_back(std::move(*e));
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read changelog");
  return out;
}

result<member_states> changelog_reader::states_held(std::uint32_t stage_id,
                                                    std::string_view after_key,
                                                    bool first,
                                                    std::string_view prefix,
                                                    std::size_t max) const {
  auto& p = *st_.impl_;
  auto visible = p.changelog_visible.load(std::memory_order_acquire);
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin read transaction");
  member_states out;
  auto view = read_view(t.get(), p, stage_id);
  if (!view)
    return view.error();
  out.view = std::move(*view);
  out.next_key = std::string(after_key);
  if (max == 0)
    return out;
  std::vector<bool> held(shard_count, false);
  for (auto& h : out.view.held)
    held[h.shard] = true;
  // States the replicas do not hold yet are not sent: the chunk is as of
  // the visible point, without the keys changed after it.
  auto unheld = unreplicated_keys(t.get(), p, stage_id, visible, out.view);
  if (!unheld)
    return unheld.error();
  cursor c{t.get(), p.state, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": open state cursor");
  auto start = keys::state_key(stage_id, first ? prefix : after_key);
  MDB_val k = as_val(start), v;
  rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  if (rc == 0 && !first && as_view(k) == start)
    rc = cursor_get(c.get(), &k, &v, MDB_NEXT);
  std::size_t looked = 0;
  for (; rc == 0; rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto parsed = keys::parse_state_key(as_view(k));
    if (!parsed || parsed->first != stage_id
        || !parsed->second.starts_with(prefix))
      break;
    if (looked++ == max)
      return out;
    out.next_key = std::string(parsed->second);
    if (!held[shard_of(parsed->second)] || unheld->count(parsed->second))
      continue;
    auto value = as_view(v);
    if (value.size() < 8)
      return fail(errc::corrupt, p.opts.dir + ": state record "
                                     + keys::printable(as_view(k))
                                     + " is shorter than its version header");
    out.states.push_back({std::string(parsed->second), *keys::get_u64(value),
                          std::string(value.substr(8))});
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read states");
  out.last = true;
  return out;
}

} // namespace sluice
