// A subscription through any cluster member: a snapshot member by member
// (each shard from the member holding it at the highest epoch, each member
// read in chunks and caught up as one node's snapshot is), then every
// member's changelog followed, each change delivered once by its shard
// offset. How a shard's numbering goes on across members:
//  - a member holding a shard at the cursor's epoch wrote every change of
//    that epoch: it reads on from the cursor's seq, a position of its own
//    log;
//  - a member holding it at a later epoch got it by a hand-off, whose
//    changes it keeps in its log after `import_from`: it is read from there
//    (a resume) and its changes go out in order, those the cursor passed
//    left out; once read past `own_from`, the shard is at its epoch;
//  - a member holding it at an earlier epoch (handed off, not purged yet)
//    is passed over.
// A member that cannot be asked (down, restarting) holds up its shards
// only: the others go on.
#include "cluster_subscription.hpp"

#include <algorithm>
#include <set>

#include "read_loop.hpp"
#include "render.hpp"
#include "sluice/placement.hpp"
#include "sluice/store/changelog.hpp"

namespace sluice::feed {

namespace {

/// How long a subscription waits at most before asking other members
/// again (their commits wake nobody here).
constexpr std::chrono::milliseconds remote_poll{50};

/// Changes looked at per read of a member.
constexpr std::size_t cluster_read_batch = 512;

} // namespace

cluster_subscription::cluster_subscription(
    std::shared_ptr<hub_state> hub, std::shared_ptr<subscriber_stats> stats,
    std::string stage, std::unique_ptr<behaviour> renderer, filter f,
    std::optional<shard_cursor> from, std::size_t chunk, bool raw_state)
    : hub_(std::move(hub)), stats_(std::move(stats)), stage_(std::move(stage)),
      tag_(stage_tag(stage_)), renderer_(std::move(renderer)),
      filter_(std::move(f)), chunk_(std::max<std::size_t>(chunk, 1)),
      raw_state_(raw_state) {
  if (from) {
    at_ = std::move(from->at);
    cursor_changed();
    phase_ = phase::live;
    stats_->phase.store(2);
  } else {
    at_.assign(shard_count, 0);
    phase_ = phase::probe;
  }
}

cluster_subscription::~cluster_subscription() {
  std::lock_guard<std::mutex> guard{hub_->list_mtx};
  hub_->live.erase(stats_->id);
}

void cluster_subscription::cursor_changed() {
  cursor_text_ = encode(shard_cursor{tag_, at_});
}

result<void> cluster_subscription::next(std::vector<feed_event>& out,
                                        std::size_t max,
                                        std::chrono::milliseconds wait) {
  // This member's commits wake the wait; the others' are polled.
  return read_loop(
      *hub_, *stats_, out, max, wait, remote_poll,
      [&](changelog_reader&, std::size_t limit) { return step(out, limit); });
}

result<bool> cluster_subscription::step(std::vector<feed_event>& out,
                                        std::size_t limit) {
  switch (phase_) {
  case phase::probe:
    return probe();
  case phase::snapshot:
    return snapshot(out, limit);
  case phase::catch_up:
    return catch_up(out, limit);
  case phase::live:
    return follow(out, limit);
  }
  return false;
}

bool cluster_subscription::restart(std::vector<feed_event>& out,
                                   const std::string& why) {
  feed_event e;
  e.kind = feed_event_kind::reset;
  e.reason = why;
  out.push_back(std::move(e));
  phase_ = phase::probe;
  stats_->phase.store(0);
  cursor_text_.clear();
  at_.assign(shard_count, 0);
  members_.clear();
  return true;
}

result<bool> cluster_subscription::probe() {
  // Who holds each shard, at which epoch: the snapshot reads a shard from
  // the member holding it at the highest (a hand-off's sender still holds
  // it at the epoch before until it purges).
  source_.assign(shard_count, {});
  for (auto& name : hub_->members->names()) {
    auto r = hub_->members->states(name, stage_, {}, true, {}, 0);
    if (!r)
      continue; // not reachable now: its shards are missing, see below
    for (auto& h : r->view.held)
      if (h.shard < shard_count
          && (source_[h.shard].first.empty()
              || h.epoch > source_[h.shard].second))
        source_[h.shard] = {name, h.epoch};
  }
  std::set<std::string> readers;
  for (auto& [name, epoch] : source_) {
    if (name.empty())
      return false; // a shard no member holds now (one is down): wait
    readers.insert(name);
  }
  order_.assign(readers.begin(), readers.end());
  current_ = 0;
  chunks_.clear();
  after_key_.clear();
  first_chunk_ = true;
  snapshot_keys_ = 0;
  snapshot_started_ = std::chrono::steady_clock::now();
  members_.clear();
  phase_ = phase::snapshot;
  stats_->phase.store(0);
  return true;
}

bool cluster_subscription::still_holds(const std::string& member,
                                       const member_view& view) const {
  std::vector<std::uint64_t> epoch(shard_count, ~std::uint64_t{0});
  for (auto& h : view.held)
    if (h.shard < shard_count)
      epoch[h.shard] = h.epoch;
  for (std::uint32_t s = 0; s < shard_count; ++s)
    if (source_[s].first == member && epoch[s] != source_[s].second)
      return false;
  return true;
}

result<bool> cluster_subscription::snapshot(std::vector<feed_event>& out,
                                            std::size_t limit) {
  const auto& name = order_[current_];
  for (std::size_t chunks = 0; out.size() < limit && chunks < 16; ++chunks) {
    auto r = hub_->members->states(name, stage_, after_key_, first_chunk_,
                                   filter_.prefix(), chunk_);
    if (!r)
      return false; // ask again shortly
    if (!still_holds(name, r->view))
      return restart(out, "shards moved between members during the "
                          "snapshot: starting it again");
    stats_->head.store(r->view.head, std::memory_order_relaxed);
    for (auto& s : r->states) {
      if (source_[shard_of(s.key)].first != name)
        continue; // another member holds it at a later epoch
      auto e = snapshot_event(s, filter_, renderer_.get(), raw_state_);
      if (!e)
        continue;
      out.push_back(std::move(*e));
      ++snapshot_keys_;
    }
    if (first_chunk_)
      catch_up_at_ = r->view.head;
    first_chunk_ = false;
    chunks_.push_back({r->next_key, r->view.head, r->last});
    after_key_ = r->next_key;
    if (r->last) {
      phase_ = phase::catch_up;
      stats_->phase.store(1);
      return true;
    }
  }
  return true;
}

std::uint64_t
cluster_subscription::covered_up_to(const std::string& key) const {
  auto i = std::lower_bound(chunks_.begin(), chunks_.end(), key,
                            [](const chunk_mark& c, const std::string& k) {
                              return !c.last && c.last_key < k;
                            });
  return i == chunks_.end() ? chunks_.back().head : i->head;
}

result<bool> cluster_subscription::catch_up(std::vector<feed_event>& out,
                                            std::size_t limit) {
  const auto name = order_[current_];
  auto end = chunks_.back().head;
  member_view view;
  while (catch_up_at_ < end && out.size() < limit) {
    member_read req;
    req.after = catch_up_at_;
    req.max = cluster_read_batch;
    req.prefix = filter_.prefix();
    auto r = hub_->members->changes(name, stage_, req);
    if (!r)
      return false;
    if (!r->reset.empty())
      return restart(out, "member " + name + ": " + r->reset);
    if (!still_holds(name, r->view))
      return restart(out, "shards moved between members during the "
                          "snapshot: starting it again");
    view = r->view;
    bool past = false;
    for (auto& e : r->entries) {
      if (e.offset > end) {
        past = true;
        break;
      }
      catch_up_at_ = e.offset;
      auto shard = shard_of(e.key);
      if (source_[shard].first != name || e.offset <= covered_up_to(e.key))
        continue; // another member's shard, or what the snapshot sent
      deliver(e, out, false);
    }
    catch_up_at_ =
        past ? end : std::max(catch_up_at_, std::min(r->passed, end));
  }
  if (catch_up_at_ < end)
    return true;
  // This member's part is whole at `end`: its shards are there.
  auto& m = members_[name];
  m.known = true;
  m.pos = end;
  m.resume = false;
  m.swept = end;
  for (std::uint32_t s = 0; s < shard_count; ++s)
    if (source_[s].first == name)
      at_[s] = shard_offset_of(source_[s].second, end);
  chunks_.clear();
  after_key_.clear();
  first_chunk_ = true;
  if (++current_ < order_.size()) {
    phase_ = phase::snapshot;
    stats_->phase.store(0);
    return true;
  }
  // Every member's part is sent: the view is each shard's state at one
  // point of its numbering.
  for (auto& [n, ms] : members_)
    ms.log_id = 0; // learnt at the first live read
  cursor_changed();
  {
    std::lock_guard<std::mutex> guard{hub_->list_mtx};
    hub_->snapshot_took[stage_] =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - snapshot_started_);
  }
  feed_event e;
  e.kind = feed_event_kind::snapshot_end;
  e.cursor = cursor_text_;
  e.keys = snapshot_keys_;
  out.push_back(std::move(e));
  cursor_sent_ = cursor_text_;
  phase_ = phase::live;
  stats_->phase.store(2);
  return true;
}

