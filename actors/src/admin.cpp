// node::admin: the console's commands, answered from LMDB (read-only
// snapshots), the metrics, and the live state of the stage supervisors
// (asked with a scoped actor). Called from the admin actor's own thread or
// an embedder's; `admin_mtx` guards what the calls share.
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "messages.hpp"
#include "node_impl.hpp"
#include "sluice/dead_letters.hpp"
#include "sluice/utc_time.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

using json = nlohmann::json;

/// Answers are built as JSON; a bad_usage or command_failed is thrown and
/// becomes the error line.
struct bad_usage {
  std::string why;
};
struct command_failed {
  std::string why;
};

const char* phase_name(int phase) {
  switch (phase) {
  case v1::PHASE_QUEUED:
    return "queued";
  case v1::PHASE_DONE:
    return "done";
  case v1::PHASE_FAILED:
    return "failed";
  case v1::PHASE_RETRYING:
    return "retrying";
  default:
    return "unknown";
  }
}

/// A JSON value from a behaviour's state_to_json text; a string when the
/// text is not valid JSON.
json json_or_string(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

class admin_session {
public:
  explicit admin_session(node::impl& p) : p_(p) {}

  json run(const std::string& cmd, const std::vector<std::string>& args) {
    if (cmd == "nodes")
      return nodes();
    if (cmd == "shards")
      return shards();
    if (cmd == "leave")
      throw command_failed{"leave: this node is not a cluster member (a "
                           "member runs as `sluice node`)"};
    if (cmd == "stages")
      return stages();
    if (cmd == "actors")
      return actors(args);
    if (cmd == "inspect")
      return inspect(args);
    if (cmd == "trace")
      return trace(args);
    if (cmd == "dlq")
      return dlq(args);
    if (cmd == "pause" || cmd == "resume")
      return pause(args, cmd == "pause");
    if (cmd == "drain")
      return drain(args);
    if (cmd == "metrics")
      return metrics(args);
    if (cmd == "log-level")
      return log_level(args);
    if (cmd == "topology")
      return topology_cmd(args);
    throw bad_usage{"unknown command '" + cmd + "' (try help)"};
  }

private:
  // -- helpers --------------------------------------------------------------

  static void arity(const std::string& cmd,
                    const std::vector<std::string>& args, std::size_t min,
                    std::size_t max) {
    if (args.size() < min || args.size() > max) {
      auto* c = find_admin_command(cmd);
      throw bad_usage{"usage: " + cmd + " " + (c ? c->usage : "")};
    }
  }

  std::size_t stage_index(const std::string& name) const {
    auto& stages = p_.plan()->topo().stages;
    std::string known;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      if (stages[i].name == name)
        return i;
      known += (known.empty() ? "" : ", ") + stages[i].name;
    }
    throw command_failed{"no stage '" + name + "' (stages: " + known + ")"};
  }

  template <class T>
  T ok_or_fail(result<T> r) const {
    if (!r)
      throw command_failed{r.error().describe()};
    return std::move(*r);
  }

  /// Asks `who` (named `what` in the error) and waits for its `T` answer.
  template <class T, class... Ts>
  T ask(const caf::actor& who, const char* what, Ts&&... xs) {
    T out;
    caf::scoped_actor self{*p_.sys};
    self->request(who, caf::infinite, std::forward<Ts>(xs)...)
        .receive([&](T& v) { out = std::move(v); },
                 [&](caf::error& e) {
                   throw command_failed{std::string(what)
                                        + " does not answer: " + to_string(e)};
                 });
    return out;
  }

  /// The stage supervisors, by stage index (they change on restarts).
  std::vector<caf::actor> stage_actors() {
    return ask<std::vector<caf::actor>>(p_.supervisor, "the node",
                                        msg::stages_atom::value);
  }

  msg::stage_snapshot snapshot(const caf::actor& stage, std::size_t limit) {
    return ask<msg::stage_snapshot>(stage, "the stage", msg::actors_atom::value,
                                    limit);
  }

  std::string status_text(const node_stats& s) const {
    if (s.failed)
      return "failed";
    if (p_.draining)
      return s.queued == 0 ? "drained" : "draining";
    return "up";
  }

  json latency(const std::string& stage, const char* prio) {
    auto& h = p_.metrics.get_histogram("sluice_stage_latency_seconds",
                                       {{"stage", stage}, {"priority", prio}});
    return {{"count", h.count()},
            {"p50_ms", static_cast<double>(h.quantile_us(0.5)) / 1000.0},
            {"p99_ms", static_cast<double>(h.quantile_us(0.99)) / 1000.0}};
  }

  // -- commands -------------------------------------------------------------

  json nodes() {
    auto s = ok_or_fail(node_stats_of());
    auto up = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - p_.started_at)
                  .count();
    json n = {{"name", p_.opts.name},
              {"listen", p_.opts.listen.empty() ? "" : p_.opts.listen},
              {"status", status_text(s)},
              {"pid", static_cast<long>(::getpid())},
              {"uptime_s", static_cast<std::int64_t>(up)},
              {"stages", p_.plan()->stage_count()},
              {"queued", s.queued},
              {"timers_pending", s.timers_pending},
              {"commits", s.commits},
              {"data_dir", p_.opts.data_dir}};
    if (s.failed)
      n["failure"] = s.failure;
    return {{"cluster", false}, {"nodes", json::array({n})}};
  }

  json shards() {
    return {{"cluster", false},
            {"shards",
             json::array(
                 {{{"shard", "*"}, {"owner", p_.opts.name}, {"epoch", 0}}})},
            {"note", "a single node owns every key"}};
  }

  json stages() {
    auto actors = stage_actors();
    json out = json::array();
    auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < p_.plan()->stage_count(); ++i) {
      auto& spec = p_.plan()->topo().stages[i];
      labels l{{"stage", spec.name}};
      auto& m = p_.metrics;
      auto done = m.counter_value("sluice_stage_done_total", l);
      auto depth = ok_or_fail(p_.st->queue_depth(p_.plan()->stage_id(i)));
      msg::stage_snapshot snap;
      if (i < actors.size())
        snap = snapshot(actors[i], 0);
      // events/s: against the oldest sample of the last minute that is at
      // least a second old, else since the start.
      auto& samples = p_.rate_samples[spec.name];
      while (!samples.empty()
             && now - samples.front().first > std::chrono::minutes(1))
        samples.pop_front();
      std::pair<std::chrono::steady_clock::time_point, std::uint64_t> base{
          p_.started_at, 0};
      if (!samples.empty()
          && now - samples.front().first >= std::chrono::seconds(1))
        base = samples.front();
      double secs = std::chrono::duration<double>(now - base.first).count();
      double rate =
          secs > 0 ? static_cast<double>(done - base.second) / secs : 0.0;
      samples.emplace_back(now, done);
      out.push_back(
          {{"name", spec.name},
           {"behaviour", spec.behaviour},
           {"paused", snap.paused},
           {"in", m.counter_value("sluice_stage_in_total", l)},
           {"done", done},
           {"skipped", m.counter_value("sluice_stage_skipped_total", l)},
           {"retried", m.counter_value("sluice_stage_retries_total", l)},
           {"dead_lettered", m.counter_value("sluice_stage_failed_total", l)},
           {"queued_urgent", depth[0]},
           {"queued_normal", depth[1]},
           {"in_flight", snap.in_flight},
           {"live_keys", snap.live_keys},
           {"events_per_s", rate},
           {"latency",
            {{"normal", latency(spec.name, "normal")},
             {"urgent", latency(spec.name, "urgent")}}}});
    }
    return {{"stages", out}};
  }

  static json key_json(const std::string& stage, const msg::key_snapshot& k) {
    return {{"stage", stage},
            {"key", k.key},
            {"live", k.live},
            {"actor", k.actor},
            {"express", k.express},
            {"mailbox",
             {{"urgent", k.in_flight[0]},
              {"normal", k.in_flight[1]},
              {"parked", k.parked}}},
            {"retrying", k.retrying},
            {"restarts", k.restarts}};
  }

  json actors(const std::vector<std::string>& args) {
    arity("actors", args, 0, 1);
    auto stages = stage_actors();
    json out = json::array();
    std::size_t live = 0;
    for (std::size_t i = 0; i < p_.plan()->stage_count(); ++i) {
      auto& name = p_.plan()->topo().stages[i].name;
      if (!args.empty() && args[0] != name)
        continue;
      if (i >= stages.size())
        continue;
      auto snap = snapshot(stages[i], 50);
      live += snap.live_keys;
      for (auto& k : snap.keys)
        out.push_back(key_json(name, k));
    }
    if (!args.empty())
      stage_index(args[0]); // names the stages when it is unknown
    return {{"actors", out}, {"live_keys", live}};
  }

  json inspect(const std::vector<std::string>& args) {
    arity("inspect", args, 2, 2);
    auto i = stage_index(args[0]);
    auto& spec = p_.plan()->topo().stages[i];
    auto id = p_.plan()->stage_id(i);
    auto& key = args[1];
    json out = {{"stage", spec.name}, {"key", key}};
    auto stored = ok_or_fail(p_.st->read_state(id, key));
    bool known = false;
    if (stored) {
      known = true;
      v1::KeyState ks;
      if (!ks.ParseFromString(stored->key_state))
        throw command_failed{"state of key '" + key + "' in stage " + spec.name
                             + " is not a valid KeyState"};
      std::string state_json = "null";
      if (!ks.cleared() && ks.events_processed() > 0) {
        if (auto b = p_.reg->create(spec.behaviour))
          state_json = (*b)->state_to_json(ks.state());
        else
          state_json = json_quote(ks.state());
      }
      out["state"] = json_or_string(state_json);
      out["version"] = stored->version;
      out["events_processed"] = ks.events_processed();
      out["events_failed"] = ks.events_failed();
      out["last_event_id"] = ks.last_event_id();
      out["last_error"] = ks.last_error();
      out["updated"] = utc_time(ks.updated_ts_ns());
    }
    if (auto st = ok_or_fail(p_.st->read_status(key))) {
      v1::KeyStatus ks;
      if (ks.ParseFromString(*st))
        out["status"] = {{"stage", ks.stage()},
                         {"phase", phase_name(ks.phase())},
                         {"since", utc_time(ks.since_ts_ns())},
                         {"from_stage", ks.from_stage()},
                         {"last_event_id", ks.last_event_id()}};
    }
    auto stages = stage_actors();
    if (i < stages.size()) {
      auto k = ask<msg::key_snapshot>(stages[i], "the stage",
                                      msg::inspect_atom::value, key);
      known = known || k.live;
      auto kj = key_json(spec.name, k);
      for (auto f :
           {"live", "actor", "express", "mailbox", "retrying", "restarts"})
        out[f] = kj[f];
    }
    if (auto r = ok_or_fail(p_.st->read_retry(id, key))) {
      v1::RetryRecord rec;
      if (rec.ParseFromString(r->record)) {
        json attempts = json::array();
        for (auto& a : rec.attempts())
          attempts.push_back({{"attempt", a.attempt()},
                              {"at", utc_time(a.at_ts_ns())},
                              {"error", a.error()}});
        out["retry"] = {{"due", utc_time(rec.due_ts_ns())},
                        {"attempts", attempts}};
      }
    }
    json timers = json::array();
    for (auto& t : ok_or_fail(p_.st->read_timers(id, key)))
      timers.push_back({{"name", t.name}, {"due", utc_time(t.due_ns)}});
    out["timers"] = timers;
    dead_letter_filter f;
    f.stage = spec.name;
    f.key = key;
    json dls = json::array();
    for (auto& v : ok_or_fail(list_dead_letters(*p_.st, f)))
      dls.push_back(v.id);
    out["dead_letters"] = dls;
    if (!known && dls.empty())
      throw command_failed{"key '" + key + "' is unknown in stage "
                           + spec.name};
    return out;
  }

  json trace(const std::vector<std::string>& args) {
    arity("trace", args, 1, 1);
    auto& key = args[0];
    json path = json::array();
    for (std::size_t i = 0; i < p_.plan()->stage_count(); ++i) {
      auto& spec = p_.plan()->topo().stages[i];
      auto stored = ok_or_fail(p_.st->read_state(p_.plan()->stage_id(i), key));
      if (!stored)
        continue;
      v1::KeyState ks;
      ks.ParseFromString(stored->key_state);
      path.push_back({{"stage", spec.name},
                      {"at", utc_time(ks.updated_ts_ns())},
                      {"last_event_id", ks.last_event_id()},
                      {"events_processed", ks.events_processed()},
                      {"events_failed", ks.events_failed()},
                      {"last_error", ks.last_error()},
                      {"version", stored->version}});
    }
    json out = {{"key", key}, {"path", path}};
    if (auto st = ok_or_fail(p_.st->read_status(key))) {
      v1::KeyStatus ks;
      if (ks.ParseFromString(*st))
        out["now"] = {{"stage", ks.stage()},
                      {"phase", phase_name(ks.phase())},
                      {"since", utc_time(ks.since_ts_ns())}};
    }
    dead_letter_filter f;
    f.key = key;
    json dls = json::array();
    for (auto& v : ok_or_fail(list_dead_letters(*p_.st, f)))
      dls.push_back(
          {{"id", v.id}, {"stage", v.stage}, {"error", v.last_error}});
    out["dead_letters"] = dls;
    if (path.empty() && !out.contains("now") && dls.empty())
      throw command_failed{"key '" + key + "' is unknown to every stage"};
    return out;
  }

  json dlq(const std::vector<std::string>& args) {
    if (args.empty())
      throw bad_usage{"usage: dlq list|show|redrive|drop ..."};
    auto& sub = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (sub == "list") {
      dead_letter_filter f;
      for (std::size_t i = 0; i < rest.size(); ++i) {
        auto need = [&]() -> const std::string& {
          if (i + 1 >= rest.size())
            throw bad_usage{"dlq list: " + rest[i] + " needs a value"};
          return rest[++i];
        };
        if (rest[i] == "--stage")
          f.stage = need();
        else if (rest[i] == "--key")
          f.key = need();
        else if (rest[i] == "--grep")
          f.error_contains = need();
        else
          throw bad_usage{"dlq list: unknown option '" + rest[i]
                          + "' (--stage, --key, --grep)"};
      }
      json out = json::array();
      for (auto& v : ok_or_fail(list_dead_letters(*p_.st, f)))
        out.push_back(json::parse(to_json(v, false)));
      return {{"dead_letters", out}};
    }
    if (sub == "show") {
      if (rest.size() != 1)
        throw bad_usage{"usage: dlq show ID"};
      auto ref = ok_or_fail(parse_dead_letter_id(rest[0]));
      return json::parse(
          to_json(ok_or_fail(show_dead_letter(*p_.st, ref)), true));
    }
    if (sub == "redrive" || sub == "drop") {
      if (rest.empty())
        throw bad_usage{"usage: dlq " + sub + " ID...|--all"};
      std::vector<store::dead_letter_ref> refs;
      if (rest.size() == 1 && rest[0] == "--all") {
        for (auto& v : ok_or_fail(list_dead_letters(*p_.st)))
          if (sub == "drop" || v.redrivable)
            refs.push_back(v.ref);
      } else {
        for (auto& id : rest)
          refs.push_back(ok_or_fail(parse_dead_letter_id(id)));
      }
      if (sub == "drop")
        return {{"dropped", ok_or_fail(p_.st->drop_dead_letters(refs))}};
      auto n = ok_or_fail(p_.st->redrive_dead_letters(refs));
      caf::anon_send(p_.supervisor, msg::poke_atom::value);
      return {{"redriven", n}};
    }
    throw bad_usage{"dlq: unknown subcommand '" + sub
                    + "' (list, show, redrive, drop)"};
  }

  json pause(const std::vector<std::string>& args, bool paused) {
    arity(paused ? "pause" : "resume", args, 1, 1);
    auto i = stage_index(args[0]);
    caf::anon_send(p_.supervisor, msg::pause_atom::value, i, paused);
    return {{"stage", args[0]}, {"paused", paused}};
  }

  /// topology diff|apply PATH: a topology file on the node's machine.
  json topology_cmd(const std::vector<std::string>& args) {
    arity("topology", args, 2, 2);
    if (args[0] != "diff" && args[0] != "apply")
      throw bad_usage{"topology: '" + args[0] + "' is not diff or apply"};
    auto next = ok_or_fail(load_topology(args[1]));
    std::vector<topology_change> changes;
    if (args[0] == "diff")
      changes = diff_topologies(p_.plan()->topo(), next);
    else
      changes = ok_or_fail(apply_topology_here(p_, std::move(next)));
    json out = json::array();
    for (auto& c : changes)
      out.push_back(describe(c));
    return {{"changes", out},
            {"applied", args[0] == "apply" && !changes.empty()}};
  }

  json drain(const std::vector<std::string>& args) {
    arity("drain", args, 1, 1);
    if (args[0] != p_.opts.name)
      throw command_failed{"no node '" + args[0] + "' (nodes: " + p_.opts.name
                           + ")"};
    p_.draining = true;
    caf::anon_send(p_.supervisor, msg::drain_atom::value);
    return {{"node", args[0]}, {"draining", true}};
  }

  json metrics(const std::vector<std::string>& args) {
    arity("metrics", args, 0, 1);
    auto text = owner->prometheus();
    if (args.empty())
      return {{"text", text}};
    std::string kept;
    std::size_t at = 0;
    while (at < text.size()) {
      auto end = text.find('\n', at);
      if (end == std::string::npos)
        end = text.size();
      auto line = text.substr(at, end - at);
      if (line.find(args[0]) != std::string::npos)
        kept += line + "\n";
      at = end + 1;
    }
    return {{"text", kept}};
  }

  json log_level(const std::vector<std::string>& args) {
    arity("log-level", args, 1, 1);
    auto lvl = spdlog::level::from_str(args[0]);
    if (lvl == spdlog::level::off && args[0] != "off")
      throw bad_usage{"log-level: '" + args[0]
                      + "' is not one of trace, debug, info, warn, error, "
                        "critical, off"};
    spdlog::set_level(lvl); // every registered logger, and the default
    return {{"level", args[0]}};
  }

  result<node_stats> node_stats_of() { return owner->stats(); }

public:
  node* owner = nullptr;

private:
  node::impl& p_;
};

} // namespace

admin_answer node::admin(const std::string& command,
                         const std::vector<std::string>& args) {
  auto& p = *impl_;
  admin_answer a;
  if (p.stopped) {
    a.code = admin_code::failed;
    a.error = "the node is stopped";
    return a;
  }
  // The cluster answers what only it knows (members, shard owners).
  if (p.extension_started)
    if (auto theirs = p.extension->admin(command, args))
      return *theirs;
  try {
    a.json = p.callers->run([&] {
      std::lock_guard<std::mutex> guard{p.admin_mtx};
      admin_session session{p};
      session.owner = this;
      return session.run(command, args).dump();
    });
  } catch (const caller_pool::stopped&) {
    a.code = admin_code::failed;
    a.error = "the node is stopping";
  } catch (const bad_usage& e) {
    a.code = admin_code::bad_usage;
    a.error = e.why;
  } catch (const command_failed& e) {
    a.code = admin_code::failed;
    a.error = e.why;
  } catch (const std::exception& e) {
    a.code = admin_code::failed;
    a.error = command + ": " + e.what();
  }
  return a;
}

} // namespace sluice
