// The reader side of the store: queue, state, status, offsets and dead
// letters, each in its own read-only transaction (MVCC: never blocks the
// writer, sees only committed data).
#include <map>

#include "lmdb_env.hpp"
#include "positions.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// Runs `fn(txn)` in a read-only transaction.
template <class F>
auto with_read_txn(const store::impl& p, const std::string& what, F fn)
    -> decltype(fn(static_cast<MDB_txn*>(nullptr))) {
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": " + what);
  return fn(t.get());
}

/// The stages recorded in `meta`, read in transaction `t`.
result<std::vector<stage_record>> stages_in(const store::impl& p, MDB_txn* t) {
  std::vector<stage_record> out;
  int rc = 0;
  cursor c{t, p.meta, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on meta");
  const std::string prefix = "stage/";
  MDB_val k = as_val(prefix), v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    if (!as_view(k).starts_with(prefix))
      break;
    v1::StageMeta sm;
    if (!sm.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
      return fail(errc::corrupt, p.opts.dir + ": meta record "
                                     + keys::printable(as_view(k))
                                     + " is not a valid StageMeta");
    out.push_back({sm.name(), sm.id(), sm.behaviour()});
  }
  return out;
}

/// Calls `fn(key, value)` for every entry of a (stage id, key) database
/// (`state`, `retries`) that belongs to `stage_id`, in key order, until fn
/// returns false or an error.
template <class F>
result<void>
scan_stage_keys(const store::impl& p, MDB_txn* t, MDB_dbi dbi,
                std::uint32_t stage_id, const std::string& what, F fn,
                const std::function<bool(const std::string&, const error&)>&
                    on_damaged = {}) {
  int rc = 0;
  cursor c{t, dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on " + what);
  auto start = keys::state_key(stage_id, "");
  MDB_val k = as_val(start), v;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
       rc == 0 || (rc == value_damaged && on_damaged);
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto sk = keys::parse_state_key(as_view(k));
    if (!sk || sk->first != stage_id)
      break;
    if (rc == value_damaged) {
      if (!on_damaged(std::string(sk->second),
                      lmdb_error(rc, p.opts.dir + ": scan " + what)))
        break;
      continue;
    }
    result<bool> more = fn(sk->second, as_view(v));
    if (!more)
      return more.error();
    if (!*more)
      break;
  }
  if (rc != 0 && rc != MDB_NOTFOUND && !(rc == value_damaged && on_damaged))
    return lmdb_error(rc, p.opts.dir + ": scan " + what);
  return {};
}

} // namespace

result<std::vector<stage_record>> store::stages() const {
  auto& p = *impl_;
  return with_read_txn(p, "list stages",
                       [&](MDB_txn* t) -> result<std::vector<stage_record>> {
                         return stages_in(p, t);
                       });
}

result<std::vector<queued_event>> store::read_queue(std::uint32_t stage_id,
                                                    keys::queue_pos from,
                                                    std::size_t max) const {
  auto& p = *impl_;
  auto dbi = p.queue_dbi(stage_id);
  if (!dbi)
    return dbi.error();
  return with_read_txn(
      p, "read queue", [&](MDB_txn* t) -> result<std::vector<queued_event>> {
        std::vector<queued_event> out;
        int rc = 0;
        cursor c{t, *dbi, rc};
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": cursor on queue");
        auto start = keys::queue_key(from);
        MDB_val k = as_val(start), v;
        // A damaged entry is returned as such (for a dead letter), and
        // the ones after it still are: one bad value stops no stage.
        for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
             (rc == 0 || rc == value_damaged) && out.size() < max;
             rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
          auto pos = keys::parse_queue_key(as_view(k));
          if (!pos)
            return fail(errc::corrupt, p.opts.dir + ": malformed queue key "
                                           + keys::printable(as_view(k)));
          if (pos->priority != from.priority)
            break;
          out.push_back({*pos, std::string(as_view(v)),
                         rc == 0 ? std::string()
                                 : lmdb_error(rc, p.opts.dir).describe()});
        }
        // (Stopped at a damaged entry beyond `max` or the class: the next
        // read returns it.)
        if (rc != 0 && rc != MDB_NOTFOUND && rc != value_damaged)
          return lmdb_error(rc, p.opts.dir + ": read queue");
        return out;
      });
}

