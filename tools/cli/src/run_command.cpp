// `sluice run PIPELINE.yaml --feed FILE [--data DIR]`: one embedded node
// that runs until every stage has drained, then exits 0 (with --serve: keeps
// serving until SIGINT or SIGTERM). Resumes a run that DIR already holds.
// --http HOST:PORT serves /healthz, /readyz and /metrics meanwhile.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "commands.hpp"
#include "grpc_feed.hpp"
#include "http_endpoint.hpp"
#include "http_settings.hpp"
#include "log_format.hpp"
#include "private_files.hpp"
#include "progress.hpp"
#include "run_pipeline.hpp"
#include "sluice/node.hpp"
#include "sluice/sources/pg_capture.hpp"
#include "sluice/tls.hpp"
#include "sluice/topology.hpp"
#include "tls_options.hpp"

namespace sluice::cli {

namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_signal(int) {
  interrupted = true;
}

/// `--check`: what a start would check and nothing it would do (no
/// store opened, no port bound): the behaviours, the data directory. The
/// options, files and topology were checked before.
int check_only(const run_args& a, const topology& topo,
               const node_options& opts, const registry& reg) {
  std::string stages;
  for (auto& s : topo.stages) {
    if (!reg.contains(s.behaviour)) {
      auto made = reg.create(s.behaviour);
      print_error("stage " + s.name + ": "
                  + (made ? "unknown behaviour" : made.error().message));
      return usage;
    }
    stages += (stages.empty() ? "" : ", ") + s.name;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = opts.data_dir;
  std::string data = opts.data_dir;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      print_error("--data " + opts.data_dir + " is not a directory");
      return usage;
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      print_error("--data " + opts.data_dir + " is not writable");
      return usage;
    }
    data += " (exists)";
  } else {
    auto parent = fs::absolute(dir, ec).parent_path();
    while (!parent.empty() && !fs::exists(parent, ec))
      parent = parent.parent_path();
    if (parent.empty() || !fs::is_directory(parent, ec)
        || ::access(parent.c_str(), W_OK | X_OK) != 0) {
      print_error("--data " + opts.data_dir
                  + " does not exist and cannot be created (" + parent.string()
                  + (fs::is_directory(parent, ec) ? " is not writable)"
                                                  : " is not a directory)"));
      return usage;
    }
    data += " (to be created)";
  }
  // Each source: what its server says now. A misconfiguration fails the
  // check; a server that cannot be reached is only noted (the node keeps
  // trying).
  std::vector<std::string> sources;
  for (auto& src : topo.sources) {
    auto report = pg::probe(src);
    if (!report) {
      print_error(report.error().message);
      return usage;
    }
    auto line = "source " + src.name + ": slot " + src.slot + " on ";
    if (!report->slot)
      line += "a server it cannot reach now (" + report->unreachable
              + "; the node keeps trying)";
    else
      line += report->server
              + (report->slot->exists ? ", which exists" : ", to be created");
    sources.push_back(std::move(line));
  }
  std::cout << "sluice: the check passed: " << (a.name.empty() ? "" : a.name)
            << (opts.listen.empty() && a.listen.empty()
                    ? ""
                    : " listening on " + a.listen)
            << "\n  topology " << topo.name << " (" << topo.stages.size()
            << " stages: " << stages << ") from " << a.pipeline << "\n  data "
            << data;
  if (!a.http.empty())
    std::cout << "\n  http " << a.http;
  if (!a.grpc.empty())
    std::cout << "\n  grpc " << a.grpc;
  for (auto& f : a.feeds)
    std::cout << "\n  feed " << f;
  for (auto& line : sources)
    std::cout << "\n  " << line;
  std::cout << std::endl;
  return ok;
}

} // namespace

