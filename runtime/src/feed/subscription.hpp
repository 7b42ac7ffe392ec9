// Private: one change-feed subscription (feed_subscription), made by the
// hub. Its phases: start (check the cursor), snapshot (chunks of keys),
// catch-up (the changes made while the snapshot was read), live.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub_state.hpp"
#include "sluice/behaviour.hpp"
#include "sluice/feed.hpp"
#include "sluice/feed/feed_cursor.hpp"
#include "sluice/feed/feed_filter.hpp"
#include "sluice/store/changelog.hpp"

namespace sluice::feed {

class subscription final : public feed_subscription {
public:
  /// `from`: the decoded cursor to resume from (none: a snapshot).
  subscription(std::shared_ptr<hub_state> hub,
               std::shared_ptr<subscriber_stats> stats, std::uint32_t stage_id,
               std::string stage, std::unique_ptr<behaviour> renderer, filter f,
               std::optional<feed::cursor> from, std::size_t chunk,
               bool raw_state = false);
  ~subscription() override;

  result<void> next(std::vector<feed_event>& out, std::size_t max,
                    std::chrono::milliseconds wait) override;
  const std::string& cursor() const override;

private:
  enum class phase { start, snapshot, catch_up, live };
  /// One snapshot chunk: its last key, the log's head when it was read,
  /// and whether it was the last (it covers every key after its first).
  struct chunk_mark {
    std::string last_key;
    std::uint64_t head = 0;
    bool last = false;
  };

  /// One step of the current phase; true when it moved on and the next
  /// step has more to read at once.
  result<bool> step(changelog_reader& log, std::vector<feed_event>& out,
                    std::size_t limit);
  result<bool> start(changelog_reader& log, std::vector<feed_event>& out);
  result<bool> begin_snapshot(const changelog_span& span);
  result<bool> snapshot(changelog_reader& log, std::vector<feed_event>& out,
                        std::size_t limit);
  result<bool> catch_up(changelog_reader& log, std::vector<feed_event>& out,
                        std::size_t limit);
  result<bool> follow(changelog_reader& log, std::vector<feed_event>& out,
                      std::size_t limit);
  /// Sends a change unless the filters leave it out; true when sent.
  bool deliver(const changelog_entry& entry, std::vector<feed_event>& out,
               bool with_cursor);
  /// The head at which the snapshot read `key`'s chunk.
  std::uint64_t covered_up_to(const std::string& key) const;
  /// A KeyState as JSON (empty when removed), with its event, time and
  /// attributes.
  rendered_change render(const std::string& key_state) const;
  /// Moves every shard's position to `offset`.
  void set_position(std::uint64_t offset);

  std::shared_ptr<hub_state> hub_;
  std::shared_ptr<subscriber_stats> stats_;
  std::uint32_t stage_id_;
  std::string stage_;
  std::unique_ptr<behaviour> renderer_;
  filter filter_;
  /// States go out as stored (feed_event::state), not rendered as JSON.
  bool raw_state_ = false;
  std::optional<feed::cursor> from_;
  std::size_t chunk_;
  phase phase_ = phase::start;
  feed::cursor pos_;
  std::string cursor_text_;
  // The snapshot's and catch-up's progress.
  std::uint64_t snapshot_from_ = 0;
  std::string after_key_;
  bool first_chunk_ = true;
  std::vector<chunk_mark> chunks_;
  std::uint64_t catch_up_at_ = 0;
  std::uint64_t snapshot_keys_ = 0;
  std::chrono::steady_clock::time_point snapshot_started_;
};

} // namespace sluice::feed
