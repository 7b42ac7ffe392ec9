// Durable three-stage throughput of the package_trust pipeline (parse ->
// enrich -> score) on real registry records: (a) the Sluice runtime, against
// (b) the same behaviours in a plain single-threaded loop and (c) raw LMDB
// doing the minimum writes the runtime must make. See bench/README.md.
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "bench_common.hpp"
#include "package_trust/package_trust.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/node.hpp"
#include "sluice/registry.hpp"
#include "sluice/store/keys.hpp"
#include "sluice/topology.hpp"
#include "sluice/v1/store.pb.h"

namespace {

using namespace sluice;
using namespace sluice::bench;
using clock_type = std::chrono::steady_clock;

struct config {
  std::uint64_t events = 1'000'000;
  std::uint64_t keys = 100'000;
  std::uint64_t commit_batch = 4096;
  std::uint64_t commit_budget_ms = 10; ///< node_options::commit_budget
  std::uint64_t publish_batch = 5000;
  std::uint64_t threads = 0;
  bool sync = true;
  bool keep = false;
  std::string data;
  std::string example = SLUICE_EXAMPLE_DIR;
  std::string pipeline; ///< default: <example>/pipeline.yaml
  std::string only = "all";
  std::string report;
};

/// What one mode measured; one line of a report file.
struct mode_result {
  std::string mode;
  double seconds = 0;
  std::uint64_t events = 0;       ///< input events fully through
  std::uint64_t stage_events = 0; ///< events processed summed over stages
  memory_kib mem;
  cpu_usage cpu; ///< of the process during the measurement
};

std::string config_line(const config& c) {
  std::ostringstream os;
  os << "config events=" << c.events << " keys=" << c.keys
     << " commit_batch=" << c.commit_batch
     << " commit_budget_ms=" << c.commit_budget_ms
     << " publish_batch=" << c.publish_batch << " sync=" << (c.sync ? 1 : 0)
     << " cores=" << std::thread::hardware_concurrency();
  return os.str();
}

std::string result_line(const mode_result& r) {
  std::ostringstream os;
  os.precision(6);
  os << "result mode=" << r.mode << " seconds=" << std::fixed << r.seconds
     << " events=" << r.events << " stage_events=" << r.stage_events
     << " hwm_kib=" << r.mem.hwm << " rss_anon_kib=" << r.mem.rss_anon
     << " rss_file_kib=" << r.mem.rss_file
     << " cpu_s=" << r.cpu.user_s + r.cpu.sys_s;
  return os.str();
}

/// "CPU 12.3 s user + 4.5 s sys = 84 us per event; 1,234 voluntary ..."
std::string cpu_line(const cpu_usage& u, std::uint64_t events) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(2);
  os << "CPU " << u.user_s << " s user + " << u.sys_s << " s sys = "
     << grouped((u.user_s + u.sys_s) * 1e6 / static_cast<double>(events))
     << " us per event; context switches "
     << grouped(static_cast<double>(u.voluntary_switches)) << " voluntary, "
     << grouped(static_cast<double>(u.involuntary_switches)) << " involuntary";
  return os.str();
}

// -- (b) the plain loop -------------------------------------------------------

/// A key's state in the loop: bytes and whether there are any.
struct slot {
  std::string bytes;
  bool has = false;
};

/// sluice::context over an in-memory slot; emits and counters are kept for
/// the loop to deliver.
class memory_context final : public context {
public:
  memory_context(const std::string& stage, const std::string& key, slot& s,
                 std::unordered_map<std::string, std::uint64_t>& counts)
      : stage_(stage), key_(key), slot_(s), counts_(counts) {}

  const std::string& stage() const override { return stage_; }
  const std::string& key() const override { return key_; }
  bool has_state() const override { return slot_.has; }
  const std::string& state() const override { return slot_.bytes; }
  void set_state(std::string bytes) override {
    slot_.bytes = std::move(bytes);
    slot_.has = true;
  }
  void clear_state() override {
    slot_.bytes.clear();
    slot_.has = false;
  }
  void emit(std::string topic, event ev) override {
    emitted.emplace_back(std::move(topic), std::move(ev));
  }
  void count(std::string_view name, std::uint64_t n) override {
    counts_[std::string(name)] += n;
  }
  // The example's behaviours set no timers and record no histograms.
  void observe(std::string_view, std::chrono::microseconds) override {}
  void log(log_level, std::string_view) override {}
  void set_timer(std::string, std::chrono::milliseconds, std::string,
                 timer_kind) override {}
  void cancel_timer(std::string) override {}

