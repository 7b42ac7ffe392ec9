// The node extension that makes a node a cluster member: sets CAF's
// middleman heartbeats (the node loads the middleman, with TLS or not), claims
// every shard when it starts a new cluster, publishes the cluster actor on the
// member's address, and answers the console's `nodes` and `shards`.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <spdlog/spdlog.h>

#include <future>

#include "cluster_actor.hpp"
#include "cluster_messages.hpp"
#include "controller/controller_agent.hpp"
#include "feed_reads.hpp"
#include "seed_list.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/cluster.hpp"
#include "sluice/node.hpp"
#include "sluice/transport.hpp"

namespace sluice {

namespace cluster {
namespace {

class member_extension final : public node_extension {
public:
  member_extension(cluster_options opts, seed_plan seeds,
                   std::shared_ptr<placement> place)
      : opts_(std::move(opts)), seeds_(std::move(seeds)),
        place_(std::move(place)) {}

  void configure(caf::actor_system_config& cfg) override {
    // CAF's own keep-alive notices a frozen peer's connection; the member
    // table's failure detector works from gossip on top of it.
    cfg.set("middleman.heartbeat-interval",
            caf::timespan{std::chrono::nanoseconds(opts_.heartbeat)});
    cfg.set("middleman.connection-timeout",
            caf::timespan{std::chrono::nanoseconds(opts_.down_after)});
  }

  bool replicated() const override { return !opts_.controller.empty(); }

  result<void> prepare(store& st) override {
    auto inc = st.next_incarnation();
    if (!inc)
      return inc.error();
    incarnation_ = *inc;
    auto records = st.shard_records();
    if (!records)
      return records.error();
    if (!opts_.hosts_shards && !records->empty())
      return fail(errc::invalid_argument,
                  "--no-shards: " + st.dir() + " still owns "
                      + std::to_string(records->size())
                      + " shards; start it as a full member and `leave` "
                        "first");
    if (records->empty() && seeds_.may_form && seeds_.others.empty()
        && opts_.controller.empty()) {
      // The first member of a new cluster owns every shard; members that
      // join later get theirs by hand-off. (The first of several seeds
      // claims them later, once it knows no other seed is in a cluster.)
      if (auto r = st.claim_all_shards(); !r)
        return r.error();
      spdlog::info("starting a new cluster: {} owns all {} shards", opts_.name,
                   shard_count);
    }
    return {};
  }

  result<void> start(const node_context& ctx) override {
    auto hp = parse_host_port("--listen", opts_.listen);
    if (!hp)
      return hp.error();
    for (auto& note : seeds_.notes)
      spdlog::info("--join: {}", note);
    sys_ = ctx.system;
    owner_ = ctx.owner;
    st_ = ctx.st;
    cluster_start cs;
    cs.opts = opts_;
    cs.ctx = ctx;
    cs.place = place_;
    cs.view = view_;
    cs.incarnation = incarnation_;
    cs.seeds = seeds_;
    cs.address = hp->host.find(':') == std::string::npos
                     ? hp->host + ":" + std::to_string(hp->port)
                     : "[" + hp->host + "]:" + std::to_string(hp->port);
    auto cs_address = cs.address;
    actor_ = spawn_cluster_actor(*sys_, std::move(cs));
    auto port = publish_actor(*sys_, actor_, hp->port, hp->host);
    if (!port) {
      stop();
      return fail(errc::unavailable, "cannot listen on " + opts_.listen + ": "
                                         + sys_->render(port.error()));
    }
    caf::anon_send(ctx.store_actor, ext::outbox_watch_atom::value, actor_);
    if (!opts_.controller.empty()) {
      caf::anon_send(ctx.store_actor, ext::replication_watch_atom::value,
                     actor_);
      if (auto r = start_agent(cs_address); !r) {
        stop();
        return r;
      }
    }
    spdlog::info("member {} listening on {}{}", opts_.name, opts_.listen,
                 uses_tls(*sys_) ? " (mutual TLS)" : "");
    return {};
  }

  std::shared_ptr<feed::feed_members> feed_members() override {
    if (!sys_ || !st_)
      return nullptr;
    return make_feed_members(*sys_, actor_, *st_, opts_.name, view_);
  }

