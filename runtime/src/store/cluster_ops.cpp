// The store's cluster operations: the outbox, events forwarded by other
// nodes (deduplicated by per-sender, per-shard watermarks), shard ownership
// records, and the two sides of a hand-off. Writers run on the store
// actor's thread, one transaction each; readers on any thread.
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "lmdb_env.hpp"
#include "positions.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

const std::string incarnation_key = "incarnation";

/// shards db key: the shard number.
std::string shard_key(std::uint32_t shard) {
  std::string k;
  keys::put_u32(k, shard);
  return k;
}

/// inbox db key: shard, priority, then the sender's name. One watermark
/// per priority class: the outbox sends urgent entries first, so seqs rise
/// within a class, not across the two.
std::string inbox_key(std::uint32_t shard, priority prio,
                      std::string_view sender) {
  std::string k;
  keys::put_u32(k, shard);
  k.push_back(static_cast<char>(prio));
  k += sender;
  return k;
}

/// handoff_in db key: shard, stage id, queue key. Stage id ~0 marks an
/// import under way for the shard.
constexpr std::uint32_t import_marker = 0xffffffffu;
std::string handoff_in_key(std::uint32_t shard, std::uint32_t stage_id,
                           keys::queue_pos pos) {
  std::string k;
  keys::put_u32(k, shard);
  keys::put_u32(k, stage_id);
  if (stage_id != import_marker)
    k += keys::queue_key(pos);
  return k;
}

/// A write transaction that continues after the stored seq counter and
/// saves it when it used seqs. Commit with `finish`.
class writer {
public:
  writer(store::impl& p, const std::string& what) : p_(p), what_(what) {
    int rc = 0;
    t_.emplace(p.env, false, rc);
    if (rc != 0)
      err_ = lmdb_error(rc, p.opts.dir + ": begin " + what);
    else if (auto r = refresh_seq(t_->get(), p); !r)
      err_ = r.error();
    seq_before_ = p.next_seq;
  }
  const std::optional<error>& failed() const { return err_; }
  MDB_txn* get() const { return t_->get(); }

  result<void> put(MDB_dbi dbi, std::string_view k, std::string_view v,
                   const char* what, unsigned flags = 0) {
    MDB_val kv = as_val(k), vv = as_val(v);
    int rc = mdb_put(get(), dbi, &kv, &vv, flags);
    if (rc == MDB_KEYEXIST && flags != 0)
      rc = mdb_put(get(), dbi, &kv, &vv, 0);
    if (rc != 0)
      return lmdb_error(rc, p_.opts.dir + ": " + what);
    return {};
  }

  result<void> del(MDB_dbi dbi, std::string_view k, const char* what) {
    MDB_val kv = as_val(k);
    int rc = mdb_del(get(), dbi, &kv, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p_.opts.dir + ": " + what);
    return {};
  }

  result<void> finish() {
    if (p_.next_seq != seq_before_) {
      std::string buf;
      keys::put_u64(buf, p_.next_seq);
      if (auto r = put(p_.meta, seq_key_name, buf, "write sequence counter");
          !r)
        return undo(r.error());
    }
    if (int rc = t_->commit(); rc != 0)
      return undo(lmdb_error(rc, p_.opts.dir + ": commit " + what_));
    return {};
  }

  error undo(error e) {
    p_.next_seq = seq_before_;
    return e;
  }

private:
  store::impl& p_;
  std::string what_;
  std::optional<txn> t_;
  std::optional<error> err_;
  std::uint64_t seq_before_ = 0;
};

/// The shard set as a bitmap, for quick membership tests.
std::vector<bool> shard_set(const std::vector<std::uint32_t>& shards) {
  std::vector<bool> in(shard_count, false);
  for (auto s : shards)
    if (s < shard_count)
      in[s] = true;
  return in;
}

