// The batch writer's durable timers: a completion's timer ops written to
// `timers` and `timers_due`, and due timers moved into their stage's queue.
// Writer thread only.
#include "batch_writer.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

result<void> batch_writer::timers(const completion& c) {
  for (const auto& op : c.timers) {
    // What the stage supervisor is told: a durable timer's event is
    // stored, so it needs only the time.
    timer_op told{op.name, op.cancel, op.durable, op.due_ns, op.priority, {}};
    if (op.cancel || !op.durable)
      told.event_bytes = op.event_bytes;
    auto tk = keys::timer_key(c.stage_id, c.key, op.name);
    if (auto r = drop_timer(c.stage_id, tk); !r)
      return r;
    if (!op.cancel && op.durable) {
      v1::TimerRecord rec;
      rec.set_name(op.name);
      rec.set_due_ts_ns(op.due_ns);
      rec.set_event(op.event_bytes);
      rec.set_priority(static_cast<std::uint32_t>(op.priority));
      auto bytes = rec.SerializeAsString();
      auto dk = keys::timer_due_key(c.stage_id, op.due_ns, tk);
      MDB_val k = as_val(tk), v = as_val(bytes), dkv = as_val(dk), dv{};
      int rc = db_put(t_, p_.timers, &k, &v, 0);
      if (rc == 0)
        rc = db_put(t_, p_.timers_due, &dkv, &dv, 0);
      if (rc != 0)
        return lmdb_error(rc, p_.opts.dir + ": write timer " + op.name
                                  + " of key " + keys::printable(c.key));
      changes_.timer(c.stage_id, c.key, op.name, bytes, false);
    }
    ++report.records;
    report.timers.push_back({c.stage_id, c.key, std::move(told)});
  }
  return {};
}

result<void> batch_writer::drop_timer(std::uint32_t stage_id,
                                      const std::string& tk) {
  MDB_val k = as_val(tk), v;
  int rc = db_get(t_, p_.timers, &k, &v);
  if (rc == MDB_NOTFOUND)
    return {};
  if (rc == 0) {
    v1::TimerRecord rec;
    rec.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size));
    auto dk = keys::timer_due_key(stage_id, rec.due_ts_ns(), tk);
    MDB_val dkv = as_val(dk);
    rc = mdb_del(t_, p_.timers_due, &dkv, nullptr);
    if (rc == 0 || rc == MDB_NOTFOUND)
      rc = mdb_del(t_, p_.timers, &k, nullptr);
  }
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": delete timer");
  if (changes_.on())
    if (auto parts = keys::parse_timer_key(tk))
      changes_.timer(stage_id, parts->first, parts->second, {}, true);
  return {};
}

result<void> batch_writer::fire(const timer_fire& f) {
  std::vector<std::string> due; // timers_due keys, collected first
  {
    int rc = 0;
    cursor c{t_, p_.timers_due, rc};
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": cursor on timers_due");
    auto from = keys::timer_due_key(f.stage_id, 0, "");
    MDB_val k = as_val(from), v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      auto key = as_view(k);
      if (keys::get_u32(key) != f.stage_id)
        break;
      auto at = keys::get_u64(key, 4);
      if (!at || static_cast<std::int64_t>(*at) > f.up_to_ns)
        break;
      // A timer of a shard being handed off moves with it, unfired.
      if (p_.opts.place)
        if (auto tk = keys::parse_timer_key(key.substr(12));
            tk && !p_.opts.place->dispatches_here(shard_of(tk->first)))
          continue;
      due.emplace_back(key);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": scan timers_due");
  }
  for (auto& dk : due) {
    auto tk = dk.substr(12);
    auto tkey = keys::parse_timer_key(tk);
    source_scope source{*this, tkey ? tkey->first : std::string_view{}};
    MDB_val k = as_val(tk), v, dkv = as_val(dk);
    int rc = db_get(t_, p_.timers, &k, &v);
    if (rc == 0) {
      v1::TimerRecord rec;
      if (rec.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))) {
        queue_append a{
            f.stage_id,
            rec.priority() == 0 ? priority::urgent : priority::normal,
            rec.event(), tkey ? std::string(tkey->first) : std::string()};
        if (auto r = append(a); !r)
          return r.error();
      } else {
        v1::DeadLetter dl;
        dl.set_raw(std::string(as_view(v)));
        dl.set_source("timers:" + keys::printable(tk));
        if (tkey) // the key's shard holds it
          dl.set_key(std::string(tkey->first));
        if (auto r = dead_letter(f.stage_id, dl.SerializeAsString()); !r)
          return r;
      }
      if ((rc = mdb_del(t_, p_.timers, &k, nullptr)) != 0)
        return lmdb_error(rc, p_.opts.dir + ": delete fired timer");
      if (tkey)
        changes_.timer(f.stage_id, tkey->first, tkey->second, {}, true);
      ++report.timers_fired;
    } else if (rc != MDB_NOTFOUND) {
      return lmdb_error(rc, p_.opts.dir + ": read timer");
    }
    if ((rc = mdb_del(t_, p_.timers_due, &dkv, nullptr)) != 0)
      return lmdb_error(rc, p_.opts.dir + ": delete fired timer's due entry");
  }
  return {};
}

} // namespace sluice