  /// The member's agent in etcd; its reports go to the cluster actor.
  result<void> start_agent(const std::string& address) {
    controller_agent_options o;
    o.etcd.endpoints = opts_.controller;
    o.cluster = opts_.cluster_name;
    o.member = opts_.name;
    o.self = member_record{address, incarnation_};
    o.hosts_shards = opts_.hosts_shards;
    o.lease_ttl = opts_.lease_ttl;
    o.replication_factor = opts_.replication_factor;
    o.min_insync = opts_.min_insync;
    o.rebalance_moves = opts_.rebalance_moves;
    o.rebalance_settle = opts_.rebalance_settle;
    o.replace_after = opts_.replace_after;
    o.log = spdlog::default_logger();
    controller_callbacks cb;
    caf::actor to = actor_;
    cb.on_table = [to](std::shared_ptr<const shard_table> t) {
      caf::anon_send(to, table_atom::value, table_update{std::move(t)});
    };
    cb.on_members = [](std::map<std::string, member_record>) {};
    cb.on_lease = [to](bool ok) { caf::anon_send(to, lease_atom::value, ok); };
    auto a = controller_agent::start(std::move(o), std::move(cb));
    if (!a)
      return a.error().within("--controller");
    agent_ = std::move(*a);
    caf::anon_send(actor_, agent_atom::value, agent_handle{agent_.get()});
    return {};
  }

  bool busy() const override {
    std::lock_guard<std::mutex> guard{view_->mtx};
    return view_->busy;
  }

  result<topology_applied> apply_topology(const std::string& path) override {
    if (!sys_ || !actor_)
      return fail(errc::unavailable, "the member is not running");
    caf::scoped_actor self{*sys_};
    std::string reply;
    std::optional<error> failed;
    self->request(actor_, std::chrono::minutes(10), topology_atom::value, path)
        .receive([&](std::string& r) { reply = std::move(r); },
                 [&](caf::error& e) { failed = from_caf_error(e); });
    if (failed)
      return *failed;
    auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return fail(errc::unavailable, "a malformed answer from the cluster");
    if (!j.value("ok", false))
      return fail(errc::invalid_argument, j.value("error", std::string()));
    topology_applied out;
    out.changes = j.value("changes", std::vector<std::string>{});
    out.members = j.value("members", std::vector<std::string>{});
    return out;
  }

  void topology_changed(const pipeline_plan* plan,
                        caf::actor supervisor) override {
    if (actor_)
      caf::anon_send(actor_, plan_atom::value,
                     plan_update{plan, std::move(supervisor)});
  }

  std::optional<admin_answer>
  admin(const std::string& command,
        const std::vector<std::string>& args) override {
    if (command == "forget")
      return forget(args);
    if (command == "digests")
      return digests();
    if (command != "nodes" && command != "shards" && command != "leave")
      return std::nullopt;
    admin_answer a;
    if (!args.empty()) {
      a.code = admin_code::bad_usage;
      a.error = command + " takes no arguments";
      return a;
    }
    if (command == "leave") {
      caf::anon_send(actor_, leave_atom::value);
      a.json = R"({"leaving":true})";
      return a;
    }
    nlohmann::json j;
    {
      std::lock_guard<std::mutex> guard{view_->mtx};
      j = command == "nodes" ? view_->nodes : view_->shards;
    }
    if (command == "shards" && agent_ && agent_->is_controller()
        && j.contains("replication")) {
      // The controller's rebalance (rebalance_plan.hpp), read live.
      auto r = agent_->rebalance_state();
      j["replication"]["rebalance"] = {
          {"in_motion", r.in_motion},          {"not_at_target", r.unbalanced},
          {"replicas_added", r.added},         {"owners_moved", r.owners_moved},
          {"replica_sets_trimmed", r.dropped}, {"waiting", r.waiting}};
    }
    if (command == "nodes" && owner_) {
      // This member's own work, so a script can tell a quiet cluster.
      if (auto st = owner_->stats(); st)
        j["local"] = {{"queued", st->queued},
                      {"outbox", st->outbox},
                      {"timers_pending", st->timers_pending},
                      {"drained", st->drained}};
    }
    a.json = j.dump();
    return a;
  }

