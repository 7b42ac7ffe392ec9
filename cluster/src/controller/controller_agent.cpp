// The agent's parts and its worker thread. The lease keeper and the table
// watch run on threads of their own; the worker runs everything else in
// order: queued requests (isr changes, forget), the election, and the
// controller's rounds on each change of the table and every tick. The role
// is dropped at once (under the mutex) when the lease becomes unconfirmed.
#include "controller/controller_agent.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "controller/agent_requests.hpp"
#include "controller/controller_loop.hpp"
#include "controller/etcd_outage.hpp"
#include "controller/lease_keeper.hpp"
#include "controller/table_watch.hpp"

namespace sluice::cluster {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// The controller's periodic round.
constexpr auto tick = 500ms;

/// A queued request: `run` does it, `abandon` answers it when the agent
/// stops first. Exactly one of them is called.
struct job {
  std::function<void()> run;
  std::function<void()> abandon;
};

} // namespace

struct controller_agent::impl {
  impl(controller_agent_options o, controller_callbacks c, controller_keys k,
       etcd_client e, std::shared_ptr<spdlog::logger> l)
      : options(std::move(o)), callbacks(std::move(c)), keys(std::move(k)),
        client(std::move(e)), log(std::move(l)), outage(log),
        loop(client, keys,
             {options.member, options.replication_factor, options.settle,
              options.min_insync, options.rebalance_moves,
              options.rebalance_settle, options.replace_after},
             outage, log) {}

  controller_agent_options options;
  controller_callbacks callbacks;
  controller_keys keys;
  etcd_client client;
  std::shared_ptr<spdlog::logger> log;
  etcd_outage outage;
  controller_loop loop; // the worker's

  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  /// The table changed since the last round.
  bool dirty = true;
  /// Whether the table watch last saw a controller key (unknown: true).
  bool controller_present = false;
  bool lease_ok = false;
  std::int64_t lease = 0;
  std::deque<job> jobs;
  std::atomic<bool> controller{false};

  std::unique_ptr<lease_keeper> keeper;
  std::unique_ptr<table_watch> watch;
  std::thread worker;

  void on_lease(bool ok, std::int64_t id) {
    {
      std::lock_guard<std::mutex> guard{mutex};
      lease_ok = ok;
      lease = id;
      if (!ok && controller.exchange(false))
        log->warn("controller agent: {} stops acting as the controller: its "
                  "lease is unconfirmed",
                  options.member);
      dirty = true;
    }
    wake.notify_all();
    if (callbacks.on_lease)
      callbacks.on_lease(ok);
  }

  void on_change(bool present) {
    {
      std::lock_guard<std::mutex> guard{mutex};
      controller_present = present;
      dirty = true;
    }
    wake.notify_all();
  }

  /// Whether the controller may still write (checked before each txn).
  bool acting() {
    std::lock_guard<std::mutex> guard{mutex};
    return !stop && lease_ok && controller.load();
  }

  void enqueue(job j) {
    {
      std::unique_lock<std::mutex> lock{mutex};
      if (!stop) {
        jobs.push_back(std::move(j));
        lock.unlock();
        wake.notify_all();
        return;
      }
    }
    j.abandon();
  }

  void run_worker();
  void work();
};

void controller_agent::impl::run_worker() {
  try {
    work();
  } catch (const std::exception& e) {
    log->error("controller agent: the worker stopped: {}", e.what());
  }
  std::deque<job> left;
  {
    std::lock_guard<std::mutex> guard{mutex};
    stop = true;
    left.swap(jobs);
  }
  for (auto& j : left)
    j.abandon();
}

void controller_agent::impl::work() {
  auto next_tick = clock_type::now();
  auto recheck = clock_type::time_point::max();
  std::unique_lock<std::mutex> lock{mutex};
  while (true) {
    wake.wait_until(lock, std::min(next_tick, recheck),
                    [this] { return stop || !jobs.empty() || dirty; });
    if (stop)
      return;
    auto todo = std::move(jobs);
    jobs.clear();
    bool changed = dirty;
    dirty = false;
    bool campaign = lease_ok && !controller.load();
    bool absent = !controller_present;
    auto id = lease;
    lock.unlock();
    for (auto& j : todo) {
      try {
        j.run();
      } catch (const std::exception& e) {
        log->error("controller agent: a request threw: {}", e.what());
      }
    }
    auto now = clock_type::now();
    bool ticked = now >= next_tick || now >= recheck;
    if (ticked) {
      next_tick = now + tick;
      recheck = clock_type::time_point::max();
    }
    try {
      if (campaign && (absent || ticked)) {
        auto won = loop.campaign(id);
        if (won && *won) {
          std::lock_guard<std::mutex> guard{mutex};
          if (lease_ok && lease == id)
            controller.store(true);
        }
      }
      if (controller.load() && (changed || ticked || campaign)) {
        if (!loop.round([this] { return acting(); }, recheck))
          controller.store(false);
      }
    } catch (const std::exception& e) {
      // The next change or tick tries again.
      log->error("controller agent: a controller round threw: {}", e.what());
    }
    lock.lock();
  }
}

