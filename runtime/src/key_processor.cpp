// One key's event processing: skip-unchanged, the behaviour call, emits,
// status and dead letters, folded into one completion.
#include "sluice/key_processor.hpp"

#include <algorithm>
#include <cstdint>
#include <map>

#include "sluice/dead_letter.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// The context handed to a behaviour for one event. Collects effects; the
/// processor applies them only when the behaviour returns normally.
class key_context final : public context {
public:
  key_context(const std::string& stage, const std::string& key,
              const v1::KeyState& ks)
      : stage_(stage), key_(key),
        has_(!ks.cleared() && ks.events_processed() > 0), state_(ks.state()) {}

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

  std::vector<std::pair<std::string, event>> emitted;
  std::map<std::string, std::uint64_t> counts;
  bool cleared_ = false;

private:
  const std::string& stage_;
  const std::string& key_;
  bool has_;
  std::string state_;
};

} // namespace

struct key_processor::impl {
  std::unique_ptr<behaviour> b;
  v1::KeyState ks;
  bool loaded = false;
  std::string load_error;
  std::map<std::string, std::uint64_t> counts;
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
  impl_->loaded = true;
  impl_->load_error.clear();
  return {};
}

completion key_processor::process(keys::queue_pos pos, const event& ev,
                                  std::int64_t now_ns) {
  auto& spec = plan_.topo().stages[stage_];
  auto& ks = impl_->ks;
  completion c;
  c.stage_id = plan_.stage_id(stage_);
  c.key = key_;
  c.consumed = pos;
  c.base_version = version_;
  c.urgent = ev.priority == priority::urgent;
  c.ingest_ts_ns = ev.ingest_ts_ns;

  v1::KeyStatus status;
  status.set_last_event_id(ev.id);
  status.set_since_ts_ns(now_ns);
  auto fail_event = [&](std::string why) {
    last_ = outcome::failed;
    last_error_ = std::move(why);
    c.dead_letter = dead_letter_record(spec.name, key_, encode_event(ev),
                                       ev.attempt, now_ns, last_error_);
    status.set_stage(spec.name);
    status.set_phase(v1::PHASE_FAILED);
  };

  if (!impl_->loaded) {
    // The state could not be read: fail the event, touch nothing else.
    fail_event(impl_->load_error.empty() ? "state not loaded"
                                         : impl_->load_error);
    c.touch_state = false;
    c.key_status = status.SerializeAsString();
    return c;
  }

  if (spec.skip_unchanged && ks.events_processed() > 0
      && ks.content_hash() == ev.content_hash) {
    last_ = outcome::skipped;
    ks.set_last_event_id(ev.id);
    c.key_state = ks.SerializeAsString();
    ++version_;
    return c; // status unchanged: the key did not move
  }

  key_context ctx{spec.name, key_, ks};
  std::string error_text;
  try {
    impl_->b->on_event(ctx, ev);
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
        break;
      }
      if (auto big = plan_.payload_too_large(out.payload.size())) {
        error_text =
            "stage " + spec.name + ", emit to '" + topic + "': " + *big;
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
      out.origin_ts_ns = ev.origin_ts_ns;
      out.ingest_ts_ns = ev.ingest_ts_ns;
      std::size_t first = SIZE_MAX;
      auto appends = plan_.route(topic, std::move(out), &first);
      if (appends.empty())
        impl_->counts["unrouted"] += 1;
      else if (next_stage == SIZE_MAX)
        next_stage = first;
      for (auto& a : appends)
        emits.push_back(std::move(a));
    }
  }
  if (!error_text.empty()) {
    fail_event(std::move(error_text));
    ks.set_events_failed(ks.events_failed() + 1);
    ks.set_last_error(last_error_);
    ks.set_last_event_id(ev.id);
    c.key_state = ks.SerializeAsString();
    c.key_status = status.SerializeAsString();
    ++version_;
    return c;
  }
  last_ = outcome::done;
  last_error_.clear();
  for (auto& [name, n] : ctx.counts)
    impl_->counts[name] += n;
  ks.set_state(ctx.state());
  ks.set_cleared(ctx.cleared_);
  ks.set_content_hash(ev.content_hash);
  ks.set_updated_ts_ns(now_ns);
  ks.set_last_event_id(ev.id);
  ks.set_events_processed(ks.events_processed() + 1);
  c.key_state = ks.SerializeAsString();
  if (next_stage != SIZE_MAX) {
    status.set_stage(plan_.topo().stages[next_stage].name);
    status.set_phase(v1::PHASE_QUEUED);
  } else {
    status.set_stage(spec.name);
    status.set_phase(v1::PHASE_DONE);
  }
  c.key_status = status.SerializeAsString();
  c.emits = std::move(emits);
  ++version_;
  return c;
}

std::vector<std::pair<std::string, std::uint64_t>>
key_processor::take_counts() {
  std::vector<std::pair<std::string, std::uint64_t>> out(impl_->counts.begin(),
                                                         impl_->counts.end());
  impl_->counts.clear();
  return out;
}

} // namespace sluice
