// The batch writer's completions: a processed event's state, emits, status,
// retry and dead letter applied together, or deferred or rejected by the
// key's state version. Writer thread only.
#include "batch_writer.hpp"

namespace sluice {

namespace {

/// Times a completion may wait for its key's earlier version.
constexpr std::uint32_t max_deferrals = 50;

} // namespace

result<void> batch_writer::complete(const completion& c) {
  source_scope source{*this, c.key};
  auto skey = keys::state_key(c.stage_id, c.key);
  queue_ref ref{c.stage_id, c.consumed, c.ingest_ts_ns};
  // Fencing: a node that lost the key's shard no longer commits for it.
  if (p_.opts.place && c.touch_state
      && !p_.opts.place->commits_here(shard_of(c.key))) {
    report.duplicates.push_back(ref);
    return {};
  }
  std::uint64_t cur_version = 0;
  const bool versioned = c.touch_state && !c.stateless;
  if (versioned) {
    auto cur = version_of(skey);
    if (!cur)
      return cur.error();
    if (c.base_version > *cur) {
      // Its predecessor has not arrived. One that never does (its actor
      // was replaced) must not circle forever: give up and let the stage
      // reload the key.
      if (c.deferrals + 1 > max_deferrals) {
        report.rejected.push_back(ref);
      } else {
        report.deferred.push_back(c);
        ++report.deferred.back().deferrals;
      }
      return {};
    }
    if (c.base_version < *cur) {
      report.rejected.push_back(ref);
      return {};
    }
    cur_version = *cur;
  }
  auto dbi = p_.queue_dbi(c.stage_id);
  if (!dbi)
    return dbi.error();
  auto qk = keys::queue_key(c.consumed);
  MDB_val qkv = as_val(qk);
  // A retry keeps the entry queued; everything else consumes it.
  int rc = c.retry.empty() ? mdb_del(t_, *dbi, &qkv, nullptr)
                           : db_has(t_, *dbi, &qkv);
  if (rc == MDB_NOTFOUND) { // consumed already: a duplicate
    report.duplicates.push_back(ref);
    return {};
  }
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": remove consumed event");
  if (c.retry.empty())
    changes_.queued(c.stage_id, c.consumed, c.key, {}, true);
  if (versioned && !c.ack_only)
    if (auto r = put_state(skey, cur_version + 1, c); !r)
      return r;
  if (auto r = timers(c); !r)
    return r;
  std::optional<keys::queue_pos> waits_for;
  std::uint32_t forwarded = 0;
  for (std::size_t i = 0; i < c.emits.size(); ++i) {
    if (auto r = append(c.emits[i]); !r)
      return r.error();
    forwarded += last_outboxed_ ? 1 : 0;
    // An emit that went to the outbox waits in another node's queue.
    if (static_cast<int>(i) == c.status_emit && !last_outboxed_)
      waits_for = keys::queue_pos{c.emits[i].priority, p_.next_seq - 1};
  }
  if (c.touch_state && !c.key_status.empty()) {
    result<bool> awaited = true;
    if (c.ack_only)
      awaited = status_awaits(c.key, c.consumed);
    if (!awaited)
      return awaited.error();
    if (*awaited)
      if (auto r = put_status(c.key, c.key_status, waits_for); !r)
        return r;
  }
  if (!c.dead_letter.empty())
    if (auto r = dead_letter(c.stage_id, c.dead_letter); !r)
      return r;
  if (!c.retry.empty()) {
    MDB_val k = as_val(skey), v = as_val(c.retry);
    p_.retries_maybe.store(true, std::memory_order_release);
    if ((rc = db_put(t_, p_.retries, &k, &v, 0)) != 0)
      return lmdb_error(rc, p_.opts.dir + ": write retry");
    changes_.retry(c.stage_id, c.key, c.retry, false);
    report.retried.push_back({ref, c.retry_due_ns});
    ++report.records;
    return {};
  }
  if (c.clear_retry) {
    MDB_val k = as_val(skey);
    rc = mdb_del(t_, p_.retries, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": delete retry");
    if (rc == 0)
      changes_.retry(c.stage_id, c.key, {}, true);
  }
  report.consumed.push_back(ref);
  ++report.records;
  if (report_settled)
    report.settled.push_back(
        {c.event_id, static_cast<std::uint32_t>(c.emits.size()) - forwarded,
         forwarded, !c.dead_letter.empty()});
  return {};
}

result<std::uint64_t> batch_writer::version_of(const std::string& skey) {
  if (auto i = versions_.find(skey); i != versions_.end())
    return i->second;
  MDB_val k = as_val(skey), v;
  int rc = db_get(t_, p_.state, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::uint64_t{0};
  if (rc != 0)
    return lmdb_error(rc,
                      p_.opts.dir + ": read state " + keys::printable(skey));
  auto ver = keys::get_u64(as_view(v));
  if (!ver)
    return fail(errc::corrupt, p_.opts.dir + ": state record "
                                   + keys::printable(skey)
                                   + " is shorter than its version header");
  return *ver;
}

result<void> batch_writer::put_state(const std::string& skey,
                                     std::uint64_t version,
                                     const completion& c) {
  int rc = 0;
  std::string value;
  value.reserve(8 + c.key_state.size());
  keys::put_u64(value, version);
  value += c.key_state;
  MDB_val sk = as_val(skey), sv = as_val(value);
  if ((rc = db_put(t_, p_.state, &sk, &sv, 0)) != 0)
    return lmdb_error(rc,
                      p_.opts.dir + ": write state " + keys::printable(skey));
  changes_.state(c.stage_id, c.key, value);
  versions_[skey] = version;
  // A change of the key's state, for change feeds: not the failure
  // counters of an event that waits for a retry or went to dead letters
  // (the behaviour's state is what it was).
  if (c.retry.empty() && c.dead_letter.empty())
    return log_change(c.stage_id, c.key, value);
  return {};
}

} // namespace sluice
