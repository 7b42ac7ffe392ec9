// One change-feed subscription: resume from a cursor, or snapshot (in
// chunks, each its own read transaction) then catch up, then follow the
// changelog live. A cursor that cannot resume gets a reset and a snapshot.
//
// Why the snapshot is consistent without one long transaction: each chunk
// of keys is read with the changelog's head of its transaction, so its
// states hold every change up to that head and none after. After the last
// chunk, the changes between the first head and the last are read back: a
// change of a key whose chunk was read at a head at or past it is already
// in what was sent, and is skipped; the others are sent. Only then comes
// `snapshot_end`, at the last head: the subscriber's view is the stage's
// state at one point of its log, with every change after it to follow.
// Memory: one (last key, head) pair per chunk.
#include "subscription.hpp"

#include "read_loop.hpp"
#include "render.hpp"

#include <algorithm>
#include <optional>
#include <thread>

#include "sluice/behaviour.hpp"
#include "sluice/placement.hpp"
#include "sluice/store/export.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice::feed {

namespace {

/// How long one wait for commits lasts before the hub's closing is
/// checked again.
constexpr std::chrono::milliseconds feed_wait_slice{100};

/// Changes read per read transaction while following the log.
constexpr std::size_t feed_read_batch = 512;

} // namespace

subscription::subscription(std::shared_ptr<hub_state> hub,
                           std::shared_ptr<subscriber_stats> stats,
                           std::uint32_t stage_id, std::string stage,
                           std::unique_ptr<behaviour> renderer, filter f,
                           std::optional<feed::cursor> from, std::size_t chunk,
                           bool raw_state)
    : hub_(std::move(hub)), stats_(std::move(stats)), stage_id_(stage_id),
      stage_(std::move(stage)), renderer_(std::move(renderer)),
      filter_(std::move(f)), raw_state_(raw_state), from_(std::move(from)),
      chunk_(std::max<std::size_t>(chunk, 1)) {}

subscription::~subscription() {
  std::lock_guard<std::mutex> guard{hub_->list_mtx};
  hub_->live.erase(stats_->id);
}

const std::string& subscription::cursor() const {
  return cursor_text_;
}

rendered_change subscription::render(const std::string& key_state) const {
  return render_state(key_state, renderer_.get(), raw_state_,
                      filter_.on_state());
}

void subscription::set_position(std::uint64_t offset) {
  pos_.base = offset;
  cursor_text_ = encode(pos_);
  stats_->position.store(offset, std::memory_order_relaxed);
}

result<void> subscription::next(std::vector<feed_event>& out, std::size_t max,
                                std::chrono::milliseconds wait) {
  return read_loop(*hub_, *stats_, out, max, wait, feed_wait_slice,
                   [&](changelog_reader& log, std::size_t limit) {
                     return step(log, out, limit);
                   });
}

result<bool> subscription::step(changelog_reader& log,
                                std::vector<feed_event>& out,
                                std::size_t limit) {
  switch (phase_) {
  case phase::start:
    return start(log, out);
  case phase::snapshot:
    return snapshot(log, out, limit);
  case phase::catch_up:
    return catch_up(log, out, limit);
  case phase::live:
    return follow(log, out, limit);
  }
  return false;
}

result<bool> subscription::start(changelog_reader& log,
                                 std::vector<feed_event>& out) {
  auto span = log.span(stage_id_);
  if (!span)
    return span.error();
  pos_ = {};
  pos_.stage_tag = stage_tag(stage_);
  pos_.log_id = span->log_id;
  if (!from_)
    return begin_snapshot(*span);
  std::string why;
  const auto& c = *from_;
  if (c.log_id != span->log_id)
    why = "the cursor is from another changelog of stage " + stage_
          + " (it was dropped and made again, or the data directory is new)";
  else if (c.lowest() < span->low)
    why = "the cursor's changes have left the changelog (it keeps changes "
          "after offset "
          + std::to_string(span->low) + "; the cursor is at "
          + std::to_string(c.lowest()) + "): raise the stage's retain";
  else if (c.base > span->head)
    why = "the cursor is ahead of the changelog (offset "
          + std::to_string(c.base) + ", head " + std::to_string(span->head)
          + ")";
  from_.reset();
  if (!why.empty()) {
    feed_event e;
    e.kind = feed_event_kind::reset;
    e.reason = why;
    out.push_back(std::move(e));
    return begin_snapshot(*span);
  }
  // A node serves its changelog in offset order: every shard at the
  // lowest offset is where to resume (exceptions only come from a cursor
  // that several members advanced).
  set_position(c.lowest());
  phase_ = phase::live;
  stats_->phase.store(2);
  return true;
}

