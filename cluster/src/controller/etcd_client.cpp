// One POST per call on a fresh connection (no state shared between calls but
// the endpoint that answered last), so concurrent calls need no lock.
#include "controller/etcd_client.hpp"

#include <charconv>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "controller/etcd_answers.hpp"
#include "controller/etcd_codec.hpp"
#include "controller/etcd_watch.hpp"

namespace sluice::cluster {

using nlohmann::json;
namespace codec = etcd_codec;

namespace {

/// Bigger answers are refused (a range of the whole table is far smaller).
constexpr std::size_t max_answer = 64u << 20;

std::string millis(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

/// What one POST brought back.
struct exchange {
  /// The whole answer arrived (its status and body are set).
  bool complete = false;
  int status = 0;
  std::string body;
  httplib::Error failure = httplib::Error::Success;
};

/// One POST to one endpoint. The body is read as it streams in because
/// etcd's gateway sends its error answers chunked with an HTTP trailer
/// (`Grpc-Trailer-Content-Type`), which cpp-httplib 0.11 cannot parse: it
/// reports a read error after the body has arrived whole. A body that is a
/// whole JSON value after such an error counts as the answer.
exchange post(const etcd_endpoint& ep, const etcd_options& options,
              const char* path, const std::string& body) {
  httplib::Client http(ep.host, ep.port);
  http.set_connection_timeout(options.connect_timeout);
  http.set_read_timeout(options.request_timeout);
  http.set_write_timeout(options.request_timeout);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  exchange out;
  req.response_handler = [&](const httplib::Response& res) {
    out.status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t size, std::uint64_t,
                             std::uint64_t) {
    out.body.append(data, size);
    return out.body.size() <= max_answer;
  };
  httplib::Response res;
  out.complete = http.send(req, res, out.failure)
                 || (out.failure == httplib::Error::Read && out.status != 0
                     && json::accept(out.body));
  return out;
}

/// An answer and who gave it: "etcd URL: operation".
struct answered {
  json body;
  std::string where;
};

/// POSTs `body` to `path`, starting at the endpoint that answered last; the
/// answer's JSON. See the class comment for when it tries the next one.
result<answered> call(etcd_client::shared& s, const char* path,
                      const std::string& body, const char* operation,
                      bool idempotent) {
  const auto n = s.endpoints.size();
  const auto first = s.preferred.load();
  std::string tried;
  for (std::size_t i = 0; i < n; ++i) {
    const auto index = (first + i) % n;
    const auto& ep = s.endpoints[index];
    const auto where = "etcd " + ep.url + ": " + operation;
    auto got = post(ep, s.options, path, body);
    if (!got.complete) {
      auto e = got.failure;
      bool connected = e != httplib::Error::Connection
                       && e != httplib::Error::ConnectionTimeout;
      std::string what =
          e == httplib::Error::Connection ? "cannot connect"
          : e == httplib::Error::ConnectionTimeout
              ? "no connection within " + millis(s.options.connect_timeout)
          : e == httplib::Error::Read
              ? "no answer within " + millis(s.options.request_timeout)
                    + " (or the connection was lost)"
          : e == httplib::Error::Canceled
              ? std::string("answer over 64 MiB")
              : "request failed (" + httplib::to_string(e) + ")";
      if (connected && !idempotent)
        return fail(errc::unavailable,
                    where + ": " + what + "; the outcome is unknown");
      tried += (tried.empty() ? "" : "; ") + ep.url + ": " + what;
      continue;
    }
    auto answer = codec::parse_answer(got.status, got.body);
    if (!answer && answer.error().code == errc::unavailable && idempotent) {
      // This member cannot serve it now (no leader, shutting down): the
      // next one may.
      tried +=
          (tried.empty() ? "" : "; ") + ep.url + ": " + answer.error().message;
      continue;
    }
    s.preferred.store(index);
    if (!answer)
      return answer.error().within(where);
    return answered{std::move(*answer), where};
  }
  return fail(errc::unavailable, std::string("etcd: ") + operation
                                     + ": no endpoint answered: " + tried);
}

/// Decodes an answer with `decode`, naming the endpoint and operation on
/// error (the endpoint being the one that answered).
template <class Decode>
auto answer_of(etcd_client::shared& s, const char* path,
               const std::string& body, const char* operation, bool idempotent,
               Decode decode) -> decltype(decode(std::declval<const json&>())) {
  auto answer = call(s, path, body, operation, idempotent);
  if (!answer)
    return answer.error();
  auto decoded = decode(answer->body);
  if (!decoded)
    return decoded.error().within(answer->where);
  return decoded;
}

} // namespace

result<etcd_endpoint> parse_etcd_endpoint(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument,
                "etcd endpoint '" + std::string(url) + "': " + why);
  };
  constexpr std::string_view scheme = "http://";
  if (url.starts_with("https://"))
    return bad("https is not supported yet; use http://HOST:PORT");
  if (!url.starts_with(scheme))
    return bad("expected http://HOST:PORT");
  auto rest = url.substr(scheme.size());
  if (rest.ends_with('/'))
    rest.remove_suffix(1);
  std::string_view host;
  std::string_view port;
  if (rest.starts_with('[')) { // [IPv6]:PORT
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size()
        || rest[close + 1] != ':')
      return bad("expected http://[ADDRESS]:PORT");
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos)
      return bad("no port (etcd's client port is usually 2379)");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty() || host.find_first_of("/?#@ ") != std::string_view::npos)
    return bad("bad host '" + std::string(host) + "'");
  int number = 0;
  auto [end, ec] =
      std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc{} || end != port.data() + port.size() || number < 1
      || number > 65535)
    return bad("bad port '" + std::string(port) + "'");
  return etcd_endpoint{std::string(url), std::string(host), number};
}

