// The cluster actor's links to other members: made on demand, retried with
// a doubling backoff, looked up by member name. Only the cluster actor
// touches them.
#include "links.hpp"

#include <algorithm>

#include "seed_list.hpp"

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
  // Seeds were checked when the member was made; a member's address in
  // gossip comes from another member, which checked its own --listen.
  auto hp = parse_host_port("address", address);
  if (!hp)
    return {address, 0};
  return {hp->host, hp->port};
}

} // namespace sluice::cluster
