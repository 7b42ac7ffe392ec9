// `sluice subscribe HOST:PORT STAGE`: follows a stage's change feed
// (GET /v1/feed/STAGE?format=ndjson, or the Feeds gRPC service with
// --grpc) and prints one JSON object per line, the same for both.
// With --cursor-file, the cursor of the last line printed is kept there
// (written after the line is flushed, replaced atomically), so a restart
// resumes after it; a lost connection resumes the same way, with backoff.
// At least once: a process killed between printing and saving may print
// the last lines again. SIGINT and SIGTERM stop it cleanly.
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <pthread.h>
#include <signal.h>
#include <thread>

#include "commands.hpp"
#include "feed_streaming.hpp"
#include "grpc_feed.hpp"
#include "tls_options.hpp"

namespace sluice::cli {

namespace {

struct subscribe_args {
  std::string address;
  std::string stage;
  std::string cursor_file;
  std::string prefix;
  std::vector<std::string> keys;
  std::string filter;
  std::string attributes;
  double max_rate = 0;
  std::string token_file;
  std::string tls_dir;
  bool once = false;
  bool grpc = false; ///< the address is the node's --grpc
};

/// What one connection ended with.
struct subscribe_outcome {
  bool stop = false;     ///< do not reconnect
  int exit = ok;         ///< the exit code when stopping
  int retry_after_s = 0; ///< the server asked to wait this long
};

result<std::string> read_cursor_file(const std::string& file) {
  if (file.empty() || !std::filesystem::exists(file))
    return std::string{};
  std::ifstream in(file);
  std::string c;
  std::getline(in, c);
  if (in.bad())
    return fail(errc::io, "cannot read --cursor-file " + file);
  return c;
}

result<void> save_cursor_file(const std::string& file, const std::string& c) {
  auto tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << c << '\n';
    out.flush();
    if (!out)
      return fail(errc::io, "cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec)
    return fail(errc::io,
                "cannot replace --cursor-file " + file + ": " + ec.message());
  return {};
}

std::string feed_query(const subscribe_args& a, const std::string& cursor) {
  httplib::Params p{{"format", "ndjson"}};
  if (!cursor.empty())
    p.emplace("cursor", cursor);
  if (!a.prefix.empty())
    p.emplace("prefix", a.prefix);
  for (auto& k : a.keys)
    p.emplace("key", k);
  if (!a.filter.empty())
    p.emplace("filter", a.filter);
  if (!a.attributes.empty())
    p.emplace("attributes", a.attributes);
  if (a.max_rate > 0)
    p.emplace("max_rate", std::to_string(a.max_rate));
  return httplib::detail::params_to_query_str(p);
}

/// Prints events as lines and keeps the cursor of the last one printed
/// (in the cursor file too), whichever transport brought them.
class feed_printer {
public:
  feed_printer(const subscribe_args& a, std::string& cursor)
      : a_(a), cursor_(cursor), saved_(cursor) {}

  /// Takes the line of an event with `cursor` (empty: none), or of a reset.
  void take(std::string_view line, const std::string* cursor, bool reset) {
    if (reset)
      cursor_.clear(); // a snapshot follows; resume would start over
    if (cursor)
      cursor_ = *cursor;
    std::cout << line << '\n';
  }

  /// Flushes what was taken and saves the cursor; false when either fails
  /// (stop: the output or the cursor file is gone).
  bool flush() {
    std::cout.flush();
    if (!std::cout)
      return false;
    if (!a_.cursor_file.empty() && cursor_ != saved_) {
      if (auto r = save_cursor_file(a_.cursor_file, cursor_); !r) {
        print_error(r.error().message);
        return false;
      }
      saved_ = cursor_;
    }
    return true;
  }

private:
  const subscribe_args& a_;
  std::string& cursor_;
  std::string saved_;
};

/// Follows the feed over one connection; `cursor` moves along.
subscribe_outcome follow_feed(httplib::Client& http, const subscribe_args& a,
                              const std::string& token, std::string& cursor) {
  httplib::Headers headers;
  if (!token.empty())
    headers.emplace("Authorization", "Bearer " + token);
  std::string pending, body;
  int status = 0;
  bool write_failed = false;
  feed_printer printer{a, cursor};
  auto on_chunk = [&](const char* data, std::size_t n) {
    if (status != 200) {
      body.append(data, n);
      return body.size() < 65536;
    }
    pending.append(data, n);
    std::size_t start = 0;
    for (auto nl = pending.find('\n'); nl != std::string::npos;
         nl = pending.find('\n', start)) {
      std::string_view line(pending.data() + start, nl - start);
      start = nl + 1;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        continue;
      auto type = j.value("type", "");
      if (type == "heartbeat")
        continue;
      std::optional<std::string> c;
      if (j.contains("cursor") && j["cursor"].is_string())
        c = j["cursor"].get<std::string>();
      printer.take(line, c ? &*c : nullptr, type == "reset");
    }
    pending.erase(0, start);
    if (!printer.flush()) {
      write_failed = true;
      return false;
    }
    return true;
  };
  auto path = "/v1/feed/" + a.stage + "?" + feed_query(a, cursor);
  auto res = http.Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      on_chunk);
  if (write_failed)
    return {true, failed, 0};
  if (!res) {
    if (status == 200) // the stream ended: reconnect
      return {};
    std::cerr << "sluice: " << a.address << ": "
              << httplib::to_string(res.error()) << "\n";
    return {false, failed, 0}; // reconnects; with --once, exit 1
  }
  if (res->status == 200)
    return {};
  auto why = body;
  if (auto j = nlohmann::json::parse(body, nullptr, false);
      j.is_object() && j.contains("error") && j["error"].is_string())
    why = j["error"].get<std::string>();
  print_error("GET " + path + " answered " + std::to_string(res->status) + ": "
              + why);
  if (res->status == 503 || res->status == 429) {
    int after = 1;
    if (res->has_header("Retry-After"))
      after = std::atoi(res->get_header_value("Retry-After").c_str());
    return {false, ok, std::max(after, 1)};
  }
  return {true, res->status >= 500 ? failed : usage, 0};
}

/// Follows the feed over one gRPC call; `cursor` moves along.
subscribe_outcome follow_feed_grpc(grpc_feed_client& client,
                                   const subscribe_args& a,
                                   const std::string& token,
                                   std::string& cursor) {
  grpc_feed_request req;
  req.stage = a.stage;
  req.options.cursor = cursor;
  req.options.prefix = a.prefix;
  req.options.keys = a.keys;
  req.options.filter = a.filter;
  req.options.attributes = a.attributes;
  req.max_rate = a.max_rate;
  req.token = token;
  feed_printer printer{a, cursor};
  bool write_failed = false;
  auto end = client.follow(req, [&](const feed_event& e, bool last) {
    printer.take(feed_event_json(e), e.cursor.empty() ? nullptr : &e.cursor,
                 e.kind == feed_event_kind::reset);
    if (last) // once per write of the server, as over HTTP
      write_failed = !printer.flush();
    return !write_failed;
  });
  if (write_failed)
    return {true, failed, 0};
  if (end.ok)
    return {};
  print_error("gRPC Subscribe " + a.stage + " at " + a.address + ": "
              + end.message);
  if (end.retry)
    return {false, failed, 0}; // reconnects with backoff; --once: exit 1
  return {true, usage, 0};
}

int run_subscribe(const subscribe_args& a) {
  auto colon = a.address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    print_error("'" + a.address + "': expected HOST:PORT, e.g. 127.0.0.1:9464");
    return usage;
  }
  auto host = a.address.substr(0, colon);
  int port = std::atoi(a.address.c_str() + colon + 1);
  if (port < 1 || port > 65535) {
    print_error("'" + a.address + "': the port is not in 1..65535");
    return usage;
  }
  std::string token;
  if (!a.token_file.empty() || std::getenv("SLUICE_TOKEN")) {
    auto t = read_admin_token(a.token_file);
    if (!t) {
      print_error(t.error().message);
      return usage;
    }
    token = *t;
  }
  auto cursor = read_cursor_file(a.cursor_file);
  if (!cursor) {
    print_error(cursor.error().message);
    return usage;
  }
  auto tls = load_tls_option(client_tls_dir(a.tls_dir));
  if (!tls) {
    print_error(tls.error().message);
    return usage;
  }
  // SIGINT and SIGTERM stop the client from a thread of their own (a
  // signal handler may not close sockets). Blocked before any client is
  // made: gRPC's channel starts threads, which inherit the mask (one of
  // them taking SIGTERM would end the process mid-batch, its lines printed
  // and its cursor not saved).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::unique_ptr<grpc_feed_client> grpc;
  std::unique_ptr<httplib::Client> client;
  if (a.grpc)
    grpc = std::make_unique<grpc_feed_client>(a.address, *tls);
  else
    client = *tls ? make_https_client(**tls, host, port)
                  : std::make_unique<httplib::Client>(host, port);
  if (client) {
    client->set_connection_timeout(5);
    client->set_read_timeout(30); // heartbeats come every 5 s
  }
  std::atomic<bool> stopping{false}, finished{false};
  std::thread watcher([&] {
    const timespec tick{0, 100'000'000};
    while (!finished) {
      if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) {
        stopping = true;
        if (client)
          client->stop();
        if (grpc)
          grpc->cancel();
        return;
      }
    }
  });
  int code = ok;
  auto backoff = std::chrono::milliseconds(500);
  while (!stopping) {
    auto started = std::chrono::steady_clock::now();
    auto o = grpc ? follow_feed_grpc(*grpc, a, token, *cursor)
                  : follow_feed(*client, a, token, *cursor);
    if (o.stop || stopping || a.once) {
      code = stopping ? ok : o.exit;
      break;
    }
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10))
      backoff = std::chrono::milliseconds(500); // it had been working
    auto wait = o.retry_after_s > 0
                    ? std::chrono::milliseconds(1000 * o.retry_after_s)
                    : backoff;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(8000));
    for (auto waited = std::chrono::milliseconds(0); waited < wait && !stopping;
         waited += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  finished = true;
  watcher.join();
  return code;
}

} // namespace

