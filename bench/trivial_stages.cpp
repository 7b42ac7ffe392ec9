// The runtime's own cost: three trivial stages over real npm rows, embedded
// as a team would (a `sluice::node` with its own behaviours), so that what
// is measured is the runtime and not the work. Modes (bench/README.md):
//   flow    the rows fed from the file while the stages run: events/s, CPU
//           per row, peak RSS;
//   urgent  the rows fed, then urgent rows injected at an interval behind
//           the backlog, each timed from publish to done in the last stage
//           (publish_options::on_done);
//   kills   a child process runs the pipeline and is killed with SIGKILL at
//           given fractions of the input; afterwards each package's write
//           counter is compared with its rows: lost and duplicated;
//   child   (what `kills` runs) the pipeline until drained, printing
//           progress.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "bench_common.hpp"
#include "sluice/behaviour.hpp"
#include "sluice/node.hpp"
#include "sluice/registry.hpp"
#include "sluice/store/export.hpp"
#include "sluice/store/store.hpp"
#include "sluice/topology.hpp"

namespace {

using namespace sluice;
using namespace sluice::bench;
using clock_type = std::chrono::steady_clock;

// -- the three stages ---------------------------------------------------------

/// urgent mode: when each stage's behaviour began an urgent row, by the
/// row's index, so the time until done splits into hops.
struct hop_log {
  std::mutex mtx;
  std::unordered_map<std::uint64_t, std::array<clock_type::time_point, 3>> at;
};
hop_log* hops = nullptr;

/// Notes that `stage` began urgent row `index` (from a key or payload
/// "urgent...-<index>" or "urgent/<index>"); other rows cost one compare.
void note_hop(std::size_t stage, std::string_view key) {
  if (hops == nullptr || !key.starts_with("urgent"))
    return;
  auto cut = key.find_last_of("/-");
  if (cut == std::string_view::npos)
    return;
  auto index =
      std::strtoull(std::string(key.substr(cut + 1)).c_str(), nullptr, 10);
  auto now = clock_type::now();
  std::lock_guard<std::mutex> guard{hops->mtx};
  hops->at[index][stage] = now;
}

/// The fields of a TSV row (name, version, downloads, summary); nothing for
/// the header row.
std::vector<std::string_view> split_row(std::string_view row) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (out.size() < 4) {
    auto tab = row.find('\t', at);
    out.push_back(row.substr(
        at, tab == std::string_view::npos ? std::string_view::npos : tab - at));
    if (tab == std::string_view::npos)
      break;
    at = tab + 1;
  }
  return out;
}

/// split: a row (keyed by its line) becomes a package event keyed by name.
class split_stage final : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    // The header is the file's first line (a package may be named "name").
    if (ctx.key().ends_with("/1") && ev.payload.starts_with("name\t"))
      return;
    note_hop(0, ctx.key());
    auto f = split_row(ev.payload);
    if (f.size() < 3 || f[0].empty())
      return; // a row without the three columns
    event out;
    out.key = std::string(f[0]);
    out.payload.reserve(f[1].size() + f[2].size() + 1);
    out.payload.append(f[1]).append("\t").append(f[2]);
    ctx.emit("packages", std::move(out));
  }
};

/// url: the package's tarball URL and a hash of it.
class url_stage final : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    note_hop(1, ctx.key());
    auto tab = ev.payload.find('\t');
    auto version = std::string_view(ev.payload).substr(0, tab);
    auto downloads = tab == std::string::npos
                         ? std::string_view{}
                         : std::string_view(ev.payload).substr(tab + 1);
    std::string url = "https://registry.npmjs.org/";
    url.append(ctx.key()).append("/-/").append(ctx.key());
    url.append("-").append(version).append(".tgz");
    auto h = content_hash(url);
    std::string payload;
    payload.reserve(url.size() + 40);
    payload.append(url).append("\t").append(std::to_string(h)).append("\t");
    payload.append(downloads);
    ctx.emit("urls", std::move(payload));
  }
};

