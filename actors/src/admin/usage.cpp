// The console commands' argument checks, made before a command runs: what
// `sluice console` answers as bad usage (exit code 2). Pure functions.
#include <spdlog/spdlog.h>

#include "session.hpp"
#include "sluice/admin.hpp"

namespace sluice::node_admin {

namespace {

error usage(std::string why) {
  return fail(errc::invalid_argument, std::move(why));
}

/// `cmd` takes between `min` and `max` arguments.
result<void> arity(const std::string& cmd, const args_t& args, std::size_t min,
                   std::size_t max) {
  if (args.size() >= min && args.size() <= max)
    return {};
  auto* c = find_admin_command(cmd);
  return usage("usage: " + cmd + " " + (c ? c->usage : ""));
}

result<void> check_dlq(const args_t& args) {
  if (args.empty())
    return usage("usage: dlq list|show|redrive|drop ...");
  auto& sub = args[0];
  args_t rest(args.begin() + 1, args.end());
  if (sub == "list") {
    if (auto f = parse_dlq_filter(rest); !f)
      return f.error();
    return {};
  }
  if (sub == "show")
    return rest.size() == 1 ? result<void>{} : usage("usage: dlq show ID");
  if (sub == "redrive" || sub == "drop")
    return rest.empty() ? usage("usage: dlq " + sub + " ID...|--all")
                        : result<void>{};
  return usage("dlq: unknown subcommand '" + sub
               + "' (list, show, redrive, drop)");
}

result<void> check_topology(const args_t& args) {
  if (auto a = arity("topology", args, 2, 2); !a)
    return a;
  if (args[0] != "diff" && args[0] != "apply")
    return usage("topology: '" + args[0] + "' is not diff or apply");
  return {};
}

result<void> check_log_level(const args_t& args) {
  if (auto a = arity("log-level", args, 1, 1); !a)
    return a;
  auto lvl = spdlog::level::from_str(args[0]);
  if (lvl == spdlog::level::off && args[0] != "off")
    return usage("log-level: '" + args[0]
                 + "' is not one of trace, debug, info, warn, error, "
                   "critical, off");
  return {};
}

} // namespace

result<dead_letter_filter> parse_dlq_filter(const args_t& options) {
  dead_letter_filter f;
  for (std::size_t i = 0; i < options.size(); ++i) {
    std::string* field = nullptr;
    if (options[i] == "--stage")
      field = &f.stage;
    else if (options[i] == "--key")
      field = &f.key;
    else if (options[i] == "--grep")
      field = &f.error_contains;
    else
      return usage("dlq list: unknown option '" + options[i]
                   + "' (--stage, --key, --grep)");
    if (i + 1 >= options.size())
      return usage("dlq list: " + options[i] + " needs a value");
    *field = options[++i];
  }
  return f;
}

result<void> check_usage(const std::string& cmd, const args_t& args) {
  if (cmd == "nodes" || cmd == "shards" || cmd == "leave" || cmd == "stages"
      || cmd == "digests" || cmd == "subscribers")
    return {}; // their arguments are ignored
  if (cmd == "actors")
    return arity(cmd, args, 0, 1);
  if (cmd == "inspect")
    return arity(cmd, args, 2, 2);
  if (cmd == "forget")
    return arity(cmd, args, 1, 2);
  if (cmd == "trace" || cmd == "pause" || cmd == "resume" || cmd == "drain")
    return arity(cmd, args, 1, 1);
  if (cmd == "metrics")
    return arity(cmd, args, 0, 1);
  if (cmd == "dlq")
    return check_dlq(args);
  if (cmd == "topology")
    return check_topology(args);
  if (cmd == "log-level")
    return check_log_level(args);
  return usage("unknown command '" + cmd + "' (try help)");
}

} // namespace sluice::node_admin
