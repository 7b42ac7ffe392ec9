// `topology apply PATH` on a cluster: every member reads PATH on its own
// machine and checks the change as a single node's live apply would (a
// stage to remove must be empty, the plan must bind, sources must answer);
// only when every live member would take it, and all read the same files
// (one digest), does each apply it. A member that is not up, an answer
// that does not come, or one refusal refuses the change on all of them.
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "cluster_messages.hpp"
#include "cluster_state.hpp"
#include "links.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

using json = nlohmann::json;

constexpr auto verdict_timeout = std::chrono::minutes(2);

/// One cluster-wide apply: the members asked, their verdicts so far.
struct apply_round {
  std::string path;
  std::vector<std::string> members;
  std::map<std::string, v1::TopologyVerdict> verdicts;
  std::size_t waiting = 0;
  std::string digest; ///< set once every check agreed: the apply phase
  caf::typed_response_promise<std::string> rp;
};

std::string answer(bool ok, const std::string& error,
                   const std::vector<std::string>& changes = {},
                   const std::vector<std::string>& members = {}) {
  return json{
      {"ok", ok}, {"error", error}, {"changes", changes}, {"members", members}}
      .dump();
}

v1::TopologyVerdict refusal(const std::string& why) {
  v1::TopologyVerdict v;
  v.set_ok(false);
  v.set_error(why);
  return v;
}

/// Runs the node's check (or apply) on a thread of its own: it blocks
/// while the node supervisor is swapped. The verdict comes back as
/// (topology_done_atom, id, bytes).
void run_here(cluster_actor* self, const std::string& path,
              const std::string& apply_digest,
              std::function<void(v1::TopologyVerdict)> then) {
  auto& s = self->state;
  auto id = ++s.topology_requests;
  s.topology_waiting[id] = std::move(then);
  auto here = s.ctx.topology_here;
  caf::actor back = caf::actor_cast<caf::actor>(self);
  self->spawn<caf::detached>([here, path, apply_digest, back, id] {
    v1::TopologyVerdict v;
    if (!here) {
      v = refusal("this member cannot change its topology while it runs");
    } else if (auto r = here(path, apply_digest); !r) {
      v = refusal(r.error().message);
    } else {
      v.set_ok(true);
      v.set_digest(r->digest);
      for (auto& c : r->changes)
        v.add_changes(c);
    }
    caf::anon_send(back, topology_done_atom::value, id, v.SerializeAsString());
  });
}

/// Asks `member` (this one too) to check or apply; `then` gets its verdict.
void ask(cluster_actor* self, const std::string& member,
         const std::string& path, const std::string& apply_digest,
         std::function<void(v1::TopologyVerdict)> then) {
  auto& s = self->state;
  if (member == s.opts.name)
    return run_here(self, path, apply_digest, std::move(then));
  auto* l = ready_link(s, member);
  if (!l)
    return then(refusal("no link to it"));
  v1::ClusterMessage m;
  auto* c = m.mutable_topology_check();
  c->set_path(path);
  c->set_apply(!apply_digest.empty());
  c->set_digest(apply_digest);
  self->request(l->handle, verdict_timeout, cluster_atom::value,
                m.SerializeAsString())
      .then(
          [then](std::string& bytes) {
            v1::ClusterMessage r;
            if (!r.ParseFromString(bytes))
              return then(refusal("a malformed answer"));
            if (r.has_topology_verdict())
              return then(r.topology_verdict());
            if (r.has_reply() && !r.reply().ok())
              return then(refusal(error_of(r.reply()).message));
            then(refusal("an unexpected answer (" + body_name(r) + ")"));
          },
          [then](caf::error& e) {
            then(refusal("no answer: " + caf::to_string(e)));
          });
}

/// "a: why; c: why" of the members whose verdict refused.
std::string refusals_of(const apply_round& round) {
  std::string out;
  for (auto& [name, v] : round.verdicts)
    if (!v.ok())
      out += (out.empty() ? "" : "; ") + name + ": " + v.error();
  return out;
}

void finish_apply(cluster_actor* self, std::shared_ptr<apply_round> round) {
  auto& s = self->state;
  auto failed = refusals_of(*round);
  std::vector<std::string> applied;
  for (auto& [name, v] : round->verdicts)
    if (v.ok())
      applied.push_back(name);
  if (!failed.empty()) {
    std::string on;
    for (auto& n : applied)
      on += (on.empty() ? "" : ", ") + n;
    s.log->error("topology {}: applied on {}, not on {}", round->path,
                 on.empty() ? "none" : on, failed);
    round->rp.deliver(answer(
        false, "applied on " + (on.empty() ? std::string("no member") : on)
                   + " but not on every member: " + failed
                   + "; mend it and apply again (members now run different "
                     "topologies)"));
    return;
  }
  std::vector<std::string> changes;
  for (auto& c : round->verdicts.begin()->second.changes())
    changes.push_back(c);
  s.log->info("topology {}: applied on every member ({})", round->path,
              applied.size());
  round->rp.deliver(answer(true, "", changes, applied));
}

