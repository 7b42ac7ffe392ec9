// Writing one record of a shard that becomes owned here, for the hand-off's
// import and a replica's promotion: queued events at fresh seqs, statuses
// and retries pointed at them, dead letters and outbox entries at fresh
// seqs (an outbox entry keeps its origin), the rest as they are. Store
// actor's thread only.
#include "changelog_codec.hpp"
#include "cluster_db.hpp"
#include "positions.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// The new position of the entry `old` of `shard` named: from this import,
/// else from an earlier part of it; nullopt when neither brought it.
std::optional<keys::queue_pos> moved(const position_map& added,
                                     const position_map& earlier,
                                     std::uint32_t shard, keys::queue_pos old) {
  if (auto i = added.find({shard, old}); i != added.end())
    return i->second;
  if (auto i = earlier.find({shard, old}); i != earlier.end())
    return i->second;
  return std::nullopt;
}

} // namespace

result<std::optional<keys::queue_pos>>
import_record(store::impl& p, cluster_writer& w, const handoff_record& r,
              position_map& added, const position_map& earlier) {
  using kind = handoff_record::kind;
  std::optional<keys::queue_pos> none;
  switch (r.what) {
  case kind::queued: {
    auto dbi = p.queue_dbi(r.stage_id);
    if (!dbi)
      return dbi.error();
    keys::queue_pos now{r.pos.priority, p.next_seq++};
    if (auto x = w.put(*dbi, keys::queue_key(now), r.value,
                       "queue a handed-off event");
        !x)
      return x.error();
    // Seqs are unique across the sender's queues: with the shard, the old
    // position names the entry.
    added[{r.shard, r.pos}] = now;
    return std::optional{now};
  }
  case kind::state:
    if (auto x = w.put(p.state, keys::state_key(r.stage_id, r.key), r.value,
                       "write a handed-off state");
        !x)
      return x.error();
    return none;
  case kind::status: {
    v1::KeyStatus st;
    if (!st.ParseFromString(r.value))
      return none; // unreadable: the key's next event writes a new one
    if (auto old = positions::awaited(st)) {
      if (auto now = moved(added, earlier, r.shard, *old))
        positions::set_awaited(st, *now);
      else
        st.set_queued_known(false);
    }
    if (auto x = w.put(p.status, r.key, st.SerializeAsString(),
                       "write a handed-off status");
        !x)
      return x.error();
    return none;
  }
  case kind::retry: {
    v1::RetryRecord rr;
    if (!rr.ParseFromString(r.value) || !p.has_retries)
      return none;
    auto now = moved(added, earlier, r.shard, positions::of_retry(rr));
    if (!now)
      return none; // its failed event is gone: nothing to retry
    positions::set_retry(rr, *now);
    p.retries_maybe.store(true, std::memory_order_release);
    if (auto x = w.put(p.retries, keys::state_key(r.stage_id, r.key),
                       rr.SerializeAsString(), "write a handed-off retry");
        !x)
      return x.error();
    return none;
  }
  case kind::timer: {
    v1::TimerRecord tr;
    if (!p.has_timers || !tr.ParseFromString(r.value))
      return none;
    auto tk = keys::timer_key(r.stage_id, r.key, r.name);
    if (auto x = w.put(p.timers, tk, r.value, "write a handed-off timer"); !x)
      return x.error();
    if (auto x = w.put(p.timers_due,
                       keys::timer_due_key(r.stage_id, tr.due_ts_ns(), tk), "",
                       "index a handed-off timer");
        !x)
      return x.error();
    return none;
  }
  case kind::inbox: {
    // A sender's seq (8 bytes) or a source shard's origin number (20):
    // big-endian either way, so byte order is their order.
    auto ik = inbox_key(r.shard, r.pos.priority, r.name);
    MDB_val k = as_val(ik), v;
    if (db_get(w.get(), p.inbox, &k, &v) == 0 && v.mv_size == r.value.size()
        && as_view(v) >= std::string_view{r.value})
      return none;
    if (auto x = w.put(p.inbox, ik, r.value, "write a watermark"); !x)
      return x.error();
    return none;
  }
  case kind::dead_letter:
    if (auto x = w.put(p.dead_letters,
                       keys::dead_letter_key(r.stage_id, p.next_seq++), r.value,
                       "write a dead letter");
        !x)
      return x.error();
    return none;
  case kind::changelog: {
    // At this member's next seq, keeping the shard offset its writer gave
    // it; a stage without a changelog here takes none.
    auto dbi = changelog_dbi_of(p, r.stage_id);
    if (!dbi)
      return none;
    if (auto x = w.put(*dbi, changelog_codec::offset_key(p.next_seq++), r.value,
                       "write a handed-off changelog entry");
        !x)
      return x.error();
    return none;
  }
  case kind::changelog_bound: {
    auto bk = changelog_bound_key(r.shard, r.stage_id);
    MDB_val k = as_val(bk), v;
    if (db_get(w.get(), p.meta, &k, &v) == 0 && as_view(v) >= r.value)
      return none;
    if (auto x = w.put(p.meta, bk, r.value, "write a changelog bound"); !x)
      return x.error();
    return none;
  }
  case kind::outbox: {
    auto at = put_outbox(w.get(), p, r.stage_id, shard_of(r.key),
                         r.pos.priority, r.value);
    if (!at)
      return at.error();
    // Its origin stays: a receiver that had it from the old owner knows it.
    if (w.changes.on())
      if (auto x = note_outbox_source(w.get(), p, *at, r.shard, r.origin); !x)
        return x.error();
    return none;
  }
  }
  return none;
}

} // namespace sluice