action add_subscribe_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<subscribe_args>();
  auto* cmd = app.add_subcommand(
      "subscribe",
      "Follow a stage's change feed (GET /v1/feed/STAGE) and print one JSON "
      "object per line: a snapshot, snapshot_end, then every change");
  cmd->add_option("address", a->address,
                  "The node's --http HOST:PORT (its --grpc with --grpc)")
      ->required();
  cmd->add_option("stage", a->stage, "The stage (it needs `changelog:`)")
      ->required();
  cmd->add_option("--cursor-file", a->cursor_file,
                  "Keep the cursor here: a restart resumes after the last "
                  "line printed");
  cmd->add_option("--prefix", a->prefix, "Only keys starting with this");
  cmd->add_option("--key", a->keys, "Only this key (repeat for more)");
  cmd->add_option("--filter", a->filter,
                  "Only states whose fields match, as JSON: "
                  "'{\"verdict\": [\"caution\"]}'");
  cmd->add_option("--attributes", a->attributes,
                  "Only changes made by events whose attributes match, as "
                  "JSON: '{\"ecosystem\": [\"npm\"]}'");
  cmd->add_option("--max-rate", a->max_rate,
                  "At most this many events a second")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--token-file", a->token_file,
                  "A token with scope read (else $SLUICE_TOKEN, else none)");
  cmd->add_option("--tls-dir", a->tls_dir,
                  "TLS directory (ca.pem, node.pem, node.key): HTTPS, the "
                  "node's certificate checked against ca.pem, this one "
                  "presented (default: $SLUICE_TLS_DIR)")
      ->type_name("DIR");
  cmd->add_flag("--grpc", a->grpc,
                "ADDRESS is the node's --grpc: follow over gRPC (the same "
                "events, cursors and options)");
  cmd->add_flag("--once", a->once,
                "Exit when the stream ends instead of reconnecting");
  return [a] { return run_subscribe(*a); };
}

} // namespace sluice::cli
