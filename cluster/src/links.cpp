// The cluster actor's links to other members: made on demand, retried with
// a doubling backoff, looked up by member name. Only the cluster actor
// touches them.
#include "links.hpp"

#include <algorithm>

namespace sluice::cluster {

namespace {

constexpr auto max_backoff = std::chrono::milliseconds(2000);

} // namespace

link& link_to(cluster_state& s, const std::string& address) {
  auto& l = s.links[address];
  l.address = address;
  return l;
}

void retry_later(link& l) {
  l.at = link::phase::idle;
  l.handle = nullptr;
  l.next_try = clock::now() + l.backoff;
  l.backoff = std::min(max_backoff, l.backoff * 2);
}

link* ready_link(cluster_state& s, const std::string& name) {
  auto* m = s.table->find(name);
  if (!m)
    return nullptr;
  auto i = s.links.find(m->address);
  if (i == s.links.end() || i->second.at != link::phase::ready)
    return nullptr;
  return &i->second;
}

std::pair<std::string, std::uint16_t>
split_address(const std::string& address) {
  auto colon = address.rfind(':');
  return {address.substr(0, colon),
          static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)))};
}

} // namespace sluice::cluster
