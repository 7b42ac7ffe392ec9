// One key's event processing: skip-unchanged, the behaviour call, emits,
// status and dead letters, folded into one completion.
#include "sluice/key_processor.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <utility>

#include "sluice/backoff.hpp"
#include "sluice/dead_letter.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/v1/store.pb.h"
#include "store/positions.hpp"

namespace sluice {

namespace {

/// The context handed to a behaviour for one event. Collects effects; the
/// processor applies them only when the behaviour returns normally.
class key_context final : public context {
public:
  key_context(const std::string& stage, const std::string& key,
              const v1::KeyState& ks, const key_processor::log_sink& log)
      : stage_(stage), key_(key),
        has_(!ks.cleared() && ks.events_processed() > 0), state_(ks.state()),
        log_(log) {}

  const std::string& stage() const override { return stage_; }
  const std::string& key() const override { return key_; }
  bool has_state() const override { return has_; }
  const std::string& state() const override { return state_; }
  void set_state(std::string bytes) override {
    state_ = std::move(bytes);
    has_ = true;
    cleared_ = false;
  }
  void clear_state() override {
    state_.clear();
    has_ = false;
    cleared_ = true;
  }
  void emit(std::string topic, event ev) override {
    emitted.emplace_back(std::move(topic), std::move(ev));
  }
  void count(std::string_view name, std::uint64_t n) override {
    counts[std::string(name)] += n;
  }
  void observe(std::string_view name,
               std::chrono::microseconds value) override {
    observed.emplace_back(std::string(name),
                          static_cast<std::uint64_t>(std::max<std::int64_t>(
                              0, static_cast<std::int64_t>(value.count()))));
  }
  void log(log_level level, std::string_view message) override {
    if (log_)
      log_(level, message);
  }
  void set_timer(std::string name, std::chrono::milliseconds delay,
                 std::string payload, timer_kind kind) override {
    timer_request t;
    t.name = std::move(name);
    t.delay = std::max(delay, std::chrono::milliseconds::zero());
    t.payload = std::move(payload);
    t.kind = kind;
    timers.push_back(std::move(t));
  }
  void cancel_timer(std::string name) override {
    timer_request t;
    t.name = std::move(name);
    t.cancel = true;
    timers.push_back(std::move(t));
  }

  struct timer_request {
    std::string name;
    bool cancel = false;
    std::chrono::milliseconds delay{0};
    std::string payload;
    timer_kind kind = timer_kind::in_memory;
  };

