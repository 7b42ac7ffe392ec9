// Private: a change-feed subscription served through any member of a
// cluster (issue 16). It reads every member's changelog for the shards
// that member holds (feed_members), and keeps one shard offset per shard:
// a cluster member numbers its changes of a shard by the shard's epoch and
// its seq, and a hand-off carries the shard's changes with their numbers,
// so a cursor means the same on every member and survives the shard
// moving.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub_state.hpp"
#include "sluice/behaviour.hpp"
#include "sluice/feed.hpp"
#include "sluice/feed/feed_cursor.hpp"
#include "sluice/feed/feed_filter.hpp"
#include "sluice/feed/feed_members.hpp"

namespace sluice::feed {

class cluster_subscription final : public feed_subscription {
public:
  /// `from`: the cursor to resume from (none: a snapshot first).
  cluster_subscription(std::shared_ptr<hub_state> hub,
                       std::shared_ptr<subscriber_stats> stats,
                       std::string stage, std::unique_ptr<behaviour> renderer,
                       filter f, std::optional<shard_cursor> from,
                       std::size_t chunk, bool raw_state);
  ~cluster_subscription() override;

  result<void> next(std::vector<feed_event>& out, std::size_t max,
                    std::chrono::milliseconds wait) override;
  const std::string& cursor() const override { return cursor_text_; }

private:
  enum class phase { probe, snapshot, catch_up, live };
  /// What this subscription knows of one member's changelog.
  struct member_state {
    bool known = false;       ///< `pos` is a position in its log
    std::uint64_t pos = 0;    ///< the last offset of its log passed
    std::uint64_t log_id = 0; ///< the log `pos` is in
    std::uint64_t swept = 0;  ///< where the current reading began
    bool resume = true;       ///< the next read resumes from the cursor
    std::map<std::uint32_t, held_shard> held; ///< as it last said
  };
  /// A snapshot chunk of the member being read: its last key, its head.
  struct chunk_mark {
    std::string last_key;
    std::uint64_t head = 0;
    bool last = false;
  };

  result<bool> step(std::vector<feed_event>& out, std::size_t limit);
  result<bool> probe();
  result<bool> snapshot(std::vector<feed_event>& out, std::size_t limit);
  result<bool> catch_up(std::vector<feed_event>& out, std::size_t limit);
  result<bool> follow(std::vector<feed_event>& out, std::size_t limit);
  /// Reads one member live, until `out` holds `limit` events; true when
  /// it has more to read at once. `self`: this member (its position is
  /// the subscriber's in the node's metrics).
  result<bool> follow_member(const std::string& name, bool self,
                             member_state& m, std::vector<feed_event>& out,
                             std::size_t limit, bool& sent);
  /// A reset (why), then a new snapshot.
  bool restart(std::vector<feed_event>& out, const std::string& why);
  /// False when `view` no longer holds, at the same epoch, a shard the
  /// snapshot takes from `member`.
  bool still_holds(const std::string& member, const member_view& view) const;
  bool deliver(const changelog_entry& entry, std::vector<feed_event>& out,
               bool with_cursor);
  std::uint64_t covered_up_to(const std::string& key) const;
  void cursor_changed();

  std::shared_ptr<hub_state> hub_;
  std::shared_ptr<subscriber_stats> stats_;
  std::string stage_;
  std::uint32_t tag_ = 0;
  std::unique_ptr<behaviour> renderer_;
  filter filter_;
  std::size_t chunk_;
  bool raw_state_ = false;
  phase phase_ = phase::live;
  std::vector<std::uint64_t> at_; ///< per shard, the shard offset passed
  std::string cursor_text_;
  std::string cursor_sent_; ///< the cursor of the last event sent
  std::map<std::string, member_state> members_;
  std::size_t first_member_ = 0; ///< live: who is read first, in turn
  // The snapshot: per shard the member it is read from and its epoch there,
  // the members in turn, the chunks of the current one.
  std::vector<std::pair<std::string, std::uint64_t>> source_;
  std::vector<std::string> order_;
  std::size_t current_ = 0;
  std::vector<chunk_mark> chunks_;
  std::string after_key_;
  bool first_chunk_ = true;
  std::uint64_t catch_up_at_ = 0;
  std::uint64_t snapshot_keys_ = 0;
  std::chrono::steady_clock::time_point snapshot_started_;
};

} // namespace sluice::feed
