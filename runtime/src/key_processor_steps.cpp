// The named steps of key_processor::process: starting an event's
// completion, calling the behaviour, routing its emits, and recording
// success or a failure's fate (another try after a backoff, or a dead
// letter). Used by one thread at a time.
#include <algorithm>
#include <chrono>
#include <random>

#include "key_processor_impl.hpp"
#include "sluice/backoff.hpp"
#include "sluice/dead_letter.hpp"
#include "sluice/event_codec.hpp"
#include "store/positions.hpp"

namespace sluice {

namespace {

/// Random bits for retry jitter, one generator per thread.
std::uint64_t jitter_bits() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

/// What `spec` declares it emits, for an error message.
std::string declared_emits(const stage_spec& spec) {
  if (spec.emits.empty())
    return "it declares no emits";
  std::string out = "it declares emits: [";
  for (std::size_t i = 0; i < spec.emits.size(); ++i)
    out += (i ? ", " : "") + spec.emits[i];
  return out + "]";
}

/// Fills in what an emit inherits from the event that caused it (`ev` of
/// `stage`, for `key`) and its id, the `n`th emit of that event.
void stamp_emit(event& out, const event& ev, const std::string& key,
                const std::string& stage, std::size_t n) {
  if (out.key.empty())
    out.key = key;
  if (out.tenant.empty())
    out.tenant = ev.tenant;
  if (ev.priority == priority::urgent)
    out.priority = priority::urgent;
  if (out.attributes.empty())
    out.attributes = ev.attributes;
  out.id = ev.id + ">" + stage + "." + std::to_string(n);
  out.content_hash = content_hash(out.payload);
  out.attempt = 0;
  out.reconcile = false;
  out.refresh = false;
  out.origin_ts_ns = ev.origin_ts_ns;
  out.ingest_ts_ns = ev.ingest_ts_ns;
}

} // namespace

/// The job for `in` at `pos`: a completion from `version` that, unless
/// renewed, settles the key's pending retry; on that retry, the event
/// carries how many tries came before.
event_job key_processor::impl::start(keys::queue_pos pos, const event& in,
                                     std::int64_t now_ns,
                                     std::uint64_t version) const {
  event_job job{pos, in, now_ns};
  job.is_retry = pending && positions::of_retry(*pending) == pos;
  if (job.is_retry) {
    job.retried = in;
    job.retried->attempt = static_cast<std::uint32_t>(pending->attempts_size());
  }
  auto& c = job.c;
  c.stage_id = stage_id;
  c.key = key;
  c.consumed = pos;
  c.base_version = version;
  c.urgent = in.priority == priority::urgent;
  c.ingest_ts_ns = in.ingest_ts_ns;
  c.event_id = in.id;
  c.stateless = spec.stateless;
  c.clear_retry = pending.has_value();
  job.status.set_last_event_id(job.ev().id);
  job.status.set_since_ts_ns(now_ns);
  job.status.set_stage(spec.name);
  return job;
}

/// A failed event's fate: another try after a backoff while the failure is
/// not permanent and the stage's max_attempts is not reached (the entry
/// stays queued under a retry record); otherwise a dead letter with every
/// attempt.
outcome key_processor::impl::fail(event_job& job, const event_failure& f) {
  std::vector<attempt_record> attempts;
  if (job.is_retry)
    for (auto& a : pending->attempts())
      attempts.push_back({a.attempt(), a.at_ts_ns(), a.error()});
  attempts.push_back(
      {static_cast<std::uint32_t>(attempts.size() + 1), job.now_ns, f.why});
  auto& c = job.c;
  if (f.permanent || attempts.size() >= spec.retry.max_attempts) {
    c.dead_letter =
        dead_letter_record(spec.name, key, encode_event(job.in), attempts);
    pending.reset();
    job.status.set_phase(v1::PHASE_FAILED);
    return outcome::failed;
  }
  auto delay = retry_delay(
      spec.retry, static_cast<std::uint32_t>(attempts.size()), jitter_bits());
  v1::RetryRecord rec;
  positions::set_retry(rec, job.pos);
  rec.set_due_ts_ns(
      job.now_ns
      + std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count());
  rec.set_event_id(job.ev().id);
  for (auto& a : attempts) {
    auto* at = rec.add_attempts();
    at->set_attempt(a.attempt);
    at->set_at_ts_ns(a.at_ns);
    at->set_error(a.error);
  }
  c.retry = rec.SerializeAsString();
  c.retry_due_ns = rec.due_ts_ns();
  c.clear_retry = false;
  pending = std::move(rec);
  job.status.set_phase(v1::PHASE_RETRYING);
  return outcome::retrying;
}

/// Runs the behaviour on `ev`: a timer, an event or a reconcile. An
/// exception fails the event (permanently for `permanent_error`), except
/// `fatal_error`, which propagates: the key actor crashes and its stage
/// supervisor restarts it.
std::optional<event_failure>
key_processor::impl::call_behaviour(key_context& ctx, const event& ev) const {
  try {
    if (!ev.timer.empty()) {
      b->on_timer(ctx, ev);
    } else if (!ev.reconcile) {
      b->on_event(ctx, ev);
    } else if (!b->reconcile(ctx)) {
      return event_failure{"stage " + spec.name + " (behaviour "
                               + spec.behaviour
                               + ") cannot reconcile: its behaviour has no "
                                 "reconcile()",
                           true};
    }
  } catch (const fatal_error&) {
    throw;
  } catch (const permanent_error& e) {
    return event_failure{std::string("behaviour ") + spec.behaviour
                             + " failed permanently: " + e.what(),
                         true};
  } catch (const std::exception& e) {
    return event_failure{std::string("behaviour ") + spec.behaviour
                         + " threw: " + e.what()};
  } catch (...) {
    return event_failure{std::string("behaviour ") + spec.behaviour
                         + " threw a non-standard exception"};
  }
  return std::nullopt;
}

/// Turns the behaviour's emits into appends for the subscribing stages. An
/// undeclared topic (any topic, for a stage that declares no `emits`) or an
/// oversized payload fails the event as a whole (permanently), so no
/// partial effect is committed. An emit no stage takes is counted as
/// "unrouted".
std::optional<event_failure>
key_processor::impl::route_emits(key_context& ctx, const event& ev,
                                 routed_emits& out) {
  std::size_t n = 0;
  for (auto& [topic, emitted] : ctx.emitted) {
    if (std::find(spec.emits.begin(), spec.emits.end(), topic)
        == spec.emits.end())
      return event_failure{"stage " + spec.name
                               + " emitted to undeclared topic '" + topic
                               + "' (" + declared_emits(spec)
                               + "; add the topic to the stage's emits in "
                                 "the topology)",
                           true};
    if (auto size_ok = plan.check_payload_size(emitted.payload.size());
        !size_ok)
      return event_failure{"stage " + spec.name + ", emit to '" + topic
                               + "': " + size_ok.error().message,
                           true};
    stamp_emit(emitted, ev, key, spec.name, n++);
    std::size_t first = SIZE_MAX;
    auto appends = plan.route(topic, std::move(emitted), &first);
    if (appends.empty()) {
      counts["unrouted"] += 1;
    } else if (out.next_stage == SIZE_MAX) {
      out.next_stage = first;
      out.status_emit = static_cast<int>(out.appends.size());
    }
    for (auto& a : appends)
      out.appends.push_back(std::move(a));
  }
  return std::nullopt;
}

/// A failed event's effect on the key: the state is kept, the failure
/// counted and recorded, the status says retrying or failed.
void key_processor::impl::record_failure(event_job& job,
                                         const std::string& why) {
  job.c.key_status = job.status.SerializeAsString();
  job.c.status_emit = -1;
  if (spec.stateless)
    return; // no state record keeps the failure counters
  ks.set_events_failed(ks.events_failed() + 1);
  ks.set_last_error(why);
  ks.set_last_event_id(job.ev().id);
  job.c.key_state = ks.SerializeAsString();
}

/// A processed event's effects: the behaviour's state, counters, timers and
/// routed emits; the status waits in the first stage an emit went to, or
/// says done.
void key_processor::impl::record_success(event_job& job, key_context& ctx,
                                         routed_emits routed) {
  auto& ev = job.ev();
  auto& c = job.c;
  pending.reset();
  for (auto& [name, n] : ctx.counts)
    counts[name] += n;
  for (auto& o : ctx.observed)
    observed.push_back(std::move(o));
  for (auto& t : ctx.timers)
    c.timers.push_back(timer_op_of(spec.name, key, ev, job.now_ns, t));
  if (!spec.stateless)
    record_state(job, ctx);
  if (routed.next_stage != SIZE_MAX) {
    job.status.set_stage(plan.topo().stages[routed.next_stage].name);
    job.status.set_phase(v1::PHASE_QUEUED);
    job.status.set_from_stage(spec.name);
  } else {
    job.status.set_phase(v1::PHASE_DONE);
  }
  c.key_status = job.status.SerializeAsString();
  c.status_emit = routed.status_emit;
  c.emits = std::move(routed.appends);
}

/// The key's state after a processed event: the behaviour's bytes, the
/// payload hash skip-unchanged compares, the attributes change feeds
/// filter on, and the counters.
void key_processor::impl::record_state(event_job& job, const key_context& ctx) {
  auto& ev = job.ev();
  ks.set_state(ctx.state());
  ks.set_cleared(ctx.cleared_);
  if (!ev.reconcile) // a reconcile carries no payload to compare with
    ks.set_content_hash(ev.content_hash);
  ks.set_updated_ts_ns(job.now_ns);
  ks.set_last_event_id(ev.id);
  // Change feeds filter on the attributes of the event behind a change;
  // other stages keep none (a reconcile carries none: the last stay).
  if (!spec.changelog.enabled)
    ks.clear_last_attributes();
  else if (!ev.reconcile) {
    auto& attributes = *ks.mutable_last_attributes();
    attributes.clear();
    attributes.insert(ev.attributes.begin(), ev.attributes.end());
  }
  ks.set_events_processed(ks.events_processed() + 1);
  job.c.key_state = ks.SerializeAsString();
}

} // namespace sluice
