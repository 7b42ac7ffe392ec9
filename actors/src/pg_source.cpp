// PostgreSQL slot -> durable queue of the stages subscribed to the source's
// topic. Each batch of changes is committed with the source's position
// (commit LSN and place in the transaction); the slot is advanced only
// after that commit, and changes at or before the committed position are
// skipped when the slot gives them again (after a crash between the two).
#include "pg_source.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <deque>

#include "messages.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/dead_letter.hpp"
#include "sluice/sources/pg_capture.hpp"
#include "sluice/v1/store.pb.h"
#include "unrouted_reasons.hpp"

namespace sluice {

std::string pg_source_name(const source_spec& spec) {
  return "source:" + spec.name;
}

result<void> check_pg_source(const source_spec& spec, const node_env& env) {
  auto report = pg::probe(spec);
  if (!report)
    return report.error();
  // A server that is down yet is the source's to wait for.
  if (!report->unreachable.empty())
    env.logger("source")->warn("{} (the source keeps trying)",
                               report->unreachable);
  return {};
}

namespace {

constexpr auto max_retry = std::chrono::seconds(10);

struct pg_state {
  node_env env;
  source_spec spec;
  std::string progress_name;
  caf::actor store;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<pg::capture> cap;
  v1::SourceOffset progress;
  std::deque<pg::change> pending; ///< read, not yet committed
  std::uint64_t poll_commit = 0;  ///< the last commit LSN of that read
  bool reading_snapshot = false;
  std::chrono::milliseconds retry{0};
  std::string last_error;
  counter* changes = nullptr;
  counter* errors = nullptr;
  counter* unrouted = nullptr;
  gauge* lag_ms = nullptr;
  gauge* connected = nullptr;
  gauge* committed = nullptr; ///< changes committed, kept across restarts
  histogram* lag = nullptr;   ///< per change: its commit there to here
  std::vector<std::int64_t> batch_ts; ///< the commit times of a batch
};

using pg_actor = caf::stateful_actor<pg_state>;

void tick(pg_actor* self);

void schedule(pg_actor* self, std::chrono::milliseconds after) {
  if (after.count() == 0)
    self->send(self, msg::read_atom::value);
  else
    self->delayed_send(self, after, msg::read_atom::value);
}

/// A failure: drop the connection, say why (once per new reason), and try
/// again later; nothing read and not committed is kept.
void failed(pg_actor* self, const error& e) {
  auto& s = self->state;
  s.errors->add();
  s.connected->set(0);
  s.cap.reset();
  s.pending.clear();
  s.batch_ts.clear();
  s.reading_snapshot = false;
  auto step = e.code == errc::unavailable
                  ? std::chrono::milliseconds(1000)
                  : std::chrono::milliseconds(max_retry);
  s.retry = std::min<std::chrono::milliseconds>(max_retry,
                                                std::max(step, s.retry * 2));
  if (e.message != s.last_error) {
    if (e.code == errc::unavailable)
      s.log->warn("{}; trying again in {} ms", e.message, s.retry.count());
    else
      s.log->error("{}; trying again every {} s until it is mended", e.message,
                   max_retry.count());
    s.last_error = e.message;
  }
  schedule(self, s.retry);
}

/// The event of one change, routed to the stages that take it.
void add_change(pg_actor* self, pg::change& c, write_batch& b,
                std::int64_t now) {
  auto& s = self->state;
  auto lsn = pg::format_lsn(c.commit_lsn);
  auto where = "source " + s.spec.name + ": " + c.table + " at " + lsn + "#"
               + std::to_string(c.index);
  if (!c.error.empty()) {
    s.log->warn("{}: {}", where, c.error);
    b.dead_letters.push_back(
        raw_dead_letter_record(where, c.payload, now, where + ": " + c.error));
    return;
  }
  if (auto ok = s.env.plan->check_payload_size(c.payload.size()); !ok) {
    auto why = where + ": " + ok.error().message;
    s.log->warn("{}", why);
    b.dead_letters.push_back(
        raw_dead_letter_record(where, c.payload, now, why));
    return;
  }
  event ev;
  ev.id = s.spec.name + ":" + (c.operation == "snapshot" ? "snapshot:" : "")
          + lsn + ":" + std::to_string(c.index);
  ev.key = std::move(c.key);
  ev.attributes = s.spec.attributes;
  ev.attributes["table"] = c.table;
  ev.attributes["operation"] = c.operation;
  ev.attributes["source"] = s.spec.name;
  ev.payload = std::move(c.payload);
  ev.content_hash = content_hash(ev.payload);
  ev.origin_ts_ns = c.commit_ts_ns;
  ev.ingest_ts_ns = now;
  std::string why;
  auto appends = s.env.plan->route(s.spec.topic, std::move(ev), nullptr, &why);
  if (appends.empty()) {
    s.unrouted->add();
    if (s.env.unrouted)
      s.env.unrouted->note("source " + s.spec.name, why, where,
                           "sluice_source_unrouted_total");
  }
  for (auto& a : appends)
    b.appends.push_back(std::move(a));
}

/// Commits `b` with the position `next`, which becomes the source's once
/// committed (a refused batch leaves the position where it was); then
/// `after` runs.
template <class After>
void commit(pg_actor* self, write_batch b, std::size_t n, v1::SourceOffset next,
            After after) {
  auto& s = self->state;
  b.progress.push_back({s.progress_name, next.SerializeAsString()});
  self->request(s.store, caf::infinite, msg::append_atom::value, std::move(b))
      .then(
          [self, n, next, after]() mutable {
            auto& s = self->state;
            s.progress = std::move(next);
            s.changes->add(n);
            s.committed->set(
                static_cast<std::int64_t>(s.progress.postgres().changes()));
            after();
          },
          [self](caf::error& err) {
            // The store refuses (full disk, stopping): nothing was
            // committed, the slot was not advanced; read it again later.
            failed(self, error{errc::unavailable,
                               "source '" + self->state.spec.name
                                   + "': the store refused a batch: "
                                   + describe_error(err)});
          });
}

/// Connects, checks, and makes sure the slot exists and stands where the
/// committed position says.
result<void> open(pg_actor* self) {
  auto& s = self->state;
  auto cap = pg::capture::connect(s.spec);
  if (!cap)
    return cap.error();
  auto slot = (*cap)->check();
  if (!slot)
    return slot.error();
  auto& pos = *s.progress.mutable_postgres();
  const bool want_snapshot = s.spec.snapshot;
  // A snapshot asked for and not read to its end (or not begun: a crash
  // before its first commit) is read again from a new slot.
  const bool never_read =
      pos.snapshot() == 0 && pos.changes() == 0 && pos.commit_lsn() == 0;
  if (slot->exists && want_snapshot && (pos.snapshot() == 1 || never_read)) {
    s.log->warn("source '{}': the snapshot was not read to its end ({} rows "
                "sent); a snapshot cannot be resumed: the slot is created "
                "again and the tables read again (rows already sent come "
                "again as snapshot events)",
                s.spec.name, pos.snapshot_rows());
    if (auto d = (*cap)->drop_slot(); !d)
      return d.error();
    slot->exists = false;
  }
  if (!slot->exists) {
    if (pos.commit_lsn() > 0 || pos.snapshot() == 2)
      s.log->error("source '{}': slot '{}' is gone (dropped outside "
                   "Sluice?): changes made since {} and before it is created "
                   "again are not captured{}",
                   s.spec.name, s.spec.slot, pg::format_lsn(pos.commit_lsn()),
                   want_snapshot ? "; the tables are read again" : "");
    auto point = (*cap)->create_slot(want_snapshot);
    if (!point)
      return point.error();
    // A new slot is a new stream: its positions start at its consistent
    // point, whatever an older slot had reached.
    pos.set_commit_lsn(0);
    pos.set_rows_done(0);
    pos.set_complete(true);
    if (want_snapshot) {
      pos.set_snapshot(1);
      pos.set_snapshot_lsn(*point);
      pos.set_snapshot_rows(0);
      s.reading_snapshot = true;
    }
    s.log->info("source '{}': created slot '{}' at {} on {}{}", s.spec.name,
                s.spec.slot, pg::format_lsn(*point), (*cap)->server(),
                want_snapshot ? "; reading the snapshot" : "");
  } else if (pos.complete() && pos.commit_lsn() > slot->confirmed) {
    // Committed here, not confirmed there (a crash between the two).
    if (auto a = (*cap)->advance(pos.commit_lsn()); !a)
      return a.error();
  }
  s.cap = std::move(*cap);
  s.connected->set(1);
  s.retry = std::chrono::milliseconds(0);
  if (!s.last_error.empty())
    s.log->info("source '{}': connected to {} again", s.spec.name,
                s.cap->server());
  s.last_error.clear();
  return {};
}

/// True when the committed position already covers `c`.
bool done_before(const v1::PostgresPosition& pos, const pg::change& c) {
  if (c.commit_lsn != pos.commit_lsn())
    return c.commit_lsn < pos.commit_lsn();
  return pos.complete() || c.index < pos.rows_done();
}

void read_snapshot(pg_actor* self) {
  auto& s = self->state;
  auto rows = s.cap->snapshot_rows(s.spec.batch);
  if (!rows)
    return failed(self, rows.error());
  auto next = s.progress;
  auto& pos = *next.mutable_postgres();
  write_batch b;
  auto now = now_ns();
  auto n = rows->size();
  for (auto& c : *rows)
    add_change(self, c, b, now);
  if (n == 0)
    pos.set_snapshot(2);
  else
    pos.set_snapshot_rows(pos.snapshot_rows() + n);
  commit(self, std::move(b), n, std::move(next), [self, n] {
    auto& s = self->state;
    if (n == 0) {
      s.reading_snapshot = false;
      const auto& pos = s.progress.postgres();
      s.log->info("source '{}': snapshot read ({} rows); streaming from {}",
                  s.spec.name, pos.snapshot_rows(),
                  pg::format_lsn(pos.snapshot_lsn()));
    }
    schedule(self, {});
  });
}

void stream(pg_actor* self) {
  auto& s = self->state;
  if (s.pending.empty()) {
    auto got = s.cap->poll(s.spec.batch);
    if (!got)
      return failed(self, got.error());
    for (auto& c : got->changes)
      if (!done_before(s.progress.postgres(), c))
        s.pending.push_back(std::move(c));
    s.poll_commit = got->last_commit;
    if (s.pending.empty()) {
      // Nothing new for us (transactions of other tables, or what a crash
      // left committed here and unconfirmed there): confirm and wait.
      if (s.poll_commit > 0)
        if (auto a = s.cap->advance(s.poll_commit); !a)
          return failed(self, a.error());
      s.lag_ms->set(0);
      return schedule(self, s.poll_commit > 0 ? std::chrono::milliseconds(0)
                                              : s.spec.poll);
    }
  }
  auto next = s.progress;
  auto& pos = *next.mutable_postgres();
  write_batch b;
  auto now = now_ns();
  std::size_t n = 0;
  std::int64_t last_ts = 0;
  while (!s.pending.empty() && n < s.spec.batch) {
    auto c = std::move(s.pending.front());
    s.pending.pop_front();
    pos.set_commit_lsn(c.commit_lsn);
    pos.set_rows_done(c.index + 1);
    pos.set_complete(s.pending.empty()
                     || s.pending.front().commit_lsn != c.commit_lsn);
    last_ts = c.commit_ts_ns;
    s.batch_ts.push_back(c.commit_ts_ns);
    add_change(self, c, b, now);
    ++n;
  }
  pos.set_changes(pos.changes() + n);
  commit(self, std::move(b), n, std::move(next), [self, last_ts] {
    auto& s = self->state;
    auto at = now_ns();
    if (last_ts > 0)
      s.lag_ms->set((at - last_ts) / 1000000);
    for (auto ts : s.batch_ts)
      if (ts > 0 && at > ts)
        s.lag->observe_us(static_cast<std::uint64_t>((at - ts) / 1000));
    s.batch_ts.clear();
    if (s.pending.empty() && s.cap)
      if (auto a = s.cap->advance(s.poll_commit); !a)
        return failed(self, a.error());
    schedule(self, {});
  });
}

void tick(pg_actor* self) {
  auto& s = self->state;
  if (!s.cap)
    if (auto r = open(self); !r)
      return failed(self, r.error());
  if (s.reading_snapshot)
    read_snapshot(self);
  else
    stream(self);
}

caf::behavior pg_source(pg_actor* self, node_env env, source_spec spec,
                        caf::actor store) {
  auto& s = self->state;
  s.env = env;
  s.spec = std::move(spec);
  s.progress_name = pg_source_name(s.spec);
  s.store = std::move(store);
  s.log = env.logger("source");
  labels l{{"source", s.spec.name}};
  s.changes =
      &env.metrics->get_counter("sluice_source_changes_total", l,
                                "Changes a source committed to the pipeline");
  s.errors = &env.metrics->get_counter(
      "sluice_source_errors_total", l,
      "Failed reads of a source (it reconnects and tries again)");
  s.unrouted = &env.metrics->get_counter("sluice_source_unrouted_total", l,
                                         "Source events no subscription took");
  s.lag_ms = &env.metrics->get_gauge(
      "sluice_source_lag_milliseconds", l,
      "From the last change's commit in the database to its commit here");
  s.lag = &env.metrics->get_histogram(
      "sluice_source_lag_seconds", l,
      "Per change: from its commit in the database to its commit here");
  s.connected = &env.metrics->get_gauge("sluice_source_connected", l,
                                        "1 while the source is connected");
  s.committed = &env.metrics->get_gauge(
      "sluice_source_committed_changes", l,
      "Changes (snapshot rows not counted) the source has committed since "
      "it began, kept across restarts");
  if (auto prev = env.st->read_progress(s.progress_name); prev && *prev)
    s.progress.ParseFromString(**prev);
  s.committed->set(static_cast<std::int64_t>(s.progress.postgres().changes()));
  s.progress.set_source(s.progress_name);
  if (!s.progress.has_postgres())
    s.progress.mutable_postgres()->set_complete(true);
  schedule(self, {});
  return {
      [self](msg::read_atom) { tick(self); },
  };
}

} // namespace

caf::actor spawn_pg_source(caf::event_based_actor* parent, node_env env,
                           source_spec spec, caf::actor store_actor) {
  return parent->spawn<caf::linked + caf::detached>(
      pg_source, env, std::move(spec), std::move(store_actor));
}

} // namespace sluice
