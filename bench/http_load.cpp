// A load driver for the HTTP API of `sluice run --http --serve`, used by
// bench/ondemand_latency.sh. Two modes:
//
//   query   GET /v1/keys/STAGE/KEY for every key of a file (one a line,
//           e.g. "pypi/requests"), one request at a time per client, with
//           C clients sharing the list. Records each request's latency from
//           the call to the complete response, checks 200 and that the
//           answer's state names the key's name (the part after the first
//           '/'), and reads the server's own "on_demand.took_ms".
//   ingest  POST /v1/events: C connections, each sending signed JSON arrays
//           of B generated events (unique keys, npm records from --records
//           renamed "NAME~hT.I", or synthetic ones) for D seconds or until
//           N events in all. Honours Retry-After on 429 and 503.
//
// Clients set TCP_NODELAY (as curl does) and keep their connection alive,
// or, with --new-connection, open one per request (the latency then
// includes the connect, as curl's time_total does). The difference matters
// with a server that writes a response in two parts without TCP_NODELAY:
// on a reused connection the second part waits for the client's delayed
// ACK (40 ms on Linux); a fresh connection acknowledges at once.
//
// Prints a human table and one `result` line of key=value pairs for the
// script. Latencies in ms; quantiles are nearest-rank over all requests.
//
// usage:
//   bench_http_load query  --url http://127.0.0.1:PORT --keys FILE
//       [--stage score] [--clients 1] [--wait 2s] [--new-connection]
//       [--label TEXT] [--tls-dir DIR (with an https:// URL)]
//   bench_http_load ingest --url http://127.0.0.1:PORT --hmac-key-file FILE
//       [--records npm.tsv] [--batch 100] [--connections 4]
//       [--seconds 20 | --events N] [--new-connection] [--tag TEXT]
//       [--label TEXT]
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "bench_http_load: %s\n", why.c_str());
  std::exit(2);
}

struct options {
  std::string mode;
  std::string host = "127.0.0.1";
  int port = 0;
  // query
  std::string keys_file;
  std::string stage = "score";
  std::string wait;
  // ingest
  std::string hmac_key_file;
  std::string records_file;
  std::size_t batch = 100;
  std::size_t connections = 4;
  double seconds = 20;
  std::size_t events = 0; // 0: run for `seconds`
  std::string tag = "b";
  // both
  std::size_t clients = 1;
  bool new_connection = false; // a connection per request, no keep-alive
  std::string label;
  /// https:// URL: TLS, with this directory's node.pem and node.key
  /// presented and its ca.pem trusted (a `sluice certs issue` directory).
  std::string tls_dir;
  bool https = false;
};

void parse_url(const std::string& url, options& o) {
  std::string rest = url;
  if (rest.starts_with("http://"))
    rest = rest.substr(7);
  else if (rest.starts_with("https://")) {
    rest = rest.substr(8);
    o.https = true;
  }
  while (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    die("--url " + url + ": expected http[s]://HOST:PORT");
  o.host = rest.substr(0, colon);
  o.port = std::atoi(rest.substr(colon + 1).c_str());
  if (o.port <= 0 || o.port > 65535)
    die("--url " + url + ": bad port");
}

options parse_args(int argc, char** argv) {
  if (argc < 2)
    die("usage: bench_http_load query|ingest --url http://HOST:PORT ...");
  options o;
  o.mode = argv[1];
  if (o.mode != "query" && o.mode != "ingest")
    die("the mode is query or ingest, not '" + o.mode + "'");
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(a + " needs a value");
      return argv[++i];
    };
    auto count = [&]() -> std::size_t {
      auto v = value();
      char* end = nullptr;
      auto n = std::strtoull(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0')
        die(a + " " + v + ": not a number");
      return static_cast<std::size_t>(n);
    };
    if (a == "--url")
      parse_url(value(), o);
    else if (a == "--keys")
      o.keys_file = value();
    else if (a == "--stage")
      o.stage = value();
    else if (a == "--wait")
      o.wait = value();
    else if (a == "--clients")
      o.clients = count();
    else if (a == "--hmac-key-file")
      o.hmac_key_file = value();
    else if (a == "--records")
      o.records_file = value();
    else if (a == "--batch")
      o.batch = count();
    else if (a == "--connections")
      o.connections = count();
    else if (a == "--seconds")
      o.seconds = std::atof(value().c_str());
    else if (a == "--events")
      o.events = count();
    else if (a == "--tag")
      o.tag = value();
    else if (a == "--label")
      o.label = value();
    else if (a == "--tls-dir")
      o.tls_dir = value();
    else if (a == "--new-connection")
      o.new_connection = true;
    else
      die("unknown flag " + a);
  }
  if (o.port == 0)
    die("--url is required");
  if (o.https && o.tls_dir.empty())
    die("an https:// --url needs --tls-dir DIR (ca.pem, node.pem, node.key)");
  if (o.mode == "query" && o.keys_file.empty())
    die("query needs --keys FILE");
  if (o.mode == "ingest" && o.hmac_key_file.empty())
    die("ingest needs --hmac-key-file FILE");
  if (o.clients == 0 || o.connections == 0 || o.batch == 0)
    die("--clients, --connections and --batch must be at least 1");
  return o;
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
      .count();
}

