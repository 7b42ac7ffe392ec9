// The real host_resolver for the seed list: getaddrinfo over TCP. Blocking
// (a slow DNS delays the start); called only while a member is made.
// Thread-safe (getaddrinfo is).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "seed_list.hpp"

namespace sluice::cluster {

host_resolver system_resolver() {
  return [](const std::string& host) {
    std::vector<std::string> out;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0)
      return out;
    for (auto* a = res; a != nullptr; a = a->ai_next) {
      char buf[INET6_ADDRSTRLEN] = {};
      const void* src = nullptr;
      if (a->ai_family == AF_INET)
        src = &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
      else if (a->ai_family == AF_INET6)
        src = &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
      if (src && inet_ntop(a->ai_family, src, buf, sizeof buf))
        out.emplace_back(buf);
    }
    freeaddrinfo(res);
    return out;
  };
}

} // namespace sluice::cluster