/// Calls `fn(record, dbi, db key)` for every record of the shards in `in`,
/// read in `t`: queued events, states, statuses, retries, timers, inbox
/// watermarks.
result<void>
scan_records(const store::impl& p, MDB_txn* t, const std::vector<bool>& in,
             const std::function<result<bool>(handoff_record&, MDB_dbi,
                                              std::string_view)>& fn) {
  using kind = handoff_record::kind;
  // One pass over a whole database; `make` fills a record from an entry,
  // or returns false for an entry of another shard.
  auto pass = [&](MDB_dbi dbi, const char* what, auto make) -> result<bool> {
    int rc = 0;
    cursor c{t, dbi, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on " + what);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      handoff_record r;
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

/// Deletes every record of the shards in `in` within `w`.
result<void> erase_records(store::impl& p, writer& w,
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
      });
  if (!r)
    return r;
  for (auto& [dbi, k] : doomed)
    if (auto d = w.del(dbi, k, "delete a handed-off record"); !d)
      return d;
  return {};
}

result<shard_record> parse_shard_record(const store::impl& p,
                                        std::string_view k,
                                        std::string_view v) {
  auto shard = keys::get_u32(k);
  v1::ShardRecord sr;
  if (!shard || !sr.ParseFromArray(v.data(), static_cast<int>(v.size())))
    return fail(errc::corrupt, p.opts.dir + ": shard record "
                                   + keys::printable(k) + " does not parse");
  return shard_record{*shard, sr.epoch(), sr.leaving(), sr.target(),
                      sr.transfer()};
}

/// Every record of the `shards` database, read in `t`.
result<std::vector<shard_record>> read_shard_records(MDB_txn* t,
                                                     const store::impl& p) {
  std::vector<shard_record> out;
  int rc = 0;
  cursor c{t, p.shards, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on shards");
  MDB_val k, v;
  for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto rec = parse_shard_record(p, as_view(k), as_view(v));
    if (!rec)
      return rec.error();
    out.push_back(std::move(*rec));
  }
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read shards");
  return out;
}

/// The `handoff_in` keys of `shards` (their import markers and the queued
/// entries an import brought in), read in `t`: one range per shard, since
/// the keys begin with the shard.
result<std::vector<std::string>>
import_index(MDB_txn* t, const store::impl& p,
             const std::vector<std::uint32_t>& shards) {
  std::vector<std::string> out;
  int rc = 0;
  cursor c{t, p.handoff_in, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on handoff_in");
  for (auto sh : std::set<std::uint32_t>(shards.begin(), shards.end())) {
    std::string from;
    keys::put_u32(from, sh);
    MDB_val k = as_val(from), v;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      if (keys::get_u32(as_view(k)) != sh)
        break;
      out.emplace_back(as_view(k));
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": read handoff_in");
  }
  return out;
}

/// Forgets the position remapping of `shards`' imports.
void forget_remap(store::impl& p, const std::vector<std::uint32_t>& shards) {
  for (auto sh : shards)
    p.import_remap.erase(
        p.import_remap.lower_bound({sh, {priority::urgent, 0}}),
        p.import_remap.lower_bound({sh + 1, {priority::urgent, 0}}));
}

} // namespace

result<void> load_placement(MDB_txn* t, const store::impl& p,
                            placement& place) {
  auto records = read_shard_records(t, p);
  if (!records)
    return records.error();
  for (std::uint32_t s = 0; s < shard_count; ++s)
    place.set(s, shard_state::remote);
  for (auto& rec : *records)
    if (rec.shard < shard_count)
      place.set(rec.shard,
                rec.leaving ? shard_state::leaving : shard_state::owned);
  return {};
}

result<bool> queues_here(MDB_txn* t, const store::impl& p,
                         std::uint32_t shard) {
  if (p.opts.place)
    return p.opts.place->queues_here(shard);
  if (!p.has_cluster)
    return true;
  MDB_stat st;
  if (int rc = mdb_stat(t, p.shards, &st); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": stat shards");
  if (st.ms_entries == 0)
    return true; // not a cluster member
  auto sk = shard_key(shard);
  MDB_val k = as_val(sk), v;
  int rc = mdb_get(t, p.shards, &k, &v);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read shard record");
  v1::ShardRecord sr;
  return sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))
         && !sr.leaving();
}

