// Finding stuck keys and planning their re-drive.
#include "sluice/reconcile.hpp"

#include <map>

#include "sluice/event_codec.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {
constexpr std::size_t max_named = 20;
} // namespace

result<reconcile_scan> scan_for_stuck_keys(const store& st,
                                           const pipeline_plan& plan,
                                           std::int64_t now_ns) {
  auto& topo = plan.topo();
  std::map<std::string, std::size_t, std::less<>> index_of;
  for (std::size_t i = 0; i < topo.stages.size(); ++i)
    index_of.emplace(topo.stages[i].name, i);
  reconcile_scan out;
  auto r = st.scan_status(
      [&](const std::string& key, const std::string& bytes, bool waits) {
        ++out.keys;
        v1::KeyStatus status;
        if (waits || !status.ParseFromString(bytes)
            || status.phase() != v1::PHASE_QUEUED || !status.queued_known())
          return true;
        auto stage = index_of.find(status.stage());
        if (stage == index_of.end())
          return true; // a stage no longer in the topology
        auto waited = now_ns - status.since_ts_ns();
        if (waited < std::chrono::duration_cast<std::chrono::nanoseconds>(
                         topo.stages[stage->second].stuck_after)
                         .count())
          return true;
        ++out.stuck;
        auto from = index_of.find(status.from_stage());
        if (from == index_of.end()) {
          ++out.unrecoverable;
          if (out.unrecoverable_keys.size() < max_named)
            out.unrecoverable_keys.push_back(key + " (waits in "
                                             + status.stage() + ")");
          return true;
        }
        event ev;
        ev.id = "reconcile:" + key + ":" + std::to_string(now_ns);
        ev.key = key;
        ev.reconcile = true;
        ev.priority = priority::normal;
        ev.origin_ts_ns = now_ns;
        ev.ingest_ts_ns = now_ns;
        v1::KeyStatus next;
        next.set_stage(status.from_stage());
        next.set_phase(v1::PHASE_QUEUED);
        next.set_since_ts_ns(now_ns);
        next.set_last_event_id(ev.id);
        // Lost again, the reconcile event itself is re-driven at the same
        // stage.
        next.set_from_stage(status.from_stage());
        redrive rd;
        rd.key = key;
        rd.seen_status = bytes;
        rd.waits_stage_id = plan.stage_id(stage->second);
        rd.append = {plan.stage_id(from->second), priority::normal,
                     encode_event(ev)};
        rd.new_status = next.SerializeAsString();
        out.redrives.push_back(std::move(rd));
        return true;
      });
  if (!r)
    return r.error();
  return out;
}

} // namespace sluice