  std::vector<std::pair<std::string, event>> emitted;

private:
  const std::string& stage_;
  const std::string& key_;
  slot& slot_;
  std::unordered_map<std::string, std::uint64_t>& counts_;
};

/// parse -> enrich -> score called directly, one event at a time, each
/// stage's emits handed to the next stage at once. No runtime, no storage.
class plain_pipeline {
public:
  static constexpr std::array<const char*, 3> stage_names = {"parse", "enrich",
                                                             "score"};

  /// Sees each stage's input event and resulting state (for sizing (c)).
  using observer = std::function<void(std::size_t stage, const event& in,
                                      const slot& state)>;

  plain_pipeline(const registry& reg, std::size_t keys) {
    const char* behaviours[] = {"package.parse", "package.enrich",
                                "package.score"};
    for (std::size_t s = 0; s < 3; ++s) {
      b_[s] = check(reg.create(behaviours[s]), "create behaviour");
      states_[s].reserve(keys);
      names_[s] = stage_names[s];
    }
  }

  void deliver(const event& ev, std::size_t stage = 0) {
    auto& st = states_[stage][ev.key];
    memory_context ctx{names_[stage], ev.key, st, counts_[stage]};
    try {
      b_[stage]->on_event(ctx, ev);
    } catch (const std::exception& e) {
      if (failed_++ == 0)
        first_error_ = e.what();
      return;
    }
    ++processed_[stage];
    if (observe)
      observe(stage, ev, st);
    std::size_t n = 0;
    for (auto& [topic, out] : ctx.emitted) {
      std::size_t next = topic == "parsed" ? 1 : topic == "enriched" ? 2 : 3;
      if (next > 2 || next != stage + 1)
        continue; // nothing subscribes (the runtime would count it unrouted)
      // What the runtime fills in before routing an emit.
      if (out.key.empty())
        out.key = ev.key;
      if (out.attributes.empty())
        out.attributes = ev.attributes;
      out.topic = topic;
      out.id = ev.id + ">" + names_[stage] + "." + std::to_string(n++);
      deliver(out, next);
    }
  }

  std::uint64_t processed(std::size_t s) const { return processed_[s]; }
  std::uint64_t failed() const { return failed_; }
  const std::string& first_error() const { return first_error_; }

  /// Mean state bytes of a stage over its keys.
  double mean_state_bytes(std::size_t s) const {
    double total = 0;
    for (auto& [k, v] : states_[s])
      total += static_cast<double>(v.bytes.size());
    return states_[s].empty() ? 0
                              : total / static_cast<double>(states_[s].size());
  }
  std::size_t key_count(std::size_t s) const { return states_[s].size(); }

  observer observe;

private:
  std::unique_ptr<behaviour> b_[3];
  std::string names_[3];
  std::unordered_map<std::string, slot> states_[3];
  std::unordered_map<std::string, std::uint64_t> counts_[3];
  std::uint64_t processed_[3] = {0, 0, 0};
  std::uint64_t failed_ = 0;
  std::string first_error_;
};

