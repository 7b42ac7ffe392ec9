// Private: queue positions as the store's records carry them (a priority
// number and a seq), in one place for the writer, the readers and the key
// processor.
#pragma once

#include <cstdint>
#include <optional>

#include "sluice/store/keys.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice::positions {

inline priority priority_of(std::uint32_t wire) {
  return wire == 0 ? priority::urgent : priority::normal;
}

inline std::uint32_t wire_of(priority p) {
  return static_cast<std::uint32_t>(p);
}

/// The queue entry a PHASE_QUEUED status waits for, when recorded.
inline std::optional<keys::queue_pos> awaited(const v1::KeyStatus& st) {
  if (st.phase() != v1::PHASE_QUEUED || !st.queued_known())
    return std::nullopt;
  return keys::queue_pos{priority_of(st.queued_priority()), st.queued_seq()};
}

/// Records `pos` as the entry `st` waits for.
inline void set_awaited(v1::KeyStatus& st, keys::queue_pos pos) {
  st.set_queued_known(true);
  st.set_queued_priority(wire_of(pos.priority));
  st.set_queued_seq(pos.seq);
}

/// The queued event a retry record is for.
inline keys::queue_pos of_retry(const v1::RetryRecord& r) {
  return {priority_of(r.priority()), r.seq()};
}

inline void set_retry(v1::RetryRecord& r, keys::queue_pos pos) {
  r.set_priority(wire_of(pos.priority));
  r.set_seq(pos.seq);
}

} // namespace sluice::positions