result<void> put_outbox(MDB_txn* t, store::impl& p, std::uint32_t stage_id,
                        std::uint32_t shard, priority prio,
                        std::string_view event_bytes) {
  auto k = keys::queue_key({prio, p.next_seq++});
  std::string value;
  value.reserve(8 + event_bytes.size());
  keys::put_u32(value, stage_id);
  keys::put_u32(value, shard);
  value += event_bytes;
  MDB_val kv = as_val(k), vv = as_val(value);
  if (int rc = mdb_put(t, p.outbox, &kv, &vv, 0); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": append to the outbox");
  return {};
}

result<std::vector<shard_record>> store::shard_records() const {
  auto& p = *impl_;
  if (!p.has_cluster)
    return std::vector<shard_record>{};
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read shards");
  return read_shard_records(t.get(), p);
}

result<std::uint64_t> store::next_incarnation() {
  auto& p = *impl_;
  writer w{p, "incarnation"};
  if (w.failed())
    return *w.failed();
  MDB_val k = as_val(incarnation_key), v;
  std::uint64_t n = 0;
  if (mdb_get(w.get(), p.meta, &k, &v) == 0)
    n = keys::get_u64(as_view(v)).value_or(0);
  ++n;
  std::string buf;
  keys::put_u64(buf, n);
  if (auto r = w.put(p.meta, incarnation_key, buf, "write incarnation"); !r)
    return r.error();
  if (auto r = w.finish(); !r)
    return r.error();
  return n;
}