mode_result run_loop(const config& c, const workload& w) {
  registry reg;
  check(examples::register_package_trust(reg), "register package_trust");
  plain_pipeline p{reg, c.keys};
  double gen_s = 0, loop_s = 0;
  const auto cpu0 = read_cpu();
  std::vector<event> batch;
  auto last_report = clock_type::now();
  for (std::uint64_t i = 0; i < c.events; i += c.publish_batch) {
    auto g0 = clock_type::now();
    batch.clear();
    for (std::uint64_t j = i; j < std::min(c.events, i + c.publish_batch); ++j)
      batch.push_back(w.make(j, c.keys));
    auto l0 = clock_type::now();
    gen_s += std::chrono::duration<double>(l0 - g0).count();
    for (auto& ev : batch)
      p.deliver(ev);
    loop_s += seconds_since(l0);
    if (seconds_since(last_report) > 5) {
      last_report = clock_type::now();
      std::cerr << "  loop: " << grouped(static_cast<double>(i)) << " events, "
                << loop_s << " s\n";
    }
  }
  mode_result r;
  r.mode = "loop";
  r.cpu = read_cpu() - cpu0;
  r.cpu.user_s -= gen_s; // generating is single-threaded CPU work
  r.seconds = loop_s;
  r.events = p.processed(2);
  r.stage_events = p.processed(0) + p.processed(1) + p.processed(2);
  r.mem = read_memory();
  std::cout << "(b) plain loop: " << grouped(static_cast<double>(c.events))
            << " events in " << loop_s << " s of behaviour calls (+ " << gen_s
            << " s generating events, not counted); processed parse "
            << p.processed(0) << ", enrich " << p.processed(1) << ", score "
            << p.processed(2) << ", failed " << p.failed() << "\n";
  std::cout << "    " << cpu_line(r.cpu, c.events) << "\n";
  if (p.failed() > 0)
    std::cout << "    first failure: " << p.first_error() << "\n";
  std::cout << "    keys " << p.key_count(0) << "; mean state bytes: parse "
            << static_cast<int>(p.mean_state_bytes(0)) << ", enrich "
            << static_cast<int>(p.mean_state_bytes(1)) << ", score "
            << static_cast<int>(p.mean_state_bytes(2)) << "\n";
  return r;
}

// -- (a) the runtime ----------------------------------------------------------