/// Nearest-rank quantile of sorted values.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<std::size_t>(
      std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

/// A client with TCP_NODELAY (as curl sets it), keeping its connection
/// alive unless --new-connection.
std::unique_ptr<httplib::Client> make_client(const options& o) {
  auto c = o.https ? std::make_unique<httplib::Client>(
               "https://" + o.host + ":" + std::to_string(o.port),
               o.tls_dir + "/node.pem", o.tls_dir + "/node.key")
                   : std::make_unique<httplib::Client>(o.host, o.port);
  if (o.https) {
    c->set_ca_cert_path(o.tls_dir + "/ca.pem");
    c->enable_server_certificate_verification(true);
  }
  c->set_keep_alive(!o.new_connection);
  c->set_tcp_nodelay(true);
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(60, 0);
  c->set_write_timeout(10, 0);
  // GET /v1/keys needs a bearer token (scope read, and query to ingest).
  if (const char* t = std::getenv("SLUICE_TOKEN"); t && *t)
    c->set_default_headers({{"Authorization", std::string("Bearer ") + t}});
  return c;
}

std::string latency_row(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-34s %6zu %10.2f %10.2f %10.2f %10.2f\n",
                what, v.size(), quantile(v, 0.5), quantile(v, 0.99),
                v.empty() ? 0.0 : v.back(), v.empty() ? 0.0 : v.front());
  return buf;
}

// -- query --------------------------------------------------------------

int run_query(const options& o) {
  std::vector<std::string> keys;
  {
    std::ifstream in(o.keys_file);
    if (!in)
      die("cannot read --keys " + o.keys_file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty())
        keys.push_back(line);
  }
  if (keys.empty())
    die(o.keys_file + " holds no key");
  std::string suffix = o.wait.empty() ? "" : "?wait=" + o.wait;

  struct sample {
    double ms = 0;
    double server_ms = -1; // on_demand.took_ms; -1: answered as known
    int status = 0;
    bool ok = false; // 200 with the right state
  };
  std::vector<sample> samples(keys.size());
  std::atomic<std::size_t> next{0};
  std::mutex err_mtx;
  std::vector<std::string> errors;
  auto cpu0 = cpu_seconds();
  auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < o.clients; ++c)
    threads.emplace_back([&] {
      auto cli = make_client(o);
      for (auto i = next++; i < keys.size(); i = next++) {
        auto& k = keys[i];
        auto path = "/v1/keys/" + o.stage + "/" + k + suffix;
        if (o.new_connection)
          cli = make_client(o);
        auto start = clock_type::now();
        auto res = cli->Get(path);
        auto& s = samples[i];
        s.ms = ms_since(start);
        if (!res) {
          std::lock_guard g{err_mtx};
          errors.push_back(k + ": " + httplib::to_string(res.error()));
          continue;
        }
        s.status = res->status;
        if (res->status != 200)
          continue;
        auto body = json::parse(res->body, nullptr, false);
        auto name = k.substr(k.find('/') + 1);
        if (!body.is_discarded() && body.contains("state")
            && body["state"].is_object() && body["state"].contains("name")
            && body["state"]["name"] == name)
          s.ok = true;
        else {
          std::lock_guard g{err_mtx};
          errors.push_back(
              k + ": 200 without its state: " + res->body.substr(0, 200));
        }
        if (body.is_object() && body.contains("on_demand")
            && body["on_demand"].contains("took_ms"))
          s.server_ms = body["on_demand"]["took_ms"].get<double>();
      }
    });
  for (auto& t : threads)
    t.join();
  auto wall = ms_since(t0) / 1000;
  auto cpu = cpu_seconds() - cpu0;

  std::vector<double> all, ok, server;
  std::map<int, std::size_t> by_status;
  std::size_t known = 0, bad = 0;
  for (auto& s : samples) {
    all.push_back(s.ms);
    ++by_status[s.status];
    if (s.ok) {
      ok.push_back(s.ms);
      if (s.server_ms >= 0)
        server.push_back(s.server_ms);
      else
        ++known;
    } else if (s.status == 200) {
      ++bad;
    }
  }
  std::printf("== on-demand queries%s%s: %zu keys, %zu client(s), %s, "
              "stage %s ==\n",
              o.label.empty() ? "" : ", ", o.label.c_str(), keys.size(),
              o.clients,
              o.new_connection ? "a new connection per query"
                               : "keep-alive connections",
              o.stage.c_str());
  std::printf("  latency (ms)                            n        p50        "
              "p99        max        min\n");
  std::fputs(latency_row("client: call -> full response, 200", ok).c_str(),
             stdout);
  std::fputs(latency_row("client: every request", all).c_str(), stdout);
  std::fputs(latency_row("server: on_demand.took_ms", server).c_str(), stdout);
  std::printf("  statuses:");
  for (auto& [st, n] : by_status)
    std::printf(" %d x%zu", st, n);
  std::printf("; answered as already known %zu; 200 without the state %zu; "
              "transport errors %zu\n",
              known, bad, errors.size());
  std::printf("  %.2f s, %.1f queries/s; driver CPU %.2f s\n", wall,
              static_cast<double>(keys.size()) / wall, cpu);
  for (std::size_t i = 0; i < errors.size() && i < 5; ++i)
    std::printf("  error: %s\n", errors[i].c_str());
  std::sort(ok.begin(), ok.end());
  std::sort(all.begin(), all.end());
  std::sort(server.begin(), server.end());
  std::printf("result mode=query label=%s n=%zu ok=%zu p50_ms=%.2f p99_ms=%.2f "
              "max_ms=%.2f all_p99_ms=%.2f server_p50_ms=%.2f "
              "server_p99_ms=%.2f s200=%zu s202=%zu s404=%zu known=%zu "
              "bad=%zu errors=%zu seconds=%.2f\n",
              o.label.empty() ? "-" : o.label.c_str(), keys.size(), ok.size(),
              quantile(ok, 0.5), quantile(ok, 0.99),
              ok.empty() ? 0.0 : ok.back(), quantile(all, 0.99),
              quantile(server, 0.5), quantile(server, 0.99), by_status[200],
              by_status[202], by_status[404], known, bad, errors.size(), wall);
  return ok.size() == keys.size() ? 0 : 1;
}

