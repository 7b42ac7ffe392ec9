// The debug console's commands: their names, arguments and help, shared by
// the node that answers them and the console that completes and explains
// them. No CAF.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// One console command.
struct admin_command {
  std::string name;    ///< e.g. "inspect"
  std::string usage;   ///< its arguments, e.g. "STAGE KEY"
  std::string summary; ///< one line, for `help`
  std::string details; ///< a paragraph, for `help CMD`
};

/// Every command the node's admin answers, in the order `help` lists them.
const std::vector<admin_command>& admin_commands();

/// The command named `name`, or null.
const admin_command* find_admin_command(std::string_view name);

/// True when `command args` changes the node (pause, resume, drain,
/// log-level, leave, forget, topology apply, dlq redrive and drop): the
/// audit trail logs each one, and the web dashboard runs them only as POSTs
/// with scope admin.
bool admin_changes_node(std::string_view command,
                        const std::vector<std::string>& args);

/// The command and its arguments as one line ("dlq redrive 1:2"), as the
/// audit trail names it.
std::string admin_command_line(std::string_view command,
                               const std::vector<std::string>& args);

/// How an admin request ended, as `sluice console -c` exits.
enum class admin_code : int {
  ok = 0,          ///< the command ran; the answer is JSON
  failed = 1,      ///< it ran and failed (an unknown key, a bad id)
  bad_usage = 2,   ///< unknown command or wrong arguments
  unreachable = 3, ///< no node answered at that address
  refused = 4,     ///< missing or wrong token
};

/// The outcome of one command: JSON when `code` is ok, else one line.
struct admin_answer {
  admin_code code = admin_code::ok; ///< how it ended
  std::string json;                 ///< the answer, when ok
  std::string error;                ///< why not, otherwise
};

} // namespace sluice
