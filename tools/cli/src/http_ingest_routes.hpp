// Private to the HTTP endpoint: adds the event API's routes to its server.
#pragma once

#include <httplib.h>

#include <chrono>
#include <string>

#include "http_endpoint.hpp"

namespace sluice::cli {

/// POST /v1/events[?wait=5s] and GET /v1/keys/STAGE/KEY on `svr`, answering
/// through `state`'s node.
void add_event_routes(httplib::Server& svr, const readiness& state,
                      const ingest_options& opts);

/// "2s", "250ms", "1.5" (seconds) or "0": a request's ?wait=, at most 30 s
/// (http_query.cpp); invalid_argument naming the parameter otherwise.
result<std::chrono::milliseconds> parse_wait(const std::string& text);

/// GET /v1/keys/STAGE/KEY[?refresh=1][&wait=2s] on `svr` (http_query.cpp):
/// a key's state and status, ingested on demand when unknown.
void add_query_route(httplib::Server& svr, const readiness& state,
                     const ingest_options& opts);

/// GET /v1/feed/STAGE[?format=ndjson][&cursor=C][&prefix=P][&key=K...]
/// [&filter=JSON][&max_rate=N] on `svr` (http_feed.cpp): the stage's
/// change feed, streamed.
void add_feed_route(httplib::Server& svr, const readiness& state,
                    const ingest_options& opts);

} // namespace sluice::cli
