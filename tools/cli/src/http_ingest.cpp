// The event API: signature check, body parsing, admission (overload gives
// 503 or 429 with Retry-After, never an accepted event that is lost), and
// publish, which returns once the events are committed in LMDB.
#include "http_ingest.hpp"

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "http_access.hpp"
#include "http_ingest_routes.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/event_json.hpp"
#include "sluice/secret.hpp"

namespace sluice::cli {

namespace {

using json = nlohmann::json;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), json_type);
}

/// Builds one event from a JSON object; `where` names it in errors. One
/// without an "id" gets the body's hash and its index in the body.
result<event> event_from(const json& j, const std::string& where,
                         std::uint64_t body_hash, std::size_t index) {
  auto ev = event_from_json(j, where);
  if (!ev)
    return ev;
  if (ev->id.empty()) // the same body sent again gets the same ids
    ev->id = "http:"
             + to_hex(std::string_view(
                 reinterpret_cast<const char*>(&body_hash), sizeof body_hash))
             + ":" + std::to_string(index);
  return ev;
}

/// The caller of a request signed with the HMAC key, as the audit names it.
const access_token hmac_signer{"hmac-signer", 0, {}};

/// Requests being handled; beyond the limit, new ones get 503.
std::atomic<std::size_t> in_flight{0};

struct in_flight_slot {
  bool taken;
  explicit in_flight_slot(std::size_t limit)
      : taken(in_flight.fetch_add(1) < limit) {}
  ~in_flight_slot() { in_flight.fetch_sub(1); }
};

/// Refuses (and returns false) unless the request is signed with the
/// node's HMAC key, or (without a signature) carries a bearer token with
/// `need`. Sets `who` to the caller.
bool signed_by_us(const httplib::Request& req, httplib::Response& res,
                  const readiness& state, const ingest_options& opts,
                  const char* what, scope need, http_caller& who) {
  auto caller = identify(req, res, *opts.access, state);
  if (!caller)
    return false;
  who = *caller;
  auto name = request_name(req);
  if (!req.has_header("X-Sluice-Signature") && who.token)
    return allowed(who, need, false, name, res, *opts.access, state);
  if (opts.hmac_key.empty()) {
    refuse_request(res, 403, "forbidden", "hmac key",
                   std::string(what)
                       + " is off: start the node with --hmac-key-file (or "
                         "send a bearer token with scope '"
                       + scope_name(need) + "')",
                   who, name, state);
    return false;
  }
  if (!req.has_header("X-Sluice-Signature")) {
    refuse_request(res, 401, "unauthenticated", "signature",
                   "no X-Sluice-Signature header (sha256=<hex HMAC-SHA256 of "
                   "the body>), nor a bearer token with scope '"
                       + std::string(scope_name(need)) + "'",
                   who, name, state);
    return false;
  }
  auto sig = req.get_header_value("X-Sluice-Signature");
  if (!sig.starts_with("sha256=") || sig.size() != 7 + 64) {
    refuse(res, 400, "X-Sluice-Signature must be sha256=<64 hex digits>");
    return false;
  }
  if (!signature_matches(opts.hmac_key, req.body, sig)) {
    refuse_request(res, 401, "unauthenticated", "signature",
                   "X-Sluice-Signature does not match the body", who, name,
                   state);
    return false;
  }
  if (!who.token)
    who.token = &hmac_signer;
  return true;
}

/// POST /v1/topology: a signed YAML topology, applied live.
void post_topology(const httplib::Request& req, httplib::Response& res,
                   const readiness& state, const ingest_options& opts) {
  http_caller who;
  if (!signed_by_us(req, res, state, opts, "POST /v1/topology", scope::admin,
                    who))
    return;
  auto next = parse_topology(req.body, "POST /v1/topology");
  if (!next)
    return refuse(res, 400, next.error().describe());
  bool served = state.with_node([&](node& n) {
    auto changes = n.apply_topology(std::move(*next));
    if (!changes) {
      auto code = changes.error().code;
      int status = code == errc::invalid_argument ? 409
                   : code == errc::unavailable    ? 503
                                                  : 422;
      audit_action(who.actor(), "POST /v1/topology",
                   "refused: " + changes.error().message);
      return refuse(res, status, changes.error().message);
    }
    json out = json::array();
    for (auto& c : *changes)
      out.push_back(describe(c));
    audit_action(who.actor(), "POST /v1/topology",
                 std::to_string(changes->size()) + " changes applied");
    reply(res, 200, {{"changes", out}, {"applied", !changes->empty()}});
  });
  if (!served) {
    res.set_header("Retry-After", "1");
    refuse(res, 503, "the node is not ready: " + state.check().reason);
  }
}