/// score: a score from the downloads, upserted per package with a write
/// counter ("w=<writes> s=<score>").
class score_stage final : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    note_hop(2, ctx.key());
    auto tab = ev.payload.rfind('\t');
    double downloads = 0;
    if (tab != std::string::npos) {
      try {
        downloads = std::stod(ev.payload.substr(tab + 1));
      } catch (const std::exception&) {
        downloads = 0;
      }
    }
    std::uint64_t writes = 0;
    if (ctx.has_state()) {
      auto& s = ctx.state();
      writes = std::strtoull(s.c_str() + 2, nullptr, 10);
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "w=%llu s=%.3f",
                  static_cast<unsigned long long>(writes) + 1,
                  std::log10(1 + downloads) * 10);
    ctx.set_state(buf);
  }
};

/// The topology; split and url keep no state (`state: none`) unless
/// `stateful` (the baseline: an empty state record per key, as before that
/// setting existed).
std::string topology_yaml(bool stateful) {
  const std::string state = stateful ? "" : "    state: none\n";
  return R"(pipeline: trivial
topics: [rows, packages, urls]
feed: { topic: rows, format: lines }
stages:
  - name: split
    behaviour: trivial.split
    subscribe: [{ topic: rows }]
    emits: [packages]
)" + state
         + R"(  - name: url
    behaviour: trivial.url
    subscribe: [{ topic: packages }]
    emits: [urls]
)" + state
         + R"(  - name: score
    behaviour: trivial.score
    subscribe: [{ topic: urls }]
)";
}

registry make_registry() {
  registry reg;
  check(reg.add<split_stage>("trivial.split"), "register trivial.split");
  check(reg.add<url_stage>("trivial.url"), "register trivial.url");
  check(reg.add<score_stage>("trivial.score"), "register trivial.score");
  return reg;
}

// -- running ------------------------------------------------------------------

struct config {
  std::string mode;
  std::string rows; ///< the TSV file (header + rows)
  std::string data; ///< the data directory
  std::uint64_t urgent = 100;
  std::uint64_t interval_ms = 20;
  std::string kills = "0.25,0.5,0.75";
  bool sync = true;
  bool stateful = false;           ///< split and url keep (empty) state records
  std::uint64_t max_live_keys = 0; ///< per stage; 0: the default (4096)
};

/// Data rows of the file (lines after the header).
std::uint64_t count_rows(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    die("cannot read " + path);
  std::string line;
  std::uint64_t n = 0;
  std::getline(in, line);
  while (std::getline(in, line))
    n += line.empty() ? 0 : 1;
  return n;
}

std::unique_ptr<node> start_node(const config& c, const registry& reg) {
  auto topo = check(parse_topology(topology_yaml(c.stateful), "trivial.yaml"),
                    "topology");
  if (c.max_live_keys > 0)
    for (auto& st : topo.stages)
      st.max_live_keys = static_cast<std::uint32_t>(c.max_live_keys);
  node_options o;
  o.data_dir = c.data;
  o.sync = c.sync;
  o.feeds = {c.rows};
  return check(node::start(std::move(topo), reg, std::move(o)), "start");
}

node_stats stats_of(node& n) {
  return check(n.stats(), "stats");
}