int run_pipeline(const run_args& a, const registry& reg,
                 const member_hooks* member) {
  auto topo = load_topology(a.pipeline);
  if (!topo) {
    print_error(topo.error().describe());
    return usage;
  }
  if (!a.format.empty())
    topo->feed.format = a.format;
  for (auto& url : a.sources) {
    auto src = parse_source_url(url);
    if (!src) {
      print_error(src.error().message);
      return usage;
    }
    if (auto r = add_source(*topo, std::move(*src)); !r) {
      print_error(r.error().message);
      return usage;
    }
  }
  if (!topo->sources.empty() && !a.serve && !member) {
    print_error("sources (--source, or the topology's sources:) are read "
                "while the node runs and never end: use sluice node, or "
                "sluice run --serve");
    return usage;
  }
  if (member)
    for (auto& src : topo->sources)
      if (src.source_line > 0) {
        print_error(src.source_file + ":" + std::to_string(src.source_line)
                    + ": sources." + src.name
                    + ": on a cluster every member would read the slot: give "
                      "the source to one member with --source");
        return usage;
      }
  node_options opts;
  opts.data_dir = a.data_dir.empty() ? "var/" + topo->name : a.data_dir;
  opts.feeds = a.feeds;
  opts.sync = !a.no_sync;
  opts.refeed = a.refeed;
  opts.threads = a.threads;
  opts.max_commit_batch = a.commit_batch;
  opts.max_feed_subscribers = a.feed_subscribers;
  opts.commit_window = std::chrono::milliseconds(a.commit_window_ms);
  opts.commit_budget = std::chrono::milliseconds(a.commit_budget_ms);
  opts.max_data_size = a.max_data_size;
  opts.stop_when_full = !a.serve;
  opts.name = a.name;
  opts.listen = a.listen;
  opts.catalog = a.catalog;
  auto tls = load_tls_option(a.tls_dir);
  if (!tls) {
    print_error(tls.error().message);
    return usage;
  }
  if (*tls && a.listen.empty() && a.http.empty() && a.grpc.empty() && !member) {
    print_error(
        "--tls-dir: nothing to encrypt; give --listen, --http or --grpc");
    return usage;
  }
  if (a.http_client_certs == "required"
      && (!*tls || (a.http.empty() && a.grpc.empty()))) {
    print_error(
        "--http-client-certs required: needs --tls-dir and --http or --grpc");
    return usage;
  }
  opts.tls = *tls;
  if (member)
    if (auto r = member->extend(opts); !r) {
      print_error(r.error().message);
      return usage;
    }
  // The console token: for `sluice console` (--listen) and, when given,
  // as the HTTP API's "console" token with every scope.
  std::string console_token = opts.admin_token; // `node` sets it
  const char* env_token = std::getenv("SLUICE_TOKEN");
  if (!member
      && (!a.listen.empty() || !a.token_file.empty()
          || (env_token && *env_token))) {
    auto token = read_admin_token(a.token_file);
    if (!token) {
      print_error(token.error().message);
      return usage;
    }
    console_token = std::move(*token);
    if (!a.listen.empty())
      opts.admin_token = console_token;
  }
  std::optional<http_settings> http_opts;
  if (!a.http.empty() || !a.grpc.empty()) {
    auto s = load_http_settings(a, console_token);
    if (!s) {
      print_error(s.error().message);
      return usage;
    }
    http_opts = std::move(*s);
  }
  {
    std::vector<private_path> secrets;
    if (http_opts)
      secrets = http_opts->secret_files;
    for (auto [file, what] : {std::pair{&a.token_file, "--token-file"},
                              {&a.cluster_secret_file, "--secret-file"}})
      if (!file->empty())
        secrets.push_back({*file, what});
    if (auto r = check_private_files(
            private_path{opts.data_dir, "the data directory"}, secrets,
            a.strict_permissions);
        !r) {
      print_error(r.error().message);
      return usage;
    }
  }
  if (a.check_only)
    return check_only(a, *topo, opts, reg);
  // The endpoint answers before the node starts: /healthz at once, /readyz
  // "the store is opening" while node::start waits for LMDB.
  readiness state;
  if (member && member->ready)
    state.gate(member->ready);
  https_options https{*tls, a.http_client_certs == "required"
                                ? client_certs::required
                                : client_certs::optional};
  std::unique_ptr<http_endpoint> http;
  if (!a.http.empty()) {
    auto h = http_endpoint::start(a.http, state, http_opts->ingest, https);
    if (!h) {
      print_error("--http " + h.error().message);
      return usage;
    }
    http = std::move(*h);
  }
  std::unique_ptr<grpc_endpoint> grpc;
  if (!a.grpc.empty()) {
    auto g =
        grpc_endpoint::start(a.grpc, state, http_opts->ingest.access, https);
    if (!g) {
      print_error("--grpc " + g.error().message);
      return usage;
    }
    grpc = std::move(*g);
  }
  auto n = node::start(std::move(*topo), reg, opts);
  if (!n) {
    state.stopped(n.error().describe());
    print_error(n.error().describe());
    return usage;
  }
  state.started(**n);
  // Stops the node and its endpoint; `state.detach()` before the node (and
  // its metrics) goes away.
  auto shut_down = [&](const std::string& why) {
    state.stopped(why);
    // The HTTP threads go first: CAF 0.17's actor system does not finish
    // shutting down while a thread that used a scoped actor (a publish, a
    // key query) is still alive; measured, it hung for good.
    if (http)
      http->stop();
    if (grpc)
      grpc->stop();
    state.detach();
    (*n)->stop();
  };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // With json logs stderr is for machines: no progress line nor summary.
  bool quiet = a.quiet || current_log_format() == log_format::json;
  progress bar{std::cerr, ::isatty(STDERR_FILENO) != 0};
  node_stats last;
  bool drained = false;
  while (true) {
    // Once drained (--serve), only failures and signals are left to see.
    std::this_thread::sleep_for(std::chrono::milliseconds(drained ? 100 : 20));
    auto s = (*n)->stats();
    if (!s) {
      shut_down(s.error().describe());
      print_error(s.error().describe());
      return failed;
    }
    last = std::move(*s);
    if (last.failed) {
      shut_down(last.failure);
      print_error("the node stopped: " + last.failure);
      return failed;
    }
    if (member)
      if (auto up = member->running(); !up) {
        shut_down(up.error().message);
        print_error(up.error().message);
        return failed;
      }
    if (interrupted || (member && member->finished()))
      break;
    if (last.drained && !drained) {
      drained = true;
      if (!a.serve)
        break;
      // --serve: the summary now, then keep the node up until a signal.
      if (!quiet)
        bar.finish(last, opts.data_dir);
      spdlog::info("drained; serving until SIGINT or SIGTERM");
    }
    if (!quiet && !drained)
      bar.update(last);
  }
  bool left = member && member->finished();
  shut_down(interrupted ? "interrupted by a signal"
                        : (left ? "left the cluster" : "drained"));
  if (!quiet && !(a.serve && drained))
    bar.finish(last, opts.data_dir);
  if (a.serve) {
    // A signal is how a serving node is meant to stop.
    if (!drained && !left)
      print_error("stopped before draining; run the same command again to "
                  "resume");
    return ok;
  }
  if (interrupted) {
    print_error("interrupted; run the same command again to resume");
    return failed;
  }
  return ok;
}

