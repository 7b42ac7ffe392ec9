// Private: the state behind key_processor, and the per-event values its
// named steps (key_processor_steps.cpp) pass between them. Used by one
// thread at a time, like the processor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "key_context.hpp"
#include "sluice/key_processor.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

/// Why an event failed; a permanent failure is never retried.
struct event_failure {
  std::string why;
  bool permanent = false;
};

/// One event being processed: where it is queued, the event as queued and
/// as the behaviour sees it, and the completion and key status being built.
struct event_job {
  event_job(keys::queue_pos p, const event& e, std::int64_t now)
      : pos(p), in(e), now_ns(now) {}

  keys::queue_pos pos;
  const event& in;              ///< as queued
  std::optional<event> retried; ///< `in` with its attempt count, on a retry
  std::int64_t now_ns = 0;
  bool is_retry = false; ///< it is the key's pending retry
  completion c;
  v1::KeyStatus status;

  /// The event as the behaviour sees it.
  const event& ev() const { return retried ? *retried : in; }
};

/// Emits routed into queue appends.
struct routed_emits {
  std::vector<queue_append> appends;
  /// The first stage an emit was routed to (SIZE_MAX: none), which the
  /// key's status then waits in, and the index of its append.
  std::size_t next_stage = SIZE_MAX;
  int status_emit = -1;
};

/// The processor's state: its stage, the behaviour, the key's loaded
/// state and pending retry, and what behaviours counted and observed. Each
/// step of `process` is a member, defined in key_processor_steps.cpp.
struct key_processor::impl {
  impl(const pipeline_plan& p, std::size_t stage_index, std::string k,
       std::unique_ptr<behaviour> beh)
      : plan(p), spec(p.topo().stages[stage_index]),
        stage_id(p.stage_id(stage_index)), key(std::move(k)),
        b(std::move(beh)) {}

  const pipeline_plan& plan;
  const stage_spec& spec;
  std::uint32_t stage_id;
  std::string key;
  std::unique_ptr<behaviour> b;
  v1::KeyState ks;
  bool loaded = false;
  std::string load_error;
  bool load_damaged = false; ///< load_error is damage on disk
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::pair<std::string, std::uint64_t>> observed;
  log_sink log;
  /// The key's event that failed and waits for another try, if any.
  std::optional<v1::RetryRecord> pending;

  event_job start(keys::queue_pos pos, const event& in, std::int64_t now_ns,
                  std::uint64_t version) const;
  outcome fail(event_job& job, const event_failure& f);
  std::optional<event_failure> call_behaviour(key_context& ctx,
                                              const event& ev) const;
  std::optional<event_failure> route_emits(key_context& ctx, const event& ev,
                                           routed_emits& out);
  void record_failure(event_job& job, const std::string& why);
  void record_success(event_job& job, key_context& ctx, routed_emits routed);
  void record_state(event_job& job, const key_context& ctx);
};

} // namespace sluice