/// flow: the whole file through the three stages.
int run_flow(const config& c) {
  auto rows = count_rows(c.rows);
  fresh_dir(c.data);
  auto reg = make_registry();
  auto cpu0 = read_cpu();
  auto t0 = clock_type::now();
  auto n = start_node(c, reg);
  std::uint64_t rss_peak = 0;
  for (;;) {
    auto s = stats_of(*n);
    rss_peak = std::max(rss_peak, read_memory().rss);
    if (s.failed)
      die("the node failed: " + s.failure);
    if (s.drained)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto secs = seconds_since(t0);
  auto cpu = read_cpu() - cpu0;
  auto s = stats_of(*n);
  n->stop();
  std::printf("flow rows=%llu seconds=%.3f rows_per_s=%.0f "
              "cpu_us_per_row=%.2f peak_rss_mib=%.1f commits=%llu "
              "score_done=%llu\n",
              static_cast<unsigned long long>(rows), secs,
              static_cast<double>(rows) / secs,
              (cpu.user_s + cpu.sys_s) * 1e6 / static_cast<double>(rows),
              static_cast<double>(rss_peak) / 1024.0,
              static_cast<unsigned long long>(s.commits),
              static_cast<unsigned long long>(s.stages[2].done));
  return 0;
}

/// The hops of the urgent rows: publish -> split began, -> url began,
/// -> score began, -> done; p50 and p99 of each, and the first row's.
void print_hops(hop_log& log,
                const std::vector<clock_type::time_point>& published,
                const std::vector<double>& done_ms) {
  std::array<std::vector<double>, 4> hop;
  std::array<double, 4> first{};
  for (std::size_t i = 0; i < published.size(); ++i) {
    auto a = log.at.find(i);
    if (a == log.at.end())
      continue;
    auto ms = [](clock_type::duration d) {
      return std::chrono::duration<double, std::milli>(d).count();
    };
    std::array<double, 4> h{ms(a->second[0] - published[i]),
                            ms(a->second[1] - a->second[0]),
                            ms(a->second[2] - a->second[1]),
                            done_ms[i] - ms(a->second[2] - published[i])};
    for (std::size_t k = 0; k < 4; ++k)
      hop[k].push_back(h[k]);
    if (i == 0)
      first = h;
  }
  for (auto& v : hop)
    std::sort(v.begin(), v.end());
  std::printf("hops to_split p50=%.1f p99=%.1f first=%.1f | to_url p50=%.1f "
              "p99=%.1f first=%.1f | to_score p50=%.1f p99=%.1f first=%.1f | "
              "to_done p50=%.1f p99=%.1f first=%.1f\n",
              quantile(hop[0], 0.5), quantile(hop[0], 0.99), first[0],
              quantile(hop[1], 0.5), quantile(hop[1], 0.99), first[1],
              quantile(hop[2], 0.5), quantile(hop[2], 0.99), first[2],
              quantile(hop[3], 0.5), quantile(hop[3], 0.99), first[3]);
}

/// urgent: the file fed, then urgent rows injected behind the backlog.
int run_urgent(const config& c) {
  fresh_dir(c.data);
  auto reg = make_registry();
  auto n = start_node(c, reg);
  // Wait until the feed has queued the whole file: the backlog is what the
  // stages have not done yet.
  for (;;) {
    auto s = stats_of(*n);
    if (s.feeds.at(0).finished)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto backlog = stats_of(*n).queued;
  std::mutex mtx;
  std::vector<double> took_ms;
  double first_ms = 0; // the first urgent event: it meets throughput mode
  std::vector<clock_type::time_point> published(c.urgent);
  std::vector<double> done_ms(c.urgent, 0);
  std::vector<std::string> outcomes;
  publish_options opts;
  opts.on_done = [&](const event_done& d) {
    std::lock_guard<std::mutex> guard{mtx};
    auto ms = std::chrono::duration<double, std::milli>(d.took).count();
    took_ms.push_back(ms);
    if (d.id == "urgent:0")
      first_ms = ms;
    if (auto i = std::strtoull(d.id.c_str() + 7, nullptr, 10); i < c.urgent)
      done_ms[i] = ms;
    if (d.outcome != done_outcome::done || d.processed != 3)
      outcomes.push_back(d.id + ": " + to_string(d.outcome) + ", processed "
                         + std::to_string(d.processed));
  };
  std::uint64_t rss_backlog = 0;
  hop_log log;
  hops = &log;
  auto next = clock_type::now();
  for (std::uint64_t i = 0; i < c.urgent; ++i) {
    std::this_thread::sleep_until(next);
    next += std::chrono::milliseconds(c.interval_ms);
    event ev;
    ev.id = "urgent:" + std::to_string(i);
    ev.key = "urgent/" + std::to_string(i);
    ev.priority = priority::urgent;
    ev.payload = "urgent-pkg-" + std::to_string(i) + "\t1.0."
                 + std::to_string(i) + "\t" + std::to_string(1000 + i) + "\t";
    published[i] = clock_type::now();
    check(n->publish("rows", {std::move(ev)}, opts), "publish urgent");
    rss_backlog = std::max(rss_backlog, read_memory().rss);
  }
  auto deadline = clock_type::now() + std::chrono::seconds(60);
  for (;;) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (took_ms.size() == c.urgent)
        break;
    }
    if (clock_type::now() > deadline)
      die("the urgent events were not done within 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto left = stats_of(*n).queued;
  n->stop();
  hops = nullptr;
  print_hops(log, published, done_ms);
  for (auto& o : outcomes)
    std::fprintf(stderr, "urgent event not done as expected: %s\n", o.c_str());
  std::sort(took_ms.begin(), took_ms.end());
  std::printf("urgent count=%llu backlog=%llu left=%llu p50_ms=%.1f "
              "p90_ms=%.1f p99_ms=%.1f max_ms=%.1f first_ms=%.1f "
              "rss_backlog_mib=%.1f\n",
              static_cast<unsigned long long>(c.urgent),
              static_cast<unsigned long long>(backlog),
              static_cast<unsigned long long>(left), quantile(took_ms, 0.5),
              quantile(took_ms, 0.9), quantile(took_ms, 0.99), took_ms.back(),
              first_ms, static_cast<double>(rss_backlog) / 1024.0);
  return outcomes.empty() ? 0 : 1;
}

/// child: the pipeline until drained, printing the feed's committed rows.
int run_child(const config& c) {
  auto reg = make_registry();
  auto n = start_node(c, reg);
  for (;;) {
    auto s = stats_of(*n);
    if (s.failed)
      die("the node failed: " + s.failure);
    std::printf("fed %llu\n",
                static_cast<unsigned long long>(s.feeds.at(0).records));
    std::fflush(stdout);
    if (s.drained)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  n->stop();
  std::printf("drained\n");
  return 0;
}

/// Runs `self --mode child ...`; kills it with SIGKILL once it reports
/// `kill_at` rows fed (0: never), setting `fed_at_kill`. True when it
/// drained.
bool run_child_process(const config& c, std::uint64_t kill_at,
                       std::uint64_t& fed_at_kill) {
  int fds[2];
  if (pipe(fds) != 0)
    die("pipe");
  auto pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::string self = "/proc/self/exe";
    std::vector<std::string> args{
        "bench_trivial", "--mode", "child", "--rows",
        c.rows,          "--data", c.data,  c.sync ? "--sync" : "--no-sync"};
    if (c.stateful)
      args.emplace_back("--stateful");
    if (c.max_live_keys > 0) {
      args.emplace_back("--max-live-keys");
      args.push_back(std::to_string(c.max_live_keys));
    }
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(self.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  char line[256];
  bool drained = false, killed = false;
  while (std::fgets(line, sizeof line, in)) {
    std::string l(line);
    if (l.starts_with("drained"))
      drained = true;
    unsigned long long fed = 0;
    if (!killed && kill_at > 0 && std::sscanf(line, "fed %llu", &fed) == 1
        && fed >= kill_at) {
      kill(pid, SIGKILL);
      killed = true;
      fed_at_kill = fed;
    }
  }
  std::fclose(in);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    die("the child failed (status " + std::to_string(status) + ")");
  return drained && !killed;
}

/// kills: SIGKILL at each fraction of the input, then to the end; every
/// package's write counter against its rows.
int run_kills(const config& c) {
  auto rows = count_rows(c.rows);
  fresh_dir(c.data);
  std::vector<double> at;
  std::stringstream ss(c.kills);
  for (std::string part; std::getline(ss, part, ',');)
    at.push_back(std::stod(part));
  auto t0 = clock_type::now();
  std::string killed_at;
  std::uint64_t fed = 0;
  for (auto f : at) {
    auto kill_at = static_cast<std::uint64_t>(f * static_cast<double>(rows));
    if (run_child_process(c, std::max<std::uint64_t>(kill_at, 1), fed))
      die("the child drained before the kill at " + std::to_string(f));
    killed_at += (killed_at.empty() ? "" : ",") + std::to_string(fed);
  }
  if (!run_child_process(c, 0, fed))
    die("the last child did not drain");
  auto secs = seconds_since(t0);
  // Expected: each package's rows (npm names are unique, but a list may
  // repeat one).
  std::unordered_map<std::string, std::uint64_t> expected;
  {
    std::ifstream in(c.rows);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      auto f = split_row(line);
      if (f.size() >= 3 && !f[0].empty())
        ++expected[std::string(f[0])];
    }
  }
  auto reg = make_registry();
  auto st = check(store::open({c.data, std::uint64_t{1} << 34, true, true}),
                  "open the store");
  std::ostringstream out;
  check(export_stage(*st, "score", reg, out), "export score");
  std::istringstream lines(out.str());
  std::uint64_t lost = 0, duplicated = 0, packages = 0;
  std::unordered_map<std::string, std::uint64_t> got;
  for (std::string l; std::getline(lines, l);) {
    auto tab = l.find('\t');
    auto w = l.find("w=", tab);
    if (tab == std::string::npos || w == std::string::npos)
      die("an exported state without its counter: " + l);
    got[l.substr(0, tab)] = std::strtoull(l.c_str() + w + 2, nullptr, 10);
  }
  for (auto& [name, n] : expected) {
    auto g = got.count(name) ? got[name] : 0;
    lost += g < n ? n - g : 0;
    duplicated += g > n ? g - n : 0;
    ++packages;
  }
  for (auto& [name, g] : got)
    if (!expected.count(name))
      duplicated += g; // a package that was never fed
  std::printf("kills at=%s fed_at_kills=%s rows=%llu packages=%llu "
              "seconds=%.1f lost=%llu duplicated=%llu\n",
              c.kills.c_str(), killed_at.c_str(),
              static_cast<unsigned long long>(rows),
              static_cast<unsigned long long>(packages), secs,
              static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(duplicated));
  return lost == 0 && duplicated == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  program = "bench_trivial";
  config c;
  try {
    flags f(argc, argv,
            {{"mode", true},
             {"rows", true},
             {"data", true},
             {"urgent", true},
             {"interval-ms", true},
             {"kills", true},
             {"sync", false},
             {"no-sync", false},
             {"stateful", false},
             {"max-live-keys", true}});
    c.mode = f.str("mode", "");
    c.rows = f.str("rows", "");
    c.data = f.str("data", "");
    c.urgent = f.num("urgent", c.urgent);
    c.interval_ms = f.num("interval-ms", c.interval_ms);
    c.kills = f.str("kills", c.kills);
    c.sync = !f.has("no-sync");
    c.stateful = f.has("stateful");
    c.max_live_keys = f.num("max-live-keys", c.max_live_keys);
  } catch (const std::exception& e) {
    die(e.what());
  }
  if (c.rows.empty() || c.data.empty())
    die("usage: bench_trivial --mode flow|urgent|kills --rows NPM.tsv "
        "--data DIR [--urgent N] [--interval-ms MS] [--kills F,F,F] "
        "[--no-sync] [--stateful] [--max-live-keys N]");
  if (c.mode == "flow")
    return run_flow(c);
  if (c.mode == "urgent")
    return run_urgent(c);
  if (c.mode == "kills")
    return run_kills(c);
  if (c.mode == "child")
    return run_child(c);
  die("--mode must be flow, urgent, kills or child, not '" + c.mode + "'");
}
