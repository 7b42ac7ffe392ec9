// One key's event processing: loading its state, deciding skip-unchanged
// (in `skips_as_unchanged` only), and `process`, which runs the named steps
// of key_processor_steps.cpp in order. Used by one thread at a time.
#include "sluice/key_processor.hpp"

#include <optional>
#include <utility>

#include "key_processor_impl.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// True when `ev` carries the payload the key's state was last built from.
bool payload_unchanged(const v1::KeyState& ks, const event& ev) {
  return !ev.reconcile && !ev.refresh && ev.timer.empty() && !ks.cleared()
         && ks.events_processed() > 0 && ks.content_hash() == ev.content_hash;
}

/// Skip-unchanged, decided here and nowhere else: a stage with
/// `skip_unchanged` skips an event whose payload the key's state `ks` was
/// last built from (never a reconcile, refresh or timer event).
bool skips_as_unchanged(const stage_spec& spec, const v1::KeyState& ks,
                        const event& ev) {
  return spec.skip_unchanged && payload_unchanged(ks, ev);
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

} // namespace

std::optional<completion>
skip_if_unchanged(const pipeline_plan& plan, std::size_t stage_index,
                  const std::string& key, const stored_state& stored,
                  keys::queue_pos pos, const event& ev, std::int64_t now_ns) {
  auto& spec = plan.topo().stages[stage_index];
  v1::KeyState ks;
  if (!ks.ParseFromString(stored.key_state)
      || !skips_as_unchanged(spec, ks, ev))
    return std::nullopt;
  completion c;
  c.stage_id = plan.stage_id(stage_index);
  c.key = key;
  c.consumed = pos;
  c.base_version = stored.version;
  c.urgent = pos.priority == priority::urgent;
  c.ingest_ts_ns = ev.ingest_ts_ns;
  c.event_id = ev.id;
  acknowledge_unchanged(spec.name, ev, c, now_ns);
  return c;
}

key_processor::key_processor(const pipeline_plan& plan, std::size_t stage_index,
                             std::string key, std::unique_ptr<behaviour> b)
    : impl_(std::make_unique<impl>(plan, stage_index, key, std::move(b))),
      plan_(plan), stage_(stage_index), key_(std::move(key)) {}

key_processor::~key_processor() = default;

void key_processor::rebind(std::string key, std::unique_ptr<behaviour> b) {
  auto& p = *impl_;
  p.key = key;
  p.b = std::move(b);
  // Nothing of the old key is used until `load` reads the new one (which
  // resets what it fills).
  p.loaded = false;
  p.counts.clear();
  p.observed.clear();
  key_ = std::move(key);
  last_ = outcome::done;
  last_error_.clear();
}

result<void> key_processor::load(const store& st) {
  impl_->loaded = false;
  impl_->load_error.clear();
  impl_->load_damaged = false;
  impl_->ks.Clear();
  impl_->pending.reset();
  version_ = 0;
  if (auto r = impl_->spec.stateless ? result<void>{} : load_state(st); !r)
    return r;
  auto r = st.read_retry(plan_.stage_id(stage_), key_);
  if (!r) {
    impl_->load_error = r.error().describe();
    impl_->load_damaged = r.error().code == errc::corrupt;
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

/// The key's state record, unless its stage keeps none (`state: none`).
result<void> key_processor::load_state(const store& st) {
  auto s = st.read_state(plan_.stage_id(stage_), key_);
  if (!s) {
    impl_->load_error = s.error().describe();
    impl_->load_damaged = s.error().code == errc::corrupt;
    return s.error();
  }
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
  return {};
}

bool key_processor::load_damaged() const noexcept {
  return impl_->load_damaged;
}

completion key_processor::process(keys::queue_pos pos, const event& in,
                                  std::int64_t now_ns) {
  auto& p = *impl_;
  auto job = p.start(pos, in, now_ns, version_);
  if (!p.loaded) {
    // The state could not be read: fail the event for good, touch nothing
    // else.
    last_error_ = p.load_error.empty() ? "state not loaded" : p.load_error;
    last_ = p.fail(job, {last_error_, true});
    job.c.touch_state = false;
    job.c.clear_retry = false;
    job.c.key_status = job.status.SerializeAsString();
    return std::move(job.c);
  }
  if (skips_as_unchanged(p.spec, p.ks, job.ev())) {
    last_ = outcome::skipped;
    p.pending.reset();
    acknowledge_unchanged(p.spec.name, job.ev(), job.c, now_ns);
    return std::move(job.c); // the version does not move: nothing written
  }
  key_context ctx{p.spec.name, key_, p.ks, p.log};
  routed_emits routed;
  auto failure = p.call_behaviour(ctx, job.ev());
  if (!failure && p.spec.stateless && ctx.wrote_state)
    failure = event_failure{
        "stage " + p.spec.name + " has state: none, but its behaviour "
            + p.spec.behaviour
            + " set or cleared the key's state (keep no state there, or "
              "remove state: none from the stage)",
        true};
  if (!failure)
    failure = p.route_emits(ctx, job.ev(), routed);
  if (failure) {
    last_error_ = std::move(failure->why);
    last_ = p.fail(job, {last_error_, failure->permanent});
    p.record_failure(job, last_error_);
  } else {
    last_ = outcome::done;
    last_error_.clear();
    p.record_success(job, ctx, std::move(routed));
  }
  ++version_;
  return std::move(job.c);
}

bool key_processor::has_state() const {
  return !impl_->ks.cleared() && impl_->ks.events_processed() > 0;
}

const std::string& key_processor::state() const {
  return impl_->ks.state();
}

bool key_processor::unchanged(const event& ev) const {
  return impl_->loaded && skips_as_unchanged(impl_->spec, impl_->ks, ev);
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
