// Export of a stage's key states as sorted "key<TAB>json" lines.
#include "sluice/store/export.hpp"

#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

bool state_absent(const v1::KeyState& ks) {
  return ks.cleared() || (ks.state().empty() && ks.events_processed() == 0);
}

result<std::size_t>
export_stage(const store& st, const std::string& stage, const registry& reg,
             std::ostream& out,
             const std::function<void(const error&)>& on_damaged) {
  auto stages = st.stages();
  if (!stages)
    return stages.error();
  const stage_record* rec = nullptr;
  std::string known;
  for (auto& s : *stages) {
    if (s.name == stage)
      rec = &s;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  if (!rec)
    return fail(errc::not_found,
                "no stage '" + stage + "' in " + st.dir()
                    + " (stages: " + (known.empty() ? "none" : known) + ")");
  std::unique_ptr<behaviour> b;
  if (auto made = reg.create(rec->behaviour))
    b = std::move(*made);
  // A cluster member exports the shards it owns (or is handing off), not
  // what a hand-off under way brought in but did not commit yet: so the
  // members' exports add up to the cluster's, also while shards move.
  auto owned = st.shard_records();
  if (!owned)
    return owned.error();
  auto member = st.incarnation();
  if (!member)
    return member.error();
  std::vector<bool> mine(shard_count, *member == 0); // 0: a single node
  for (auto& r : *owned)
    if (r.shard < shard_count)
      mine[r.shard] = true;
  std::size_t n = 0;
  error failure;
  bool failed = false;
  auto scanned = st.scan_states(
      rec->id,
      [&](const std::string& key, const stored_state& s) {
        if (!mine[shard_of(key)])
          return true;
        v1::KeyState ks;
        if (!ks.ParseFromString(s.key_state)) {
          failure = fail(errc::corrupt, st.dir() + ": state of key '" + key
                                            + "' in stage " + stage
                                            + " is not a valid KeyState");
          failed = true;
          return false;
        }
        if (state_absent(ks))
          return true;
        std::string json;
        try {
          json = b ? b->state_to_json(ks.state()) : json_quote(ks.state());
        } catch (const std::exception& e) {
          json = json_quote(ks.state());
        }
        out << key << '\t' << json << '\n';
        ++n;
        return true;
      },
      on_damaged ? std::function<bool(const std::string&, const error&)>(
          [&](const std::string&, const error& why) {
            on_damaged(why);
            return true;
          })
                 : nullptr);
  if (!scanned)
    return scanned.error();
  if (failed)
    return failure;
  return n;
}

} // namespace sluice
