// The cluster actor until it is in a cluster: it records what each seed
// answers; the first seed starts a new cluster (claims every shard on a new
// data directory) once no other seed is in one; and every few seconds a
// member that waits says for what. Runs on the cluster actor.
#include "seeds.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>

#include "view_publisher.hpp"

namespace sluice::cluster {

namespace {

constexpr auto wait_log_every = std::chrono::seconds(5);

seed_state* find_seed(cluster_state& s, const std::string& address) {
  auto i = std::find_if(
      s.seed_states.begin(), s.seed_states.end(),
      [&address](const seed_state& x) { return x.address == address; });
  return i == s.seed_states.end() ? nullptr : &*i;
}

std::string seed_summary(const cluster_state& s) {
  std::string out;
  for (auto& x : s.seed_states) {
    out += out.empty() ? "" : ", ";
    out += x.address
           + (x.unformed ? " (" + x.name + ", in no cluster)" : " (no answer)");
  }
  return out.empty() ? "no other seed" : out;
}

/// This member, the first seed, starts the cluster: on a new data
/// directory it claims every shard, then it counts as joined.
void form(cluster_actor* self) {
  auto& s = self->state;
  s.forming = true;
  auto claimed = std::make_shared<bool>(false);
  bool replicated = s.replicated; // the controller assigns shards then
  store_call fn = [claimed, replicated](store& st) -> result<commit_report> {
    if (replicated)
      return commit_report{};
    auto records = st.shard_records();
    if (!records)
      return records.error();
    if (records->empty()) {
      if (auto r = st.claim_all_shards(); !r)
        return r.error();
      *claimed = true;
    }
    return commit_report{};
  };
  call_store(self, fn, [self, claimed](const result<void>& done) {
    auto& s = self->state;
    s.forming = false;
    if (!done) {
      give_up(self, "cannot start a new cluster: " + done.error().describe());
      return;
    }
    s.joined = true;
    if (*claimed)
      s.log->info("starting a new cluster as the first seed: {} owns all {} "
                  "shards (other seeds: {})",
                  s.opts.name, shard_count, seed_summary(s));
    else
      s.log->info("starting the cluster again as the first seed: {} keeps "
                  "its shards (other seeds: {})",
                  s.opts.name, seed_summary(s));
    for (auto& x : s.seed_states)
      if (!x.unformed)
        s.log->warn("started without an answer from seed {}: were it in a "
                    "running cluster that this member cannot reach, there "
                    "would be two clusters now",
                    x.address);
    recompute(self);
  });
}

} // namespace

void seed_unformed(cluster_state& s, const std::string& address,
                   const std::string& name, bool may_form, bool has_shards) {
  if (auto* x = find_seed(s, address)) {
    x->unformed = true;
    x->name = name;
    x->may_form = may_form;
    x->has_shards = has_shards;
    x->error.clear();
    x->silent_since = clock::now();
  }
}

void seed_silent(cluster_state& s, const std::string& address,
                 const std::string& why) {
  if (auto* x = find_seed(s, address)) {
    // silent_since stays: the time of the last answer (or of the start).
    x->unformed = false;
    x->error = why;
  }
}

void seed_is_self(cluster_state& s, const std::string& address) {
  auto& others = s.seeds.others;
  auto i = std::find(others.begin(), others.end(), address);
  if (i == others.end())
    return;
  s.log->info("--join: {} is this member's own address: skipped", address);
  if (i == others.begin() && s.opts.hosts_shards && s.seeds.own.empty())
    s.seeds.may_form = true; // it was first in the list
  if (s.seeds.own.empty())
    s.seeds.own = address;
  others.erase(i);
  s.seed_states.erase(std::remove_if(s.seed_states.begin(), s.seed_states.end(),
                                     [&address](const seed_state& x) {
                                       return x.address == address;
                                     }),
                      s.seed_states.end());
}

bool holds_shards(const cluster_state& s) {
  return !s.place->shards_in(shard_state::owned).empty()
         || !s.place->shards_in(shard_state::leaving).empty();
}

void check_seeds(cluster_actor* self) {
  auto& s = self->state;
  if (s.joined || s.forming || s.stopping)
    return;
  auto now = clock::now();
  if (should_form(s.seeds, s.opts.name, holds_shards(s), s.seed_states, now,
                  s.opts.seed_timeout)) {
    form(self);
    return;
  }
  if (now < s.next_wait_log)
    return;
  s.next_wait_log = now + wait_log_every;
  if (now - s.started < wait_log_every)
    return; // the first line comes after a few seconds of waiting
  s.log->warn(
      "not in a cluster yet, {} s after the start: {}",
      std::chrono::duration_cast<std::chrono::seconds>(now - s.started).count(),
      describe_wait(s.seeds, holds_shards(s), s.seed_states, now,
                    std::chrono::system_clock::now()));
}

} // namespace sluice::cluster
