// Urgent latency under a backlog: preloads B normal package_trust events,
// then, while they drain, injects U urgent events for fresh keys at a fixed
// interval and measures each one's time from publish to the final stage,
// exactly: until done (publish_options::on_done), and per stage from the
// states the runtime stored. See bench/README.md.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "bench_common.hpp"
#include "package_trust/package_trust.hpp"
#include "sluice/node.hpp"
#include "sluice/registry.hpp"
#include "sluice/store/store.hpp"
#include "sluice/topology.hpp"
#include "sluice/v1/store.pb.h"

namespace {

using namespace sluice;
using namespace sluice::bench;
using clock_type = std::chrono::steady_clock;

struct config {
  std::uint64_t backlog = 1'000'000;
  std::uint64_t keys = 100'000;
  std::uint64_t urgent = 100;
  std::uint64_t interval_ms = 20;
  std::uint64_t commit_batch = 4096;
  std::uint64_t commit_budget_ms = 10; ///< node_options::commit_budget
  std::uint64_t publish_batch = 5000;
  std::uint64_t threads = 0;
  bool sync = true;
  bool keep = false;
  std::string data;
  std::string example = SLUICE_EXAMPLE_DIR;
  std::string pipeline; ///< default: <example>/pipeline.yaml
};

const char* stage_names[] = {"parse", "enrich", "score"};

void print_quantiles(const char* label, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  std::printf("  %-34s %5zu %10.2f %10.2f %10.2f %10.2f\n", label, ms.size(),
              quantile(ms, 0.5), quantile(ms, 0.99),
              ms.empty() ? 0.0 : ms.back(), ms.empty() ? 0.0 : ms.front());
}

void usage() {
  std::cout <<
      R"(bench_urgent: urgent latency under a backlog, package_trust pipeline.

  --backlog B         normal events preloaded (default 1000000)
  --keys K            distinct keys of the backlog (default 100000)
  --urgent U          urgent events, each for a fresh key (default 100)
  --interval-ms I     time between urgent events (default 20)
  --data DIR          scratch directory (default /var/tmp/sluice-bench-<pid>);
                      the node uses DIR/urgent, removed afterwards
  --commit-batch M    records per LMDB transaction (default 4096)
  --commit-budget MS  how long a normal commit should take (default 10;
                      0: --commit-batch only)
  --publish-batch P   events per publish call when preloading (default 5000)
  --no-sync           no fsync per commit
  --threads T         scheduler threads (default: cores)
  --example DIR       the package_trust folder (default: the source tree's)
  --pipeline FILE     topology to run (default: DIR/pipeline.yaml); must use
                      the package_trust stages parse, enrich and score
  --keep              keep the data directory
)";
}

} // namespace