result<bool> subscription::begin_snapshot(const changelog_span& span) {
  snapshot_from_ = span.head;
  chunks_.clear();
  after_key_.clear();
  first_chunk_ = true;
  snapshot_keys_ = 0;
  snapshot_started_ = std::chrono::steady_clock::now();
  cursor_text_.clear();
  phase_ = phase::snapshot;
  stats_->phase.store(0);
  stats_->position.store(span.head, std::memory_order_relaxed);
  return true;
}

result<bool> subscription::snapshot(changelog_reader& log,
                                    std::vector<feed_event>& out,
                                    std::size_t limit) {
  for (std::size_t chunks = 0; out.size() < limit && chunks < 16; ++chunks) {
    auto chunk = log.states(stage_id_, after_key_, !first_chunk_,
                            filter_.prefix(), chunk_);
    if (!chunk)
      return chunk.error();
    first_chunk_ = false;
    stats_->head.store(chunk->head, std::memory_order_relaxed);
    for (auto& s : chunk->states) {
      auto e = snapshot_event(s, filter_, renderer_.get(), raw_state_);
      if (!e)
        continue;
      out.push_back(std::move(*e));
      ++snapshot_keys_;
    }
    chunks_.push_back(
        {chunk->states.empty() ? after_key_ : chunk->states.back().key,
         chunk->head, chunk->last});
    if (!chunk->states.empty())
      after_key_ = chunk->states.back().key;
    if (chunk->last) {
      phase_ = phase::catch_up;
      stats_->phase.store(1);
      catch_up_at_ = snapshot_from_;
      return true;
    }
  }
  return true;
}

std::uint64_t subscription::covered_up_to(const std::string& key) const {
  // The first chunk whose last key is at or after `key` read it (the last
  // chunk reads everything after the one before it).
  auto i = std::lower_bound(chunks_.begin(), chunks_.end(), key,
                            [](const chunk_mark& c, const std::string& k) {
                              return !c.last && c.last_key < k;
                            });
  return i == chunks_.end() ? chunks_.back().head : i->head;
}

result<bool> subscription::catch_up(changelog_reader& log,
                                    std::vector<feed_event>& out,
                                    std::size_t limit) {
  auto end = chunks_.back().head;
  while (catch_up_at_ < end && out.size() < limit) {
    auto batch = log.read(stage_id_, catch_up_at_,
                          std::min(feed_read_batch, limit - out.size()));
    if (!batch)
      return batch.error();
    if (batch->span.low > catch_up_at_) {
      // Pruned while the snapshot was read: the log is shorter than a
      // snapshot takes. Start over (and say why).
      feed_event e;
      e.kind = feed_event_kind::reset;
      e.reason = "the stage's changelog pruned changes made during the "
                 "snapshot (it keeps changes after offset "
                 + std::to_string(batch->span.low)
                 + "): raise its retain above the time a snapshot takes";
      out.push_back(std::move(e));
      return begin_snapshot(batch->span);
    }
    if (batch->entries.empty()) {
      catch_up_at_ = end; // nothing left below the last chunk's head
      break;
    }
    for (auto& entry : batch->entries) {
      if (entry.offset > end) {
        catch_up_at_ = end;
        break;
      }
      catch_up_at_ = entry.offset;
      if (entry.offset <= covered_up_to(entry.key))
        continue; // the snapshot sent this change, or a later one
      deliver(entry, out, false);
    }
  }
  if (catch_up_at_ < end)
    return true;
  chunks_.clear();
  chunks_.shrink_to_fit();
  set_position(end);
  {
    std::lock_guard<std::mutex> guard{hub_->list_mtx};
    hub_->snapshot_took[stage_] =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - snapshot_started_);
  }
  feed_event e;
  e.kind = feed_event_kind::snapshot_end;
  e.cursor = cursor_text_;
  e.offset = end;
  e.keys = snapshot_keys_;
  out.push_back(std::move(e));
  phase_ = phase::live;
  stats_->phase.store(2);
  return true;
}