/// A round: every member asked with the round's digest (empty: check
/// only); `next` runs once each has answered.
void ask_every_member(cluster_actor* self, std::shared_ptr<apply_round> round,
                      void (*next)(cluster_actor*,
                                   std::shared_ptr<apply_round>)) {
  round->waiting = round->members.size();
  round->verdicts.clear();
  for (auto& m : round->members)
    ask(self, m, round->path, round->digest,
        [self, round, m, next](v1::TopologyVerdict v) {
          round->verdicts[m] = std::move(v);
          if (--round->waiting == 0)
            next(self, round);
        });
}

void checked_all(cluster_actor* self, std::shared_ptr<apply_round> round) {
  auto& s = self->state;
  if (auto why = refusals_of(*round); !why.empty()) {
    s.log->warn("topology {}: refused on every member: {}", round->path, why);
    round->rp.deliver(
        answer(false, "refused: no member changed its topology: " + why));
    return;
  }
  std::map<std::string, std::vector<std::string>> by_digest;
  for (auto& [name, v] : round->verdicts)
    by_digest[v.digest()].push_back(name);
  if (by_digest.size() > 1) {
    std::string why;
    for (auto& [d, names] : by_digest) {
      std::string list;
      for (auto& n : names)
        list += (list.empty() ? "" : ", ") + n;
      why += (why.empty() ? "" : "; ") + list + " read digest " + d;
    }
    round->rp.deliver(answer(
        false, "refused: no member changed its topology: the members read "
               "different files at "
                   + round->path + " (" + why
                   + "); give every member the same files"));
    return;
  }
  if (round->verdicts.begin()->second.changes_size() == 0) {
    round->rp.deliver(answer(true, "", {}, round->members));
    return;
  }
  round->digest = by_digest.begin()->first;
  ask_every_member(self, round, finish_apply);
}

} // namespace

caf::result<std::string> apply_everywhere(cluster_actor* self,
                                          const std::string& path) {
  auto& s = self->state;
  auto round = std::make_shared<apply_round>();
  round->path = path;
  std::string absent;
  for (auto& m : s.table->members()) {
    if (m.status == member_status::left)
      continue;
    if (m.status != member_status::up)
      absent += (absent.empty() ? "" : ", ") + m.name + " ("
                + std::string(to_string(m.status)) + ")";
    else
      round->members.push_back(m.name);
  }
  if (!absent.empty())
    return answer(false, "refused: a topology changes on every member or on "
                         "none, and "
                             + absent
                             + " cannot answer; `forget` a member that is "
                               "gone for good, then apply again");
  round->rp = self->make_response_promise<std::string>();
  ask_every_member(self, round, checked_all);
  return round->rp;
}

caf::result<std::string> receive_topology_check(cluster_actor* self,
                                                const v1::TopologyCheck& c) {
  if (c.apply() && c.digest().empty())
    return reply_error(
        fail(errc::invalid_argument, "an apply without the checked digest"));
  auto rp = self->make_response_promise<std::string>();
  run_here(self, c.path(), c.apply() ? c.digest() : std::string(),
           [rp](v1::TopologyVerdict v) mutable {
             v1::ClusterMessage m;
             *m.mutable_topology_verdict() = std::move(v);
             rp.deliver(m.SerializeAsString());
           });
  return rp;
}

void topology_done(cluster_actor* self, std::uint64_t id,
                   const std::string& bytes) {
  auto& s = self->state;
  auto it = s.topology_waiting.find(id);
  if (it == s.topology_waiting.end())
    return;
  auto then = std::move(it->second);
  s.topology_waiting.erase(it);
  v1::TopologyVerdict v;
  if (!v.ParseFromString(bytes))
    v = refusal("a malformed verdict");
  then(std::move(v));
}

void plan_changed(cluster_actor* self, const plan_update& u) {
  auto& s = self->state;
  s.ctx.plan = u.plan;
  s.ctx.supervisor = u.supervisor;
  s.stage_ids.clear();
  s.stage_names.clear();
  for (std::size_t i = 0; i < u.plan->stage_count(); ++i) {
    auto& name = u.plan->topo().stages[i].name;
    s.stage_ids[name] = u.plan->stage_id(i);
    s.stage_names[u.plan->stage_id(i)] = name;
  }
  s.outbox_dirty = true;
  pump_outbox(self);
}

} // namespace sluice::cluster