result<std::array<std::uint64_t, 2>>
store::queue_depth(std::uint32_t stage_id) const {
  auto& p = *impl_;
  auto dbi = p.queue_dbi(stage_id);
  if (!dbi)
    return dbi.error();
  return with_read_txn(
      p, "queue depth",
      [&](MDB_txn* t) -> result<std::array<std::uint64_t, 2>> {
        MDB_stat st;
        int rc = mdb_stat(t, *dbi, &st);
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": stat queue");
        std::uint64_t urgent = 0;
        cursor c{t, *dbi, rc};
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": cursor on queue");
        MDB_val k, v;
        for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
             rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
          if (k.mv_size == 0
              || *static_cast<const unsigned char*>(k.mv_data) != 0)
            break;
          ++urgent;
        }
        return std::array<std::uint64_t, 2>{urgent, st.ms_entries - urgent};
      });
}

result<std::uint64_t> store::queued_total() const {
  auto& p = *impl_;
  std::vector<MDB_dbi> dbis;
  {
    std::lock_guard<std::mutex> guard{p.dbi_mtx};
    for (auto& [id, dbi] : p.queues)
      dbis.push_back(dbi);
  }
  return with_read_txn(p, "count queued",
                       [&](MDB_txn* t) -> result<std::uint64_t> {
                         std::uint64_t total = 0;
                         for (auto dbi : dbis) {
                           MDB_stat st;
                           if (int rc = mdb_stat(t, dbi, &st); rc != 0)
                             return lmdb_error(rc, p.opts.dir + ": stat queue");
                           total += st.ms_entries;
                         }
                         return total;
                       });
}

result<std::optional<stored_state>>
store::read_state(std::uint32_t stage_id, const std::string& key) const {
  auto& p = *impl_;
  return with_read_txn(
      p, "read state", [&](MDB_txn* t) -> result<std::optional<stored_state>> {
        auto skey = keys::state_key(stage_id, key);
        MDB_val k = as_val(skey), v;
        int rc = db_get(t, p.state, &k, &v);
        if (rc == MDB_NOTFOUND)
          return std::optional<stored_state>{};
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": read the state of '"
                                    + keys::printable(key) + "'");
        auto ver = keys::get_u64(as_view(v));
        if (!ver)
          return fail(errc::corrupt,
                      p.opts.dir + ": state record of '" + keys::printable(key)
                          + "' is shorter than its version header");
        return std::optional<stored_state>{
            stored_state{*ver, std::string(as_view(v).substr(8))}};
      });
}

result<void> store::scan_states(
    std::uint32_t stage_id,
    const std::function<bool(const std::string&, const stored_state&)>& fn,
    const std::function<bool(const std::string&, const error&)>& on_damaged)
    const {
  auto& p = *impl_;
  return with_read_txn(p, "scan states", [&](MDB_txn* t) -> result<void> {
    return scan_stage_keys(
        p, t, p.state, stage_id, "state",
        [&](std::string_view key, std::string_view value) -> result<bool> {
          auto ver = keys::get_u64(value);
          if (!ver)
            return fail(errc::corrupt,
                        p.opts.dir + ": state record of '"
                            + keys::printable(key)
                            + "' is shorter than its version header");
          return fn(std::string(key),
                    stored_state{*ver, std::string(value.substr(8))});
        },
        on_damaged);
  });
}

result<std::optional<std::string>>
store::read_progress(const std::string& source) const {
  auto& p = *impl_;
  return with_read_txn(
      p, "read offset", [&](MDB_txn* t) -> result<std::optional<std::string>> {
        MDB_val k = as_val(source), v;
        int rc = db_get(t, p.offsets, &k, &v);
        if (rc == MDB_NOTFOUND)
          return std::optional<std::string>{};
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": read offset of " + source);
        return std::optional<std::string>{std::string(as_view(v))};
      });
}