action add_run_command(CLI::App& app, const registry& reg) {
  auto a = std::make_shared<run_args>();
  auto* cmd = app.add_subcommand(
      "run",
      "Run a pipeline on one embedded node until every stage has drained");
  cmd->add_option("pipeline", a->pipeline, "Pipeline topology (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--feed", a->feeds,
                  "Feed file (TSV with header, a Debian package index, or "
                  "JSON lines: .jsonl, one event object per line), or - "
                  "for standard input; repeatable")
      ->check(feed_path);
  add_format_option(*cmd, a->format);
  add_source_option(*cmd, a->sources);
  cmd->add_option(
      "--data", a->data_dir,
      "Data directory; resumed if it holds a run (default var/PIPELINE)");
  cmd->add_flag(
      "--no-sync", a->no_sync,
      "Do not fsync each commit: survives a process crash, not a power loss");
  cmd->add_flag("--quiet,-q", a->quiet, "No progress bar or summary");
  cmd->add_option("--http", a->http,
                  "Serve GET /healthz, /readyz and /metrics (Prometheus) on "
                  "this address, e.g. 127.0.0.1:9464")
      ->type_name("HOST:PORT");
  cmd->add_option("--hmac-key-file", a->hmac_key_file,
                  "Key that signs webhook bodies (X-Sluice-Signature: "
                  "sha256=HMAC); POST /v1/events is refused without it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--catalog", a->catalog,
                  "On-demand source: a registry list (TSV) or Debian index, "
                  "indexed into LMDB once; GET /v1/keys ingests unknown keys "
                  "from it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--listen", a->listen,
                  "Let `sluice console` in on this address (CAF networking), "
                  "e.g. 127.0.0.1:7400; needs a token")
      ->type_name("HOST:PORT");
  cmd->add_option("--token-file", a->token_file,
                  "File holding the console token (default: $SLUICE_TOKEN); "
                  "also the HTTP API's token `console`, with every scope")
      ->check(CLI::ExistingFile);
  cmd->add_option("--name", a->name, "The node's name (default: local)");
  cmd->add_flag("--serve", a->serve,
                "Keep the node up once drained, until SIGINT or SIGTERM "
                "(then stop cleanly and exit 0)");
  cmd->add_flag("--refeed", a->refeed,
                "Feed files that DIR has fed completely once more (stages "
                "with skip_unchanged skip what did not change)");
  add_http_access_options(*cmd, *a);
  cmd->add_flag("--strict-permissions", a->strict_permissions,
                "Refuse to start when the data directory is open to other "
                "users (default: a warning)");
  add_store_options(*cmd, *a);
  return [a, &reg] { return run_pipeline(*a, reg); };
}

void add_store_options(CLI::App& cmd, run_args& a) {
  cmd.add_option("--threads", a.threads, "Scheduler threads (default: cores)");
  cmd.add_option("--commit-batch", a.commit_batch,
                 "Maximum records per LMDB transaction")
      ->check(CLI::Range(1, 1000000));
  cmd.add_option("--commit-window", a.commit_window_ms,
                 "Milliseconds normal work may wait to share a commit "
                 "(urgent work commits at once)")
      ->check(CLI::Range(0, 10000));
  cmd.add_option("--commit-budget", a.commit_budget_ms,
                 "Milliseconds one normal commit should take: batches are "
                 "capped at the records that fit (at least 256), so urgent "
                 "work never waits long behind one; 0: --commit-batch only "
                 "(default 10)")
      ->check(CLI::Range(0, 10000));
  cmd.add_option("--max-data-size", a.max_data_size,
                 "The largest the data directory's file may grow, e.g. 512MiB "
                 "or 64GiB (default 64GiB); reached, input pauses "
                 "(--serve, node) or the run stops")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(std::uint64_t{16} << 20, std::uint64_t{1} << 50))
      ->type_name("SIZE");
}

} // namespace sluice::cli
