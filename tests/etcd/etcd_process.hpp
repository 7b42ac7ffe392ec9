// A real single-member etcd for tests: started on 127.0.0.1 with free ports
// and a fresh data directory, stopped by its PID (and restarted on the same
// ports and data). Also free_port() and a port that accepts but never
// answers. Used from one test thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace sluice_test {

/// A TCP socket listening on 127.0.0.1 at a free port; it accepts
/// connections (the kernel does) and never answers. Closed when destroyed.
class silent_port {
public:
  silent_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0
        || ::listen(fd_, 16) != 0
        || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("silent_port: cannot listen on 127.0.0.1");
    port_ = ntohs(addr.sin_port);
  }
  ~silent_port() { ::close(fd_); }
  silent_port(const silent_port&) = delete;
  silent_port& operator=(const silent_port&) = delete;
  int port() const { return port_; }

private:
  int fd_ = -1;
  int port_ = 0;
};

/// A port nothing listens on right now (bound, read, released).
inline int free_port() {
  silent_port probe;
  return probe.port();
}

/// One etcd process. Construction starts it and waits until it serves.
class etcd_process {
public:
  etcd_process() : client_port_(free_port()), peer_port_(free_port()) {
    char pattern[] = "/tmp/sluice-etcd-XXXXXX";
    if (::mkdtemp(pattern) == nullptr)
      throw std::runtime_error("etcd_process: mkdtemp failed");
    dir_ = pattern;
    start();
  }
  ~etcd_process() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  etcd_process(const etcd_process&) = delete;
  etcd_process& operator=(const etcd_process&) = delete;

  int client_port() const { return client_port_; }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(client_port_);
  }

  /// Starts etcd (again: same ports, same data) and waits until it answers
  /// a read, at most 15 s; throws with the end of its log otherwise.
  void start() {
    auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args{etcd_binary(),
                                  "--name=t",
                                  "--data-dir=" + dir_ + "/data",
                                  "--listen-client-urls=" + url(),
                                  "--advertise-client-urls=" + url(),
                                  "--listen-peer-urls=" + peer,
                                  "--initial-advertise-peer-urls=" + peer,
                                  "--initial-cluster=t=" + peer,
                                  "--heartbeat-interval=50",
                                  "--election-timeout=500"};
    // Everything the child needs is made before fork(): other threads may
    // hold the allocator's lock, and the child may only exec.
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    auto log_path = dir_ + "/etcd.log";
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("etcd_process: fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL); // no etcd outlives a killed test
      int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("etcd exited at start: " + log_tail());
      }
      httplib::Client probe("127.0.0.1", client_port_);
      probe.set_connection_timeout(std::chrono::milliseconds(200));
      auto res =
          probe.Post("/v3/kv/range", R"({"key":"AA=="})", "application/json");
      if (res && res->status == 200)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop();
    throw std::runtime_error("etcd did not serve within 15 s: " + log_tail());
  }

  /// SIGTERM, then SIGKILL after 5 s; waits for the process.
  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string log_tail() const {
    std::ifstream in(dir_ + "/etcd.log");
    std::stringstream all;
    all << in.rdbuf();
    auto text = all.str();
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

private:
  static std::string etcd_binary() {
    const char* env = std::getenv("SLUICE_ETCD");
    return env != nullptr && *env != '\0' ? env : "etcd";
  }

  int client_port_;
  int peer_port_;
  std::string dir_;
  pid_t pid_ = -1;
};

} // namespace sluice_test