result<std::optional<std::string>>
store::read_status(const std::string& key) const {
  auto& p = *impl_;
  return with_read_txn(
      p, "read status", [&](MDB_txn* t) -> result<std::optional<std::string>> {
        MDB_val k = as_val(key), v;
        int rc = db_get(t, p.status, &k, &v);
        if (rc == MDB_NOTFOUND)
          return std::optional<std::string>{};
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": read status");
        return std::optional<std::string>{std::string(as_view(v))};
      });
}

result<void> store::scan_dead_letters(
    const std::function<bool(std::uint32_t, std::uint64_t, const std::string&)>&
        fn) const {
  auto& p = *impl_;
  return with_read_txn(p, "scan dead letters", [&](MDB_txn* t) -> result<void> {
    int rc = 0;
    cursor c{t, p.dead_letters, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on dead_letters");
    MDB_val k, v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      auto kv = as_view(k);
      auto id = keys::get_u32(kv);
      auto seq = keys::get_u64(kv, 4);
      if (!id || !seq)
        return fail(errc::corrupt, p.opts.dir + ": malformed dead-letter key "
                                       + keys::printable(kv));
      if (!fn(*id, *seq, std::string(as_view(v))))
        break;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": scan dead letters");
    return {};
  });
}

namespace {

result<std::optional<stored_retry>> parse_retry(const store::impl& p,
                                                std::string_view key,
                                                std::string_view bytes) {
  v1::RetryRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return fail(errc::corrupt, p.opts.dir + ": retry record of '"
                                   + keys::printable(key)
                                   + "' is not a valid sluice.v1.RetryRecord");
  stored_retry out;
  out.key = std::string(key);
  out.pos = positions::of_retry(r);
  out.due_ns = r.due_ts_ns();
  out.record = std::string(bytes);
  return std::optional<stored_retry>{std::move(out)};
}

} // namespace

result<std::optional<std::string>>
store::read_entry(std::uint32_t stage_id, keys::queue_pos pos) const {
  auto& p = *impl_;
  auto dbi = p.queue_dbi(stage_id);
  if (!dbi)
    return dbi.error();
  return with_read_txn(
      p, "read queue entry",
      [&](MDB_txn* t) -> result<std::optional<std::string>> {
        auto qk = keys::queue_key(pos);
        MDB_val k = as_val(qk), v;
        int rc = db_get(t, *dbi, &k, &v);
        if (rc == MDB_NOTFOUND)
          return std::optional<std::string>{};
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": read queue entry");
        return std::optional<std::string>{std::string(as_view(v))};
      });
}

result<std::optional<stored_retry>>
store::read_retry(std::uint32_t stage_id, const std::string& key) const {
  auto& p = *impl_;
  if (!p.has_retries || !p.retries_maybe.load(std::memory_order_acquire))
    return std::optional<stored_retry>{};
  return with_read_txn(p, "read retry",
                       [&](MDB_txn* t) -> result<std::optional<stored_retry>> {
                         auto skey = keys::state_key(stage_id, key);
                         MDB_val k = as_val(skey), v;
                         int rc = db_get(t, p.retries, &k, &v);
                         if (rc == MDB_NOTFOUND)
                           return std::optional<stored_retry>{};
                         if (rc != 0)
                           return lmdb_error(rc, p.opts.dir + ": read retry");
                         return parse_retry(p, key, as_view(v));
                       });
}

result<std::vector<stored_retry>>
store::scan_retries(std::uint32_t stage_id) const {
  auto& p = *impl_;
  if (!p.has_retries)
    return std::vector<stored_retry>{};
  return with_read_txn(
      p, "scan retries", [&](MDB_txn* t) -> result<std::vector<stored_retry>> {
        std::vector<stored_retry> out;
        auto r = scan_stage_keys(
            p, t, p.retries, stage_id, "retries",
            [&](std::string_view key, std::string_view value) -> result<bool> {
              auto rec = parse_retry(p, key, value);
              if (!rec)
                return rec.error();
              out.push_back(std::move(**rec));
              return true;
            });
        if (!r)
          return r.error();
        return out;
      });
}

