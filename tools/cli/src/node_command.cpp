// `sluice node --config PIPELINE.yaml --name N --listen HOST:PORT
// [--join HOST:PORT ...] --data DIR`: a cluster member. It runs until
// SIGINT or SIGTERM (a clean stop: it keeps its shards and resumes them
// when started again), or until it has left the cluster (`leave` from the
// console). The cluster secret comes from --secret-file or
// $SLUICE_CLUSTER_SECRET, never from the command line.
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "commands.hpp"
#include "http_settings.hpp"
#include "run_pipeline.hpp"
#include "sluice/cluster.hpp"

namespace sluice::cli {

namespace {

struct node_args {
  run_args run;
  std::vector<std::string> join;
  std::string secret_file;
  unsigned heartbeat_ms = 200;
  unsigned suspect_after_ms = 800;
  unsigned down_after_ms = 1500;
  std::size_t forward_batch = 2048;
  bool no_shards = false;
  std::vector<std::string> controller;
  std::string cluster_name = "sluice";
  std::size_t replicas = 3;
  std::size_t min_insync = 2;
  unsigned lease_ttl_ms = 2000;
  unsigned replica_lag_ms = 5000;
  std::size_t rebalance_moves = 32;
  unsigned rebalance_settle_ms = 10000;
  std::string replace_after = "5m";
  std::string secret_on_command_line; ///< refused, without echoing it
  std::string settings; ///< read before parsing (settings_file.hpp)
};

result<std::string> read_secret(const std::string& file) {
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
      return fail(errc::not_found, "cannot read --secret-file " + file);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
      s.pop_back();
    if (s.empty())
      return fail(errc::invalid_argument,
                  "--secret-file " + file + " holds no secret");
    return s;
  }
  if (const char* env = std::getenv("SLUICE_CLUSTER_SECRET"); env && *env)
    return std::string(env);
  return fail(errc::invalid_argument,
              "no cluster secret: give --secret-file FILE or set "
              "SLUICE_CLUSTER_SECRET (never on the command line)");
}

/// --replace-after: "0" or "off", or a count with ms, s, m or h.
result<std::chrono::milliseconds> parse_replace_after(const std::string& t) {
  if (t == "0" || t == "off")
    return std::chrono::milliseconds(0);
  auto bad = fail(
      errc::invalid_argument,
      "--replace-after: '" + t
          + "' is not a duration; give e.g. 5m, 300s, 1h (at most 168h), or 0 "
            "(never: only the console's forget)");
  auto digits = t.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string::npos || digits > 9)
    return bad;
  auto unit = t.substr(digits);
  std::int64_t scale = unit == "ms"  ? 1
                       : unit == "s" ? 1000
                       : unit == "m" ? 60'000
                       : unit == "h" ? 3'600'000
                                     : 0;
  auto n = std::stoll(t.substr(0, digits));
  if (scale == 0 || n * scale > std::int64_t{7} * 24 * 3'600'000)
    return bad;
  return std::chrono::milliseconds(n * scale);
}

