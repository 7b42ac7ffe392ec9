// The console's views of keys: `actors` (live key actors, the busiest
// first), `inspect` (one key of one stage) and `trace` (a key's path through
// the stages). Read from LMDB snapshots and the stage supervisors; used
// under the node's `admin_mtx`.
#include "session.hpp"
#include "sluice/utc_time.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice::node_admin {

namespace {

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

json key_json(const std::string& stage, const msg::key_snapshot& k) {
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

} // namespace

command_result session::actors(const args_t& args) {
  auto supervisors = stage_supervisors();
  if (!supervisors)
    return supervisors.error();
  json out = json::array();
  std::size_t live = 0;
  for (std::size_t i = 0; i < p_.plan()->stage_count(); ++i) {
    auto& name = p_.plan()->topo().stages[i].name;
    if (!args.empty() && args[0] != name)
      continue;
    if (i >= supervisors->size())
      continue;
    auto snap = snapshot((*supervisors)[i], 50);
    if (!snap)
      return snap.error();
    live += snap->live_keys;
    for (auto& k : snap->keys)
      out.push_back(key_json(name, k));
  }
  if (!args.empty())
    if (auto i = stage_index(args[0]); !i)
      return i.error(); // names the stages when it is unknown
  return json{{"actors", out}, {"live_keys", live}};
}

command_result session::inspect(const args_t& args) {
  auto i = stage_index(args[0]);
  if (!i)
    return i.error();
  auto& spec = p_.plan()->topo().stages[*i];
  auto id = p_.plan()->stage_id(*i);
  auto& key = args[1];
  json out = {{"stage", spec.name}, {"key", key}};
  if (spec.stateless)
    out["stateless"] = true; // state: none: no state record to show
  auto stored = p_.st->read_state(id, key);
  if (!stored)
    return passed_on(stored.error());
  bool known = false;
  if (*stored) {
    known = true;
    v1::KeyState ks;
    if (!ks.ParseFromString((*stored)->key_state))
      return fail(errc::corrupt, "state of key '" + key + "' in stage "
                                     + spec.name + " is not a valid KeyState");
    std::string state_json = "null";
    if (!ks.cleared() && ks.events_processed() > 0) {
      if (auto b = p_.reg->create(spec.behaviour))
        state_json = (*b)->state_to_json(ks.state());
      else
        state_json = json_quote(ks.state());
    }
    out["state"] = json_or_string(state_json);
    out["version"] = (*stored)->version;
    out["events_processed"] = ks.events_processed();
    out["events_failed"] = ks.events_failed();
    out["last_event_id"] = ks.last_event_id();
    out["last_error"] = ks.last_error();
    out["updated"] = utc_time(ks.updated_ts_ns());
  }
  auto status = p_.st->read_status(key);
  if (!status)
    return passed_on(status.error());
  if (*status) {
    v1::KeyStatus ks;
    if (ks.ParseFromString(**status))
      out["status"] = {{"stage", ks.stage()},
                       {"phase", phase_name(ks.phase())},
                       {"since", utc_time(ks.since_ts_ns())},
                       {"from_stage", ks.from_stage()},
                       {"last_event_id", ks.last_event_id()}};
  }
  auto supervisors = stage_supervisors();
  if (!supervisors)
    return supervisors.error();
  if (*i < supervisors->size()) {
    auto k = ask<msg::key_snapshot>((*supervisors)[*i], "the stage",
                                    msg::inspect_atom::value, key);
    if (!k)
      return k.error();
    known = known || k->live;
    auto kj = key_json(spec.name, *k);
    for (auto f :
         {"live", "actor", "express", "mailbox", "retrying", "restarts"})
      out[f] = kj[f];
  }
  auto retry = p_.st->read_retry(id, key);
  if (!retry)
    return passed_on(retry.error());
  if (*retry) {
    v1::RetryRecord rec;
    if (rec.ParseFromString((*retry)->record)) {
      json attempts = json::array();
      for (auto& a : rec.attempts())
        attempts.push_back({{"attempt", a.attempt()},
                            {"at", utc_time(a.at_ts_ns())},
                            {"error", a.error()}});
      out["retry"] = {{"due", utc_time(rec.due_ts_ns())},
                      {"attempts", attempts}};
    }
  }
  auto pending = p_.st->read_timers(id, key);
  if (!pending)
    return passed_on(pending.error());
  json timers = json::array();
  for (auto& t : *pending)
    timers.push_back({{"name", t.name}, {"due", utc_time(t.due_ns)}});
  out["timers"] = timers;
  dead_letter_filter f;
  f.stage = spec.name;
  f.key = key;
  auto letters = list_dead_letters(*p_.st, f);
  if (!letters)
    return passed_on(letters.error());
  json dls = json::array();
  for (auto& v : *letters)
    dls.push_back(v.id);
  out["dead_letters"] = dls;
  if (!known && dls.empty())
    return fail(errc::not_found,
                "key '" + key + "' is unknown in stage " + spec.name
                    + (spec.stateless ? " (state: none: it keeps no state; "
                                        "trace KEY shows where the key is)"
                                      : ""));
  return out;
}

command_result session::trace(const args_t& args) {
  auto& key = args[0];
  json path = json::array();
  for (std::size_t i = 0; i < p_.plan()->stage_count(); ++i) {
    auto& spec = p_.plan()->topo().stages[i];
    auto stored = p_.st->read_state(p_.plan()->stage_id(i), key);
    if (!stored)
      return passed_on(stored.error());
    if (!*stored)
      continue;
    v1::KeyState ks;
    ks.ParseFromString((*stored)->key_state);
    path.push_back({{"stage", spec.name},
                    {"at", utc_time(ks.updated_ts_ns())},
                    {"last_event_id", ks.last_event_id()},
                    {"events_processed", ks.events_processed()},
                    {"events_failed", ks.events_failed()},
                    {"last_error", ks.last_error()},
                    {"version", (*stored)->version}});
  }
  json out = {{"key", key}, {"path", path}};
  auto status = p_.st->read_status(key);
  if (!status)
    return passed_on(status.error());
  if (*status) {
    v1::KeyStatus ks;
    if (ks.ParseFromString(**status))
      out["now"] = {{"stage", ks.stage()},
                    {"phase", phase_name(ks.phase())},
                    {"since", utc_time(ks.since_ts_ns())}};
  }
  dead_letter_filter f;
  f.key = key;
  auto letters = list_dead_letters(*p_.st, f);
  if (!letters)
    return passed_on(letters.error());
  json dls = json::array();
  for (auto& v : *letters)
    dls.push_back({{"id", v.id}, {"stage", v.stage}, {"error", v.last_error}});
  out["dead_letters"] = dls;
  if (path.empty() && !out.contains("now") && dls.empty())
    return fail(errc::not_found, "key '" + key + "' is unknown to every stage");
  return out;
}

} // namespace sluice::node_admin