result<std::optional<std::int64_t>>
store::next_timer_due(std::uint32_t stage_id) const {
  auto& p = *impl_;
  using out_t = std::optional<std::int64_t>;
  if (!p.has_timers)
    return out_t{};
  return with_read_txn(p, "read timers", [&](MDB_txn* t) -> result<out_t> {
    int rc = 0;
    cursor c{t, p.timers_due, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on timers_due");
    auto from = keys::timer_due_key(stage_id, 0, "");
    MDB_val k = as_val(from), v;
    rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
      return out_t{};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": read timers_due");
    if (keys::get_u32(as_view(k)) != stage_id)
      return out_t{};
    return out_t{
        static_cast<std::int64_t>(keys::get_u64(as_view(k), 4).value_or(0))};
  });
}

result<std::uint64_t> store::timers_pending() const {
  auto& p = *impl_;
  if (!p.has_timers)
    return std::uint64_t{0};
  return with_read_txn(p, "count timers",
                       [&](MDB_txn* t) -> result<std::uint64_t> {
                         MDB_stat st;
                         if (int rc = mdb_stat(t, p.timers, &st); rc != 0)
                           return lmdb_error(rc, p.opts.dir + ": count timers");
                         return std::uint64_t{st.ms_entries};
                       });
}

result<std::vector<stored_timer>>
store::read_timers(std::uint32_t stage_id, const std::string& key) const {
  auto& p = *impl_;
  if (!p.has_timers)
    return std::vector<stored_timer>{};
  return with_read_txn(
      p, "read timers", [&](MDB_txn* t) -> result<std::vector<stored_timer>> {
        std::vector<stored_timer> out;
        int rc = 0;
        cursor c{t, p.timers, rc};
        if (rc != 0)
          return lmdb_error(rc, p.opts.dir + ": cursor on timers");
        auto from = keys::timer_key(stage_id, key, "");
        MDB_val k = as_val(from), v;
        for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
             rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
          auto tk = as_view(k);
          if (!tk.starts_with(from))
            break;
          v1::TimerRecord rec;
          if (!rec.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
            return fail(errc::corrupt, p.opts.dir + ": timer "
                                           + keys::printable(tk)
                                           + " is not a valid TimerRecord");
          out.push_back({key, rec.name(), rec.due_ts_ns(), rec.event()});
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
          return lmdb_error(rc, p.opts.dir + ": read timers");
        return out;
      });
}

result<void> store::scan_status(
    const std::function<bool(const std::string&, const std::string&, bool)>& fn)
    const {
  auto& p = *impl_;
  return with_read_txn(p, "scan status", [&](MDB_txn* t) -> result<void> {
    auto stages = stages_in(p, t);
    if (!stages)
      return stages.error();
    std::map<std::string, MDB_dbi, std::less<>> queue_of;
    for (auto& sr : *stages)
      if (auto d = p.queue_dbi(sr.id))
        queue_of.emplace(sr.name, *d);
    int rc = 0;
    cursor c{t, p.status, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on status");
    MDB_val k, v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      bool waits = false;
      v1::KeyStatus st;
      std::optional<keys::queue_pos> pos;
      if (st.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))
          && (pos = positions::awaited(st))) {
        auto q = queue_of.find(st.stage());
        if (q != queue_of.end()) {
          auto qk = keys::queue_key(*pos);
          MDB_val qkv = as_val(qk);
          waits = db_has(t, q->second, &qkv) == 0;
        }
      }
      if (!fn(std::string(as_view(k)), std::string(as_view(v)), waits))
        break;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": scan status");
    return {};
  });
}

} // namespace sluice