int run_member(node_args& a, const registry& reg) {
  if (!a.secret_on_command_line.empty()) {
    print_error("--secret: the cluster secret is never given on the command "
                "line (it would show in ps and shell history); use "
                "--secret-file FILE or SLUICE_CLUSTER_SECRET");
    return usage;
  }
  auto secret = read_secret(a.secret_file);
  if (!secret) {
    print_error(secret.error().message);
    return usage;
  }
  cluster_options co;
  co.name = a.run.name;
  co.listen = a.run.listen;
  co.seeds = a.join;
  co.secret = std::move(*secret);
  co.heartbeat = std::chrono::milliseconds(a.heartbeat_ms);
  co.suspect_after = std::chrono::milliseconds(a.suspect_after_ms);
  co.down_after = std::chrono::milliseconds(a.down_after_ms);
  co.forward_batch = a.forward_batch;
  co.hosts_shards = !a.no_shards;
  // Replicated shards: each --controller may also list several, comma-
  // separated, as etcdctl's --endpoints does.
  for (auto& c : a.controller) {
    std::size_t from = 0;
    while (from <= c.size()) {
      auto to = c.find(',', from);
      auto part = c.substr(from, to == std::string::npos ? to : to - from);
      if (!part.empty())
        co.controller.push_back(part);
      if (to == std::string::npos)
        break;
      from = to + 1;
    }
  }
  co.cluster_name = a.cluster_name;
  co.replication_factor = a.replicas;
  co.min_insync = a.min_insync;
  co.lease_ttl = std::chrono::milliseconds(a.lease_ttl_ms);
  co.replica_lag_time = std::chrono::milliseconds(a.replica_lag_ms);
  co.rebalance_moves = a.rebalance_moves;
  co.rebalance_settle = std::chrono::milliseconds(a.rebalance_settle_ms);
  auto replace_after = parse_replace_after(a.replace_after);
  if (!replace_after) {
    print_error(replace_after.error().message);
    return usage;
  }
  co.replace_after = *replace_after;
  auto member = make_cluster_member(std::move(co));
  if (!member) {
    print_error(member.error().message);
    return usage;
  }
  // The console reaches a member on its cluster address; it needs a token.
  std::string token;
  if (!a.run.token_file.empty() || std::getenv("SLUICE_TOKEN")) {
    auto t = read_admin_token(a.run.token_file);
    if (!t) {
      print_error(t.error().message);
      return usage;
    }
    token = std::move(*t);
  }
  member_hooks hooks;
  hooks.extend = [&](node_options& opts) -> result<void> {
    opts.listen.clear(); // the cluster publishes on it
    opts.admin_token = token;
    opts.place = member->place;
    opts.extension = member->extension;
    return {};
  };
  auto ext = member->extension;
  hooks.running = [ext] { return cluster_running(*ext); };
  hooks.finished = [ext] { return cluster_left(*ext); };
  hooks.ready = [ext] { return cluster_ready(*ext); };
  auto run = a.run;
  run.cluster_secret_file = a.secret_file;
  run.serve = true;
  run.quiet = true;
  return run_pipeline(run, reg, &hooks);
}

} // namespace

