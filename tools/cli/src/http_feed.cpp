// GET /v1/feed/STAGE: a stage's change feed as Server-Sent Events or, with
// ?format=ndjson, one JSON object per line. Each stream is one
// subscription of the node (sluice/feed.hpp) on one of the endpoint's
// threads, pulled at the client's pace: the socket's buffer is all it
// holds, a client that stops reading is dropped after the write timeout
// and resumes from its cursor.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "feed_streaming.hpp"
#include "http_access.hpp"
#include "http_ingest_routes.hpp"
#include "log_format.hpp"

namespace sluice::cli {

namespace {

struct feed_stream_options {
  bool sse = true;
  double max_rate = 0; ///< events per second; 0: as fast as it reads
};

/// The JSON objects of the changes sent last, per stage: every subscriber
/// following the head sends the same object (the same cursor too, on one
/// node), so it is built once. Bounded; offsets only grow.
class feed_line_cache {
public:
  static constexpr std::size_t per_stage = 16384;

  /// The object of change `e` of `stage`, built by `make` the first time.
  std::shared_ptr<const std::string> get(const std::string& stage,
                                         const feed_event& e) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto& m = stages_[stage];
      if (auto i = m.find(e.offset);
          i != m.end() && i->second.cursor == e.cursor)
        return i->second.json;
    }
    auto made = std::make_shared<const std::string>(feed_event_json(e));
    std::lock_guard<std::mutex> guard{mtx_};
    auto& m = stages_[stage];
    m[e.offset] = {e.cursor, made};
    while (m.size() > per_stage)
      m.erase(m.begin());
    return made;
  }

private:
  struct entry {
    std::string cursor;
    std::shared_ptr<const std::string> json;
  };
  std::mutex mtx_;
  std::map<std::string, std::map<std::uint64_t, entry>> stages_;
};

/// Appends one event in the stream's format; changes come from `cache`.
void append_feed_event(std::string& out, const feed_event& e, bool sse,
                       const std::string& stage, feed_line_cache& cache) {
  std::shared_ptr<const std::string> shared;
  std::string own;
  if (e.kind == feed_event_kind::change || e.kind == feed_event_kind::removed)
    shared = cache.get(stage, e);
  else
    own = feed_event_json(e);
  const std::string& json = shared ? *shared : own;
  if (!sse) {
    out += json;
    out += '\n';
    return;
  }
  out += "event: ";
  out += to_string(e.kind);
  out += '\n';
  // The browser resends the last id it saw as Last-Event-ID. A reset
  // clears it: a reconnect during the snapshot that follows starts over.
  if (!e.cursor.empty())
    out += "id: " + e.cursor + "\n";
  else if (e.kind == feed_event_kind::reset)
    out += "id\n";
  out += "data: ";
  out += json;
  out += "\n\n";
}

/// The status for a refused subscription.
int feed_status_of(const error& e) {
  switch (e.code) {
  case errc::not_found:
    return 404;
  case errc::config:
    return 409;
  case errc::unavailable:
    return 503;
  default:
    return e.code == errc::invalid_argument ? 400 : 500;
  }
}

result<feed_stream_options> read_stream_options(const httplib::Request& req) {
  feed_stream_options so;
  if (req.has_param("format")) {
    auto f = req.get_param_value("format");
    if (f == "ndjson")
      so.sse = false;
    else if (f != "sse")
      return fail(errc::invalid_argument,
                  "format=" + f + ": give format=sse (the default) or ndjson");
  }
  if (req.has_param("max_rate")) {
    auto rate = parse_max_rate(req.get_param_value("max_rate"), "max_rate");
    if (!rate)
      return rate.error();
    so.max_rate = *rate;
  }
  return so;
}

