// Redriving and dropping dead letters: one write transaction each, safe
// beside a running node's writer (LMDB serializes writers).
#include "shard_changes.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

std::string ref_name(const store::dead_letter_ref& r) {
  return std::to_string(r.first) + ":" + std::to_string(r.second);
}

/// Runs `fn(txn, changes, id, value)` for each id inside one write
/// transaction, then commits; any error aborts everything. Deleted dead
/// letters, and what `fn` notes in `changes`, are replicated.
template <class F>
result<std::size_t>
for_each_dead_letter(store::impl& p,
                     const std::vector<store::dead_letter_ref>& ids, F fn) {
  if (p.opts.read_only)
    return fail(errc::invalid_argument, p.opts.dir + " is open read-only");
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin write transaction");
  if (auto r = refresh_seq(t.get(), p); !r)
    return r.error();
  auto seq_before = p.next_seq;
  shard_changes changes{p};
  for (auto& id : ids) {
    auto dk = keys::dead_letter_key(id.first, id.second);
    MDB_val k = as_val(dk), v;
    rc = db_get(t.get(), p.dead_letters, &k, &v);
    if (rc == MDB_NOTFOUND) {
      p.next_seq = seq_before;
      return fail(errc::not_found,
                  "no dead letter " + ref_name(id) + " in " + p.opts.dir);
    }
    if (rc == 0) {
      std::string value(as_view(v));
      if (auto r = fn(t.get(), changes, id, value); !r) {
        p.next_seq = seq_before;
        return r.error();
      }
      rc = mdb_del(t.get(), p.dead_letters, &k, nullptr);
      if (rc == 0)
        changes.dead_letter(id.first, id.second, value, true);
    }
    if (rc != 0) {
      p.next_seq = seq_before;
      return lmdb_error(rc, p.opts.dir + ": dead letter " + ref_name(id));
    }
  }
  if (auto r = changes.flush(t.get()); !r) {
    p.next_seq = seq_before;
    return r.error();
  }
  if (p.next_seq != seq_before) {
    std::string buf;
    keys::put_u64(buf, p.next_seq);
    MDB_val k = as_val(seq_key_name), v = as_val(buf);
    rc = db_put(t.get(), p.meta, &k, &v, 0);
  }
  if (rc == 0)
    rc = t.commit();
  if (rc != 0) {
    p.next_seq = seq_before;
    return lmdb_error(rc, p.opts.dir + ": commit dead-letter change");
  }
  return ids.size();
}

} // namespace

result<std::size_t>
store::redrive_dead_letters(const std::vector<dead_letter_ref>& ids) {
  auto& p = *impl_;
  return for_each_dead_letter(
      p, ids,
      [&](MDB_txn* t, shard_changes& changes, const dead_letter_ref& id,
          const std::string& value) -> result<void> {
        v1::DeadLetter dl;
        if (!dl.ParseFromString(value))
          return fail(errc::corrupt, "dead letter " + ref_name(id)
                                         + " is not a valid DeadLetter");
        if (!dl.has_event())
          return fail(errc::invalid_argument,
                      "dead letter " + ref_name(id) + " ("
                          + (dl.source().empty() ? dl.stage() : dl.source())
                          + ") holds raw input, not an event: fix the source "
                            "and feed it again");
        auto dbi = p.queue_dbi(id.first);
        if (!dbi)
          return fail(errc::not_found, "dead letter " + ref_name(id)
                                           + ": stage " + dl.stage()
                                           + " has no queue in " + p.opts.dir);
        auto* ev = dl.mutable_event();
        ev->set_attempt(ev->attempt() + 1);
        auto prio = ev->priority() == v1::PRIORITY_URGENT ? priority::urgent
                                                          : priority::normal;
        auto bytes = ev->SerializeAsString();
        // A cluster member's event goes to the key's owner, which may be
        // another member by now.
        auto shard = shard_of(ev->key());
        auto here = queues_here(t, p, shard);
        if (!here)
          return here.error();
        if (!*here) {
          // The dead letter's shard is owned elsewhere now: no replica
          // of it here, and nothing to capture.
          auto pos = put_outbox(t, p, id.first, shard, prio, bytes);
          return pos ? result<void>{} : result<void>{pos.error()};
        }
        keys::queue_pos at{prio, p.next_seq++};
        auto qk = keys::queue_key(at);
        MDB_val k = as_val(qk), v = as_val(bytes);
        if (int rc = db_put(t, *dbi, &k, &v, 0); rc != 0)
          return lmdb_error(rc, p.opts.dir + ": requeue " + ref_name(id));
        changes.queued(id.first, at, ev->key(), bytes, false);
        return {};
      });
}

result<std::size_t>
store::drop_dead_letters(const std::vector<dead_letter_ref>& ids) {
  return for_each_dead_letter(
      *impl_, ids,
      [](MDB_txn*, shard_changes&, const dead_letter_ref&,
         const std::string&) -> result<void> { return {}; });
}

} // namespace sluice