action add_node_command(CLI::App& app, const registry& reg) {
  auto a = std::make_shared<node_args>();
  auto* cmd = app.add_subcommand(
      "node", "Run a cluster member (until SIGINT or SIGTERM)");
  cmd->add_option("--settings", a->settings,
                  "A YAML file of these options without the dashes (name: "
                  "a, listen: 127.0.0.1:7401, join: [...], no-sync: true); "
                  "the command line wins")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  cmd->add_flag("--check", a->run.check_only,
                "Check the settings, files and topology, print what the "
                "member would run with, and exit: 0 if it could start");
  cmd->add_option("--config", a->run.pipeline, "Pipeline topology (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--name", a->run.name,
                  "The member's name: unique, and kept with its data "
                  "directory")
      ->required();
  cmd->add_option("--listen", a->run.listen,
                  "Address for the other members and consoles, e.g. "
                  "127.0.0.1:7401 (a fixed port)")
      ->required()
      ->type_name("HOST:PORT");
  cmd->add_option("--join", a->join,
                  "A seed: a member to join through; repeatable. Every "
                  "member may get the same list, its own address included "
                  "(skipped); only the first seed starts a new cluster. "
                  "None: start a new cluster")
      ->type_name("HOST:PORT");
  cmd->add_option("--data", a->run.data_dir, "Data directory")->required();
  cmd->add_option("--secret-file", a->secret_file,
                  "File holding the cluster secret (default: "
                  "$SLUICE_CLUSTER_SECRET)")
      ->check(CLI::ExistingFile);
  // Accepted only to refuse it with a clear message that does not echo it.
  cmd->add_option("--secret", a->secret_on_command_line)->group("");
  cmd->add_flag("--no-shards", a->no_shards,
                "A proxy member: takes input (feeds, HTTP) and forwards it, "
                "owns no shard");
  cmd->add_option("--feed", a->run.feeds,
                  "Feed a file (or - for standard input) into the cluster "
                  "through this member; repeatable")
      ->check(feed_path);
  add_format_option(*cmd, a->run.format);
  add_source_option(*cmd, a->run.sources);
  cmd->add_option("--http", a->run.http,
                  "Serve /healthz, /readyz, /metrics (and the event API with "
                  "--hmac-key-file) on this address")
      ->type_name("HOST:PORT");
  cmd->add_option("--hmac-key-file", a->run.hmac_key_file,
                  "Key that signs webhook bodies")
      ->check(CLI::ExistingFile);
  cmd->add_option("--catalog", a->run.catalog,
                  "On-demand source for GET /v1/keys: a registry list or "
                  "Debian index, indexed into LMDB once")
      ->check(CLI::ExistingFile);
  cmd->add_option("--token-file", a->run.token_file,
                  "File holding the console token (default: $SLUICE_TOKEN); "
                  "also the HTTP API's token `console`, with every scope")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--no-sync", a->run.no_sync, "Do not fsync each commit");
  add_http_access_options(*cmd, a->run);
  cmd->add_flag("--strict-permissions", a->run.strict_permissions,
                "Refuse to start when the data directory is open to other "
                "users (default: a warning)");
  cmd->add_option("--heartbeat", a->heartbeat_ms,
                  "Milliseconds between heartbeats (gossip)")
      ->check(CLI::Range(10, 60000));
  cmd->add_option("--suspect-after", a->suspect_after_ms,
                  "Milliseconds of silence before a member is suspected")
      ->check(CLI::Range(20, 600000));
  cmd->add_option("--down-after", a->down_after_ms,
                  "Milliseconds of silence before a member is down")
      ->check(CLI::Range(30, 600000));
  cmd->add_option("--forward-batch", a->forward_batch,
                  "Events per forwarded batch")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--controller", a->controller,
                  "etcd endpoint(s) that assign shards with replicas "
                  "(http://HOST:PORT, repeatable or comma-separated); "
                  "without: one copy per shard")
      ->type_name("URL");
  cmd->add_option("--cluster-name", a->cluster_name,
                  "The cluster's name in etcd (keys under /sluice/NAME/)");
  cmd->add_option("--replicas", a->replicas,
                  "With --controller: copies of each shard (R), the owner's "
                  "included")
      ->check(CLI::Range(1, 7));
  cmd->add_option("--min-insync", a->min_insync,
                  "With --controller: copies that hold a record before it "
                  "is acknowledged")
      ->check(CLI::Range(1, 7));
  cmd->add_option("--lease-ttl", a->lease_ttl_ms,
                  "With --controller: milliseconds of silence in etcd before "
                  "this member's shards fail over")
      ->check(CLI::Range(1000, 600000));
  cmd->add_option("--replica-lag", a->replica_lag_ms,
                  "With --controller: milliseconds a follower may stay "
                  "behind before it leaves the in-sync set (one that "
                  "disconnects leaves at once)")
      ->check(CLI::Range(50, 600000));
  cmd->add_option("--rebalance-moves", a->rebalance_moves,
                  "With --controller: shards the controller moves towards "
                  "their preferred members at once (0: no rebalance)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--rebalance-settle", a->rebalance_settle_ms,
                  "With --controller: milliseconds membership must hold "
                  "still before the controller rebalances")
      ->check(CLI::Range(0, 3600000));
  cmd->add_option("--replace-after", a->replace_after,
                  "With --controller: how long a member's lease may be gone "
                  "before the controller forgets it as `forget` does, "
                  "re-replicating its shards (e.g. 5m, 300s; 0: never)")
      ->type_name("DURATION")
      ->capture_default_str();
  add_store_options(*cmd, a->run);
  return [a, &reg] { return run_member(*a, reg); };
}

} // namespace sluice::cli
