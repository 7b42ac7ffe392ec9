// Private: a key state as a feed event shows it, for both kinds of
// subscription (one node's and a cluster's).
#pragma once

#include <optional>
#include <string>

#include "hub_state.hpp"
#include "sluice/behaviour.hpp"
#include "sluice/feed.hpp"
#include "sluice/feed/feed_filter.hpp"
#include "sluice/placement.hpp"
#include "sluice/store/changelog.hpp"
#include "sluice/store/export.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice::feed {

/// A KeyState as JSON (empty when removed), with its event, time and
/// attributes. `raw`: the state's bytes go out as stored, and JSON only
/// when `json_for_filter` (a field filter needs it).
inline rendered_change render_state(const std::string& key_state,
                                    const behaviour* renderer, bool raw,
                                    bool json_for_filter) {
  rendered_change r;
  v1::KeyState ks;
  if (!ks.ParseFromString(key_state)) {
    r.state_json = json_quote(key_state);
    return r;
  }
  r.removed = state_absent(ks); // as `sluice export` shows it
  r.event_id = ks.last_event_id();
  r.ts_ns = ks.updated_ts_ns();
  r.attributes.insert(ks.last_attributes().begin(), ks.last_attributes().end());
  if (r.removed)
    return r;
  if (raw) {
    r.state = std::move(*ks.mutable_state());
    if (!json_for_filter)
      return r;
  }
  const std::string& state = raw ? r.state : ks.state();
  try {
    r.state_json =
        renderer ? renderer->state_to_json(state) : json_quote(state);
  } catch (const std::exception&) {
    r.state_json = json_quote(state);
  }
  return r;
}

/// Key state `s` as a snapshot event, unless `f` leaves it out (or it was
/// removed).
inline std::optional<feed_event> snapshot_event(const state_chunk::entry& s,
                                                const filter& f,
                                                const behaviour* renderer,
                                                bool raw) {
  if (!f.takes_key(s.key))
    return std::nullopt;
  auto r = render_state(s.key_state, renderer, raw, f.on_state());
  if (r.removed || !f.takes_attributes(r.attributes)
      || !f.takes_state(r.state_json))
    return std::nullopt;
  feed_event e;
  e.kind = feed_event_kind::snapshot;
  if (raw)
    e.state = std::move(r.state);
  else
    e.state_json = std::move(r.state_json);
  e.event_id = std::move(r.event_id);
  e.ts_ns = r.ts_ns;
  e.attributes = std::move(r.attributes);
  e.key = s.key;
  e.version = s.version;
  e.shard = shard_of(s.key);
  return e;
}

} // namespace sluice::feed
