// Private: the cluster actor's links to other members, by the address each
// listens on: made on demand, retried with a doubling backoff, and looked
// up by member name once ready. Only the cluster actor touches them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "cluster_state.hpp"

namespace sluice::cluster {

/// The link to `address`, made idle if it was not known yet.
link& link_to(cluster_state& s, const std::string& address);

/// The link failed or dropped: idle until its backoff passed (doubled up
/// to a cap for the next failure).
void retry_later(link& l);

/// The ready link to member `name`, or nullptr.
link* ready_link(cluster_state& s, const std::string& name);

/// Splits HOST:PORT (seeds were checked when the member was made); port 0
/// for a malformed address, which then never connects.
std::pair<std::string, std::uint16_t> split_address(const std::string& address);

} // namespace sluice::cluster
