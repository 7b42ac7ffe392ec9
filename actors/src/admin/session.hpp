// One run of a console command on a node: the command's arguments are
// checked first (usage.cpp; errc::invalid_argument, answered as bad usage),
// then it runs (views.cpp, key_views.cpp, dlq.cpp, control.cpp; any error
// is answered as a failure). Errors are values: `command_result`. Used under
// the node's `admin_mtx`, from one thread at a time.
#pragma once

#include <caf/scoped_actor.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "../messages.hpp"
#include "../node_impl.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/dead_letters.hpp"
#include "sluice/result.hpp"

namespace sluice::node_admin {

using json = nlohmann::json;
using args_t = std::vector<std::string>;

/// A command's JSON answer, or why it failed: the error's message is the
/// console's error line.
using command_result = result<json>;

/// An error of a layer below (the store, the topology loader) as the
/// command's failure: its kind is kept, and the line names the family too.
inline error passed_on(const error& e) {
  return error{e.code, e.describe()};
}

/// Checks `args` of `cmd` before it runs: an unknown command, a wrong number
/// of arguments or an unknown option or value is an errc::invalid_argument
/// whose message is the usage line.
result<void> check_usage(const std::string& cmd, const args_t& args);

/// `dlq list`'s options (`--stage S --key K --grep TEXT`) as a filter.
result<dead_letter_filter> parse_dlq_filter(const args_t& options);

/// The answers of one command run; every command assumes check_usage
/// passed for its arguments.
class session {
public:
  session(node::impl& p, node& owner) : p_(p), owner_(owner) {}

  /// Runs `cmd` (known, its arguments checked).
  command_result run(const std::string& cmd, const args_t& args);

private:
  // -- helpers (session.cpp) -------------------------------------------------

  /// The index of the stage `name`; errc::not_found names the stages.
  result<std::size_t> stage_index(const std::string& name) const;
  /// The stage supervisors, by stage index (they change on restarts).
  result<std::vector<caf::actor>> stage_supervisors();
  /// A stage supervisor's live view with at most `limit` keys.
  result<msg::stage_snapshot> snapshot(const caf::actor& stage,
                                       std::size_t limit);
  /// "up", "draining", "drained" or "failed".
  std::string status_text(const node_stats& s) const;
  /// A stage's latency histogram at one priority, as JSON.
  json latency(const std::string& stage, const char* prio);

  /// Asks `who` (named `what` in the error) and waits for its `T` answer;
  /// an error answer keeps its kind (from_caf_error: a dead or silent actor
  /// is errc::unavailable).
  template <class T, class... Ts>
  result<T> ask(const caf::actor& who, const char* what, Ts&&... xs) {
    T out;
    error why;
    bool ok = false;
    caf::scoped_actor self{*p_.sys};
    self->request(who, caf::infinite, std::forward<Ts>(xs)...)
        .receive(
            [&](T& v) {
              out = std::move(v);
              ok = true;
            },
            [&](caf::error& e) { why = from_caf_error(e); });
    if (!ok)
      return fail(why.code,
                  std::string(what) + " does not answer: " + why.message);
    return out;
  }

  // -- the node and its stages (views.cpp) ----------------------------------
  command_result nodes();
  command_result shards();
  command_result stages();
  /// Change-feed subscribers and the changelogs they read (feeds.cpp).
  command_result subscribers();
  command_result metrics(const args_t& args);

  // -- keys (key_views.cpp) --------------------------------------------------
  command_result actors(const args_t& args);
  command_result inspect(const args_t& args);
  command_result trace(const args_t& args);

  // -- dead letters (dlq.cpp) ------------------------------------------------
  command_result dlq(const args_t& args);

  // -- control (control.cpp) -------------------------------------------------
  command_result pause(const args_t& args, bool paused);
  command_result drain(const args_t& args);
  command_result topology(const args_t& args);
  command_result log_level(const args_t& args);

  node::impl& p_;
  node& owner_;
};

} // namespace sluice::node_admin