// -- ingest -------------------------------------------------------------

std::string read_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot read --hmac-key-file " + path);
  std::string key((std::istreambuf_iterator<char>(in)), {});
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
    key.pop_back(); // as `sluice run` reads it
  if (key.empty())
    die(path + " holds no key");
  return key;
}

std::string sign(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(),
           mac, &len)
      == nullptr)
    die("HMAC failed");
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

/// The npm records to post: header name/version/downloads_a_month/summary,
/// as the feed reader makes payloads of them (every field a string).
std::vector<json> load_records(const std::string& path) {
  std::vector<json> out;
  if (path.empty()) {
    for (int i = 0; i < 1000; ++i)
      out.push_back({{"name", "synthetic-" + std::to_string(i)},
                     {"version", "1." + std::to_string(i % 50) + ".0"},
                     {"downloads_a_month", std::to_string(100 + i * 37)},
                     {"summary", "a generated package"}});
    return out;
  }
  std::ifstream in(path);
  if (!in)
    die("cannot read --records " + path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, '\t');)
      header.push_back(f);
  }
  if (header.empty() || header[0] != "name")
    die(path + ": expected a TSV whose first column is name");
  while (std::getline(in, line)) {
    json rec = json::object();
    std::size_t col = 0, start = 0;
    while (col < header.size()) {
      auto tab = line.find('\t', start);
      auto field = line.substr(
          start, tab == std::string::npos ? std::string::npos : tab - start);
      rec[header[col++]] = field;
      if (tab == std::string::npos)
        break;
      start = tab + 1;
    }
    if (!rec["name"].get<std::string>().empty())
      out.push_back(std::move(rec));
  }
  if (out.empty())
    die(path + " holds no record");
  return out;
}

