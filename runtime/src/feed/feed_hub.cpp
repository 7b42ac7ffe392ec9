// The hub: subscriptions made, counted, listed and closed.
#include "sluice/feed/feed_hub.hpp"

#include "cluster_subscription.hpp"
#include "hub_state.hpp"
#include "sluice/store/store.hpp"
#include "subscription.hpp"

namespace sluice {

const char* to_string(feed_event_kind kind) noexcept {
  switch (kind) {
  case feed_event_kind::snapshot:
    return "snapshot";
  case feed_event_kind::snapshot_end:
    return "snapshot_end";
  case feed_event_kind::change:
    return "change";
  case feed_event_kind::removed:
    return "removed";
  case feed_event_kind::reset:
    return "reset";
  case feed_event_kind::progress:
    return "progress";
  }
  return "change";
}

namespace feed {

namespace {

std::int64_t hub_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* subscriber_phase_name(int phase) {
  switch (phase) {
  case 0:
    return "snapshot";
  case 1:
    return "catch-up";
  default:
    return "live";
  }
}

} // namespace

hub::hub(const store& st, const registry& reg, std::size_t max_subscribers)
    : state_(std::make_shared<hub_state>()) {
  state_->st = &st;
  state_->reg = &reg;
  state_->max = max_subscribers;
}

hub::~hub() {
  close();
}

std::size_t hub::max_subscribers() const noexcept {
  return state_->max;
}

result<std::unique_ptr<feed_subscription>>
hub::subscribe(const std::string& stage, const std::string& behaviour_name,
               feed_options opts) {
  std::shared_lock<std::shared_mutex> gate{state_->gate};
  if (state_->closed)
    return fail(errc::unavailable, "the node is stopping");
  auto id = changelog_reader{*state_->st}.stage(stage);
  if (!id)
    return id.error();
  std::optional<cursor> from;
  std::optional<shard_cursor> from_shards;
  if (!opts.cursor.empty() && state_->members) {
    auto c = decode_shards(opts.cursor);
    if (!c)
      return c.error();
    if (c->stage_tag != stage_tag(stage))
      return fail(errc::invalid_argument,
                  "the cursor is for another stage than '" + stage + "'");
    from_shards = std::move(*c);
  } else if (!opts.cursor.empty()) {
    auto c = decode(opts.cursor);
    if (!c)
      return c.error();
    if (c->stage_tag != stage_tag(stage))
      return fail(errc::invalid_argument,
                  "the cursor is for another stage than '" + stage + "'");
    from = std::move(*c);
  }
  auto f = filter::make(std::move(opts.prefix), std::move(opts.keys),
                        opts.filter, opts.attributes);
  if (!f)
    return f.error();
  std::unique_ptr<sluice::behaviour> renderer;
  if (auto made = state_->reg->create(behaviour_name))
    renderer = std::move(*made);
  auto stats = std::make_shared<subscriber_stats>();
  stats->stage = stage;
  stats->stage_id = *id;
  stats->client = opts.client;
  stats->since_ns = hub_now_ns();
  {
    std::lock_guard<std::mutex> guard{state_->list_mtx};
    if (state_->live.size() >= state_->max)
      return fail(errc::unavailable,
                  "this node serves " + std::to_string(state_->max)
                      + " feed subscribers already (its limit): retry later "
                        "or through another member");
    stats->id = state_->next_id++;
    state_->live[stats->id] = stats;
  }
  if (state_->members)
    return std::unique_ptr<feed_subscription>{new cluster_subscription(
        state_, std::move(stats), stage, std::move(renderer), std::move(*f),
        std::move(from_shards), opts.snapshot_chunk, opts.raw_state)};
  return std::unique_ptr<feed_subscription>{new subscription(
      state_, std::move(stats), *id, stage, std::move(renderer), std::move(*f),
      std::move(from), opts.snapshot_chunk, opts.raw_state)};
}

std::vector<feed_subscriber> hub::subscribers() const {
  std::vector<std::shared_ptr<subscriber_stats>> live;
  {
    std::lock_guard<std::mutex> guard{state_->list_mtx};
    for (auto& [id, s] : state_->live)
      live.push_back(s);
  }
  std::vector<feed_subscriber> out;
  std::shared_lock<std::shared_mutex> gate{state_->gate};
  auto now = hub_now_ns();
  for (auto& s : live) {
    feed_subscriber f;
    f.id = s->id;
    f.stage = s->stage;
    f.client = s->client;
    f.phase = subscriber_phase_name(s->phase.load());
    f.since_ns = s->since_ns;
    f.delivered = s->delivered.load();
    f.position = s->position.load();
    f.head = s->head.load();
    if (!state_->closed) {
      changelog_reader log{*state_->st};
      if (auto span = log.span(s->stage_id))
        f.head = std::max(f.head, span->head);
      // The age of the oldest change it has not passed yet.
      if (f.head > f.position)
        if (auto next = log.read(s->stage_id, f.position, 1);
            next && !next->entries.empty())
          f.lag_seconds =
              static_cast<double>(now - next->entries.front().ts_ns) / 1e9;
    }
    // Offsets are the store's seqs, shared with queues: count changes.
    if (f.head > f.position && !state_->closed)
      if (auto n = changelog_reader{*state_->st}.count_after(s->stage_id,
                                                             f.position))
        f.lag_changes = *n;
    out.push_back(std::move(f));
  }
  return out;
}

std::map<std::string, std::chrono::milliseconds> hub::snapshot_times() const {
  std::lock_guard<std::mutex> guard{state_->list_mtx};
  return state_->snapshot_took;
}

void hub::serve_cluster(std::shared_ptr<feed_members> members) {
  std::unique_lock<std::shared_mutex> gate{state_->gate};
  state_->members = std::move(members);
}

void hub::close() {
  state_->closing.store(true);
  std::unique_lock<std::shared_mutex> gate{state_->gate};
  state_->closed = true;
}

} // namespace feed
} // namespace sluice
