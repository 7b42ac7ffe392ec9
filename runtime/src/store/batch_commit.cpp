// store::commit: one write transaction per batch, its parts applied in a
// fixed order by the batch writer; also the batch's simple records (source
// offsets, dead letters) and the seq counter. Writer thread only.
#include <algorithm>

#include "batch_writer.hpp"
#include "replica_db.hpp"

namespace sluice {

result<void> refresh_seq(MDB_txn* t, store::impl& p) {
  MDB_val k = as_val(seq_key_name), v;
  int rc = db_get(t, p.meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return {};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read sequence counter");
  p.next_seq = std::max(p.next_seq, keys::get_u64(as_view(v)).value_or(0));
  return {};
}

namespace {

/// Shipped batches for this member's replica copies, in the commit's txn.
result<void> apply_copies(store::impl& p, MDB_txn* t,
                          const std::vector<std::vector<replog_entry>>& copies,
                          commit_report& report) {
  if (copies.empty())
    return {};
  if (!p.has_replication)
    return fail(errc::invalid_argument,
                p.opts.dir + " has no replication: it keeps no copies");
  replica_applier applier{p, t};
  for (auto& c : copies) {
    auto r = applier.apply(c);
    if (!r)
      return r.error();
    report.copies.push_back(std::move(*r));
  }
  return applier.finish();
}

} // namespace

result<commit_report> store::commit(const write_batch& batch) {
  auto& p = *impl_;
  if (p.opts.read_only)
    return fail(errc::invalid_argument, p.opts.dir + " is open read-only");
  auto seq_before = p.next_seq;
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin write transaction");
  // Another process (a `sluice dlq` command) may have written since our
  // last commit: continue after the stored counter, never reuse a seq.
  if (auto r = refresh_seq(t.get(), p); !r)
    return r.error();
  seq_before = p.next_seq;
  batch_writer w{p, t.get()};
  w.report_settled = batch.report_settled;
  auto undo = [&](const error& e) -> result<commit_report> {
    p.next_seq = seq_before;
    if (e.code == errc::no_space)
      p.note_space(e.message);
    return e;
  };
  for (std::size_t i = 0; i < batch.appends.size(); ++i) {
    auto r = w.append(batch.appends[i]);
    if (!r)
      return undo(r.error());
    if (!*r)
      w.report.skipped_appends.push_back(i);
    else if (batch.report_settled && w.last_outboxed())
      w.report.outboxed_appends.push_back(i);
  }
  for (auto& sp : batch.progress)
    if (auto r = w.progress(sp); !r)
      return undo(r.error());
  for (auto& c : batch.completions)
    if (auto r = w.complete(c); !r)
      return undo(r.error());
  for (auto& d : batch.dead_letters)
    if (auto r = w.dead_letter(0, d); !r)
      return undo(r.error());
  for (auto& rd : batch.redrives)
    if (auto r = w.apply(rd); !r)
      return undo(r.error());
  for (auto& f : batch.timer_fires)
    if (auto r = w.fire(f); !r)
      return undo(r.error());
  if (auto r = w.finish_changelogs(); !r)
    return undo(r.error());
  if (auto r = apply_copies(p, t.get(), batch.copies, w.report); !r)
    return undo(r.error());
  if (auto r = w.replicate(); !r)
    return undo(r.error());
  if (p.next_seq != seq_before)
    if (auto r = w.save_seq(); !r)
      return undo(r.error());
  if ((rc = t.commit()) != 0)
    return undo(commit_error(rc, p.opts.dir + ": commit", p.opts.dir));
  p.note_space({});
  if (w.changelog_written()) {
    {
      std::lock_guard<std::mutex> guard{p.changelog_mtx};
      ++p.changelog_commits;
    }
    p.changelog_cv.notify_all();
  }
  return std::move(w.report);
}

result<void> batch_writer::progress(const source_progress& sp) {
  MDB_val k = as_val(sp.source), v = as_val(sp.record);
  int rc = db_put(t_, p_.offsets, &k, &v, 0);
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": record offset of " + sp.source);
  ++report.records;
  return {};
}

result<void> batch_writer::dead_letter(std::uint32_t stage_id,
                                       const std::string& rec) {
  auto seq = p_.next_seq++;
  auto dk = keys::dead_letter_key(stage_id, seq);
  MDB_val k = as_val(dk), v = as_val(rec);
  if (int rc = db_put(t_, p_.dead_letters, &k, &v, 0); rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": write dead letter");
  changes_.dead_letter(stage_id, seq, rec, false);
  ++report.dead_letters;
  ++report.records;
  return {};
}

result<void> batch_writer::replicate() {
  if (!changes_.on())
    return {};
  auto seqs = changes_.flush(t_);
  if (!seqs)
    return seqs.error();
  report.replicated = std::move(*seqs);
  report.replicated_epochs = changes_.flushed_epochs();
  return {};
}

result<void> batch_writer::save_seq() {
  std::string buf;
  keys::put_u64(buf, p_.next_seq);
  MDB_val k = as_val(seq_key_name), v = as_val(buf);
  int rc = db_put(t_, p_.meta, &k, &v, 0);
  if (rc != 0)
    return lmdb_error(rc, p_.opts.dir + ": write sequence counter");
  return {};
}

} // namespace sluice