int main(int argc, char** argv) {
  sluice::bench::program = "bench_urgent";
  config c;
  try {
    flags f{argc,
            argv,
            {{"backlog", true},
             {"keys", true},
             {"urgent", true},
             {"interval-ms", true},
             {"data", true},
             {"commit-batch", true},
             {"commit-budget", true},
             {"publish-batch", true},
             {"no-sync", false},
             {"threads", true},
             {"example", true},
             {"pipeline", true},
             {"keep", false},
             {"help", false}}};
    if (f.has("help")) {
      usage();
      return 0;
    }
    c.backlog = f.num("backlog", c.backlog);
    c.keys = f.num("keys", c.keys);
    c.urgent = f.num("urgent", c.urgent);
    c.interval_ms = f.num("interval-ms", c.interval_ms);
    c.commit_batch = f.num("commit-batch", c.commit_batch);
    c.commit_budget_ms = f.num("commit-budget", c.commit_budget_ms);
    c.publish_batch = f.num("publish-batch", c.publish_batch);
    c.threads = f.num("threads", c.threads);
    c.sync = !f.has("no-sync");
    c.keep = f.has("keep");
    c.data =
        f.str("data", "/var/tmp/sluice-bench-" + std::to_string(::getpid()));
    c.example = f.str("example", c.example);
    c.pipeline = f.str("pipeline", c.example + "/pipeline.yaml");
    if (c.keys == 0 || c.urgent == 0 || c.commit_batch == 0
        || c.publish_batch == 0)
      throw std::invalid_argument(
          "--keys, --urgent and the batches must be > 0");
  } catch (const std::invalid_argument& e) {
    std::cerr << "bench_urgent: " << e.what() << " (see --help)\n";
    return 2;
  }

  auto w = check(workload::load(c.example + "/data"), "load the sample");
  const auto dir = c.data + "/urgent";
  fresh_dir(dir);
  auto topo = check(load_topology(c.pipeline), "load topology");
  registry reg;
  check(examples::register_package_trust(reg), "register package_trust");
  node_options o;
  o.data_dir = dir;
  o.sync = c.sync;
  o.max_commit_batch = c.commit_batch;
  o.commit_budget = std::chrono::milliseconds(c.commit_budget_ms);
  o.threads = c.threads;
  auto n = check(node::start(std::move(topo), reg, o), "start node");
  std::printf("config backlog=%llu keys=%llu urgent=%llu interval_ms=%llu "
              "commit_batch=%llu commit_budget_ms=%llu sync=%d cores=%u\n",
              static_cast<unsigned long long>(c.backlog),
              static_cast<unsigned long long>(c.keys),
              static_cast<unsigned long long>(c.urgent),
              static_cast<unsigned long long>(c.interval_ms),
              static_cast<unsigned long long>(c.commit_batch),
              static_cast<unsigned long long>(c.commit_budget_ms),
              c.sync ? 1 : 0, std::thread::hardware_concurrency());

  // 1. The backlog, through publish.
  auto t0 = clock_type::now();
  auto last_report = t0;
  for (std::uint64_t i = 0; i < c.backlog; i += c.publish_batch) {
    std::vector<event> batch;
    batch.reserve(c.publish_batch);
    for (std::uint64_t j = i; j < std::min(c.backlog, i + c.publish_batch); ++j)
      batch.push_back(w.make(j, c.keys));
    check(n->publish("registry", std::move(batch)), "publish backlog");
    if (seconds_since(last_report) > 5) {
      last_report = clock_type::now();
      std::cerr << "  preloading: " << grouped(static_cast<double>(i))
                << " published\n";
    }
  }
  const double preload_s = seconds_since(t0);

  auto score_done = [&](const node_stats& s) {
    return s.stages.back().done + s.stages.back().skipped
           + s.stages.back().failed;
  };
  auto stage_done = [&](const node_stats& s) {
    std::uint64_t total = 0;
    for (auto& st : s.stages)
      total += st.done + st.skipped + st.failed;
    return total;
  };

  // 2. Urgent events while the backlog drains, each timed until done in
  // every stage (publish_options::on_done: exact, per event).
  auto& m = n->metrics();
  std::mutex done_mtx;
  std::vector<double> done_ms;
  std::size_t done_wrong = 0;
  publish_options urgent_opts;
  urgent_opts.on_done = [&](const event_done& d) {
    std::lock_guard<std::mutex> guard{done_mtx};
    done_ms.push_back(
        std::chrono::duration<double, std::milli>(d.took).count());
    done_wrong += d.outcome == done_outcome::done ? 0 : 1;
  };
  auto done_count = [&] {
    std::lock_guard<std::mutex> guard{done_mtx};
    return done_ms.size();
  };
  const auto before = check(n->stats(), "stats");
  const auto t_inject = clock_type::now();
  std::vector<std::int64_t> inject_ns(c.urgent), publish_ns(c.urgent);
  std::vector<std::string> urgent_keys(c.urgent);
  const auto interval = std::chrono::milliseconds(c.interval_ms);
  for (std::uint64_t u = 0; u < c.urgent; ++u) {
    const auto due = t_inject + u * interval;
    std::this_thread::sleep_until(due);
    auto ev = w.make_event(u % w.base_count(), "~u" + std::to_string(u), 0,
                           "urgent:" + std::to_string(u));
    ev.priority = priority::urgent;
    urgent_keys[u] = ev.key;
    // ingest_ts_ns is the start of the publish call, so the runtime's own
    // stage-latency histograms measure from the same instant.
    ev.ingest_ts_ns = wall_ns();
    inject_ns[u] = ev.ingest_ts_ns;
    std::vector<event> one;
    one.push_back(std::move(ev));
    check(n->publish("registry", std::move(one), urgent_opts),
          "publish urgent");
    publish_ns[u] = wall_ns();
  }
  // Until the last urgent event has passed the score stage.
  const auto wait_start = clock_type::now();
  while (done_count() < c.urgent) {
    if (seconds_since(wait_start) > 300)
      die("urgent events did not all finish within 300 s of the last one");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (done_wrong > 0)
    die(std::to_string(done_wrong) + " urgent events were not done");
  const double window_s = seconds_since(t_inject);
  const auto after = check(n->stats(), "stats");
  const auto mem = read_memory();
  if (after.failed)
    die("the node failed: " + after.failure);

  // The runtime's own view, read before the node (and its metrics) goes.
  struct hist_view {
    std::uint64_t count, p50_us, p99_us, max_us, sum_us;
  };
  std::vector<hist_view> h_stage;
  for (auto* s : stage_names) {
    auto& h = m.get_histogram("sluice_stage_latency_seconds",
                              {{"stage", s}, {"priority", "urgent"}});
    h_stage.push_back({h.count(), h.quantile_us(0.5), h.quantile_us(0.99),
                       h.max_us(), h.sum_us()});
  }
  n->stop();
  n.reset();

  // 3. Exact times from the store: each urgent key's KeyState per stage.
  auto st = check(store::open({dir, std::uint64_t{64} << 30, true, true}),
                  "open the store read-only");
  std::map<std::string, std::uint32_t> ids;
  for (auto& rec : check(st->stages(), "list stages"))
    ids[rec.name] = rec.id;
  std::vector<double> processed_ms[3], publish_ms;
  std::size_t missing = 0, not_done = 0;
  for (std::uint64_t u = 0; u < c.urgent; ++u) {
    publish_ms.push_back(static_cast<double>(publish_ns[u] - inject_ns[u])
                         / 1e6);
    for (int s = 0; s < 3; ++s) {
      auto state = check(st->read_state(ids.at(stage_names[s]), urgent_keys[u]),
                         "read state");
      v1::KeyState ks;
      if (!state || !ks.ParseFromString(state->key_state)) {
        ++missing;
        continue;
      }
      processed_ms[s].push_back(
          static_cast<double>(ks.updated_ts_ns() - inject_ns[u]) / 1e6);
    }
    auto status = check(st->read_status(urgent_keys[u]), "read status");
    v1::KeyStatus ks;
    if (!status || !ks.ParseFromString(*status) || ks.stage() != "score"
        || ks.phase() != v1::PHASE_DONE)
      ++not_done;
  }
  st.reset();
  if (!c.keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::remove(c.data, ec); // only if empty
  }

  // 4. The report.
  const double backlog_left = static_cast<double>(before.queued);
  std::printf("\n== urgent latency: %s urgent events, %llu ms apart, over a "
              "backlog of %s normal events (%s keys) ==\n",
              grouped(static_cast<double>(c.urgent)).c_str(),
              static_cast<unsigned long long>(c.interval_ms),
              grouped(static_cast<double>(c.backlog)).c_str(),
              grouped(static_cast<double>(c.keys)).c_str());
  std::printf(
      "backlog published in %.2f s; at the first urgent event %s entries "
      "were queued (all stages), %s input events already through score\n",
      preload_s, grouped(backlog_left).c_str(),
      grouped(static_cast<double>(score_done(before))).c_str());
  std::printf("\nfrom the publish call (ms)             n        p50        p99"
              "        max        min\n");
  for (int s = 0; s < 3; ++s) {
    std::string label =
        std::string("to ") + stage_names[s] + " processed (KeyState)";
    print_quantiles(label.c_str(), processed_ms[s]);
  }
  print_quantiles("done in every stage (on_done)", done_ms);
  print_quantiles("publish call returned (queued)", publish_ms);
  std::printf("  (processed: KeyState.updated_ts_ns, stamped by the key actor "
              "just before the commit; done: publish_options::on_done, once\n"
              "   the last stage's commit applied it; both exact for every "
              "event)\n");
  std::printf(
      "\nruntime histogram sluice_stage_latency_seconds{priority=\"urgent\"}"
      " (power-of-two buckets; max exact):\n");
  for (int s = 0; s < 3; ++s) {
    const auto& h = h_stage[static_cast<std::size_t>(s)];
    std::printf(
        "  %-7s count %llu, p50 <= %.2f ms, p99 <= %.2f ms, max %.2f ms, "
        "mean %.2f ms\n",
        stage_names[s], static_cast<unsigned long long>(h.count),
        static_cast<double>(h.p50_us) / 1000.0,
        static_cast<double>(h.p99_us) / 1000.0,
        static_cast<double>(h.max_us) / 1000.0,
        h.count ? static_cast<double>(h.sum_us) / 1000.0
                      / static_cast<double>(h.count)
                : 0.0);
  }
  auto max_processed =
      processed_ms[2].empty()
          ? 0.0
          : *std::max_element(processed_ms[2].begin(), processed_ms[2].end());
  const double hist_max = static_cast<double>(h_stage[2].max_us) / 1000.0;
  std::printf("cross-check: max to score processed %.2f ms <= histogram max "
              "(committed) %.2f ms: %s\n",
              max_processed, hist_max,
              max_processed <= hist_max + 0.001 ? "ok" : "MISMATCH");
  if (missing > 0 || not_done > 0)
    std::printf(
        "WARNING: %zu stage states missing, %zu keys not done in score\n",
        missing, not_done);
  // Backlog events only: the urgent ones are not counted.
  const double through =
      static_cast<double>(score_done(after) - score_done(before))
      - static_cast<double>(c.urgent);
  const double stage_through =
      static_cast<double>(stage_done(after) - stage_done(before))
      - 3.0 * static_cast<double>(c.urgent);
  std::printf(
      "\nbacklog drain during the injection window (%.2f s): %s events/s "
      "through score, %s stage-events/s; queued %s -> %s\n",
      window_s, grouped(through / window_s).c_str(),
      grouped(stage_through / window_s).c_str(),
      grouped(static_cast<double>(before.queued)).c_str(),
      grouped(static_cast<double>(after.queued)).c_str());
  std::printf(
      "memory: peak RSS (VmHWM) %s; at the end RssAnon %s, RssFile %s\n",
      mib(mem.hwm).c_str(), mib(mem.rss_anon).c_str(),
      mib(mem.rss_file).c_str());
  return 0;
}
