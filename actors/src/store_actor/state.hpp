// The store actor's state (the lanes of group commit, the stage
// supervisors it tells, a replicated store's held answers) and the
// functions its two files share: the core (store_actor.cpp) and the
// replicated-mode handlers (replicated_handlers.cpp). Private to the store
// actor: every function runs in it, which owns the state alone.
#pragma once

#include <caf/actor.hpp>
#include <caf/message_handler.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../node_env.hpp"
#include "store_actor/commit_sizing.hpp"
#include "store_actor/replicated_answers.hpp"

namespace sluice::store_writer {

/// Records waiting for one commit, with the requests answered by it.
struct lane {
  write_batch batch;
  std::vector<caf::response_promise> promises;
  /// Stage id and key of every completion in the lane.
  std::set<std::pair<std::uint32_t, std::string>> keys;
  /// Failed commits (replicated store) whose events it appends again.
  std::size_t failed_commits = 0;
  /// Answered with the report of the shipped batch at the same index of
  /// `batch.copies` once the commit is durable.
  std::vector<caf::response_promise> copy_promises;

  bool empty() const { return batch.empty() && promises.empty(); }
};

struct store_state {
  node_env env;
  std::shared_ptr<spdlog::logger> log;
  /// Urgent work commits alone and at once, ahead of the normal batch, so
  /// its latency does not grow with the backlog's commit size.
  lane urgent;
  lane normal;
  std::chrono::steady_clock::time_point first_pending;
  /// When urgent work last arrived. For a while after, normal commits are
  /// kept small, so urgent work never waits long behind one.
  std::chrono::steady_clock::time_point last_urgent;
  /// How long the last normal commit took: the window never exceeds it,
  /// so a lightly loaded store commits almost at once.
  std::chrono::steady_clock::duration last_commit_took{};
  /// Sizes normal batches to `env.commit_budget` by what recent normal
  /// commits took per record.
  commit_sizing normal_sizing;
  bool timer_armed = false;
  std::unordered_map<std::uint32_t, caf::actor> stage_supervisors;
  /// Told after every commit that put events into the outbox (the
  /// cluster's forwarder).
  caf::actor outbox_watcher;
  /// A replicated store: commits are answered once the watermarks of the
  /// shards they changed reach them.
  std::optional<replicated_answers> replicated;
  histogram* commit_latency = nullptr;
  histogram* commit_size = nullptr;
  counter* commits = nullptr;
  counter* redriven = nullptr;
  counter* deduplicated = nullptr;
  counter* timers_fired = nullptr;
  gauge* pending_gauge = nullptr;
  gauge* paused_gauge = nullptr;
  /// Since when input is paused (a commit failed for lack of space), and
  /// when the commit is tried again.
  std::optional<std::chrono::steady_clock::time_point> paused_since;
  std::chrono::steady_clock::time_point retry_at;
  /// Logged that the data file nears --max-data-size.
  bool space_warned = false;
  /// When a commit last looked at the data file's size (watch_space).
  std::chrono::steady_clock::time_point space_checked_at{};
  std::unordered_map<std::uint64_t, histogram*> stage_latency; // (id<<1)|prio
  std::unordered_map<std::uint32_t, std::string> stage_names;

  static inline const char* name = "store";
};

using store_actor_t = caf::stateful_actor<store_state>;

// -- store_actor.cpp --
/// The lane for new normal work; notes when the normal batch began.
lane& normal_lane(store_state& s);
/// Commits what is due (see there); every handler calls it last, so no
/// record waits unseen.
void maybe_commit(store_actor_t* self);

// -- replicated_handlers.cpp --
/// A commit's answers: at once, or (replicated store) once the shards it
/// changed are below their high-watermarks. `appends` and
/// `failed_commits` as replicated_answers::hold takes them.
void answer_after_replication(store_actor_t* self, const commit_report& rep,
                              std::vector<caf::response_promise> promises,
                              std::vector<queue_append> appends = {},
                              std::size_t failed_commits = 0);
/// The handlers of a replicated store's messages: reads held until
/// replicated, shipped batches applied to the copies, the replication
/// watcher, watermarks, forwarded outbox entries, lost shards. A store
/// without replication answers reads at once, refuses copies and ignores
/// the rest.
caf::message_handler replicated_handlers(store_actor_t* self);

} // namespace sluice::store_writer