result<std::uint64_t> store::incarnation() const {
  auto& p = *impl_;
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read incarnation");
  MDB_val k = as_val(incarnation_key), v;
  rc = mdb_get(t.get(), p.meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::uint64_t{0};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read incarnation");
  return keys::get_u64(as_view(v)).value_or(0);
}

result<void> store::claim_all_shards() {
  auto& p = *impl_;
  writer w{p, "claim shards"};
  if (w.failed())
    return *w.failed();
  MDB_stat st;
  if (int rc = mdb_stat(w.get(), p.shards, &st); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": stat shards");
  if (st.ms_entries > 0)
    return fail(errc::invalid_argument, p.opts.dir + " already records "
                                            + std::to_string(st.ms_entries)
                                            + " shards of a cluster");
  v1::ShardRecord sr;
  sr.set_epoch(1);
  auto value = sr.SerializeAsString();
  for (std::uint32_t s = 0; s < shard_count; ++s)
    if (auto r = w.put(p.shards, shard_key(s), value, "write shard record"); !r)
      return r;
  if (auto r = w.finish(); !r)
    return r;
  if (p.opts.place)
    for (std::uint32_t s = 0; s < shard_count; ++s)
      p.opts.place->set(s, shard_state::owned);
  return {};
}

result<std::vector<outbox_entry>> store::read_outbox(keys::queue_pos from,
                                                     std::size_t max) const {
  auto& p = *impl_;
  std::vector<outbox_entry> out;
  if (!p.has_cluster)
    return out;
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read outbox");
  cursor c{t.get(), p.outbox, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": cursor on outbox");
  auto start = keys::queue_key(from);
  MDB_val k = as_val(start), v;
  for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
       rc == 0 && out.size() < max;
       rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto pos = keys::parse_queue_key(as_view(k));
    auto value = as_view(v);
    auto stage = keys::get_u32(value);
    auto shard = keys::get_u32(value, 4);
    if (!pos || !stage || !shard)
      return fail(errc::corrupt, p.opts.dir + ": outbox entry "
                                     + keys::printable(as_view(k))
                                     + " is malformed");
    out.push_back({*pos, *stage, *shard, std::string(value.substr(8))});
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read outbox");
  return out;
}

result<std::uint64_t> store::outbox_depth() const {
  auto& p = *impl_;
  if (!p.has_cluster)
    return std::uint64_t{0};
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read outbox");
  MDB_stat st;
  if ((rc = mdb_stat(t.get(), p.outbox, &st)) != 0)
    return lmdb_error(rc, p.opts.dir + ": stat outbox");
  return std::uint64_t{st.ms_entries};
}

result<void> store::delete_outbox(const std::vector<keys::queue_pos>& done) {
  auto& p = *impl_;
  writer w{p, "outbox delete"};
  if (w.failed())
    return *w.failed();
  for (auto& pos : done)
    if (auto r = w.del(p.outbox, keys::queue_key(pos), "delete outbox entry");
        !r)
      return r;
  return w.finish();
}

result<forward_receipt>
store::receive_forwarded(const std::string& sender,
                         std::vector<forwarded_event> evs) {
  auto& p = *impl_;
  forward_receipt out;
  writer w{p, "receive forwarded events"};
  if (w.failed())
    return *w.failed();
  // (shard, priority) -> watermark
  std::map<std::pair<std::uint32_t, priority>, std::uint64_t> marks;
  std::set<std::uint32_t> refused;
  std::map<std::uint32_t, std::array<std::uint64_t, 2>> appended;
  for (auto& ev : evs) {
    if (ev.shard >= shard_count || !p.opts.place
        || !p.opts.place->queues_here(ev.shard)) {
      refused.insert(ev.shard);
      continue;
    }
    auto m = marks.find({ev.shard, ev.priority});
    if (m == marks.end()) {
      auto ik = inbox_key(ev.shard, ev.priority, sender);
      MDB_val k = as_val(ik), v;
      std::uint64_t mark = 0;
      if (mdb_get(w.get(), p.inbox, &k, &v) == 0)
        mark = keys::get_u64(as_view(v)).value_or(0);
      m = marks.emplace(std::pair{ev.shard, ev.priority}, mark).first;
    }
    if (ev.seq <= m->second) {
      ++out.duplicates;
      continue;
    }
    auto dbi = p.queue_dbi(ev.stage_id);
    if (!dbi)
      return w.undo(dbi.error());
    auto qk = keys::queue_key({ev.priority, p.next_seq++});
    if (auto r = w.put(*dbi, qk, ev.event_bytes, "queue a forwarded event",
                       ev.priority == priority::normal ? MDB_APPEND : 0);
        !r)
      return w.undo(r.error());
    m->second = ev.seq;
    ++out.accepted;
    appended[ev.stage_id][static_cast<int>(ev.priority)]++;
  }
  for (auto& [at, mark] : marks) {
    std::string buf;
    keys::put_u64(buf, mark);
    if (auto r = w.put(p.inbox, inbox_key(at.first, at.second, sender), buf,
                       "write watermark");
        !r)
      return w.undo(r.error());
  }
  if (auto r = w.finish(); !r)
    return r.error();
  out.refused_shards.assign(refused.begin(), refused.end());
  out.appended.assign(appended.begin(), appended.end());
  return out;
}

result<void> store::mark_leaving(const std::vector<std::uint32_t>& shards,
                                 const std::string& target,
                                 std::uint64_t transfer) {
  auto& p = *impl_;
  writer w{p, "mark shards leaving"};
  if (w.failed())
    return *w.failed();
  for (auto s : shards) {
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (mdb_get(w.get(), p.shards, &k, &v) != 0)
      return fail(errc::invalid_argument,
                  "shard " + std::to_string(s) + " is not owned here");
    v1::ShardRecord sr;
    sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size));
    sr.set_leaving(true);
    sr.set_target(target);
    sr.set_transfer(transfer);
    if (auto r =
            w.put(p.shards, sk, sr.SerializeAsString(), "write shard record");
        !r)
      return r;
  }
  if (auto r = w.finish(); !r)
    return r;
  if (p.opts.place)
    for (auto s : shards)
      p.opts.place->set(s, shard_state::leaving);
  return {};
}

result<void>
store::scan_handoff(const std::vector<std::uint32_t>& shards,
                    const std::function<bool(handoff_record&)>& fn) const {
  auto& p = *impl_;
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin hand-off scan");
  return scan_records(p, t.get(), shard_set(shards),
                      [&](handoff_record& r, MDB_dbi,
                          std::string_view) -> result<bool> { return fn(r); });
}

