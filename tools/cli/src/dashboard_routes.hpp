// Private to the HTTP endpoint: the web dashboard. GET / serves the page
// (its files compiled in, tools/cli/dashboard/), /v1/dashboard/... its JSON:
// login and logout (a session cookie), the topology as a graph, the
// console's read commands (GET) and actions (POST, scope admin, checked
// against forgery by http_access), and one Server-Sent Events stream of
// samples once a second while a page is open.
#pragma once

#include <httplib.h>

#include "http_endpoint.hpp"

namespace sluice::cli {

/// Live streams (open pages) served at once; each holds a thread of the
/// endpoint's pool, which has this many more for them. More are refused
/// 503.
inline constexpr int dashboard_streams = 8;

/// The dashboard's routes on `svr`, answering through `state`'s node;
/// `https`: the cookie is marked Secure.
void add_dashboard_routes(httplib::Server& svr, const readiness& state,
                          const ingest_options& opts, bool https);

} // namespace sluice::cli