  std::vector<std::pair<std::string, event>> emitted;
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::pair<std::string, std::uint64_t>> observed;
  std::vector<timer_request> timers;
  bool cleared_ = false;

private:
  const std::string& stage_;
  const std::string& key_;
  bool has_;
  std::string state_;
  const key_processor::log_sink& log_;
};

/// True when `ev` carries the payload the key's state was last built from.
bool payload_unchanged(const v1::KeyState& ks, const event& ev) {
  return !ev.reconcile && !ev.refresh && ev.timer.empty() && !ks.cleared()
         && ks.events_processed() > 0 && ks.content_hash() == ev.content_hash;
}

/// Fills `c` to acknowledge an unchanged event: the state (and its version)
/// is kept, and the key is done with this stage if it waited for this event.
void acknowledge_unchanged(const std::string& stage, const event& ev,
                           completion& c, std::int64_t now_ns) {
  c.ack_only = true;
  v1::KeyStatus status;
  status.set_stage(stage);
  status.set_phase(v1::PHASE_DONE);
  status.set_since_ts_ns(now_ns);
  status.set_last_event_id(ev.id);
  c.key_status = status.SerializeAsString();
}

/// The store's form of a timer the behaviour set or cancelled while
/// handling `ev`: a set carries the event it fires, under an id unique to
/// (stage, key, name, due time), at `ev`'s priority.
template <class Request>
timer_op timer_op_of(const std::string& stage, const std::string& key,
                     const event& ev, std::int64_t now_ns, const Request& t) {
  timer_op op;
  op.name = t.name;
  op.cancel = t.cancel;
  if (t.cancel)
    return op;
  op.durable = t.kind == timer_kind::durable;
  op.due_ns =
      now_ns
      + std::chrono::duration_cast<std::chrono::nanoseconds>(t.delay).count();
  op.priority = ev.priority;
  event fired;
  fired.id = "timer/" + stage + "/" + key + "/" + t.name + "@"
             + std::to_string(op.due_ns);
  fired.key = key;
  fired.tenant = ev.tenant;
  fired.priority = ev.priority;
  fired.attributes = ev.attributes;
  fired.payload = t.payload;
  fired.content_hash = content_hash(fired.payload);
  fired.origin_ts_ns = now_ns;
  fired.ingest_ts_ns = op.due_ns; // its latency counts from when it fires
  fired.timer = t.name;
  op.event_bytes = encode_event(fired);
  return op;
}

} // namespace

std::optional<completion>
skip_if_unchanged(const pipeline_plan& plan, std::size_t stage_index,
                  const std::string& key, const stored_state& stored,
                  keys::queue_pos pos, const event& ev, std::int64_t now_ns) {
  v1::KeyState ks;
  if (!plan.topo().stages[stage_index].skip_unchanged
      || !ks.ParseFromString(stored.key_state) || !payload_unchanged(ks, ev))
    return std::nullopt;
  completion c;
  c.stage_id = plan.stage_id(stage_index);
  c.key = key;
  c.consumed = pos;
  c.base_version = stored.version;
  c.urgent = pos.priority == priority::urgent;
  c.ingest_ts_ns = ev.ingest_ts_ns;
  acknowledge_unchanged(plan.topo().stages[stage_index].name, ev, c, now_ns);
  return c;
}

/// Random bits for retry jitter, one generator per thread.
std::uint64_t jitter_bits() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

struct key_processor::impl {
  std::unique_ptr<behaviour> b;
  v1::KeyState ks;
  bool loaded = false;
  std::string load_error;
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::pair<std::string, std::uint64_t>> observed;
  log_sink log;
  /// The key's event that failed and waits for another try, if any.
  std::optional<v1::RetryRecord> pending;
};

key_processor::key_processor(const pipeline_plan& plan, std::size_t stage_index,
                             std::string key, std::unique_ptr<behaviour> b)
    : impl_(std::make_unique<impl>()), plan_(plan), stage_(stage_index),
      key_(std::move(key)) {
  impl_->b = std::move(b);
}

key_processor::~key_processor() = default;

result<void> key_processor::load(const store& st) {
  auto s = st.read_state(plan_.stage_id(stage_), key_);
  if (!s) {
    impl_->load_error = s.error().describe();
    return s.error();
  }
  impl_->ks.Clear();
  version_ = 0;
  if (*s) {
    if (!impl_->ks.ParseFromString((*s)->key_state)) {
      auto e = fail(errc::corrupt, "state of key '" + key_ + "' in stage "
                                       + plan_.topo().stages[stage_].name
                                       + " is not a valid sluice.v1.KeyState");
      impl_->load_error = e.describe();
      return e;
    }
    version_ = (*s)->version;
  }
  impl_->pending.reset();
  auto r = st.read_retry(plan_.stage_id(stage_), key_);
  if (!r) {
    impl_->load_error = r.error().describe();
    return r.error();
  }
  if (*r) {
    v1::RetryRecord rec;
    rec.ParseFromString((*r)->record); // parsed once already by the store
    impl_->pending = std::move(rec);
  }
  impl_->loaded = true;
  impl_->load_error.clear();
  return {};
}

completion key_processor::process(keys::queue_pos pos, const event& in,
                                  std::int64_t now_ns) {
  auto& spec = plan_.topo().stages[stage_];
  auto& ks = impl_->ks;
  completion c;
  c.stage_id = plan_.stage_id(stage_);
  c.key = key_;
  c.consumed = pos;
  c.base_version = version_;
  c.urgent = in.priority == priority::urgent;
  c.ingest_ts_ns = in.ingest_ts_ns;

  // A retry: the behaviour sees how many tries came before.
  auto& pending = impl_->pending;
  const bool is_retry = pending && positions::of_retry(*pending) == pos;
  std::optional<event> retried;
  if (is_retry) {
    retried = in;
    retried->attempt = static_cast<std::uint32_t>(pending->attempts_size());
  }
  const event& ev = retried ? *retried : in;
  // Whatever happens now settles the pending retry, unless it is renewed.
  c.clear_retry = pending.has_value();

  v1::KeyStatus status;
  status.set_last_event_id(ev.id);
  status.set_since_ts_ns(now_ns);
  status.set_stage(spec.name);
  // Fails the event: another try after a backoff, or dead letters.
  auto fail_event = [&](std::string why, bool permanent) {
    last_error_ = std::move(why);
    std::vector<attempt_record> attempts;
    if (is_retry)
      for (auto& a : pending->attempts())
        attempts.push_back({a.attempt(), a.at_ts_ns(), a.error()});
    attempts.push_back(
        {static_cast<std::uint32_t>(attempts.size() + 1), now_ns, last_error_});
    if (!permanent && attempts.size() < spec.retry.max_attempts) {
      last_ = outcome::retrying;
      auto delay =
          retry_delay(spec.retry, static_cast<std::uint32_t>(attempts.size()),
                      jitter_bits());
      v1::RetryRecord rec;
      positions::set_retry(rec, pos);
      rec.set_due_ts_ns(
          now_ns
          + std::chrono::duration_cast<std::chrono::nanoseconds>(delay)
                .count());
      rec.set_event_id(ev.id);
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
      status.set_phase(v1::PHASE_RETRYING);
    } else {
      last_ = outcome::failed;
      c.dead_letter =
          dead_letter_record(spec.name, key_, encode_event(in), attempts);
      pending.reset();
      status.set_phase(v1::PHASE_FAILED);
    }
  };

  if (!impl_->loaded) {
    // The state could not be read: fail the event, touch nothing else.
    fail_event(impl_->load_error.empty() ? "state not loaded"
                                         : impl_->load_error,
               true);
    c.touch_state = false;
    c.clear_retry = false;
    c.key_status = status.SerializeAsString();
    return c;
  }

  if (spec.skip_unchanged && payload_unchanged(ks, ev)) {
    last_ = outcome::skipped;
    pending.reset();
    acknowledge_unchanged(spec.name, ev, c, now_ns);
    return c; // the version does not move: nothing was written
  }

  key_context ctx{spec.name, key_, ks, impl_->log};
  std::string error_text;
  bool permanent = false;
  try {
    if (!ev.timer.empty()) {
      impl_->b->on_timer(ctx, ev);
    } else if (!ev.reconcile) {
      impl_->b->on_event(ctx, ev);
    } else if (!impl_->b->reconcile(ctx)) {
      permanent = true;
      error_text = "stage " + spec.name + " (behaviour " + spec.behaviour
                   + ") cannot reconcile: its behaviour has no reconcile()";
    }
  } catch (const fatal_error&) {
    throw; // crash the key actor: its stage supervisor restarts it
  } catch (const permanent_error& e) {
    permanent = true;
    error_text = std::string("behaviour ") + spec.behaviour
                 + " failed permanently: " + e.what();
  } catch (const std::exception& e) {
    error_text =
        std::string("behaviour ") + spec.behaviour + " threw: " + e.what();
  } catch (...) {
    error_text = std::string("behaviour ") + spec.behaviour
                 + " threw a non-standard exception";
  }
  // Build the emits; an undeclared topic or an oversized payload fails the
  // event as a whole, so no partial effect is committed.
  std::vector<queue_append> emits;
  std::size_t next_stage = SIZE_MAX;
  if (error_text.empty()) {
    std::size_t n = 0;
    for (auto& [topic, out] : ctx.emitted) {
      if (!spec.emits.empty()
          && std::find(spec.emits.begin(), spec.emits.end(), topic)
                 == spec.emits.end()) {
        error_text = "stage " + spec.name + " emitted to undeclared topic '"
                     + topic + "'";
        permanent = true;
        break;
      }
      if (auto big = plan_.payload_too_large(out.payload.size())) {
        error_text =
            "stage " + spec.name + ", emit to '" + topic + "': " + *big;
        permanent = true;
        break;
      }
      if (out.key.empty())
        out.key = key_;
      if (out.tenant.empty())
        out.tenant = ev.tenant;
      if (ev.priority == priority::urgent)
        out.priority = priority::urgent;
      if (out.attributes.empty())
        out.attributes = ev.attributes;
      out.id = ev.id + ">" + spec.name + "." + std::to_string(n++);
      out.content_hash = content_hash(out.payload);
      out.attempt = 0;
      out.reconcile = false;
      out.refresh = false;
      out.origin_ts_ns = ev.origin_ts_ns;
      out.ingest_ts_ns = ev.ingest_ts_ns;
      std::size_t first = SIZE_MAX;
      auto appends = plan_.route(topic, std::move(out), &first);
      if (appends.empty()) {
        impl_->counts["unrouted"] += 1;
      } else if (next_stage == SIZE_MAX) {
        next_stage = first;
        c.status_emit = static_cast<int>(emits.size());
      }
      for (auto& a : appends)
        emits.push_back(std::move(a));
    }
  }
  if (!error_text.empty()) {
    fail_event(std::move(error_text), permanent);
    ks.set_events_failed(ks.events_failed() + 1);
    ks.set_last_error(last_error_);
    ks.set_last_event_id(ev.id);
    c.key_state = ks.SerializeAsString();
    c.key_status = status.SerializeAsString();
    c.status_emit = -1;
    ++version_;
    return c;
  }
  last_ = outcome::done;
  last_error_.clear();
  pending.reset();
  for (auto& [name, n] : ctx.counts)
    impl_->counts[name] += n;
  for (auto& o : ctx.observed)
    impl_->observed.push_back(std::move(o));
  for (auto& t : ctx.timers)
    c.timers.push_back(timer_op_of(spec.name, key_, ev, now_ns, t));
  ks.set_state(ctx.state());
  ks.set_cleared(ctx.cleared_);
  if (!ev.reconcile) // a reconcile carries no payload to compare with
    ks.set_content_hash(ev.content_hash);
  ks.set_updated_ts_ns(now_ns);
  ks.set_last_event_id(ev.id);
  ks.set_events_processed(ks.events_processed() + 1);
  c.key_state = ks.SerializeAsString();
  if (next_stage != SIZE_MAX) {
    status.set_stage(plan_.topo().stages[next_stage].name);
    status.set_phase(v1::PHASE_QUEUED);
    status.set_from_stage(spec.name);
  } else {
    status.set_phase(v1::PHASE_DONE);
  }
  c.key_status = status.SerializeAsString();
  c.emits = std::move(emits);
  ++version_;
  return c;
}

bool key_processor::has_state() const {
  return !impl_->ks.cleared() && impl_->ks.events_processed() > 0;
}

const std::string& key_processor::state() const {
  return impl_->ks.state();
}

bool key_processor::unchanged(const event& ev) const {
  return impl_->loaded && plan_.topo().stages[stage_].skip_unchanged
         && payload_unchanged(impl_->ks, ev);
}

std::vector<std::pair<std::string, std::uint64_t>>
key_processor::take_observations() {
  return std::exchange(impl_->observed, {});
}

void key_processor::set_log_sink(log_sink sink) {
  impl_->log = std::move(sink);
}

std::vector<std::pair<std::string, std::uint64_t>>
key_processor::take_counts() {
  std::vector<std::pair<std::string, std::uint64_t>> out(impl_->counts.begin(),
                                                         impl_->counts.end());
  impl_->counts.clear();
  return out;
}

} // namespace sluice
