// Raw loopback TCP: the baseline for bench/cluster_forward.sh. Sends
// TOTAL bytes over one 127.0.0.1 TCP connection in writes of BATCH bytes,
// with a reader thread that reads until it has them all, in two modes:
//
//   stream  the sender writes batch after batch; the reader just reads.
//   ack     after each batch the sender waits for a 1-byte answer that the
//           reader writes once it has read the whole batch: one round trip
//           per batch, like the forwarder's request and acknowledgement
//           (one batch in flight per owner).
//
// Both sockets have TCP_NODELAY. Each mode runs REPEAT repetitions over the
// same connection. A repetition is one or more passes of TOTAL bytes, as
// many as it takes to last at least MIN_MS milliseconds (default 500: one
// pass of a few hundred MB takes well under 0.1 s, too short to measure on
// a shared machine); the time of a pass runs from the sender's first write
// to the moment the reader has read the last byte. Prints one `rep` line
// per repetition and a `result` line per mode with the median, in MB/s
// (10^6 bytes per second); the last line, `cpu`, is the process's own user
// and system time (getrusage).
//
// usage: bench_tcp_loopback --bytes TOTAL --batch-bytes BATCH
//          [--repeat REPEAT] [--min-ms MIN_MS]
//          [--mode stream|ack|both]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bench_tcp_loopback: %s: %s\n", what,
               std::strerror(errno));
  std::exit(1);
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      die("write");
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void read_exactly(int fd, char* p, std::size_t n) {
  while (n > 0) {
    auto r = ::read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      die("read");
    }
    if (r == 0) {
      errno = 0;
      die("read: connection closed early");
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

void nodelay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    die("setsockopt TCP_NODELAY");
}

std::uint64_t number(const char* flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  auto v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') {
    std::fprintf(stderr, "bench_tcp_loopback: %s needs a number, not '%s'\n",
                 flag, text);
    std::exit(2);
  }
  return v;
}

/// The batch sizes of one repetition: TOTAL split into writes of BATCH
/// bytes, the last one shorter.
std::vector<std::size_t> plan(std::uint64_t total, std::uint64_t batch) {
  std::vector<std::size_t> out;
  for (std::uint64_t sent = 0; sent < total; sent += batch)
    out.push_back(static_cast<std::size_t>(std::min(batch, total - sent)));
  return out;
}

/// One repetition: returns seconds from the first write to the last byte
/// read.
double run_once(int out_fd, int in_fd, const std::vector<std::size_t>& batches,
                std::uint64_t total, bool ack) {
  std::atomic<std::int64_t> done_ns{0};
  auto t0 = clock_type::now();
  std::thread reader([&] {
    std::vector<char> buf(256 << 10);
    std::uint64_t got = 0;
    char one = 'k';
    if (ack) {
      for (auto n : batches) {
        std::size_t left = n;
        while (left > 0) {
          auto r = ::read(in_fd, buf.data(), std::min(left, buf.size()));
          if (r < 0 && errno == EINTR)
            continue;
          if (r <= 0)
            die("reader: read");
          left -= static_cast<std::size_t>(r);
        }
        got += n;
        if (got == total)
          done_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        clock_type::now() - t0)
                        .count();
        write_all(in_fd, &one, 1);
      }
    } else {
      while (got < total) {
        auto r = ::read(in_fd, buf.data(),
                        static_cast<std::size_t>(
                            std::min<std::uint64_t>(buf.size(), total - got)));
        if (r < 0 && errno == EINTR)
          continue;
        if (r <= 0)
          die("reader: read");
        got += static_cast<std::uint64_t>(r);
      }
      done_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    clock_type::now() - t0)
                    .count();
    }
  });
  static std::vector<char> data;
  auto biggest = *std::max_element(batches.begin(), batches.end());
  if (data.size() < biggest) {
    data.resize(biggest);
    for (std::size_t i = 0; i < data.size(); ++i)
      data[i] = static_cast<char>('a' + i % 26);
  }
  char answer = 0;
  for (auto n : batches) {
    write_all(out_fd, data.data(), n);
    if (ack)
      read_exactly(out_fd, &answer, 1);
  }
  reader.join();
  return static_cast<double>(done_ns.load()) / 1e9;
}

} // namespace

int main(int argc, char** argv) {
  std::uint64_t total = 0, batch = 0, repeat = 5;
  double min_seconds = 0.5;
  std::string mode = "both";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_tcp_loopback: %s needs a value\n",
                     a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--bytes")
      total = number("--bytes", value());
    else if (a == "--batch-bytes")
      batch = number("--batch-bytes", value());
    else if (a == "--repeat")
      repeat = number("--repeat", value());
    else if (a == "--min-ms")
      min_seconds = static_cast<double>(number("--min-ms", value())) / 1000;
    else if (a == "--mode")
      mode = value();
    else {
      std::fprintf(stderr,
                   "usage: bench_tcp_loopback --bytes TOTAL --batch-bytes "
                   "BATCH [--repeat R] [--min-ms MS] "
                   "[--mode stream|ack|both]\n");
      return 2;
    }
  }
  if (total == 0 || batch == 0 || repeat == 0
      || (mode != "stream" && mode != "ack" && mode != "both")) {
    std::fprintf(stderr, "bench_tcp_loopback: --bytes and --batch-bytes "
                         "must be positive, --mode stream, ack or both\n");
    return 2;
  }

  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0)
    die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    die("bind");
  if (::listen(lfd, 1) != 0)
    die("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    die("getsockname");
  int out_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (out_fd < 0)
    die("socket");
  if (::connect(out_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    die("connect");
  int in_fd = ::accept(lfd, nullptr, nullptr);
  if (in_fd < 0)
    die("accept");
  ::close(lfd);
  nodelay(out_fd);
  nodelay(in_fd);

  auto batches = plan(total, batch);
  std::printf("config bytes=%llu batch_bytes=%llu batches=%zu repeat=%llu "
              "min_seconds=%.3f\n",
              static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(batch), batches.size(),
              static_cast<unsigned long long>(repeat), min_seconds);
  for (std::string m : {"stream", "ack"}) {
    if (mode != "both" && mode != m)
      continue;
    std::vector<double> mbs;
    for (std::uint64_t r = 0; r < repeat; ++r) {
      double s = 0;
      std::uint64_t passes = 0;
      do {
        s += run_once(out_fd, in_fd, batches, total, m == "ack");
        ++passes;
      } while (s < min_seconds);
      auto v = static_cast<double>(total * passes) / s / 1e6;
      mbs.push_back(v);
      std::printf("rep mode=%s passes=%llu seconds=%.6f mb_s=%.1f\n", m.c_str(),
                  static_cast<unsigned long long>(passes), s, v);
    }
    std::sort(mbs.begin(), mbs.end());
    auto median = mbs.size() % 2
                      ? mbs[mbs.size() / 2]
                      : (mbs[mbs.size() / 2 - 1] + mbs[mbs.size() / 2]) / 2;
    std::printf("result mode=%s mb_s=%.1f min=%.1f max=%.1f\n", m.c_str(),
                median, mbs.front(), mbs.back());
    std::fflush(stdout);
  }
  ::close(out_fd);
  ::close(in_fd);
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  std::printf("cpu user_s=%.3f sys_s=%.3f\n", secs(ru.ru_utime),
              secs(ru.ru_stime));
  return 0;
}
