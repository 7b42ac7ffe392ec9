// The console's command table: names, arguments and help text, and which
// commands change the node.
#include "sluice/admin.hpp"

namespace sluice {

const std::vector<admin_command>& admin_commands() {
  static const std::vector<admin_command> table = {
      {"nodes", "", "the nodes and their health",
       "Each node: name, console address, status (up, draining, drained, "
       "failed), uptime, events queued and durable timers pending. On a "
       "cluster member: every member with its address, status (up, "
       "suspect, down, leaving, left), incarnation and shards, then this "
       "member's queued and outbox events."},
      {"shards", "", "shard owners",
       "How many of the shards each member owns by the shard map, and this "
       "member's own: owned, leaving (being handed off), still to hand off, "
       "transfers coming in. A single node owns every key."},
      {"topology", "diff|apply PATH", "compare or apply a topology file",
       "topology diff PATH: what the topology file at PATH (on the node's "
       "machine) changes from the one the node runs; topology apply PATH: "
       "run it from now on, without a restart and keeping every queued "
       "event. Removing a stage that still has queued events (or retries, "
       "or durable timers) is refused with the reason. Stages restart on "
       "the new plan: pauses are lifted."},
      {"leave", "", "hand every shard off and leave the cluster",
       "Cluster members only: the member hands all its shards to the "
       "others, forwards what its outbox holds, tells every member it "
       "left, and its `sluice node` process exits 0."},
      {"forget", "NODE [--allow-data-loss]",
       "give a dead member's replicas to others (replicated cluster)",
       "Cluster members run with --controller only: NODE must be stopped "
       "(its lease gone). Every shard that kept a copy on NODE gets the next "
       "live member of its ranking in its place; the new copy is built from "
       "the shard's owner and joins the in-sync set once caught up. A shard "
       "whose only in-sync copy was on NODE is refused, unless "
       "--allow-data-loss restarts it empty. Answers the controller's "
       "summary."},
      {"digests", "", "hashes of the shards and copies held here",
       "Replicated clusters: for every shard this member owns, its log "
       "position (epoch, seq) and a hash of its records; for every follower "
       "copy it keeps, the same. An owner and a follower at the same "
       "position must show the same hash."},
      {"stages", "", "per stage: counts, queues, rate, latency",
       "For each stage: events in, done, skipped, retried and "
       "dead-lettered; queued urgent/normal; in flight; events/s since the "
       "last `stages`; p50 and p99 latency from ingest to this stage's "
       "commit (upper bounds of log-spaced buckets)."},
      {"subscribers", "", "change-feed subscribers: position and lag",
       "Each live subscription (GET /v1/feed, `sluice subscribe`): its "
       "stage, client, phase (snapshot, catch-up, live), events sent, "
       "offset and lag behind the changelog's head in changes and seconds. "
       "Then per stage with a changelog: the changes it keeps, how old the "
       "oldest is (its span) against how long the last cold start took: a "
       "span shorter than a cold start resets subscribers."},
      {"actors", "[STAGE]", "live key actors, the busiest first",
       "The keys with a live entry in each stage (or STAGE): events in "
       "flight per priority (the key actor's mailbox), parked behind a "
       "retry, restarts, and whether an express actor runs it."},
      {"inspect", "STAGE KEY", "one key: state, status, mailbox, errors",
       "The key's state as JSON, its version and counts, last event and "
       "last error, its pipeline status, its live mailbox per priority, "
       "restarts, a pending retry with its attempts, pending durable "
       "timers and its dead letters."},
      {"trace", "KEY", "a key's path through the stages",
       "For each stage the key reached: when it was last processed, by "
       "which event, with what result; then where it waits now."},
      {"dlq", "list|show|redrive|drop ...", "dead letters",
       "dlq list [--stage S] [--key K] [--grep TEXT]; dlq show ID; "
       "dlq redrive ID...|--all; dlq drop ID...|--all. Redrive puts events "
       "back in their stage's queue."},
      {"pause", "STAGE", "stop dispatching a stage",
       "The stage dispatches nothing new; events in flight finish, the "
       "rest waits in LMDB. Survives a restart of the stage supervisor, "
       "not of the node."},
      {"resume", "STAGE", "dispatch a paused stage again", "Undoes pause."},
      {"drain", "NODE", "stop taking input; finish what is queued",
       "The node's feeds stop (their offsets are committed); the stages "
       "work off their queues. `nodes` shows draining, then drained."},
      {"metrics", "[FILTER]", "the Prometheus metrics",
       "Every series in the Prometheus text format, or those whose line "
       "contains FILTER."},
      {"log-level", "LEVEL", "change the log level at runtime",
       "trace, debug, info, warn, error, critical or off; for every "
       "component of the node."},
  };
  return table;
}

const admin_command* find_admin_command(std::string_view name) {
  for (auto& c : admin_commands())
    if (c.name == name)
      return &c;
  return nullptr;
}

bool admin_changes_node(std::string_view command,
                        const std::vector<std::string>& args) {
  if (command == "pause" || command == "resume" || command == "drain"
      || command == "log-level" || command == "leave" || command == "forget")
    return true;
  if (command == "topology")
    return !args.empty() && args[0] == "apply";
  if (command == "dlq")
    return !args.empty() && (args[0] == "redrive" || args[0] == "drop");
  return false;
}

std::string admin_command_line(std::string_view command,
                               const std::vector<std::string>& args) {
  std::string out{command};
  for (const auto& a : args)
    out += " " + a;
  return out;
}

} // namespace sluice
