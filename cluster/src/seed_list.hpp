// Private: the `--join` seed list as a member uses it, and the rule for who
// may start a new cluster (Akka's: only the first seed). Pure logic without
// CAF; names are resolved through a function passed in, and the time is
// passed in. Not thread-safe: one owner (the extension, then the cluster
// actor).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::cluster {

/// HOST:PORT split; the host without IPv6 brackets.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

/// Parses HOST:PORT (or [V6]:PORT) given for option `what` ("--join"). A
/// port of 0 is refused: a member listens on a fixed port, and a seed is
/// another member's. Errors name the option and the value.
result<host_port> parse_host_port(std::string_view what,
                                  const std::string& text);

/// The IP addresses (as text) `host` resolves to; empty if it does not (a
/// name may resolve later: a seed is then only tried, never taken for this
/// member's own address).
using host_resolver =
    std::function<std::vector<std::string>(const std::string& host)>;

/// getaddrinfo over TCP, IPv4 and IPv6 (blocking; called once at start).
host_resolver system_resolver();

/// The seed list of one member: its own address dropped, duplicates too.
struct seed_plan {
  /// The other seeds, in the order given, each as first written.
  std::vector<std::string> others;
  /// This member's own address was in the list (as `own` spelled it).
  std::string own;
  /// It may start a new cluster: the list names no other member (or none
  /// at all), or its own address comes first. Never for a proxy.
  bool may_form = false;
  /// What was dropped and why, for the log ("127.0.0.1:7401 is this
  /// member's own address").
  std::vector<std::string> notes;
};

/// Checks `seeds` against this member's `listen` address and makes its
/// plan. Two addresses are the same when their ports are equal and their
/// hosts are equal (ignoring case) or resolve to a common IP address
/// (localhost and 127.0.0.1). Refused, with the value named: a malformed
/// entry or port 0; a wildcard --listen (0.0.0.0, ::: the others could
/// not reach that); a proxy (`hosts_shards` false) whose list names no
/// other member, or names itself first (only the first seed may start a
/// cluster, and a proxy cannot).
result<seed_plan> plan_seeds(const std::string& listen,
                             const std::vector<std::string>& seeds,
                             bool hosts_shards, const host_resolver& resolve);

/// What this member last learned about one other seed.
struct seed_state {
  using clock = std::chrono::steady_clock;
  std::string address; ///< as given in --join
  /// Its last answer said it is up but not in a cluster (not yet formed);
  /// false: no answer yet, or the last attempt failed.
  bool unformed = false;
  std::string name;      ///< its name, from its last answer
  bool may_form = false; ///< its answer: it may start a cluster itself
  /// Its answer: its data directory owns shards (of a cluster that is
  /// restarting, or that it cannot reach).
  bool has_shards = false;
  /// No answer since: the start, or the last answer before a failure.
  clock::time_point silent_since{};
  std::string error; ///< why the last attempt failed, for the log
};

/// True when this member (`own_name`, `plan`; `holds_shards`: its data
/// directory owns shards) should start a new cluster now: it may form, and
/// every other seed either answered that it is in no cluster (and does not
/// outrank it: a seed that may form too and has a smaller name forms
/// instead, for lists given in different orders), or has not answered for
/// `timeout`. Never with a new data directory while a seed that answered
/// holds shards: it would claim every shard beside their owner. A seed
/// that is a member of a cluster welcomes this member instead, so it never
/// gets here.
bool should_form(const seed_plan& plan, const std::string& own_name,
                 bool holds_shards, const std::vector<seed_state>& seeds,
                 std::chrono::steady_clock::time_point now,
                 std::chrono::milliseconds timeout);

/// One line on why a member is not in a cluster yet: for each other seed,
/// unreachable since when (wall clock, from `wall_now`) and why, or up but
/// not in a cluster; and who may start one (or why this member, the first
/// seed, may not: see should_form).
std::string describe_wait(const seed_plan& plan, bool holds_shards,
                          const std::vector<seed_state>& seeds,
                          std::chrono::steady_clock::time_point now,
                          std::chrono::system_clock::time_point wall_now);

} // namespace sluice::cluster