void post_events(const httplib::Request& req, httplib::Response& res,
                 const readiness& state, const ingest_options& opts) {
  http_caller who;
  if (!signed_by_us(req, res, state, opts, "the webhook", scope::publish, who))
    return;
  auto type = req.get_header_value("Content-Type");
  result<std::vector<event>> events = std::vector<event>{};
  if (type.starts_with("application/json"))
    events = events_from_json(req.body);
  else if (type.starts_with("application/x-protobuf"))
    events = decode_event_batch(req.body, "the body");
  else
    return refuse(res, 415,
                  "Content-Type must be application/json or "
                  "application/x-protobuf (sluice.v1.EventBatch), not '"
                      + type + "'");
  if (!events)
    return refuse(res, 400, events.error().message);
  if (events->empty())
    return refuse(res, 422, "the body holds no event");
  if (events->size() > opts.max_events)
    return refuse(res, 413,
                  std::to_string(events->size()) + " events in one request; "
                      + "at most " + std::to_string(opts.max_events));
  // ?wait=5s: answer once the events are done through every stage they
  // reach here (or when the wait ends: 202), not once they are queued.
  std::optional<std::chrono::milliseconds> wait;
  if (req.has_param("wait")) {
    auto w = parse_wait(req.get_param_value("wait"));
    if (!w)
      return refuse(res, 400, w.error().message);
    wait = *w;
  }
  in_flight_slot slot{opts.max_in_flight};
  if (!slot.taken) {
    res.set_header("Retry-After", "1");
    return refuse_request(res, 503, "overloaded", "",
                          "overloaded: " + std::to_string(opts.max_in_flight)
                              + " requests are being committed; retry after "
                                "1 s",
                          who, request_name(req), state);
  }
  json answer;
  bool served = state.with_node([&](node& n) {
    auto& topics = n.pipeline().topics;
    std::map<std::string, std::vector<event>> by_topic;
    std::size_t i = 0;
    for (auto& ev : *events) {
      ++i;
      if (std::find(topics.begin(), topics.end(), ev.topic) == topics.end()) {
        refuse(res, 422,
               "event " + std::to_string(i) + ": no topic '" + ev.topic
                   + "' in the topology");
        return;
      }
      if (ev.key.empty()) {
        refuse(res, 422, "event " + std::to_string(i) + ": no key");
        return;
      }
      if (ev.id.empty()) {
        refuse(res, 422, "event " + std::to_string(i) + ": no id");
        return;
      }
      auto t = ev.topic;
      by_topic[t].push_back(std::move(ev));
    }
    auto stats = n.stats();
    if (stats && stats->queued > opts.max_backlog) {
      res.set_header("Retry-After", "5");
      refuse(res, 429,
             "the backlog is " + std::to_string(stats->queued)
                 + " events (more than " + std::to_string(opts.max_backlog)
                 + "); retry after 5 s");
      return;
    }
    json ids = json::array();
    std::size_t accepted = 0;
    std::optional<done_waiter> waiter;
    publish_options popts{.once = true};
    if (wait) {
      std::vector<std::string> all;
      for (auto& [topic, evs] : by_topic)
        for (auto& e : evs)
          all.push_back(e.id);
      waiter.emplace(all);
      popts.on_done = waiter->callback();
    }
    auto deadline = std::chrono::steady_clock::now()
                    + wait.value_or(std::chrono::milliseconds{0});
    for (auto& [topic, evs] : by_topic) {
      std::vector<std::string> these;
      for (auto& e : evs)
        these.push_back(e.id);
      auto n_evs = evs.size();
      // Once per id: a resent body (the sender missed our 200) is
      // acknowledged again, and queued once.
      if (auto r = n.publish(topic, std::move(evs), popts); !r) {
        // What was committed before stays; the rest was not accepted.
        int status = r.error().code == errc::invalid_argument ? 413 : 503;
        if (status == 503) // a full disk takes an operator: ask for less
          res.set_header("Retry-After",
                         r.error().code == errc::no_space ? "5" : "1");
        reply(res, status,
              {{"error", r.error().message},
               {"accepted", accepted},
               {"ids", ids}});
        return;
      }
      accepted += n_evs;
      for (auto& id : these)
        ids.push_back(id);
    }
    if (!waiter)
      return reply(res, 200, {{"accepted", accepted}, {"ids", ids}});
    json done = json::array();
    bool all_done = true;
    for (auto& d : waiter->wait_until(deadline)) {
      all_done = all_done && d.outcome != done_outcome::pending;
      done.push_back(
          {{"id", d.id},
           {"outcome", to_string(d.outcome)},
           {"processed", d.processed},
           {"dead_lettered", d.dead_lettered},
           {"forwarded", d.forwarded},
           {"took_ms",
            std::chrono::duration<double, std::milli>(d.took).count()}});
    }
    // 202: accepted (durable) and still being processed.
    reply(res, all_done ? 200 : 202,
          {{"accepted", accepted}, {"ids", ids}, {"done", done}});
  });
  if (!served) {
    res.set_header("Retry-After", "1");
    refuse(res, 503, "the node is not ready: " + state.check().reason);
  }
}

} // namespace

std::string sign_body(const std::string& key, const std::string& body) {
  return "sha256=" + to_hex(hmac_sha256(key, body));
}

bool signature_matches(const std::string& key, const std::string& body,
                       const std::string& header) {
  return same_secret(header, sign_body(key, body));
}

result<std::vector<event>> events_from_json(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    return fail(errc::invalid_argument, "the body is not JSON (at byte "
                                            + std::to_string(e.byte)
                                            + "): " + e.what());
  }
  auto hash = content_hash(body);
  std::vector<event> out;
  if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      auto ev = event_from(j[i], "event " + std::to_string(i + 1), hash, i);
      if (!ev)
        return ev.error();
      out.push_back(std::move(*ev));
    }
  } else {
    auto ev = event_from(j, "the event", hash, 0);
    if (!ev)
      return ev.error();
    out.push_back(std::move(*ev));
  }
  return out;
}

void add_event_routes(httplib::Server& svr, const readiness& state,
                      const ingest_options& opts) {
  svr.Post("/v1/events",
           [&state, opts](const httplib::Request& req, httplib::Response& res) {
             post_events(req, res, state, opts);
           });
  svr.Post("/v1/topology",
           [&state, opts](const httplib::Request& req, httplib::Response& res) {
             post_topology(req, res, state, opts);
           });
  add_query_route(svr, state, opts);
}

} // namespace sluice::cli
