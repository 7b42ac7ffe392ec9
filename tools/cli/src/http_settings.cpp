// The HTTP settings of `run` and `node`: files read and checked, flags
// turned into the endpoint's access policy and on-demand limits.
#include "http_settings.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>

#include "http_access.hpp"
#include "ondemand_limits.hpp"

namespace sluice::cli {

result<http_settings> load_http_settings(const run_args& a,
                                         const std::string& console_token) {
  http_settings out;
  auto& ingest = out.ingest;
  ingest.catalog = !a.catalog.empty();
  if (!a.hmac_key_file.empty()) {
    std::ifstream in(a.hmac_key_file, std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(in)), {});
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
      key.pop_back();
    if (!in.good() && !in.eof())
      return fail(errc::io, "cannot read --hmac-key-file " + a.hmac_key_file);
    if (key.empty())
      return fail(errc::invalid_argument,
                  "--hmac-key-file " + a.hmac_key_file + " holds no key");
    ingest.hmac_key = std::move(key);
    out.secret_files.push_back({a.hmac_key_file, "--hmac-key-file"});
  }
  auto policy = std::make_shared<access_policy>();
  if (!a.tokens_file.empty()) {
    auto set = token_set::load(a.tokens_file);
    if (!set)
      return set.error().within("--tokens-file");
    policy->tokens = std::move(*set);
    out.secret_files.push_back({a.tokens_file, "--tokens-file"});
    for (auto& f : policy->tokens.secret_files())
      out.secret_files.push_back({f, "the token file"});
  }
  if (!console_token.empty())
    policy->tokens.add_console_token(console_token);
  policy->public_read = a.public_read;
  policy->private_metrics = a.private_metrics;
  std::string names;
  for (auto& t : policy->tokens.tokens())
    names += (names.empty() ? "" : ", ") + t.name + " (" + t.scope_list() + ")";
  spdlog::info("http: GET /v1/keys {}; on-demand ingestion needs scope "
               "query; tokens: {}",
               a.public_read ? "is open to anyone (--public-read)"
                             : "needs a token with scope read",
               names.empty() ? "none" : names);
  if (policy->tokens.empty() && !a.http.empty())
    spdlog::warn("http: the dashboard at / is read-only and open to anyone "
                 "who reaches the address: this node knows no token (give "
                 "a console token or --tokens-file to require a login)");
  ingest.access = std::move(policy);
  ondemand_limit_options lim;
  lim.rate = a.query_rate;
  lim.burst = 2 * a.query_rate;
  lim.max_in_flight = a.query_in_flight;
  lim.max_pending_per_client = a.query_per_client;
  ingest.limits = std::make_shared<ondemand_limits>(lim);
  ingest.feed_subscribers = a.feed_subscribers;
  return out;
}

void add_http_access_options(CLI::App& cmd, run_args& a) {
  cmd.add_option("--tls-dir", a.tls_dir,
                 "TLS directory (ca.pem, node.pem, node.key; sluice certs "
                 "issue makes one): mutual TLS for --listen and cluster "
                 "links, HTTPS for --http; plain connections are refused")
      ->type_name("DIR");
  cmd.add_option("--http-client-certs", a.http_client_certs,
                 "With --tls-dir: HTTPS clients may (optional) or must "
                 "(required) present a certificate from the CA")
      ->check(CLI::IsMember({"optional", "required"}));
  cmd.add_option("--grpc", a.grpc,
                 "Serve change feeds over gRPC (Feeds.Subscribe of "
                 "sluice/v1/feed.proto) on this address, e.g. "
                 "127.0.0.1:9465; the HTTP API's tokens and --tls-dir apply")
      ->type_name("HOST:PORT");
  cmd.add_option("--tokens-file", a.tokens_file,
                 "Bearer tokens of the HTTP API: lines of NAME SCOPES SECRET "
                 "(docs/OPERATIONS.md, Access control)")
      ->check(CLI::ExistingFile);
  cmd.add_flag("--public-read", a.public_read,
               "GET /v1/keys for keys the node has needs no token (on-demand "
               "ingestion still needs scope query)");
  cmd.add_flag("--private-metrics", a.private_metrics,
               "GET /metrics needs a token with scope read");
  cmd.add_option("--query-rate", a.query_rate,
                 "On-demand requests per second per client and per token "
                 "(bursts of twice as many); beyond it 429")
      ->check(CLI::Range(0.1, 100000.0));
  cmd.add_option("--query-in-flight", a.query_in_flight,
                 "On-demand requests served at once; beyond it 503")
      ->check(CLI::Range(1, 12));
  cmd.add_option("--query-per-client", a.query_per_client,
                 "On-demand ingestions one client may have under way; "
                 "beyond it 429")
      ->check(CLI::Range(1, 100000));
  cmd.add_option("--feed-subscribers", a.feed_subscribers,
                 "Change-feed streams (GET /v1/feed, gRPC) served at once, "
                 "each on a thread of its own; beyond it 503 (UNAVAILABLE)")
      ->check(CLI::Range(1, 1024));
}

} // namespace sluice::cli
