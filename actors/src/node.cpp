// The embedded node: bootstraps the actor system and the supervision tree,
// and answers publish and stats calls from plain C++ threads.
#include "sluice/node.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <filesystem>
#include <mutex>
#include <thread>

#include "admin_actor.hpp"
#include "feed_source.hpp"
#include "messages.hpp"
#include "node_env.hpp"
#include "node_impl.hpp"
#include "node_supervisor.hpp"
#include "on_demand.hpp"
#include "pg_source.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/feed_reader.hpp"
#include "sluice/transport.hpp"
#include "sluice/v1/store.pb.h"
#include "store_actor.hpp"

namespace sluice {

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

node::~node() {
  stop();
}

sluice::metrics& node::metrics() noexcept {
  return impl_->metrics;
}

result<std::unique_ptr<node>> node::start(topology topo, const registry& reg,
                                          node_options opts) {
  auto p = std::make_unique<impl>();
  if (opts.scheduler != "sharing" && opts.scheduler != "stealing")
    return fail(errc::invalid_argument,
                "scheduler must be sharing or stealing, not '" + opts.scheduler
                    + "'");
  std::size_t stdin_feeds = 0;
  for (auto& f : opts.feeds) {
    // Standard input is opened by its feed only: a look here would take
    // what a pipe gives.
    if (f == feed_reader::standard_input) {
      if (++stdin_feeds > 1)
        return fail(errc::invalid_argument,
                    "--feed - (standard input) is given more than once");
      continue;
    }
    auto r = feed_reader::open(f, feed_reader::options::from(topo.feed));
    if (!r)
      return r.error();
  }
  if (!opts.feeds.empty() && topo.feed.topic.empty())
    return fail(errc::config, "the topology names no feed topic");
  auto st =
      store::open({opts.data_dir, opts.max_data_size, opts.sync, false,
                   opts.place, opts.extension && opts.extension->replicated()});
  if (!st)
    return st.error();
  p->st = std::move(*st);
  p->extension = opts.extension;
  if (p->extension)
    if (auto r = p->extension->prepare(*p->st); !r)
      return r.error();
  auto plan = pipeline_plan::bind(std::move(topo), reg, *p->st);
  if (!plan)
    return plan.error();
  p->plans.push_back(std::make_unique<pipeline_plan>(std::move(*plan)));
  p->current_plan = p->plans.back().get();
  p->feed_hub =
      std::make_unique<feed::hub>(*p->st, reg, opts.max_feed_subscribers);
  {
    auto window = std::chrono::duration_cast<std::chrono::nanoseconds>(
        opts.dedupe_window);
    if (auto pruned = p->st->prune_seen(now_ns() - window.count()); !pruned)
      return pruned.error();
  }
  if (!opts.catalog.empty()) {
    if (p->plan()->topo().feed.topic.empty())
      return fail(errc::config, "--catalog: the topology names no feed topic "
                                "for the catalog's records");
    if (auto r =
            index_catalog_file(*p->st, opts.catalog, p->plan()->topo().feed);
        !r)
      return r.error();
  }
  p->opts = opts;
  p->reg = &reg;
  p->feeds = opts.feeds;
  for (auto& f : opts.feeds) {
    // A pass its feed starts anew (--refeed, or standard input, which is
    // new input on every run) is waited for, not the one recorded.
    std::uint32_t awaited = 0;
    bool from_stdin = f == feed_reader::standard_input;
    if (opts.refeed || from_stdin)
      if (auto rec = p->st->read_progress(feed_source_name(f)); rec && *rec) {
        v1::SourceOffset so;
        if (so.ParseFromString(**rec)
            && (so.finished() || (from_stdin && so.byte_offset() > 0)))
          awaited = std::max(so.pass(), 1u);
      }
    p->awaited_pass.push_back(awaited);
  }

  p->cfg = std::make_unique<caf::actor_system_config>();
  // Logs and failures render sluice errors as "sluice:config: ...".
  add_sluice_error_category(*p->cfg);
  if (p->extension) {
    auto files = configure_transport(*p->cfg, opts.tls.get());
    if (!files)
      return files.error();
    p->tls = std::move(*files);
    p->extension->configure(*p->cfg);
  } else if (!opts.listen.empty()) {
    if (auto hp = parse_host_port(opts.listen); !hp)
      return fail(errc::invalid_argument, "--listen: " + hp.error().message);
    if (opts.admin_token.empty())
      return fail(errc::invalid_argument,
                  "--listen needs an admin token: set SLUICE_TOKEN or give "
                  "--token-file");
    auto files = configure_transport(*p->cfg, opts.tls.get());
    if (!files)
      return files.error();
    p->tls = std::move(*files);
    // A console that froze (SIGSTOP) is noticed, not waited for.
    p->cfg->set("middleman.heartbeat-interval", caf::timespan{500000000});
    p->cfg->set("middleman.connection-timeout", caf::timespan{5000000000});
  }
  auto threads = opts.threads
                     ? opts.threads
                     : std::max(2u, std::thread::hardware_concurrency());
  p->cfg->set("scheduler.max-threads", threads);
  p->cfg->set("scheduler.max-throughput", 256);
  // Sharing, not stealing: idle stealing workers spin, and on 2 cores
  // they take CPU from the store's and feeds' own threads (measured: the
  // example runs 1.2-1.5x faster; docs/BENCHMARKS.md).
  p->cfg->set("scheduler.policy", caf::atom_from_string(opts.scheduler));
  p->sys = std::make_unique<caf::actor_system>(*p->cfg);

  node_env env;
  p->unrouted = std::make_unique<unrouted_reasons>(env.logger("routing"));
  env.unrouted = p->unrouted.get();
  env.done = p->done.get();
  env.urgent_seen = p->urgent_seen.get();
  env.st = p->st.get();
  env.plan = p->plan();
  env.reg = &reg;
  env.metrics = &p->metrics;
  env.place = opts.place.get();
  env.max_commit_batch = opts.max_commit_batch;
  env.commit_window = opts.commit_window;
  env.commit_budget = opts.commit_budget;
  env.feed_batch = opts.feed_batch;
  env.refeed = opts.refeed;
  env.stop_when_full = opts.stop_when_full;
  p->env = env;
  for (auto& src : p->plan()->topo().sources)
    if (auto r = check_pg_source(src, env); !r)
      return r.error();
  p->store_actor = spawn_store_actor(*p->sys, env);
  start_supervisor(*p);
  auto n = std::unique_ptr<node>(new node(std::move(p)));
  if (auto& q = *n->impl_; q.extension) {
    if (!opts.admin_token.empty())
      q.admin_actor =
          spawn_admin(*q.sys, *n, opts.admin_token, env.logger("admin"));
    node_context ctx;
    ctx.system = q.sys.get();
    ctx.store_actor = q.store_actor;
    ctx.supervisor = q.supervisor;
    ctx.admin = q.admin_actor;
    ctx.st = q.st.get();
    ctx.plan = q.plan();
    ctx.metrics = &q.metrics;
    ctx.owner = n.get();
    ctx.logger = [env](const std::string& c) { return env.logger(c); };
    ctx.topology_here = [raw = &q](const std::string& path,
                                   const std::string& apply_digest) {
      return topology_here(*raw, path, apply_digest);
    };
    if (auto r = q.extension->start(ctx); !r)
      return r.error(); // ~node stops what started
    q.extension_started = true;
    // Change feeds through any member: every member's shards.
    if (auto members = q.extension->feed_members())
      q.feed_hub->serve_cluster(std::move(members));
  } else if (!opts.listen.empty()) {
    auto& q = *n->impl_;
    auto port = publish_admin(*q.sys, *n, opts.listen, opts.admin_token,
                              env.logger("admin"), q.admin_actor);
    if (!port)
      return port.error(); // ~node stops what started
    q.admin_port = *port;
  }
  return n;
}

std::string node::prometheus() {
  auto& p = *impl_;
  if (!p.stopped) {
    for (std::size_t i = 0; i < p.plan()->stage_count(); ++i) {
      auto& name = p.plan()->topo().stages[i].name;
      if (auto d = p.st->queue_depth(p.plan()->stage_id(i)))
        for (int prio : {0, 1})
          p.metrics
              .get_gauge("sluice_stage_queue_depth",
                         {{"stage", name},
                          {"priority", to_string(static_cast<priority>(prio))}},
                         "Events waiting in the stage's durable queue")
              .set(static_cast<std::int64_t>((*d)[prio]));
    }
    if (auto o = p.st->outbox_depth())
      p.metrics
          .get_gauge("sluice_outbox_depth", {},
                     "Events waiting in the outbox for the members that own "
                     "their keys")
          .set(static_cast<std::int64_t>(*o));
    if (auto t = p.st->timers_pending())
      p.metrics
          .get_gauge("sluice_timers_pending", {},
                     "Durable behaviour timers not yet fired")
          .set(static_cast<std::int64_t>(*t));
    auto space = p.st->space();
    p.metrics
        .get_gauge("sluice_store_used_bytes", {},
                   "Bytes of the data file in use (its high-water mark)")
        .set(static_cast<std::int64_t>(space.used));
    p.metrics
        .get_gauge("sluice_store_max_bytes", {},
                   "The largest the data file may grow (--max-data-size)")
        .set(static_cast<std::int64_t>(space.max));
    p.metrics
        .get_gauge("sluice_store_damaged_reads", {},
                   "Reads that met a stored value failing its checksum (never "
                   "served or processed; sluice check lists them)")
        .set(static_cast<std::int64_t>(p.st->damaged_reads()));
    feed_metrics();
  }
  return p.metrics.render_prometheus();
}

std::string node::input_paused() const {
  // Every publish asks: the flag first, the reason (a lock, a copy) only
  // while paused.
  if (!impl_->st->short_of_space())
    return {};
  auto why = impl_->st->out_of_space();
  if (why.empty())
    return why;
  return "input paused: " + why
         + " (reads are served; the commit is tried again every second)";
}

const sluice::topology& node::pipeline() const noexcept {
  return impl_->plan()->topo();
}

std::uint16_t node::admin_port() const noexcept {
  return impl_->admin_port;
}

void start_supervisor(node::impl& p) {
  auto generation = ++p.supervisors_started;
  p.supervisor = spawn_node_supervisor(*p.sys, p.env, p.store_actor, p.feeds);
  auto* raw = &p;
  p.supervisor->attach_functor([raw, generation](const caf::error& reason) {
    // Stopped for a live topology change: expected, not a failure. CAF may
    // run this after wait_for returned, so the generation tells it too.
    if (reason && !raw->swapping
        && generation == raw->supervisors_started.load()) {
      std::lock_guard<std::mutex> guard{raw->failure_mtx};
      raw->failure = describe_error(reason);
    }
  });
}

result<node_stats> node::stats() const {
  auto& p = *impl_;
  node_stats out;
  auto& m = p.metrics;
  for (std::size_t i = 0; i < p.plan()->stage_count(); ++i) {
    stage_stats s;
    s.name = p.plan()->topo().stages[i].name;
    labels l{{"stage", s.name}};
    s.in = m.counter_value("sluice_stage_in_total", l);
    s.done = m.counter_value("sluice_stage_done_total", l);
    s.skipped = m.counter_value("sluice_stage_skipped_total", l);
    s.failed = m.counter_value("sluice_stage_failed_total", l);
    auto& inf = m.get_gauge("sluice_stage_in_flight", l);
    s.in_flight = inf.value();
    s.in_flight_peak = inf.peak();
    auto& lk = m.get_gauge("sluice_stage_live_keys", l);
    s.live_keys = lk.value();
    s.live_keys_peak = lk.peak();
    auto depth = p.st->queue_depth(p.plan()->stage_id(i));
    if (!depth)
      return depth.error();
    s.queued_urgent = (*depth)[0];
    s.queued_normal = (*depth)[1];
    out.stages.push_back(std::move(s));
  }
  bool feeds_done = true;
  for (std::size_t i = 0; i < p.feeds.size(); ++i) {
    auto& f = p.feeds[i];
    feed_progress fp;
    fp.source = f;
    fp.unrouted =
        p.metrics.counter_value("sluice_feed_unrouted_total", {{"source", f}});
    auto rec = p.st->read_progress(feed_source_name(f));
    if (!rec)
      return rec.error();
    if (*rec) {
      v1::SourceOffset so;
      so.ParseFromString(**rec);
      fp.records = so.records();
      fp.offset = so.byte_offset();
      fp.size = so.file_size();
      fp.finished =
          so.finished()
          && (p.awaited_pass[i] == 0 || so.pass() > p.awaited_pass[i]);
      if (!fp.finished && so.finished()) { // the new pass has not begun
        fp.records = 0;
        fp.offset = 0;
      }
    }
    feeds_done = feeds_done && fp.finished;
    out.feeds.push_back(std::move(fp));
  }
  auto q = p.st->queued_total();
  if (!q)
    return q.error();
  out.queued = *q;
  auto outbox = p.st->outbox_depth();
  if (!outbox)
    return outbox.error();
  out.outbox = *outbox;
  auto timers = p.st->timers_pending();
  if (!timers)
    return timers.error();
  out.timers_pending = *timers;
  out.commits = m.counter_value("sluice_store_commits_total");
  // A drained node (`drain`) stopped its feeds: they count as done.
  out.drained = (feeds_done || p.draining) && out.queued == 0 && out.outbox == 0
                && out.timers_pending == 0
                && !(p.extension_started && p.extension->busy());
  {
    std::lock_guard<std::mutex> guard{p.failure_mtx};
    out.failed = !p.failure.empty();
    out.failure = p.failure;
  }
  return out;
}

void node::stop() {
  auto& p = *impl_;
  if (p.stopped || !p.sys)
    return;
  p.stopped = true;
  if (p.feed_hub)
    p.feed_hub->close(); // open subscriptions end before the store goes
  if (p.extension_started) {
    p.extension->stop(); // its actors go before the node's
    p.extension_started = false;
  }
  {
    caf::scoped_actor self{*p.sys};
    if (p.admin_actor) {
      self->send_exit(p.admin_actor, caf::exit_reason::user_shutdown);
      self->wait_for(p.admin_actor);
      p.admin_actor = nullptr;
    }
    // A store whose input is paused answers no publish until a commit
    // succeeds: it goes first (trying its commit once more), so the
    // callers waiting for it learn that their events were not accepted.
    bool paused = p.st->short_of_space();
    if (paused) {
      self->send_exit(p.store_actor, caf::exit_reason::user_shutdown);
      self->wait_for(p.store_actor);
    }
    // No thread of the pool may outlive the actor system (caller_pool.hpp).
    p.callers->stop();
    self->send_exit(p.supervisor, caf::exit_reason::user_shutdown);
    self->wait_for(p.supervisor);
    if (!paused) {
      self->send_exit(p.store_actor, caf::exit_reason::user_shutdown);
      self->wait_for(p.store_actor);
    }
  }
  p.supervisor = nullptr;
  p.store_actor = nullptr;
  p.done->close(); // what is still tracked runs after a restart
  p.sys.reset();
  p.cfg.reset();
  p.st.reset();
}

} // namespace sluice