result<void> store::begin_import(const std::vector<std::uint32_t>& shards) {
  auto& p = *impl_;
  writer w{p, "begin hand-off import"};
  if (w.failed())
    return *w.failed();
  bool partial = false;
  for (auto s : shards) {
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (mdb_get(w.get(), p.shards, &k, &v) == 0)
      return fail(errc::invalid_argument,
                  "shard " + std::to_string(s) + " is already owned here");
    auto mk = handoff_in_key(s, import_marker, {});
    MDB_val mkv = as_val(mk), mv;
    partial = partial || mdb_get(w.get(), p.handoff_in, &mkv, &mv) == 0;
  }
  forget_remap(p, shards);
  if (partial) {
    // An earlier transfer of these shards was cut off: its queued events
    // are listed in handoff_in, its other records found by a scan.
    auto doomed = import_index(w.get(), p, shards);
    if (!doomed)
      return doomed.error();
    for (auto& k : *doomed) {
      auto stage = keys::get_u32(k, 4);
      if (stage && *stage != import_marker) {
        auto dbi = p.queue_dbi(*stage);
        if (dbi)
          if (auto r = w.del(*dbi, k.substr(8), "delete a partial import"); !r)
            return r;
      }
      if (auto r = w.del(p.handoff_in, k, "delete a partial import"); !r)
        return r;
    }
    // Queued events are gone now; the scan finds the rest.
    if (auto r = erase_records(p, w, shard_set(shards)); !r)
      return r;
  }
  for (auto s : shards)
    if (auto r = w.put(p.handoff_in, handoff_in_key(s, import_marker, {}), "",
                       "mark an import");
        !r)
      return r;
  return w.finish();
}

result<void> store::import_handoff(std::vector<handoff_record> recs) {
  auto& p = *impl_;
  using kind = handoff_record::kind;
  writer w{p, "hand-off import"};
  if (w.failed())
    return *w.failed();
  auto remap = [&](std::uint32_t shard,
                   keys::queue_pos old) -> std::optional<keys::queue_pos> {
    auto i = p.import_remap.find({shard, old});
    if (i == p.import_remap.end())
      return std::nullopt;
    return i->second;
  };
  std::map<std::pair<std::uint32_t, keys::queue_pos>, keys::queue_pos> added;
  for (auto& r : recs) {
    switch (r.what) {
    case kind::queued: {
      auto dbi = p.queue_dbi(r.stage_id);
      if (!dbi)
        return w.undo(dbi.error());
      keys::queue_pos now{r.pos.priority, p.next_seq++};
      if (auto x = w.put(*dbi, keys::queue_key(now), r.value,
                         "queue a handed-off event");
          !x)
        return w.undo(x.error());
      if (auto x = w.put(p.handoff_in, handoff_in_key(r.shard, r.stage_id, now),
                         "", "index a handed-off event");
          !x)
        return w.undo(x.error());
      // Seqs are unique across the sender's queues: with the shard, the
      // old position names the entry.
      added[{r.shard, r.pos}] = now;
      break;
    }
    case kind::state:
      if (auto x = w.put(p.state, keys::state_key(r.stage_id, r.key), r.value,
                         "write a handed-off state");
          !x)
        return w.undo(x.error());
      break;
    case kind::status: {
      v1::KeyStatus st;
      if (!st.ParseFromString(r.value))
        break; // unreadable: the key's next event writes a new one
      if (auto old = positions::awaited(st)) {
        auto i = added.find({r.shard, *old});
        auto now =
            i != added.end() ? std::optional{i->second} : remap(r.shard, *old);
        if (now)
          positions::set_awaited(st, *now);
        else
          st.set_queued_known(false);
      }
      if (auto x = w.put(p.status, r.key, st.SerializeAsString(),
                         "write a handed-off status");
          !x)
        return w.undo(x.error());
      break;
    }
    case kind::retry: {
      v1::RetryRecord rr;
      if (!rr.ParseFromString(r.value) || !p.has_retries)
        break;
      auto old = positions::of_retry(rr);
      auto i = added.find({r.shard, old});
      auto now =
          i != added.end() ? std::optional{i->second} : remap(r.shard, old);
      if (!now)
        break; // its failed event is gone: nothing to retry
      positions::set_retry(rr, *now);
      if (auto x = w.put(p.retries, keys::state_key(r.stage_id, r.key),
                         rr.SerializeAsString(), "write a handed-off retry");
          !x)
        return w.undo(x.error());
      break;
    }
    case kind::timer: {
      v1::TimerRecord tr;
      if (!p.has_timers || !tr.ParseFromString(r.value))
        break;
      auto tk = keys::timer_key(r.stage_id, r.key, r.name);
      if (auto x = w.put(p.timers, tk, r.value, "write a handed-off timer"); !x)
        return w.undo(x.error());
      if (auto x = w.put(p.timers_due,
                         keys::timer_due_key(r.stage_id, tr.due_ts_ns(), tk),
                         "", "index a handed-off timer");
          !x)
        return w.undo(x.error());
      break;
    }
    case kind::inbox: {
      auto ik = inbox_key(r.shard, r.pos.priority, r.name);
      MDB_val k = as_val(ik), v;
      auto theirs = keys::get_u64(r.value).value_or(0);
      if (mdb_get(w.get(), p.inbox, &k, &v) == 0
          && keys::get_u64(as_view(v)).value_or(0) >= theirs)
        break;
      if (auto x = w.put(p.inbox, ik, r.value, "write a watermark"); !x)
        return w.undo(x.error());
      break;
    }
    }
  }
  if (auto r = w.finish(); !r)
    return r;
  for (auto& [k, v] : added)
    p.import_remap[k] = v;
  return {};
}