bool cluster_subscription::deliver(const changelog_entry& entry,
                                   std::vector<feed_event>& out,
                                   bool with_cursor) {
  if (!filter_.takes_key(entry.key))
    return false;
  auto r = render_state(entry.key_state, renderer_.get(), raw_state_,
                        filter_.on_state());
  if (!filter_.takes_attributes(r.attributes)
      || (!r.removed && !filter_.takes_state(r.state_json)))
    return false;
  feed_event e;
  e.kind = r.removed ? feed_event_kind::removed : feed_event_kind::change;
  e.state = std::move(r.state);
  e.state_json = std::move(r.state_json);
  e.attributes = std::move(r.attributes);
  e.event_id = std::move(r.event_id);
  e.key = entry.key;
  e.ts_ns = entry.ts_ns;
  e.version = entry.version;
  e.offset = entry.shard_offset;
  e.shard = shard_of(entry.key);
  if (with_cursor) {
    cursor_changed();
    e.cursor = cursor_text_;
    cursor_sent_ = cursor_text_;
  }
  out.push_back(std::move(e));
  return true;
}

result<bool> cluster_subscription::follow(std::vector<feed_event>& out,
                                          std::size_t limit) {
  bool more = true, sent = false;
  // Each member gets its share of `limit`, what one leaves goes to the
  // next, and who comes first goes round: a member with a long backlog
  // (this one, whose reads are cheapest) cannot hold the others' changes
  // back. What all leave goes to those with more, in a few more rounds.
  auto names = hub_->members->names();
  auto n = names.size();
  for (int round = 0; more && round < 4 && n > 0; ++round) {
    more = false;
    auto first = first_member_++ % n;
    for (std::size_t i = 0; i < n; ++i) {
      if (out.size() >= limit)
        return true;
      auto at = (first + i) % n;
      auto share = (limit - out.size() + (n - i) - 1) / (n - i);
      auto& m = members_[names[at]];
      auto r =
          follow_member(names[at], at == 0, m, out, out.size() + share, sent);
      if (!r)
        return r.error();
      if (phase_ != phase::live)
        return true; // reset: a snapshot follows
      more = more || *r;
    }
  }
  cursor_changed();
  if (!sent && cursor_text_ != cursor_sent_ && !more) {
    // Everything read was filtered out or passed over: say how far the
    // cursor moved, so that a resumed subscription does not read it again.
    feed_event e;
    e.kind = feed_event_kind::progress;
    e.cursor = cursor_text_;
    out.push_back(std::move(e));
    cursor_sent_ = cursor_text_;
  }
  return more;
}