result<std::unique_ptr<controller_agent>>
controller_agent::start(controller_agent_options options,
                        controller_callbacks callbacks) {
  auto keys = controller_keys::make(options.cluster);
  if (!keys)
    return keys.error();
  if (auto ok = controller_keys::check_name("member name", options.member); !ok)
    return ok.error();
  if (options.replication_factor == 0)
    return fail(errc::invalid_argument, "replication factor 0 (at least 1)");
  auto client = etcd_client::make(options.etcd);
  if (!client)
    return client.error();
  auto log = options.log ? options.log : spdlog::default_logger();
  options.self.hosts_shards = options.hosts_shards;
  auto p = std::make_unique<impl>(options, std::move(callbacks), *keys, *client,
                                  log);
  auto* self = p.get();
  auto keeper = lease_keeper::start(
      *client, keys->member(options.member), encode(options.self),
      options.lease_ttl,
      [self](bool ok, std::int64_t id) { self->on_lease(ok, id); },
      self->outage, log);
  if (!keeper)
    return keeper.error().within("controller agent of '" + options.member
                                 + "'");
  p->keeper = std::move(*keeper);
  p->watch = std::make_unique<table_watch>(
      *client, *keys, p->callbacks, [self](bool c) { self->on_change(c); },
      self->outage, log);
  p->worker = std::thread([self] { self->run_worker(); });
  log->info("controller agent: {} in cluster '{}' (lease TTL {} ms, R = {})",
            options.member, options.cluster, p->keeper->ttl().count(),
            options.replication_factor);
  return std::unique_ptr<controller_agent>(new controller_agent(std::move(p)));
}

controller_agent::controller_agent(std::unique_ptr<impl> p)
    : impl_(std::move(p)) {}

controller_agent::~controller_agent() {
  auto& p = *impl_;
  {
    std::lock_guard<std::mutex> guard{p.mutex};
    p.stop = true;
    p.controller.store(false);
  }
  p.wake.notify_all();
  p.watch->stop();
  if (p.worker.joinable())
    p.worker.join();
  p.keeper->stop();
  // Bounded: short timeouts, whatever the options say.
  auto quick = p.options.etcd;
  quick.connect_timeout =
      std::min<std::chrono::milliseconds>(quick.connect_timeout, 300ms);
  quick.request_timeout =
      std::min<std::chrono::milliseconds>(quick.request_timeout, 1000ms);
  if (auto c = etcd_client::make(quick))
    p.keeper->revoke(*c);
}

void controller_agent::change_isr(isr_request request, bool add,
                                  std::function<void(result<void>)> done) {
  auto shared =
      std::make_shared<std::function<void(result<void>)>>(std::move(done));
  auto* p = impl_.get();
  p->enqueue({[p, request = std::move(request), add, shared] {
                auto r = change_isr_now(p->client, p->keys, request, add);
                (*shared)(std::move(r));
              },
              [shared] {
                (*shared)(fail(errc::unavailable,
                               "the controller agent stopped first"));
              }});
}

void controller_agent::change_isr_batch(
    std::vector<isr_request> requests, bool add,
    std::function<void(std::vector<result<void>>)> done) {
  auto shared =
      std::make_shared<std::function<void(std::vector<result<void>>)>>(
          std::move(done));
  auto n = requests.size();
  auto* p = impl_.get();
  p->enqueue(
      {[p, requests = std::move(requests), add, shared] {
         (*shared)(change_isr_batch_now(p->client, p->keys, requests, add));
       },
       [shared, n] {
         (*shared)(std::vector<result<void>>(
             n, fail(errc::unavailable, "the controller agent stopped first")));
       }});
}

void controller_agent::leave_isr(
    std::vector<std::uint32_t> shards,
    std::function<void(result<std::size_t>)> done) {
  auto shared = std::make_shared<std::function<void(result<std::size_t>)>>(
      std::move(done));
  auto* p = impl_.get();
  p->enqueue({[p, shards = std::move(shards), shared] {
                (*shared)(leave_isr_now(p->client, p->keys, p->options.member,
                                        shards));
              },
              [shared] {
                (*shared)(fail(errc::unavailable,
                               "the controller agent stopped first"));
              }});
}

void controller_agent::resign(
    std::vector<std::uint32_t> shards, bool only_to_live_copy,
    std::function<void(result<resign_outcome>)> done) {
  auto shared = std::make_shared<std::function<void(result<resign_outcome>)>>(
      std::move(done));
  auto* p = impl_.get();
  p->enqueue({[p, shards = std::move(shards), only_to_live_copy, shared] {
                (*shared)(resign_now(p->client, p->keys, p->options.member,
                                     shards, p->options.min_insync,
                                     only_to_live_copy));
              },
              [shared] {
                (*shared)(fail(errc::unavailable,
                               "the controller agent stopped first"));
              }});
}

void controller_agent::forget(std::string member, bool allow_data_loss,
                              std::function<void(result<std::string>)> done) {
  auto shared = std::make_shared<std::function<void(result<std::string>)>>(
      std::move(done));
  auto* p = impl_.get();
  p->enqueue({[p, member = std::move(member), allow_data_loss, shared] {
                auto r =
                    forget_now(p->client, p->keys, member,
                               p->options.replication_factor, allow_data_loss);
                if (r)
                  p->log->info("controller agent: {}", *r);
                (*shared)(std::move(r));
              },
              [shared] {
                (*shared)(fail(errc::unavailable,
                               "the controller agent stopped first"));
              }});
}

bool controller_agent::is_controller() const {
  return impl_->controller.load();
}

rebalance_status controller_agent::rebalance_state() const {
  return impl_->loop.rebalance_state();
}

} // namespace sluice::cluster
