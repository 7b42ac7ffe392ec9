// GET /v1/keys/STAGE/KEY: the key's state and status (scope read). A key
// the stage does not know (or any key with ?refresh=1) is ingested on
// demand from the node's catalog as an urgent event (scope query, within
// the on-demand limits; never with ?ingest=0); the request waits up to
// ?wait= (2 s by default) for the pipeline to finish with it, then answers
// 200 with the final state, or 202 with a link to ask again. A replicated
// member answers only from data below the key's shard's high-watermark
// (node::await_replicated), else 503.
#include <nlohmann/json.hpp>

#include <cmath>

#include "http_access.hpp"
#include "http_ingest.hpp"
#include "http_ingest_routes.hpp"
#include "ondemand_limits.hpp"
#include "sluice/node.hpp"

namespace sluice::cli {

namespace {

using json = nlohmann::json;
constexpr auto max_wait = std::chrono::seconds(30);
/// How long a replicated member's answer waits for min_insync replicas to
/// hold what it read (a lease's TTL and a failover fit in it).
constexpr auto replication_wait = std::chrono::seconds(5);

/// False (and a 503) when what a replicated member read of `key` does not
/// get below its shard's high-watermark in time; true at once otherwise.
bool replicated(node& n, const std::string& key, httplib::Response& res) {
  auto r = n.await_replicated(key, replication_wait);
  if (r)
    return true;
  res.set_header("Retry-After", "1");
  refuse(res, 503, "not answered: " + r.error().message);
  return false;
}

void get_key(const httplib::Request& req, httplib::Response& res,
             const readiness& state, const ingest_options& opts) {
  auto& access = *opts.access;
  auto caller = identify(req, res, access, state);
  if (!caller)
    return;
  auto what = request_name(req);
  if (!allowed(*caller, scope::read, access.public_read, what, res, access,
               state))
    return;
  auto stage = req.matches[1].str();
  auto key = req.matches[2].str();
  query_options q;
  if (req.has_param("refresh")) {
    auto r = req.get_param_value("refresh");
    if (r != "1" && r != "true" && r != "0" && r != "false")
      return refuse(res, 400, "refresh=" + r + ": give refresh=1 or 0");
    q.refresh = r == "1" || r == "true";
  }
  bool may_ingest = true;
  if (req.has_param("ingest")) {
    auto r = req.get_param_value("ingest");
    if (r != "1" && r != "true" && r != "0" && r != "false")
      return refuse(res, 400, "ingest=" + r + ": give ingest=0 or 1");
    may_ingest = r == "1" || r == "true";
  }
  if (q.refresh && !may_ingest)
    return refuse(res, 400, "refresh=1 ingests: it cannot go with ingest=0");
  if (req.has_param("wait")) {
    auto w = parse_wait(req.get_param_value("wait"));
    if (!w)
      return refuse(res, 400, w.error().message);
    q.wait = std::min<std::chrono::milliseconds>(*w, max_wait);
  }
  // A key the node has is a read. Anything else may ingest (an urgent
  // event): it needs `query` and passes the on-demand limits.
  bool ingests = q.refresh;
  if (!ingests) {
    q.ingest = false;
    state.with_node([&](node& n) {
      auto a = n.query(stage, key, q);
      ingests = a && a->outcome == query_outcome::not_found;
    });
    ingests = ingests && may_ingest;
    // Only an admitted request ingests: a key that went away meanwhile
    // (a hand-off) is a 404 for a read.
    q.ingest = ingests;
  }
  auto client = caller->address;
  if (ingests) {
    auto need = std::string(q.refresh ? "a refresh" : "on-demand ingestion");
    if (!allowed(*caller, scope::query, false, what + " (" + need + ")", res,
                 access, state))
      return;
    auto d = opts.limits->admit(client, caller->token_name());
    if (d.status != 0) {
      res.set_header("Retry-After", std::to_string(d.retry_after));
      return refuse_request(res, d.status, d.reason, "", d.message, *caller,
                            what, state);
    }
  }
  std::string pending_key;
  struct release {
    ondemand_limits* limits;
    const std::string& client;
    const std::string& pending;
    ~release() {
      if (limits)
        limits->finished(client, pending);
    }
  } done{ingests ? opts.limits.get() : nullptr, client, pending_key};
  bool served = state.with_node([&](node& n) {
    auto a = n.query(stage, key, q);
    if (!a) {
      refuse(res, a.error().code == errc::not_found ? 404 : 400,
             a.error().message);
      return;
    }
    auto link = "/v1/keys/" + stage + "/" + key;
    switch (a->outcome) {
    case query_outcome::not_found:
      if (!replicated(n, key, res))
        return;
      refuse(res, 404,
             "stage " + stage + " has no key '" + key + "', and "
                 + (!may_ingest ? std::string("ingest=0 asked not to ingest it")
                    : opts.catalog ? "the catalog has no record of it"
                                   : "the node has no catalog to ingest it "
                                     "from (--catalog)"));
      return;
    case query_outcome::pending:
      pending_key = stage + "/" + key;
      res.status = 202;
      res.set_header("Location", link);
      res.set_content(json{{"status", "pending"},
                           {"ingestion", a->ingestion},
                           {"link", link},
                           {"waited_ms", a->took.count() / 1000}}
                          .dump(),
                      json_type);
      return;
    case query_outcome::known:
    case query_outcome::ingested:
      opts.limits->settled(client, stage + "/" + key);
      break;
    }
    auto inspect = n.admin("inspect", {stage, key});
    if (inspect.code != admin_code::ok) {
      refuse(res, inspect.code == admin_code::failed ? 404 : 400,
             inspect.error);
      return;
    }
    auto body = json::parse(inspect.json, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      body = json::object();
    // Read first, then wait: what was read is below the watermark then.
    if (!replicated(n, key, res))
      return;
    if (a->outcome == query_outcome::ingested)
      body["on_demand"] = {
          {"ingestion", a->ingestion},
          {"took_ms", static_cast<double>(a->took.count()) / 1000.0}};
    res.status = 200;
    res.set_content(body.dump(), json_type);
  });
  if (!served) {
    res.set_header("Retry-After", "1");
    refuse(res, 503, "the node is not ready: " + state.check().reason);
  }
}

} // namespace

result<std::chrono::milliseconds> parse_wait(const std::string& text) {
  auto bad = fail(errc::invalid_argument,
                  "wait=" + text
                      + ": give seconds or milliseconds, e.g. wait=2s, "
                        "wait=500ms, wait=0 (at most 30s)");
  std::string number = text;
  double scale = 1000;
  if (text.size() > 2 && text.ends_with("ms")) {
    number = text.substr(0, text.size() - 2);
    scale = 1;
  } else if (text.size() > 1 && text.ends_with("s")) {
    number = text.substr(0, text.size() - 1);
  }
  if (number.empty()
      || number.find_first_not_of("0123456789.") != std::string::npos)
    return bad;
  double v = 0;
  try {
    v = std::stod(number) * scale;
  } catch (const std::exception&) {
    return bad;
  }
  if (!std::isfinite(v) || v < 0 || v > 30000)
    return bad;
  return std::chrono::milliseconds(static_cast<std::int64_t>(v));
}

void add_query_route(httplib::Server& svr, const readiness& state,
                     const ingest_options& opts) {
  svr.Get(R"(/v1/keys/([^/]+)/(.+))",
          [&state, opts](const httplib::Request& req, httplib::Response& res) {
            get_key(req, res, state, opts);
          });
}

} // namespace sluice::cli