result<bool> cluster_subscription::follow_member(const std::string& name,
                                                 bool self, member_state& m,
                                                 std::vector<feed_event>& out,
                                                 std::size_t limit,
                                                 bool& sent) {
  member_read req;
  req.resume = m.resume || !m.known;
  if (req.resume)
    req.cursor = at_;
  else
    req.after = m.pos;
  req.max = std::min(cluster_read_batch,
                     std::max<std::size_t>(limit - out.size(), 1));
  req.prefix = filter_.prefix();
  auto r = hub_->members->changes(name, stage_, req);
  if (!r)
    return false; // down or restarting: its shards wait, the others go on
  if (!r->reset.empty())
    return restart(out, "member " + name + ": " + r->reset);
  if (!req.resume && r->view.log_id != m.log_id && m.log_id != 0) {
    m.resume = true; // its changelog was made again: find the cursor in it
    return true;
  }
  m.log_id = r->view.log_id;
  if (req.resume) {
    m.swept = r->from;
    m.resume = false;
    m.known = true;
  }
  m.held.clear();
  for (auto& h : r->view.held)
    if (h.shard < shard_count)
      m.held[h.shard] = h;
  // Which of its shards this read serves: those at the cursor's epoch, and
  // those it took over whose hand-off this reading began before.
  enum class use : std::uint8_t { no, same_epoch, taken_over };
  std::vector<use> uses(shard_count, use::no);
  for (auto& [s, h] : m.held) {
    auto epoch = epoch_of(at_[s]);
    if (h.epoch == epoch)
      uses[s] = use::same_epoch;
    else if (h.epoch > epoch) {
      if (h.import_from != 0 && m.swept <= h.import_from)
        uses[s] = use::taken_over;
      else
        m.resume = true; // read its hand-off from where it began
    }
  }
  for (auto& e : r->entries) {
    auto s = shard_of(e.key);
    if (uses[s] == use::no || e.shard_offset <= at_[s])
      continue;
    at_[s] = e.shard_offset;
    // Everything of this member up to here is read: its shards at the
    // cursor's epoch are there too (one offset shared: a short cursor).
    for (auto& [hs, h] : m.held)
      if (uses[hs] == use::same_epoch)
        at_[hs] = std::max(at_[hs], shard_offset_of(h.epoch, e.offset));
    sent = deliver(e, out, true) || sent;
  }
  m.pos = r->passed;
  for (auto& [s, h] : m.held) {
    if (uses[s] == use::same_epoch
        || (uses[s] == use::taken_over && r->passed >= h.own_from))
      at_[s] = std::max(at_[s], shard_offset_of(h.epoch, r->passed));
  }
  if (self) {
    stats_->position.store(r->passed, std::memory_order_relaxed);
    stats_->head.store(r->view.head, std::memory_order_relaxed);
  }
  return m.resume || r->passed < r->view.head;
}

} // namespace sluice::feed