mode_result run_runtime(const config& c, const workload& w) {
  auto dir = c.data + "/runtime";
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

  auto progress = [&](const char* phase, std::uint64_t published,
                      double elapsed) {
    auto s = n->stats();
    if (!s)
      return;
    std::cerr << "  runtime " << phase << " " << static_cast<int>(elapsed)
              << " s: published " << grouped(static_cast<double>(published));
    for (auto& st : s->stages)
      std::cerr << ", " << st.name << " "
                << grouped(static_cast<double>(st.done));
    std::cerr << ", queued " << grouped(static_cast<double>(s->queued)) << "\n";
  };

  double gen_s = 0;
  const auto cpu0 = read_cpu();
  auto t0 = clock_type::now();
  auto last_report = t0;
  for (std::uint64_t i = 0; i < c.events; i += c.publish_batch) {
    auto g0 = clock_type::now();
    std::vector<event> batch;
    batch.reserve(c.publish_batch);
    for (std::uint64_t j = i; j < std::min(c.events, i + c.publish_batch); ++j)
      batch.push_back(w.make(j, c.keys));
    gen_s += seconds_since(g0);
    check(n->publish("registry", std::move(batch)), "publish");
    if (seconds_since(last_report) > 5) {
      last_report = clock_type::now();
      progress("publishing", std::min(c.events, i + c.publish_batch),
               seconds_since(t0));
    }
  }
  const double publish_s = seconds_since(t0);
  node_stats final_stats;
  for (;;) {
    auto s = check(n->stats(), "stats");
    if (s.failed)
      die("the node failed: " + s.failure);
    if (s.queued == 0) {
      final_stats = std::move(s);
      break;
    }
    if (seconds_since(last_report) > 5) {
      last_report = clock_type::now();
      progress("draining", c.events, seconds_since(t0));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  mode_result r;
  r.mode = "runtime";
  r.seconds = seconds_since(t0);
  r.cpu = read_cpu() - cpu0;
  r.mem = read_memory();
  for (auto& st : final_stats.stages)
    r.stage_events += st.done + st.skipped + st.failed;
  const auto& last = final_stats.stages.back();
  r.events = last.done + last.skipped + last.failed;

  auto& commit_records =
      n->metrics().get_histogram("sluice_store_commit_records");
  auto& commit_seconds =
      n->metrics().get_histogram("sluice_store_commit_seconds");
  std::cout << "(a) runtime: " << grouped(static_cast<double>(c.events))
            << " events published in " << publish_s << " s (" << gen_s
            << " s of it generating events), drained after " << r.seconds
            << " s\n    ";
  for (auto& st : final_stats.stages)
    std::cout << st.name << " done " << st.done << " skipped " << st.skipped
              << " failed " << st.failed << "; ";
  const auto commits = commit_records.count();
  std::cout << "\n    " << commits << " commits, mean "
            << (commits ? commit_records.sum_us() / commits : 0)
            << " records and "
            << (commits ? commit_seconds.sum_us() / commits : 0)
            << " us each (max " << commit_records.max_us() << " records, "
            << commit_seconds.max_us() << " us)\n";
  std::cout << "    " << cpu_line(r.cpu, c.events) << "\n";
  std::cout << "    key actors passivated (stopped when idle beyond "
               "max_live_keys):";
  for (auto& st : final_stats.stages)
    std::cout << " " << st.name << " "
              << n->metrics().counter_value("sluice_stage_passivated_total",
                                            {{"stage", st.name}});
  std::cout << "\n";
  n->stop();
  std::cout << "    data directory: " << mib(dir_bytes(dir) / 1024) << "\n";
  if (!c.keep)
    std::filesystem::remove_all(dir);
  return r;
}

// -- (c) raw LMDB -------------------------------------------------------------

void lmdb_check(int rc, const char* what) {
  if (rc != 0)
    die(std::string("lmdb: ") + what + ": " + mdb_strerror(rc));
}

MDB_val as_val(const std::string& s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

/// Per base record: the bytes the runtime stores for it, as measured by
/// running the plain loop: each stage's queued event (sluice.v1.Event) and
/// its KeyState after the event (without the 8-byte version header).
struct stored_bytes {
  std::array<std::string, 3> queued;
  std::array<std::string, 3> state;
};

std::vector<stored_bytes> measure_stored_bytes(const config& c,
                                               const workload& w) {
  registry reg;
  check(examples::register_package_trust(reg), "register package_trust");
  const std::size_t n = std::min<std::size_t>(w.base_count(), c.keys);
  plain_pipeline p{reg, n};
  std::vector<stored_bytes> out(n);
  std::size_t current = 0;
  std::int64_t now = wall_ns();
  p.observe = [&](std::size_t stage, const event& in, const slot& st) {
    // The input as the runtime queues it: with hash and ingest time.
    event q = in;
    q.content_hash = content_hash(q.payload);
    q.ingest_ts_ns = now;
    out[current].queued[stage] = encode_event(q);
    v1::KeyState ks;
    ks.set_state(st.bytes);
    ks.set_content_hash(q.content_hash);
    ks.set_updated_ts_ns(now);
    ks.set_last_event_id(in.id);
    ks.set_events_processed(2);
    out[current].state[stage] = ks.SerializeAsString();
  };
  // Two versions of each key, so that states carry a history.
  for (std::uint64_t v = 0; v < 2; ++v)
    for (std::size_t b = 0; b < n; ++b) {
      current = b;
      p.deliver(w.make(v * c.keys + b, c.keys));
    }
  return out;
}

mode_result run_lmdb(const config& c, const workload& w) {
  auto sizes = measure_stored_bytes(c, w);
  double mean_q[3] = {0, 0, 0}, mean_s[3] = {0, 0, 0};
  for (auto& s : sizes)
    for (int i = 0; i < 3; ++i) {
      mean_q[i] += static_cast<double>(s.queued[i].size());
      mean_s[i] += static_cast<double>(8 + s.state[i].size());
    }
  for (int i = 0; i < 3; ++i) {
    mean_q[i] /= static_cast<double>(sizes.size());
    mean_s[i] /= static_cast<double>(sizes.size());
  }

  auto dir = c.data + "/lmdb";
  fresh_dir(dir);
  const std::uint64_t chunk = std::max<std::uint64_t>(1, c.commit_batch / 4);
  const auto cpu0 = read_cpu();
  auto t0 = clock_type::now();
  MDB_env* env = nullptr;
  lmdb_check(mdb_env_create(&env), "env create");
  mdb_env_set_maxdbs(env, 16);
  mdb_env_set_mapsize(env, std::uint64_t{64} << 30);
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (c.sync ? 0 : MDB_NOSYNC);
  lmdb_check(mdb_env_open(env, dir.c_str(), flags, 0644), "env open");
  MDB_dbi state_db = 0, queue_db[3] = {0, 0, 0};
  {
    MDB_txn* t = nullptr;
    lmdb_check(mdb_txn_begin(env, nullptr, 0, &t), "begin");
    lmdb_check(mdb_dbi_open(t, "state", MDB_CREATE, &state_db), "open state");
    const char* qn[] = {"queue.parse", "queue.enrich", "queue.score"};
    for (int s = 0; s < 3; ++s)
      lmdb_check(mdb_dbi_open(t, qn[s], MDB_CREATE, &queue_db[s]),
                 "open queue");
    lmdb_check(mdb_txn_commit(t), "commit");
  }

  // Pipelined like the runtime at its best: transaction t appends chunk t
  // to parse's queue and completes chunk t-1 in parse, t-2 in enrich and
  // t-3 in score. A completion deletes the queue entry, writes the key's
  // state and appends to the next stage's queue, all in one transaction.
  struct entry {
    std::uint64_t seq;
    std::uint64_t event;
  };
  std::vector<entry> pending[3][4];
  const std::uint64_t chunks = (c.events + chunk - 1) / chunk;
  std::uint64_t seq = 1, txns = 0, writes = 0;
  std::string qkey, skey, value;
  auto append = [&](MDB_txn* t, int stage, std::uint64_t i,
                    std::uint64_t chunk_no) {
    const auto& bytes =
        sizes[w.base_of(i, c.keys) % sizes.size()].queued[stage];
    qkey = keys::queue_key({priority::normal, seq});
    MDB_val k = as_val(qkey), v = as_val(bytes);
    lmdb_check(mdb_put(t, queue_db[stage], &k, &v, MDB_APPEND), "append");
    pending[stage][chunk_no % 4].push_back({seq++, i});
    ++writes;
  };
  for (std::uint64_t tx = 0; tx < chunks + 3; ++tx) {
    MDB_txn* t = nullptr;
    lmdb_check(mdb_txn_begin(env, nullptr, 0, &t), "begin");
    if (tx < chunks)
      for (std::uint64_t i = tx * chunk;
           i < std::min(c.events, (tx + 1) * chunk); ++i)
        append(t, 0, i, tx);
    for (int s = 0; s < 3; ++s) {
      if (tx < static_cast<std::uint64_t>(s) + 1 || tx - s - 1 >= chunks)
        continue;
      const std::uint64_t done_chunk = tx - s - 1;
      auto& list = pending[s][done_chunk % 4];
      for (auto& e : list) {
        qkey = keys::queue_key({priority::normal, e.seq});
        MDB_val k = as_val(qkey);
        lmdb_check(mdb_del(t, queue_db[s], &k, nullptr), "delete");
        const auto& st =
            sizes[w.base_of(e.event, c.keys) % sizes.size()].state[s];
        skey = keys::state_key(static_cast<std::uint32_t>(s + 1),
                               w.key(e.event, c.keys));
        value.clear();
        keys::put_u64(value, e.event / c.keys + 1); // the key's version
        value += st;
        MDB_val sk = as_val(skey), sv = as_val(value);
        lmdb_check(mdb_put(t, state_db, &sk, &sv, 0), "put state");
        writes += 2;
        if (s < 2)
          append(t, s + 1, e.event, done_chunk);
      }
      list.clear();
    }
    lmdb_check(mdb_txn_commit(t), "commit");
    ++txns;
  }
  mode_result r;
  r.mode = "lmdb";
  r.seconds = seconds_since(t0);
  r.cpu = read_cpu() - cpu0;
  r.events = c.events;
  r.stage_events = 3 * c.events;
  r.mem = read_memory();
  mdb_env_close(env);
  std::cout << "(c) raw LMDB: " << grouped(static_cast<double>(c.events))
            << " events, " << grouped(static_cast<double>(writes))
            << " writes in " << txns << " transactions of up to " << chunk * 4
            << " records (" << chunk << " events per stage), "
            << (c.sync ? "fsynced" : "not fsynced") << ", in " << r.seconds
            << " s\n    value bytes (means of " << sizes.size()
            << " keys): queued events " << static_cast<int>(mean_q[0]) << "/"
            << static_cast<int>(mean_q[1]) << "/" << static_cast<int>(mean_q[2])
            << ", states with version header " << static_cast<int>(mean_s[0])
            << "/" << static_cast<int>(mean_s[1]) << "/"
            << static_cast<int>(mean_s[2])
            << " (parse/enrich/score); data file " << mib(dir_bytes(dir) / 1024)
            << "\n";
  std::cout << "    " << cpu_line(r.cpu, c.events) << "\n";
  if (!c.keep)
    std::filesystem::remove_all(dir);
  return r;
}

// -- the table ----------------------------------------------------------------

std::map<std::string, std::string> fields_of(const std::string& line) {
  std::map<std::string, std::string> out;
  std::istringstream is(line);
  std::string word;
  while (is >> word)
    if (auto eq = word.find('='); eq != std::string::npos)
      out[word.substr(0, eq)] = word.substr(eq + 1);
  return out;
}

/// Prints the comparison from a config line and result lines.
void print_table(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> cfg;
  std::map<std::string, std::map<std::string, std::string>> res;
  for (auto& l : lines) {
    if (l.starts_with("config "))
      cfg = fields_of(l);
    else if (l.starts_with("result "))
      res[fields_of(l)["mode"]] = fields_of(l);
  }
  auto num = [](const std::map<std::string, std::string>& m, const char* k) {
    auto i = m.find(k);
    return i == m.end() ? 0.0 : std::stod(i->second);
  };
  auto eps = [&](const std::string& mode) {
    if (!res.count(mode) || num(res[mode], "seconds") <= 0)
      return 0.0;
    return num(res[mode], "events") / num(res[mode], "seconds");
  };
  std::printf("\n== package_trust throughput: %s events over %s keys ==\n",
              grouped(num(cfg, "events")).c_str(),
              grouped(num(cfg, "keys")).c_str());
  std::printf(
      "commit batch %s records, fsync %s, publish batches of %s, %s cores\n",
      cfg["commit_batch"].c_str(), cfg["sync"] == "1" ? "on" : "off",
      grouped(num(cfg, "publish_batch")).c_str(), cfg["cores"].c_str());
  std::printf("%-44s %12s %15s %9s %12s\n", "", "events/s", "stage-events/s",
              "seconds", "CPU us/event");
  const std::pair<const char*, const char*> rows[] = {
      {"runtime", "(a) runtime: sluice::node, durable"},
      {"loop", "(b) plain loop: behaviours, no runtime"},
      {"lmdb", "(c) raw LMDB: minimum writes, same batches"}};
  for (auto& [mode, label] : rows) {
    if (!res.count(mode)) {
      std::printf("%-44s %12s %15s %9s %12s\n", label, "-", "-", "-", "-");
      continue;
    }
    auto& r = res[mode];
    std::printf("%-44s %12s %15s %9.2f %12.1f\n", label,
                grouped(eps(mode)).c_str(),
                grouped(num(r, "stage_events") / num(r, "seconds")).c_str(),
                num(r, "seconds"), num(r, "cpu_s") * 1e6 / num(r, "events"));
  }
  if (eps("runtime") > 0 && eps("loop") > 0)
    std::printf("a/b = %.3f  (runtime events/s over the plain loop's)\n",
                eps("runtime") / eps("loop"));
  if (eps("runtime") > 0 && eps("lmdb") > 0)
    std::printf("a/c = %.3f  (runtime events/s over raw LMDB's)\n",
                eps("runtime") / eps("lmdb"));
  if (res.count("runtime")) {
    auto& r = res["runtime"];
    std::printf(
        "(a) memory: peak RSS (VmHWM) %s; at the end RssAnon %s, "
        "RssFile %s\n",
        mib(static_cast<std::uint64_t>(num(r, "hwm_kib"))).c_str(),
        mib(static_cast<std::uint64_t>(num(r, "rss_anon_kib"))).c_str(),
        mib(static_cast<std::uint64_t>(num(r, "rss_file_kib"))).c_str());
  }
}

void usage() {
  std::cout <<
      R"(bench_throughput: durable three-stage throughput of package_trust.

  --events N          input events (default 1000000)
  --keys K            distinct keys (default 100000)
  --data DIR          scratch directory (default /var/tmp/sluice-bench-<pid>);
                      runs use DIR/runtime and DIR/lmdb, removed afterwards
  --commit-batch M    records per LMDB transaction (default 4096)
  --commit-budget MS  how long a normal commit should take, in (a)
                      (default 10; 0: --commit-batch only)
  --publish-batch P   events per publish call (default 5000)
  --no-sync           no fsync per commit, in (a) and (c)
  --threads T         scheduler threads for (a) (default: cores)
  --only MODE         runtime, loop, lmdb or all (default all, (a) first)
  --report FILE       append machine-readable result lines to FILE
  --print-table FILE  print the table from FILE's lines and exit
  --example DIR       the package_trust folder (default: the source tree's)
  --pipeline FILE     topology to run (default: DIR/pipeline.yaml); must use
                      the package_trust stages parse, enrich and score
  --keep              keep the data directories
)";
}

} // namespace

int main(int argc, char** argv) {
  sluice::bench::program = "bench_throughput";
  config c;
  try {
    flags f{argc,
            argv,
            {{"events", true},
             {"keys", true},
             {"data", true},
             {"commit-batch", true},
             {"commit-budget", true},
             {"publish-batch", true},
             {"no-sync", false},
             {"threads", true},
             {"only", true},
             {"report", true},
             {"print-table", true},
             {"example", true},
             {"pipeline", true},
             {"keep", false},
             {"help", false}}};
    if (f.has("help")) {
      usage();
      return 0;
    }
    if (f.has("print-table")) {
      std::ifstream in(f.str("print-table", ""));
      if (!in)
        die("cannot read " + f.str("print-table", ""));
      std::vector<std::string> lines;
      for (std::string l; std::getline(in, l);)
        lines.push_back(l);
      print_table(lines);
      return 0;
    }
    c.events = f.num("events", c.events);
    c.keys = f.num("keys", c.keys);
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
    c.only = f.str("only", c.only);
    c.report = f.str("report", "");
    if (c.only != "all" && c.only != "runtime" && c.only != "loop"
        && c.only != "lmdb")
      throw std::invalid_argument("--only wants runtime, loop, lmdb or all");
    if (c.events == 0 || c.keys == 0 || c.commit_batch == 0
        || c.publish_batch == 0)
      throw std::invalid_argument(
          "--events, --keys and the batches must be > 0");
  } catch (const std::invalid_argument& e) {
    std::cerr << "bench_throughput: " << e.what() << " (see --help)\n";
    return 2;
  }

  auto w = check(workload::load(c.example + "/data"), "load the sample");
  std::cout << config_line(c) << "\n";
  std::cout << "workload: " << w.base_count()
            << " real records (npm, PyPI, Debian) -> " << c.keys << " keys, "
            << c.events << " events (" << (c.events + c.keys - 1) / c.keys
            << " versions per key at most)\n";
  std::vector<std::string> lines{config_line(c)};
  auto record = [&](const mode_result& r) {
    lines.push_back(result_line(r));
    std::cout << lines.back() << "\n" << std::flush;
    if (!c.report.empty()) {
      std::ofstream out(c.report, std::ios::app);
      if (lines.size() == 2)
        out << lines.front() << "\n";
      out << lines.back() << "\n";
    }
  };
  try {
    if (c.only == "all" || c.only == "runtime")
      record(run_runtime(c, w));
    if (c.only == "all" || c.only == "loop")
      record(run_loop(c, w));
    if (c.only == "all" || c.only == "lmdb")
      record(run_lmdb(c, w));
  } catch (const std::exception& e) {
    die(e.what());
  }
  std::error_code ec;
  if (!c.keep)
    std::filesystem::remove(c.data, ec); // only if empty
  if (c.only == "all")
    print_table(lines);
  return 0;
}