etcd_client::etcd_client(std::shared_ptr<shared> state)
    : state_(std::move(state)) {}

result<etcd_client> etcd_client::make(etcd_options options) {
  if (options.endpoints.empty())
    return fail(errc::invalid_argument, "etcd: no endpoint given");
  auto state = std::make_shared<shared>();
  for (const auto& url : options.endpoints) {
    auto ep = parse_etcd_endpoint(url);
    if (!ep)
      return ep.error();
    state->endpoints.push_back(std::move(*ep));
  }
  state->options = std::move(options);
  return etcd_client{std::move(state)};
}

std::string etcd_client::current_endpoint() const {
  return state_->endpoints[state_->preferred.load()].url;
}

result<etcd_lease> etcd_client::grant_lease(std::chrono::seconds ttl) {
  return answer_of(*state_, "/v3/lease/grant", codec::grant_request(ttl),
                   "lease grant", true, codec::decode_grant);
}

result<std::chrono::seconds> etcd_client::keep_alive(std::int64_t lease) {
  return answer_of(*state_, "/v3/lease/keepalive", codec::lease_request(lease),
                   "lease keepalive", true, [lease](const json& answer) {
                     return codec::decode_keepalive(answer, lease);
                   });
}

result<void> etcd_client::revoke_lease(std::int64_t lease) {
  auto answer =
      answer_of(*state_, "/v3/lease/revoke", codec::lease_request(lease),
                "lease revoke", true, codec::decode_revision);
  if (!answer)
    return answer.error();
  return {};
}

result<etcd_range> etcd_client::get(std::string_view key) {
  return answer_of(*state_, "/v3/kv/range", codec::range_request(key, false),
                   "range", true, codec::decode_range);
}

result<etcd_range> etcd_client::get_prefix(std::string_view prefix) {
  return answer_of(*state_, "/v3/kv/range", codec::range_request(prefix, true),
                   "range", true, codec::decode_range);
}

result<std::int64_t> etcd_client::put(std::string_view key,
                                      std::string_view value,
                                      std::int64_t lease) {
  return answer_of(*state_, "/v3/kv/put", codec::put_request(key, value, lease),
                   "put", false, codec::decode_revision);
}

result<std::int64_t> etcd_client::erase(std::string_view key) {
  return answer_of(*state_, "/v3/kv/deleterange",
                   codec::erase_request(key, false), "delete", false,
                   codec::decode_deleted);
}

result<etcd_txn_result> etcd_client::txn(const etcd_txn& txn) {
  return answer_of(*state_, "/v3/kv/txn", codec::txn_request(txn), "txn", false,
                   codec::decode_txn);
}

result<std::int64_t> etcd_client::compact(std::int64_t revision) {
  return answer_of(*state_, "/v3/kv/compaction",
                   codec::compact_request(revision), "compaction", true,
                   codec::decode_revision);
}

std::unique_ptr<etcd_watch>
etcd_client::watch_prefix(std::string prefix, std::int64_t from_revision,
                          event_handler on_event,
                          error_handler on_error) const {
  return std::make_unique<etcd_watch>(state_, std::move(prefix), from_revision,
                                      std::move(on_event), std::move(on_error));
}

} // namespace sluice::cluster