int run_ingest(const options& o) {
  auto key = read_key(o.hmac_key_file);
  auto records = load_records(o.records_file);
  struct per_thread {
    std::vector<double> ms;
    std::map<int, std::size_t> by_status;
    std::size_t accepted = 0, errors = 0;
    std::string first_error;
  };
  std::vector<per_thread> res(o.connections);
  std::atomic<std::size_t> reserved{0};
  std::atomic<std::size_t> made{0}; // event numbers, unique across threads
  auto deadline =
      clock_type::now()
      + std::chrono::milliseconds(static_cast<std::int64_t>(o.seconds * 1000));
  auto cpu0 = cpu_seconds();
  auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < o.connections; ++c)
    threads.emplace_back([&, c] {
      auto cli = make_client(o);
      auto& r = res[c];
      while (true) {
        std::size_t n = o.batch;
        if (o.events > 0) {
          auto got = reserved.fetch_add(n);
          if (got >= o.events)
            break;
          n = std::min(n, o.events - got);
        } else if (clock_type::now() >= deadline) {
          break;
        }
        json arr = json::array();
        auto first = made.fetch_add(n);
        for (std::size_t i = 0; i < n; ++i) {
          auto num = first + i;
          json payload = records[num % records.size()];
          auto name = payload["name"].get<std::string>() + "~h" + o.tag + "."
                      + std::to_string(num);
          payload["name"] = name;
          arr.push_back(
              {{"topic", "registry"},
               {"key", "npm/" + name},
               {"payload", std::move(payload)},
               {"attributes", {{"ecosystem", "npm"}, {"format", "tsv"}}}});
        }
        auto body = arr.dump();
        httplib::Headers headers{{"X-Sluice-Signature", sign(key, body)}};
        if (o.new_connection)
          cli = make_client(o);
        auto start = clock_type::now();
        auto resp = cli->Post("/v1/events", headers, body, "application/json");
        r.ms.push_back(ms_since(start));
        if (!resp) {
          ++r.errors;
          if (r.first_error.empty())
            r.first_error = httplib::to_string(resp.error());
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        ++r.by_status[resp->status];
        if (resp->status == 200) {
          auto j = json::parse(resp->body, nullptr, false);
          r.accepted += j.is_object() && j.contains("accepted")
                            ? j["accepted"].get<std::size_t>()
                            : 0;
        } else {
          if (r.first_error.empty())
            r.first_error =
                std::to_string(resp->status) + " " + resp->body.substr(0, 200);
          if (resp->status == 429 || resp->status == 503) {
            auto after =
                std::atoi(resp->get_header_value("Retry-After").c_str());
            auto until = std::min(
                clock_type::now() + std::chrono::seconds(std::max(after, 1)),
                deadline);
            std::this_thread::sleep_until(until);
          }
        }
      }
    });
  for (auto& t : threads)
    t.join();
  auto wall = ms_since(t0) / 1000;
  auto cpu = cpu_seconds() - cpu0;
  std::vector<double> ms;
  std::map<int, std::size_t> by_status;
  std::size_t accepted = 0, errors = 0, requests = 0;
  std::string first_error;
  for (auto& r : res) {
    ms.insert(ms.end(), r.ms.begin(), r.ms.end());
    for (auto& [s, n] : r.by_status)
      by_status[s] += n;
    accepted += r.accepted;
    errors += r.errors;
    if (first_error.empty())
      first_error = r.first_error;
  }
  requests = ms.size();
  std::sort(ms.begin(), ms.end());
  std::printf(
      "== webhook ingest%s%s: batches of %zu events, %zu "
      "client(s), %s, %.2f s ==\n",
      o.label.empty() ? "" : ", ", o.label.c_str(), o.batch, o.connections,
      o.new_connection ? "a new connection per POST" : "keep-alive connections",
      wall);
  std::printf("  accepted %zu events: %.0f events/s, %.1f requests/s\n",
              accepted, static_cast<double>(accepted) / wall,
              static_cast<double>(requests) / wall);
  std::printf("  POST latency (ms): p50 %.2f, p99 %.2f, max %.2f\n",
              quantile(ms, 0.5), quantile(ms, 0.99),
              ms.empty() ? 0.0 : ms.back());
  std::printf("  statuses:");
  for (auto& [st, n] : by_status)
    std::printf(" %d x%zu", st, n);
  std::printf("; transport errors %zu; driver CPU %.2f s (%.1f us/event)\n",
              errors, cpu,
              accepted ? cpu * 1e6 / static_cast<double>(accepted) : 0.0);
  if (!first_error.empty())
    std::printf("  first refusal or error: %s\n", first_error.c_str());
  std::printf("result mode=ingest label=%s accepted=%zu seconds=%.2f "
              "events_per_s=%.0f requests_per_s=%.1f p50_ms=%.2f p99_ms=%.2f "
              "max_ms=%.2f s200=%zu s429=%zu s503=%zu errors=%zu "
              "driver_cpu_s=%.2f\n",
              o.label.empty() ? "-" : o.label.c_str(), accepted, wall,
              static_cast<double>(accepted) / wall,
              static_cast<double>(requests) / wall, quantile(ms, 0.5),
              quantile(ms, 0.99), ms.empty() ? 0.0 : ms.back(), by_status[200],
              by_status[429], by_status[503], errors, cpu);
  return accepted > 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse_args(argc, argv);
  return o.mode == "query" ? run_query(o) : run_ingest(o);
}
