// A new topology applied to a running node, without a restart of the
// process and without losing queued events: the difference is checked
// (a stage to remove must have nothing queued, retrying or timed), the new
// plan is bound on the store actor (new stages get their store ids), the
// node supervisor's tree (stages, feeds, reconciler) stops, what it sent is
// committed, and a new tree starts on the new plan. Events in flight at
// that moment were not committed; they are still queued and run again.
#include <caf/scoped_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "messages.hpp"
#include "node_impl.hpp"
#include "pg_source.hpp"
#include "sluice/caf_error.hpp"

namespace sluice {

namespace {

/// Success when stage `i` of `plan` may go away now; else why not
/// (errc::invalid_argument, "refused: ...") or the store's error.
result<void> check_removable(store& st, const pipeline_plan& plan,
                             std::size_t i) {
  auto& name = plan.topo().stages[i].name;
  auto id = plan.stage_id(i);
  auto depth = st.queue_depth(id);
  if (!depth)
    return depth.error();
  if (auto n = (*depth)[0] + (*depth)[1]; n > 0)
    return fail(errc::invalid_argument,
                "refused: stage " + name + " still has " + std::to_string(n)
                    + " queued events (" + std::to_string((*depth)[0])
                    + " urgent, " + std::to_string((*depth)[1])
                    + " normal): let it drain (pause what feeds it) and "
                      "apply again");
  auto retries = st.scan_retries(id);
  if (!retries)
    return retries.error();
  if (!retries->empty())
    return fail(errc::invalid_argument,
                "refused: stage " + name + " still has "
                    + std::to_string(retries->size())
                    + " events waiting for a retry: let them finish (or drop "
                      "them with `dlq`) and apply again");
  auto timer = st.next_timer_due(id);
  if (!timer)
    return timer.error();
  if (*timer)
    return fail(errc::invalid_argument,
                "refused: stage " + name
                    + " still has durable timers pending: they would fire "
                      "into a stage that is gone");
  return {};
}

} // namespace

result<std::vector<topology_change>>
apply_topology_here(node::impl& p, topology next, topology_mode mode) {
  std::lock_guard<std::mutex> guard{p.apply_mtx};
  if (p.extension_started && mode == topology_mode::apply)
    return fail(errc::unavailable,
                "a cluster member takes a new topology from every member at "
                "once: `topology apply PATH` in the console (each member "
                "reads PATH on its machine), or restart each member with the "
                "new --config");
  auto& now = *p.plan();
  // Sources given on the command line (--source) stay: a topology file
  // does not name them.
  for (auto& src : now.topo().sources)
    if (src.source_line == 0
        && std::none_of(
            next.sources.begin(), next.sources.end(),
            [&](const source_spec& n) { return n.name == src.name; }))
      next.sources.push_back(src);
  auto changes = diff_topologies(now.topo(), next);
  if (changes.empty())
    return changes;
  for (std::size_t i = 0; i < now.stage_count(); ++i)
    if (!next.find_stage(now.topo().stages[i].name)) {
      if (auto ok = check_removable(*p.st, now, i); !ok)
        return ok.error();
    }
  for (auto& src : next.sources)
    if (auto r = check_pg_source(src, p.env); !r)
      return r.error().within("refused: source " + src.name);
  if (!p.feeds.empty() && next.feed.topic.empty())
    return fail(errc::config, "refused: the node feeds files, and the new "
                              "topology names no feed topic");
  caf::scoped_actor self{*p.sys};
  // Binding registers new stages in the store: the writer's job.
  std::unique_ptr<pipeline_plan> bound;
  result<void> bound_ok;
  store_call bind = [&](store& st) -> result<commit_report> {
    auto b = pipeline_plan::bind(next, *p.reg, st);
    if (!b)
      return b.error();
    bound = std::make_unique<pipeline_plan>(std::move(*b));
    return commit_report{};
  };
  self->request(p.store_actor, caf::infinite, ext::store_call_atom::value,
                std::move(bind))
      .receive([] {}, [&](caf::error& e) { bound_ok = from_caf_error(e); });
  if (!bound_ok)
    return bound_ok.error().within("the new topology");
  if (!bound)
    return fail(errc::config, "the new topology: not bound");
  if (mode == topology_mode::check)
    return changes;
  p.swapping = true;
  self->send_exit(p.supervisor, caf::exit_reason::user_shutdown);
  self->wait_for(p.supervisor);
  // What the old stages sent is committed before the new ones read.
  self->request(p.store_actor, caf::infinite, msg::flush_atom::value)
      .receive([] {}, [](caf::error&) {});
  p.plans.push_back(std::move(bound));
  p.current_plan = p.plans.back().get();
  p.env.plan = p.plan();
  start_supervisor(p);
  p.swapping = false;
  if (p.extension)
    p.extension->topology_changed(p.plan(), p.supervisor);
  spdlog::info("topology applied: {} changes", changes.size());
  for (auto& c : changes)
    spdlog::info("  {}", describe(c));
  return changes;
}

result<topology_verdict> topology_here(node::impl& p, const std::string& path,
                                       const std::string& apply_digest) {
  auto next = load_topology(path);
  if (!next)
    return next.error();
  // The digest covers the files as read: the root and each stage's file
  // (includes), in a stable order.
  std::set<std::string> files{path};
  for (auto& st : next->stages)
    if (!st.source_file.empty())
      files.insert(st.source_file);
  std::string all;
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    all += f + '\0' + text.str() + '\0';
  }
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx",
                static_cast<unsigned long long>(content_hash(all)));
  if (!apply_digest.empty() && apply_digest != digest)
    return fail(errc::invalid_argument,
                "refused: " + path + " changed since it was checked (digest "
                    + digest + ", checked " + apply_digest + "): apply again");
  auto changes =
      apply_topology_here(p, std::move(*next),
                          apply_digest.empty() ? topology_mode::check
                                               : topology_mode::cluster_apply);
  if (!changes)
    return changes.error();
  topology_verdict v;
  v.digest = digest;
  for (auto& c : *changes)
    v.changes.push_back(describe(c));
  return v;
}

result<topology_applied> node_extension::apply_topology(const std::string&) {
  return fail(errc::unavailable,
              "this extension cannot change a running topology");
}

void node_extension::topology_changed(const pipeline_plan*, caf::actor) {}

result<std::vector<topology_change>> node::apply_topology(topology next) {
  auto& p = *impl_;
  if (p.stopped)
    return fail(errc::unavailable, "the node is stopped");
  try {
    return p.callers->run(
        [&] { return apply_topology_here(p, std::move(next)); });
  } catch (const caller_pool::stopped&) {
    return fail(errc::unavailable, "the node is stopping");
  }
}

} // namespace sluice
