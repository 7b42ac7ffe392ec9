// The watch's loop: one streamed POST /v3/watch at a time; each line of the
// answer is one WatchResponse. A connection that had been set up and ends
// (idle timeout, etcd restarting) reconnects at once; one that failed before
// goes to the next endpoint after a growing pause, and is reported.
#include "controller/etcd_watch.hpp"

#include <algorithm>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "controller/etcd_answers.hpp"
#include "controller/etcd_codec.hpp"

namespace sluice::cluster {

namespace codec = etcd_codec;
using namespace std::chrono_literals;

namespace {

/// A line longer than this is not a watch answer we can use.
constexpr std::size_t max_line = 64u << 20;

} // namespace

etcd_watch::etcd_watch(std::shared_ptr<etcd_client::shared> state,
                       std::string prefix, std::int64_t from_revision,
                       etcd_client::event_handler on_event,
                       etcd_client::error_handler on_error)
    : state_(std::move(state)), prefix_(std::move(prefix)),
      on_event_(std::move(on_event)), on_error_(std::move(on_error)),
      next_(from_revision) {
  thread_ = std::thread([this] { run(); });
}

etcd_watch::~etcd_watch() {
  cancel();
}

void etcd_watch::cancel() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_.store(true);
    if (active_ != nullptr)
      active_->stop();
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

void etcd_watch::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock{mutex_};
  wake_.wait_for(lock, d, [this] { return stop_.load(); });
}

void etcd_watch::run() {
  auto backoff = 100ms;
  const auto n = state_->endpoints.size();
  while (!stop_.load()) {
    auto index = state_->preferred.load() % n;
    auto started = std::chrono::steady_clock::now();
    auto end = stream_once(index);
    if (end == ending::stopped)
      break;
    if (end == ending::quiet
        && std::chrono::steady_clock::now() - started > 1s) {
      backoff = 100ms; // it was working: reconnect at once, same endpoint
      continue;
    }
    // The next endpoint, unless a call elsewhere found a good one meanwhile.
    state_->preferred.compare_exchange_strong(index, (index + 1) % n);
    sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2s);
  }
  running_.store(false);
}

etcd_watch::ending etcd_watch::stream_once(std::size_t index) {
  const auto& ep = state_->endpoints[index];
  const auto& opts = state_->options;
  const auto where = "etcd " + ep.url + ": watch of '" + prefix_ + "'";
  httplib::Client http(ep.host, ep.port);
  http.set_connection_timeout(opts.connect_timeout);
  http.set_read_timeout(opts.watch_idle_timeout);
  http.set_write_timeout(opts.request_timeout);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stop_.load())
      return ending::stopped;
    active_ = &http;
  }
  httplib::Request req;
  req.method = "POST";
  req.path = "/v3/watch";
  req.set_header("Content-Type", "application/json");
  // Forwarded as gRPC metadata: a member that loses its leader ends the
  // watch instead of keeping it silently open.
  req.set_header("Grpc-Metadata-hasleader", "true");
  req.body = codec::watch_request(prefix_, next_.load());
  int status = 0;
  std::string buffer;
  ending end = ending::quiet;
  bool created = false;
  bool closed_by_us = false;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return !stop_.load();
  };
  req.content_receiver = [&](const char* data, std::size_t size, std::uint64_t,
                             std::uint64_t) {
    buffer.append(data, size);
    std::size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      auto line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      if (!on_line(line, status, where, end, created)) {
        closed_by_us = true;
        return false;
      }
    }
    if (buffer.size() > max_line) {
      on_error_(fail(errc::parse, where + ": a line of over 64 MiB"));
      end = ending::stopped;
      closed_by_us = true;
      return false;
    }
    return !stop_.load();
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  http.send(req, res, err);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    active_ = nullptr;
  }
  if (stop_.load())
    return ending::stopped;
  if (closed_by_us)
    return end;
  // An answer without a final newline: an error body (a refused request).
  if (!buffer.empty() && !on_line(buffer, status, where, end, created))
    return end;
  if (created)
    return ending::quiet;
  auto what = err == httplib::Error::Success
                  ? "the stream ended before the watch was set up (HTTP "
                        + std::to_string(status) + ")"
              : err == httplib::Error::Connection
                  ? std::string("cannot connect")
                  : "no watch (" + httplib::to_string(err) + ")";
  on_error_(fail(errc::unavailable, where + ": " + what + "; retrying"));
  return ending::failed;
}

bool etcd_watch::on_line(const std::string& line, int status,
                         const std::string& where, ending& end, bool& created) {
  if (line.find_first_not_of(" \r\t") == std::string::npos)
    return true;
  auto stop_with = [&](error e) {
    on_error_(e.within(where));
    stop_.store(true);
    end = ending::stopped;
    return false;
  };
  auto answer = codec::parse_answer(status, line);
  if (!answer) {
    if (answer.error().code != errc::unavailable)
      return stop_with(answer.error());
    on_error_(answer.error().within(where + "; retrying"));
    end = ending::failed;
    return false;
  }
  auto message = codec::decode_watch(*answer);
  if (!message)
    return stop_with(message.error());
  if (message->canceled) {
    if (message->compact_revision > 0)
      return stop_with(
          fail(errc::not_found,
               "revision " + std::to_string(next_.load())
                   + " was compacted (the oldest kept is "
                   + std::to_string(message->compact_revision)
                   + "): read again and watch from the read's revision + 1"));
    on_error_(fail(errc::unavailable, where + ": etcd ended the watch ("
                                          + message->cancel_reason
                                          + "); retrying"));
    end = ending::failed;
    return false;
  }
  if (message->created) {
    created = true;
    // Watching "from now": what now was, so a reconnection misses nothing.
    if (next_.load() == 0)
      next_.store(message->revision + 1);
  }
  // Events of one revision (one txn) share it and come in one message.
  const auto floor = next_.load();
  for (const auto& event : message->events) {
    if (stop_.load())
      return false;
    if (event.kv.mod_revision < floor)
      continue; // already delivered before a reconnection
    on_event_(event);
    next_.store(event.kv.mod_revision + 1);
  }
  if (message->events.empty() && !message->created && message->revision > 0)
    next_.store(std::max(next_.load(), message->revision + 1)); // progress
  return !stop_.load();
}

} // namespace sluice::cluster