bool subscription::deliver(const changelog_entry& entry,
                           std::vector<feed_event>& out, bool with_cursor) {
  if (!filter_.takes_key(entry.key))
    return false;
  // Raw states are not rendered: the cache (of JSON) is for the others.
  std::optional<rendered_change> own;
  std::shared_ptr<const rendered_change> cached;
  if (raw_state_) {
    own = render(entry.key_state);
  } else if (!(cached = hub_->rendered.find(stage_id_, entry.offset))) {
    auto made = std::make_shared<rendered_change>(render(entry.key_state));
    hub_->rendered.put(stage_id_, entry.offset, made);
    cached = std::move(made);
  }
  const rendered_change* r = own ? &*own : cached.get();
  bool removed = r->removed;
  if (!filter_.takes_attributes(r->attributes)
      || (!removed && !filter_.takes_state(r->state_json)))
    return false;
  feed_event e;
  if (own) { // this subscription's own: its strings move
    e.state = std::move(own->state);
    e.attributes = std::move(own->attributes);
  } else {
    e.state_json = r->state_json;
    e.attributes = r->attributes;
  }
  e.event_id = r->event_id;
  e.kind = removed ? feed_event_kind::removed : feed_event_kind::change;
  e.key = entry.key;
  e.ts_ns = entry.ts_ns;
  e.version = entry.version;
  e.offset = entry.offset;
  e.shard = shard_of(entry.key);
  if (with_cursor)
    e.cursor = cursor_text_;
  out.push_back(std::move(e));
  return true;
}

result<bool> subscription::follow(changelog_reader& log,
                                  std::vector<feed_event>& out,
                                  std::size_t limit) {
  auto from = pos_.base;
  // The prefix is applied as the log is read: entries of other keys are
  // passed over without being copied.
  auto batch =
      log.read(stage_id_, from, std::min(feed_read_batch, limit - out.size()),
               filter_.prefix());
  if (!batch)
    return batch.error();
  stats_->head.store(batch->span.head, std::memory_order_relaxed);
  if (batch->span.low > from || batch->span.log_id != pos_.log_id) {
    feed_event e;
    e.kind = feed_event_kind::reset;
    e.reason = batch->span.log_id != pos_.log_id
                   ? "the stage's changelog was dropped and made again"
                   : "this subscriber fell behind the changelog (it keeps "
                     "changes after offset "
                         + std::to_string(batch->span.low) + ", the "
                         + "subscriber was at " + std::to_string(from)
                         + "): raise the stage's retain or read faster";
    out.push_back(std::move(e));
    pos_.log_id = batch->span.log_id;
    return begin_snapshot(batch->span);
  }
  bool sent = false;
  for (auto& entry : batch->entries) {
    set_position(entry.offset);
    sent = deliver(entry, out, true) || sent;
  }
  if (batch->passed > pos_.base)
    set_position(batch->passed);
  if (!sent && pos_.base != from) {
    // Everything read was filtered out: say how far the cursor moved, so
    // a resumed subscription does not read it again.
    feed_event e;
    e.kind = feed_event_kind::progress;
    e.offset = pos_.base;
    e.cursor = cursor_text_;
    out.push_back(std::move(e));
  }
  return false;
}

} // namespace sluice::feed