feed_options read_feed_options(const httplib::Request& req) {
  feed_options fo;
  // A browser's EventSource reconnects to the same URL (its ?cursor= as
  // first given) with Last-Event-ID: the header is the newer position.
  if (req.has_header("Last-Event-ID"))
    fo.cursor = req.get_header_value("Last-Event-ID");
  else if (req.has_param("cursor"))
    fo.cursor = req.get_param_value("cursor");
  if (req.has_param("prefix"))
    fo.prefix = req.get_param_value("prefix");
  for (std::size_t i = 0; i < req.get_param_value_count("key"); ++i)
    fo.keys.push_back(req.get_param_value("key", i));
  if (req.has_param("filter"))
    fo.filter = req.get_param_value("filter");
  if (req.has_param("attributes"))
    fo.attributes = req.get_param_value("attributes");
  fo.client = req.remote_addr + ":" + std::to_string(req.remote_port);
  return fo;
}

/// Writes a subscription to the client until either side ends it.
class feed_stream {
public:
  feed_stream(std::unique_ptr<feed_subscription> sub, feed_stream_options so,
              std::string stage, std::shared_ptr<feed_line_cache> cache)
      : sub_(std::move(sub)), so_(so), stage_(std::move(stage)),
        cache_(std::move(cache)), pacer_(so.max_rate) {}

  /// One round: the next events (or a heartbeat) in one write. False when
  /// the stream ends (the client went away, the node stopped).
  bool pump(httplib::DataSink& sink) {
    events_.clear();
    auto r = sub_->next(events_, pacer_.batch(), feed_heartbeat);
    if (!r) {
      std::string out;
      if (so_.sse)
        out = "event: error\ndata: {\"error\":" + json_string(r.error().message)
              + "}\n\n";
      else
        out = "{\"type\":\"error\",\"error\":" + json_string(r.error().message)
              + "}\n";
      sink.write(out.data(), out.size());
      sink.done();
      return true;
    }
    std::string out;
    if (events_.empty()) {
      out = so_.sse ? ": heartbeat\n\n" : "{\"type\":\"heartbeat\"}\n";
    } else {
      pacer_.pace(events_.size());
      for (auto& e : events_)
        append_feed_event(out, e, so_.sse, stage_, *cache_);
    }
    return sink.write(out.data(), out.size());
  }

private:
  std::unique_ptr<feed_subscription> sub_;
  feed_stream_options so_;
  std::string stage_;
  std::shared_ptr<feed_line_cache> cache_;
  feed_pacer pacer_;
  std::vector<feed_event> events_;
};

void get_feed(const httplib::Request& req, httplib::Response& res,
              const readiness& state, const ingest_options& opts,
              const std::shared_ptr<feed_line_cache>& cache) {
  auto& access = *opts.access;
  auto caller = identify(req, res, access, state);
  if (!caller)
    return;
  auto what = request_name(req);
  if (!allowed(*caller, scope::read, access.public_read, what, res, access,
               state))
    return;
  auto so = read_stream_options(req);
  if (!so)
    return refuse(res, 400, so.error().message);
  auto fo = read_feed_options(req);
  auto stage = req.matches[1].str();
  auto sub = subscribe_feed(state, stage, std::move(fo));
  if (!sub) {
    const auto& e = sub.error();
    if (e.code == errc::unavailable)
      res.set_header("Retry-After", std::to_string(feed_retry_after_seconds));
    return refuse(res, feed_status_of(e), e.message);
  }
  auto s = std::make_shared<feed_stream>(std::move(*sub), *so, stage, cache);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no"); // nginx: do not buffer
  res.set_chunked_content_provider(
      so->sse ? "text/event-stream" : "application/x-ndjson",
      [s](std::size_t, httplib::DataSink& sink) { return s->pump(sink); });
}

} // namespace

void add_feed_route(httplib::Server& svr, const readiness& state,
                    const ingest_options& opts) {
  auto cache = std::make_shared<feed_line_cache>();
  svr.Get(R"(/v1/feed/([^/]+))",
          [&state, opts, cache](const httplib::Request& req,
                                httplib::Response& res) {
            get_feed(req, res, state, opts, cache);
          });
}

} // namespace sluice::cli