  /// `digests`: per shard owned here its log position and a hash of its
  /// records, per follower copy here the same; equal hashes at equal
  /// positions mean equal data (the replication checker compares them).
  admin_answer digests() const {
    admin_answer a;
    if (!st_) {
      a.code = admin_code::failed;
      a.error = "digests: the member is not running";
      return a;
    }
    nlohmann::json owned = nlohmann::json::object(),
                   copies = nlohmann::json::object();
    // Every copy's position in one read; a failed read leaves copies out,
    // as a failed read of one shard's position always did.
    std::map<std::uint32_t, repl_position> copy_at;
    if (auto all = st_->replica_positions(); all)
      copy_at = std::move(*all);
    for (std::uint32_t sh = 0; sh < shard_count; ++sh) {
      auto key = std::to_string(sh);
      if (auto pos = st_->replog_position(sh); pos && *pos) {
        auto d = st_->shard_digest(sh);
        if (d)
          owned[key] = {
              {"epoch", (*pos)->epoch}, {"seq", (*pos)->seq}, {"digest", *d}};
      } else if (auto cp = copy_at.find(sh); cp != copy_at.end()) {
        auto d = st_->replica_digest(sh);
        if (d)
          copies[key] = {{"epoch", cp->second.epoch},
                         {"seq", cp->second.seq},
                         {"digest", *d}};
      }
    }
    a.json = nlohmann::json{{"owned", std::move(owned)},
                            {"copies", std::move(copies)}}
                 .dump();
    return a;
  }

  /// `forget NODE [--allow-data-loss]`: the controller re-replicates a
  /// stopped member's shards (replacement_plan). Blocks for its answer.
  admin_answer forget(const std::vector<std::string>& args) {
    admin_answer a;
    bool loss = args.size() == 2 && args[1] == "--allow-data-loss";
    if (args.empty() || args.size() > 2 || (args.size() == 2 && !loss)) {
      a.code = admin_code::bad_usage;
      a.error = "usage: forget NODE [--allow-data-loss]";
      return a;
    }
    if (!agent_) {
      a.code = admin_code::failed;
      a.error = "forget: this cluster runs without --controller (one copy "
                "per shard): a lost member's shards come back with it";
      return a;
    }
    auto done = std::make_shared<std::promise<result<std::string>>>();
    auto answer = done->get_future();
    agent_->forget(args[0], loss, [done](result<std::string> r) {
      done->set_value(std::move(r));
    });
    if (answer.wait_for(std::chrono::seconds(15))
        != std::future_status::ready) {
      a.code = admin_code::failed;
      a.error = "forget " + args[0]
                + ": the controller did not answer within 15 s (is etcd "
                  "reachable?)";
      return a;
    }
    auto r = answer.get();
    if (!r) {
      a.code = admin_code::failed;
      a.error = "forget " + args[0] + ": " + r.error().message;
      return a;
    }
    spdlog::info("console: forget {}: {}", args[0], *r);
    a.json = nlohmann::json{{"forgotten", args[0]}, {"summary", *r}}.dump();
    return a;
  }

  void stop() override {
    if (!actor_ || !sys_) {
      agent_.reset();
      return;
    }
    caf::scoped_actor self{*sys_};
    self->send_exit(actor_, caf::exit_reason::user_shutdown);
    self->wait_for(actor_);
    actor_ = nullptr;
    // Then the lease (revoked): the controller fails this member's shards
    // over at once instead of after the lease's TTL.
    agent_.reset();
  }

  result<void> running() const {
    std::lock_guard<std::mutex> guard{view_->mtx};
    if (!view_->fatal.empty())
      return fail(errc::config, view_->fatal);
    return {};
  }

  bool left() const {
    std::lock_guard<std::mutex> guard{view_->mtx};
    return view_->left;
  }

