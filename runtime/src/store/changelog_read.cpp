// Reading changelogs and key states for change feeds: each call one short
// read transaction beside the writer.
#include <memory>

#include "changelog_codec.hpp"
#include "lmdb_env.hpp"

namespace sluice {

namespace {

/// The span of `db`'s changelog (stage `name`) in `t`.
result<changelog_span> read_changelog_span(MDB_txn* t, const store::impl& p,
                                           MDB_dbi dbi,
                                           const std::string& name) {
  changelog_span s;
  auto mkey = changelog_meta_key(name);
  MDB_val mk = as_val(mkey), mv;
  int rc = db_get(t, p.meta, &mk, &mv);
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read " + mkey);
  auto id = keys::get_u64(as_view(mv));
  auto low = keys::get_u64(as_view(mv), 8);
  if (!id || !low)
    return fail(errc::corrupt, p.opts.dir + ": meta record " + mkey
                                   + " is not a log id and an offset");
  s.log_id = *id;
  s.low = *low;
  s.head = *low;
  MDB_stat st{};
  if ((rc = mdb_stat(t, dbi, &st)) != 0)
    return lmdb_error(rc, p.opts.dir + ": changelog size of " + name);
  s.entries = st.ms_entries;
  cursor c{t, dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": open changelog cursor");
  MDB_val k, v;
  if ((rc = cursor_get(c.get(), &k, &v, MDB_LAST)) == 0)
    s.head = keys::get_u64(as_view(k)).value_or(s.head);
  else if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read changelog of " + name);
  if ((rc = cursor_get(c.get(), &k, &v, MDB_FIRST)) == 0)
    s.oldest_ts_ns = changelog_codec::entry_ts(as_view(v)).value_or(0);
  return s;
}

struct changelog_ref {
  MDB_dbi dbi = 0;
  std::string name;
};

result<changelog_ref> changelog_ref_of(const store::impl& p,
                                       std::uint32_t stage_id) {
  std::lock_guard<std::mutex> guard{p.dbi_mtx};
  auto i = p.changelogs.find(stage_id);
  auto n = p.stage_names.find(stage_id);
  if (i == p.changelogs.end() || n == p.stage_names.end())
    return fail(errc::not_found,
                "stage id " + std::to_string(stage_id) + " keeps no changelog");
  return changelog_ref{i->second.dbi, n->second};
}

/// A read of one stage's changelog: the log, and a read transaction.
struct log_read {
  changelog_ref log;
  std::unique_ptr<txn> t;
};

result<log_read> begin_log_read(const store::impl& p, std::uint32_t stage_id) {
  auto log = changelog_ref_of(p, stage_id);
  if (!log)
    return log.error();
  int rc = 0;
  auto t = std::make_unique<txn>(p.env, true, rc);
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin read transaction");
  return log_read{std::move(*log), std::move(t)};
}

} // namespace

result<MDB_dbi> changelog_dbi_of(const store::impl& p, std::uint32_t stage_id) {
  auto log = changelog_ref_of(p, stage_id);
  if (!log)
    return log.error();
  return log->dbi;
}

result<changelog_span> changelog_span_in(MDB_txn* t, const store::impl& p,
                                         std::uint32_t stage_id) {
  auto log = changelog_ref_of(p, stage_id);
  if (!log)
    return log.error();
  return read_changelog_span(t, p, log->dbi, log->name);
}

result<std::uint32_t> changelog_reader::stage(const std::string& name) const {
  auto& p = *st_.impl_;
  std::lock_guard<std::mutex> guard{p.dbi_mtx};
  std::string known;
  for (auto& [id, n] : p.stage_names) {
    known += (known.empty() ? "" : ", ") + n;
    if (n != name)
      continue;
    if (!p.changelogs.count(id))
      return fail(errc::config,
                  "stage '" + name
                      + "' keeps no changelog: add `changelog: { retain: "
                        "10m }` (or a count of changes) to its definition");
    return id;
  }
  return fail(errc::not_found, "no stage '" + name + "' (stages: "
                                   + (known.empty() ? "none" : known) + ")");
}

result<changelog_span> changelog_reader::span(std::uint32_t stage_id) const {
  auto& p = *st_.impl_;
  auto r = begin_log_read(p, stage_id);
  if (!r)
    return r.error();
  auto* t = r->t->get();
  return read_changelog_span(t, p, r->log.dbi, r->log.name);
}

result<changelog_batch> changelog_reader::read(std::uint32_t stage_id,
                                               std::uint64_t after,
                                               std::size_t max,
                                               std::string_view prefix) const {
  auto& p = *st_.impl_;
  auto r = begin_log_read(p, stage_id);
  if (!r)
    return r.error();
  auto* t = r->t->get();
  const auto& log = r->log;
  int rc = 0;
  changelog_batch out;
  out.passed = after;
  auto s = read_changelog_span(t, p, log.dbi, log.name);
  if (!s)
    return s.error();
  out.span = *s;
  if (after >= s->head || max == 0)
    return out;
  cursor c{t, log.dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": open changelog cursor");
  auto from = changelog_codec::offset_key(after + 1);
  MDB_val k = as_val(from), v;
  std::size_t scanned = 0;
  for (rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
       rc == 0 && scanned < max;
       rc = cursor_get(c.get(), &k, &v, MDB_NEXT), ++scanned) {
    if (!prefix.empty()) {
      auto offset = keys::get_u64(as_view(k));
      auto key = changelog_codec::entry_key(as_view(v));
      if (offset && key && key->substr(0, prefix.size()) != prefix) {
        out.passed = *offset;
        continue;
      }
    }
    auto e = changelog_codec::parse_entry(as_view(k), as_view(v));
    if (!e)
      return fail(errc::corrupt, p.opts.dir + ": changelog entry "
                                     + keys::printable(as_view(k))
                                     + " of stage " + log.name
                                     + " does not decode");
    out.passed = e->offset;
    out.entries.push_back(std::move(*e));
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read changelog of " + log.name);
  return out;
}

result<std::uint64_t> changelog_reader::count_after(std::uint32_t stage_id,
                                                    std::uint64_t after) const {
  auto& p = *st_.impl_;
  auto r = begin_log_read(p, stage_id);
  if (!r)
    return r.error();
  auto* t = r->t->get();
  const auto& log = r->log;
  int rc = 0;
  cursor c{t, log.dbi, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": open changelog cursor");
  auto from = changelog_codec::offset_key(after + 1);
  MDB_val k = as_val(from);
  std::uint64_t n = 0; // keys only: counting reads no value
  for (rc = cursor_key(c.get(), &k, MDB_SET_RANGE); rc == 0;
       rc = cursor_key(c.get(), &k, MDB_NEXT))
    ++n;
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read changelog of " + log.name);
  return n;
}

result<state_chunk> changelog_reader::states(std::uint32_t stage_id,
                                             std::string_view from,
                                             bool exclusive,
                                             std::string_view prefix,
                                             std::size_t max) const {
  auto& p = *st_.impl_;
  auto r = begin_log_read(p, stage_id);
  if (!r)
    return r.error();
  auto* t = r->t->get();
  const auto& log = r->log;
  int rc = 0;
  state_chunk out;
  auto s = read_changelog_span(t, p, log.dbi, log.name);
  if (!s)
    return s.error();
  out.head = s->head;
  cursor c{t, p.state, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": open state cursor");
  auto start = keys::state_key(stage_id, from.empty() ? prefix : from);
  MDB_val k = as_val(start), v;
  rc = cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  if (rc == 0 && exclusive && as_view(k) == start)
    rc = cursor_get(c.get(), &k, &v, MDB_NEXT);
  for (; rc == 0; rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    auto parsed = keys::parse_state_key(as_view(k));
    if (!parsed || parsed->first != stage_id
        || parsed->second.substr(0, prefix.size()) != prefix)
      break;
    if (out.states.size() == max)
      return out;
    auto value = as_view(v);
    if (value.size() < 8)
      return fail(errc::corrupt, p.opts.dir + ": state record "
                                     + keys::printable(as_view(k))
                                     + " is shorter than its version header");
    out.states.push_back({std::string(parsed->second), *keys::get_u64(value),
                          std::string(value.substr(8))});
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, p.opts.dir + ": read states of " + log.name);
  out.last = true;
  return out;
}

void store::changelog_visible(std::uint64_t seq) {
  auto& p = *impl_;
  {
    std::lock_guard<std::mutex> guard{p.changelog_mtx};
    if (seq <= p.changelog_visible.load(std::memory_order_relaxed))
      return;
    p.changelog_visible.store(seq, std::memory_order_release);
    ++p.changelog_commits; // what waits for commits reads again
  }
  p.changelog_cv.notify_all();
}

std::uint64_t changelog_reader::commits() const {
  auto& p = *st_.impl_;
  std::lock_guard<std::mutex> guard{p.changelog_mtx};
  return p.changelog_commits;
}

void changelog_reader::wait(std::uint64_t seen,
                            std::chrono::milliseconds timeout) const {
  auto& p = *st_.impl_;
  std::unique_lock<std::mutex> lock{p.changelog_mtx};
  p.changelog_cv.wait_for(lock, timeout,
                          [&] { return p.changelog_commits != seen; });
}

} // namespace sluice