result<commit_report>
store::acquire_shards(const std::vector<std::uint32_t>& shards,
                      std::uint64_t epoch) {
  auto& p = *impl_;
  writer w{p, "acquire shards"};
  if (w.failed())
    return *w.failed();
  v1::ShardRecord sr;
  sr.set_epoch(epoch);
  auto value = sr.SerializeAsString();
  auto index = import_index(w.get(), p, shards);
  if (!index)
    return index.error();
  for (auto& k : *index)
    if (auto r = w.del(p.handoff_in, k, "clear the import index"); !r)
      return r.error();
  for (auto s : shards)
    if (auto r = w.put(p.shards, shard_key(s), value, "write shard record"); !r)
      return r.error();
  if (auto r = w.finish(); !r)
    return r.error();
  forget_remap(p, shards);
  if (p.opts.place)
    for (auto s : shards)
      p.opts.place->set(s, shard_state::owned);
  commit_report rep;
  rep.rewind = true;
  return rep;
}

result<void> store::release_shards(const std::vector<std::uint32_t>& shards) {
  auto& p = *impl_;
  writer w{p, "release shards"};
  if (w.failed())
    return *w.failed();
  if (auto r = erase_records(p, w, shard_set(shards)); !r)
    return r;
  for (auto s : shards)
    if (auto r = w.del(p.shards, shard_key(s), "delete shard record"); !r)
      return r;
  if (auto r = w.finish(); !r)
    return r;
  if (p.opts.place)
    for (auto s : shards)
      p.opts.place->set(s, shard_state::remote);
  return {};
}

result<commit_report>
store::reclaim_shards(const std::vector<std::uint32_t>& shards) {
  auto& p = *impl_;
  writer w{p, "reclaim shards"};
  if (w.failed())
    return *w.failed();
  for (auto s : shards) {
    auto sk = shard_key(s);
    MDB_val k = as_val(sk), v;
    if (mdb_get(w.get(), p.shards, &k, &v) != 0)
      continue;
    v1::ShardRecord sr;
    sr.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size));
    sr.set_leaving(false);
    sr.clear_target();
    sr.set_transfer(0);
    if (auto r =
            w.put(p.shards, sk, sr.SerializeAsString(), "write shard record");
        !r)
      return r.error();
  }
  if (auto r = w.finish(); !r)
    return r.error();
  if (p.opts.place)
    for (auto s : shards)
      if (p.opts.place->state(s) == shard_state::leaving)
        p.opts.place->set(s, shard_state::owned);
  commit_report rep;
  rep.rewind = true;
  return rep;
}

} // namespace sluice