  result<void> ready() const {
    std::lock_guard<std::mutex> guard{view_->mtx};
    if (!view_->fatal.empty())
      return fail(errc::unavailable, view_->fatal);
    if (view_->left)
      return fail(errc::unavailable, "it left the cluster");
    if (!view_->joined)
      return fail(errc::unavailable, "not joined to the cluster yet");
    if (view_->replicated && !view_->lease_ok)
      return fail(errc::unavailable,
                  "its lease in etcd is not confirmed: its shards are not "
                  "writable");
    // Replicated: a member owning no shard right now (they failed over
    // while it was away) still serves: it follows, forwards and may own
    // again at the next failover.
    if (view_->hosts_shards && view_->owned == 0 && !view_->replicated)
      return fail(errc::unavailable, "no shards assigned yet");
    return {};
  }

private:
  cluster_options opts_;
  seed_plan seeds_;
  std::shared_ptr<placement> place_;
  std::shared_ptr<cluster_view> view_ = std::make_shared<cluster_view>();
  caf::actor_system* sys_ = nullptr;
  node* owner_ = nullptr;
  store* st_ = nullptr;
  caf::actor actor_;
  std::unique_ptr<controller_agent> agent_;
  std::uint64_t incarnation_ = 0;
};

} // namespace
} // namespace cluster

result<cluster_member> make_cluster_member(cluster_options opts) {
  if (opts.name.empty())
    return fail(errc::invalid_argument, "--name: a member needs a name");
  if (opts.name.find_first_of(" \t\n") != std::string::npos)
    return fail(errc::invalid_argument,
                "--name: '" + opts.name + "' must not contain whitespace");
  auto seeds = cluster::plan_seeds(opts.listen, opts.seeds, opts.hosts_shards,
                                   cluster::system_resolver());
  if (!seeds)
    return seeds.error();
  if (opts.secret.empty())
    return fail(errc::invalid_argument,
                "no cluster secret: give --secret-file FILE or set "
                "SLUICE_CLUSTER_SECRET");
  if (opts.heartbeat.count() <= 0 || opts.suspect_after <= opts.heartbeat
      || opts.down_after <= opts.suspect_after)
    return fail(errc::invalid_argument,
                "failure detection needs 0 < heartbeat < suspect-after < "
                "down-after");
  if (opts.seed_timeout.count() <= 0)
    return fail(errc::invalid_argument, "the seed timeout must be positive");
  if (!opts.controller.empty()) {
    if (opts.replication_factor < 1 || opts.replication_factor > 7)
      return fail(errc::invalid_argument,
                  "--replicas: " + std::to_string(opts.replication_factor)
                      + " copies per shard; give 1 to 7");
    if (opts.min_insync < 1 || opts.min_insync > opts.replication_factor)
      return fail(errc::invalid_argument,
                  "--min-insync: " + std::to_string(opts.min_insync)
                      + " cannot work with --replicas "
                      + std::to_string(opts.replication_factor)
                      + "; give 1 to the replica count");
    if (opts.rebalance_settle.count() < 0)
      return fail(errc::invalid_argument,
                  "--rebalance-settle: "
                      + std::to_string(opts.rebalance_settle.count())
                      + " ms; give 0 or more");
    if (opts.replace_after.count() != 0
        && opts.replace_after < std::chrono::seconds(10))
      return fail(errc::invalid_argument,
                  "--replace-after: "
                      + std::to_string(opts.replace_after.count())
                      + " ms would re-replicate a member's shards at every "
                        "restart; give 0 (off) or at least 10s");
    if (opts.lease_ttl < std::chrono::seconds(1))
      return fail(errc::invalid_argument,
                  "--lease-ttl: at least 1 s (etcd's leases count seconds)");
    for (auto& url : opts.controller)
      if (url.rfind("http://", 0) != 0 || url.size() <= 7)
        return fail(errc::invalid_argument,
                    "--controller: '" + url
                        + "' is not an etcd endpoint (http://HOST:PORT)");
  }
  auto place = std::make_shared<placement>();
  auto ext = std::make_shared<cluster::member_extension>(
      std::move(opts), std::move(*seeds), place);
  return cluster_member{ext, place};
}

result<void> cluster_running(const node_extension& ext) {
  auto* m = dynamic_cast<const cluster::member_extension*>(&ext);
  return m ? m->running() : result<void>{};
}

bool cluster_left(const node_extension& ext) {
  auto* m = dynamic_cast<const cluster::member_extension*>(&ext);
  return m && m->left();
}

result<void> cluster_ready(const node_extension& ext) {
  auto* m = dynamic_cast<const cluster::member_extension*>(&ext);
  return m ? m->ready() : result<void>{};
}

} // namespace sluice
