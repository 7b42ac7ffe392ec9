// Events between nodes: the outbox of events whose shard is owned
// elsewhere (read and acknowledged by the forwarder), and the receipt of
// events forwarded here, deduplicated by per-shard watermarks: per source
// shard by origin when replicated, else per sender by outbox seq. Writers
// on the store actor's thread; readers on any thread.
#include <array>
#include <map>
#include <set>
#include <tuple>

#include "cluster_db.hpp"
#include "epoch_history.hpp"
#include "replica_keys.hpp"

namespace sluice {

result<keys::queue_pos>
put_outbox(MDB_txn* t, store::impl& p, std::uint32_t stage_id,
           std::uint32_t shard, priority prio, std::string_view event_bytes,
           const std::optional<repl_position>& written_at) {
  keys::queue_pos pos{prio, p.next_seq++};
  auto k = keys::queue_key(pos);
  std::string value;
  value.reserve(24 + event_bytes.size());
  keys::put_u32(value, stage_id);
  keys::put_u32(value, written_at ? shard | outbox_written_flag : shard);
  if (written_at) {
    keys::put_u64(value, written_at->epoch);
    keys::put_u64(value, written_at->seq);
  }
  value += event_bytes;
  MDB_val kv = as_val(k), vv = as_val(value);
  if (int rc = db_put(t, p.outbox, &kv, &vv, 0); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": append to the outbox");
  return pos;
}

result<std::vector<outbox_entry>> store::read_outbox(keys::queue_pos from,
                                                     std::size_t max) const {
  return read_outbox(from, max,
                     [](const outbox_peek&) { return outbox_pick::take; });
}

result<std::vector<outbox_entry>> store::read_outbox(
    keys::queue_pos from, std::size_t max,
    const std::function<outbox_pick(const outbox_peek&)>& pick) const {
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
  std::size_t looked = 0;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0 && looked < max;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT), ++looked) {
    auto pos = keys::parse_queue_key(as_view(k));
    auto value = as_view(v);
    auto stage = keys::get_u32(value);
    auto shard_field = keys::get_u32(value, 4).value_or(0);
    std::optional<std::uint32_t> shard;
    std::optional<repl_position> written_at;
    std::size_t event_at = 8;
    if (value.size() >= 8 && (shard_field & outbox_written_flag) == 0) {
      shard = shard_field;
    } else if (auto epoch = keys::get_u64(value, 8),
               seq = keys::get_u64(value, 16);
               value.size() >= 24 && epoch && seq) {
      shard = shard_field & ~outbox_written_flag;
      written_at = repl_position{*epoch, *seq};
      event_at = 24;
    }
    if (!pos || !stage || !shard)
      return fail(errc::corrupt, p.opts.dir + ": outbox entry "
                                     + keys::printable(as_view(k))
                                     + " is malformed");
    auto what = pick({*pos, *stage, *shard, value.size() - event_at});
    if (what == outbox_pick::stop)
      break;
    if (what == outbox_pick::skip)
      continue;
    std::optional<outbox_origin> origin;
    if (p.replicating()) {
      auto src = read_outbox_source(t.get(), p, *pos);
      if (!src)
        return src.error();
      if (*src)
        origin = (*src)->origin;
    }
    out.push_back({*pos, *stage, *shard, std::string(value.substr(event_at)),
                   origin, written_at});
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

namespace {

/// Replication: an acknowledged outbox entry that a shard's key produced
/// leaves that shard's records.
result<void> note_outbox_delete(cluster_writer& w, store::impl& p,
                                keys::queue_pos pos) {
  auto source = take_outbox_source(w.get(), p, pos);
  if (!source || !*source)
    return source ? result<void>{} : result<void>{source.error()};
  auto k = keys::queue_key(pos);
  MDB_val kv = as_val(k), v;
  if (db_get(w.get(), p.outbox, &kv, &v) != 0)
    return {};
  auto stage = keys::get_u32(as_view(v));
  w.changes.outbox((*source)->shard, stage.value_or(0), pos, {},
                   (*source)->origin, true);
  return {};
}

} // namespace

result<commit_report>
store::delete_outbox(const std::vector<keys::queue_pos>& done) {
  auto& p = *impl_;
  cluster_writer w{p, "outbox delete"};
  if (w.failed())
    return *w.failed();
  for (auto& pos : done) {
    if (w.changes.on())
      if (auto r = note_outbox_delete(w, p, pos); !r)
        return r.error();
    if (auto r = w.del(p.outbox, keys::queue_key(pos), "delete outbox entry");
        !r)
      return r.error();
  }
  if (auto r = w.finish(); !r)
    return r.error();
  commit_report rep;
  rep.replicated = std::move(w.replicated);
  return rep;
}

result<forward_receipt>
store::receive_forwarded(const std::string& sender,
                         std::vector<forwarded_event> evs) {
  auto& p = *impl_;
  forward_receipt out;
  cluster_writer w{p, "receive forwarded events"};
  if (w.failed())
    return *w.failed();
  // (shard, priority, watermark name) -> the watermark, as stored.
  std::map<std::tuple<std::uint32_t, priority, std::string>, std::string> marks;
  std::set<std::uint32_t> refused;
  std::map<std::uint32_t, std::array<std::uint64_t, 2>> appended;
  std::map<std::uint32_t, epoch_history> histories;
  for (auto& ev : evs) {
    if (ev.shard >= shard_count || !p.opts.place
        || !p.opts.place->queues_here(ev.shard)) {
      refused.insert(ev.shard);
      continue;
    }
    // Appended again by a member that lost the shard: a duplicate when the
    // record that first queued it there survived into this shard's data.
    if (ev.written_at && p.replicating()) {
      auto h = histories.find(ev.shard);
      if (h == histories.end()) {
        auto read = read_epoch_history(w.get(), p, ev.shard);
        if (!read)
          return w.undo(read.error());
        h = histories.emplace(ev.shard, std::move(*read)).first;
      }
      if (survived(h->second, *ev.written_at)) {
        ++out.duplicates;
        continue;
      }
    }
    // Replicated: an entry of a source shard is the same entry whoever of
    // its owners (a promoted replica) sends it; the rest, per sender.
    bool by_origin = ev.origin && p.replicating();
    auto name = by_origin ? source_watermark_name(ev.origin->shard) : sender;
    std::string number;
    if (by_origin)
      number = repl::origin_number(*ev.origin);
    else
      keys::put_u64(number, ev.seq);
    auto m = marks.find({ev.shard, ev.priority, name});
    if (m == marks.end()) {
      auto ik = inbox_key(ev.shard, ev.priority, name);
      MDB_val k = as_val(ik), v;
      std::string mark;
      if (db_get(w.get(), p.inbox, &k, &v) == 0)
        mark = std::string(as_view(v));
      m = marks.emplace(std::tuple{ev.shard, ev.priority, name}, mark).first;
    }
    // Both are big-endian tuples of one length: byte order is their order.
    if (m->second.size() == number.size() && number <= m->second) {
      ++out.duplicates;
      continue;
    }
    auto dbi = p.queue_dbi(ev.stage_id);
    if (!dbi)
      return w.undo(dbi.error());
    keys::queue_pos at{ev.priority, p.next_seq++};
    auto qk = keys::queue_key(at);
    if (auto r = w.put(*dbi, qk, ev.event_bytes, "queue a forwarded event",
                       ev.priority == priority::normal ? MDB_APPEND : 0);
        !r)
      return w.undo(r.error());
    w.changes.queued(ev.stage_id, at, ev.key, ev.event_bytes, false);
    m->second = std::move(number);
    ++out.accepted;
    appended[ev.stage_id][static_cast<int>(ev.priority)]++;
  }
  for (auto& [at, mark] : marks) {
    auto& [shard, prio, name] = at;
    if (mark.empty())
      continue; // every event of it was refused: nothing to write
    if (auto r = w.put(p.inbox, inbox_key(shard, prio, name), mark,
                       "write watermark");
        !r)
      return w.undo(r.error());
    w.changes.inbox(shard, prio, name, mark);
  }
  if (auto r = w.finish(); !r)
    return r.error();
  out.refused_shards.assign(refused.begin(), refused.end());
  out.appended.assign(appended.begin(), appended.end());
  out.replicated.assign(w.replicated.begin(), w.replicated.end());
  return out;
}

} // namespace sluice
