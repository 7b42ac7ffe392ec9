// A TCP proxy on 127.0.0.1 that a test can cut (every connection closed,
// new ones accepted and closed at once) and restore, so a client loses its
// server while the server keeps running. One thread of its own; cut(),
// restore() and port() are safe from any thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace sluice_test {

class tcp_proxy {
public:
  /// Listens on a free port and forwards to 127.0.0.1:`target_port`.
  explicit tcp_proxy(int target_port) : target_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    if (listener_ < 0
        || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0
        || ::listen(listener_, 16) != 0
        || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len)
               != 0)
      throw std::runtime_error("tcp_proxy: cannot listen on 127.0.0.1");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~tcp_proxy() {
    done_.store(true);
    thread_.join();
    close_all();
    ::close(listener_);
  }
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  int port() const { return port_; }
  /// Closes every connection and refuses new ones until restore().
  void cut() { cut_.store(true); }
  void restore() { cut_.store(false); }

private:
  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    return addr;
  }

  void close_all() {
    for (auto [a, b] : pairs_) {
      ::close(a);
      ::close(b);
    }
    pairs_.clear();
  }

  void run() {
    while (!done_.load()) {
      if (cut_.load())
        close_all();
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (auto [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0)
        continue;
      // Only the pairs that were polled; one accepted now joins after.
      std::vector<std::pair<int, int>> alive;
      for (std::size_t i = 0; i < (fds.size() - 1) / 2; ++i) {
        auto [a, b] = pairs_[i];
        bool ok = pump(fds[1 + 2 * i], a, b) && pump(fds[2 + 2 * i], b, a);
        if (ok) {
          alive.emplace_back(a, b);
        } else {
          ::close(a);
          ::close(b);
        }
      }
      pairs_ = std::move(alive);
      if (fds[0].revents & POLLIN)
        accept_one();
    }
  }

  void accept_one() {
    int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0)
      return;
    if (cut_.load()) {
      ::close(client);
      return;
    }
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(target_);
    if (server < 0
        || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr)
               != 0) {
      ::close(client);
      if (server >= 0)
        ::close(server);
      return;
    }
    pairs_.emplace_back(client, server);
  }

  /// Moves what `from` has to `to`; false once either side is closed.
  static bool pump(const pollfd& polled, int from, int to) {
    if (polled.revents == 0)
      return true;
    char buffer[16384];
    auto n = ::read(from, buffer, sizeof buffer);
    if (n <= 0)
      return false;
    for (ssize_t sent = 0; sent < n;) {
      auto w = ::send(to, buffer + sent, static_cast<std::size_t>(n - sent),
                      MSG_NOSIGNAL);
      if (w <= 0)
        return false;
      sent += w;
    }
    return true;
  }

  int target_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> cut_{false};
  std::atomic<bool> done_{false};
  std::vector<std::pair<int, int>> pairs_; // (client, server), proxy thread
  std::thread thread_;
};

} // namespace sluice_test
