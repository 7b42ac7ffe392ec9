// `sluice console HOST:PORT [-c CMD]`: the debug console. Interactive, it is
// a readline shell (line editing, history in a file, tab completion of
// commands, stage and node names); with -c it runs one command, prints its
// JSON answer and exits with the answer's code.
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "console_render.hpp"
#include "sluice/admin_client.hpp"
#include "tls_options.hpp"

namespace sluice::cli {

namespace {

using json = nlohmann::json;

struct console_args {
  std::string address;
  std::string command;
  std::string token_file;
  std::string history_file;
  std::string tls_dir;
  std::shared_ptr<const tls::identity> tls; ///< loaded from tls_dir
};

/// Splits a command line into words; "double quotes" keep spaces.
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && (c == ' ' || c == '\t')) {
      if (any || !cur.empty())
        out.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur.push_back(c);
    }
  }
  if (any || !cur.empty())
    out.push_back(cur);
  return out;
}

/// `help` and `help CMD`, answered here.
json help_json(const std::vector<std::string>& args) {
  json out = json::array();
  for (auto& c : admin_commands())
    if (args.empty() || c.name == args[0])
      out.push_back({{"command", c.name},
                     {"usage", c.usage},
                     {"summary", c.summary},
                     {"details", c.details}});
  return {{"commands", out}};
}

void print_help(const std::vector<std::string>& args, std::ostream& out) {
  if (!args.empty()) {
    auto* c = find_admin_command(args[0]);
    if (!c) {
      out << "error: no command '" << args[0] << "' (try help)\n";
      return;
    }
    out << c->name << (c->usage.empty() ? "" : " " + c->usage) << "\n  "
        << c->summary << "\n\n";
    // Wrap the details at 78 columns.
    std::istringstream in(c->details);
    std::string word, line = " ";
    while (in >> word) {
      if (line.size() + word.size() + 1 > 78) {
        out << line << '\n';
        line = " ";
      }
      line += " " + word;
    }
    out << line << '\n';
    return;
  }
  for (auto& c : admin_commands()) {
    auto head = c.name + (c.usage.empty() ? "" : " " + c.usage);
    if (head.size() > 30)
      head = head.substr(0, 29) + "~";
    char buf[128];
    std::snprintf(buf, sizeof buf, "  %-31s %s\n", head.c_str(),
                  c.summary.c_str());
    out << buf;
  }
  out << "  help [CMD]                      this list, or one command\n"
         "  quit                            leave the console\n";
}

// -- completion -------------------------------------------------------------

std::vector<std::string> completion_words; // candidates for the current word
std::vector<std::string> stage_names, node_names;

char* next_candidate(const char* text, int state) {
  static std::size_t i;
  if (state == 0)
    i = 0;
  std::string_view prefix{text};
  while (i < completion_words.size()) {
    auto& w = completion_words[i++];
    if (w.compare(0, prefix.size(), prefix) == 0)
      return ::strdup(w.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int start, int) {
  ::rl_attempted_completion_over = 1; // no file names
  auto before = words(std::string(::rl_line_buffer, start));
  completion_words.clear();
  if (before.empty()) {
    for (auto& c : admin_commands())
      completion_words.push_back(c.name);
    completion_words.insert(completion_words.end(), {"help", "quit"});
  } else {
    auto& cmd = before[0];
    if (before.size() == 1) {
      if (cmd == "inspect" || cmd == "actors" || cmd == "pause"
          || cmd == "resume")
        completion_words = stage_names;
      else if (cmd == "drain" || cmd == "shards")
        completion_words = node_names;
      else if (cmd == "dlq")
        completion_words = {"list", "show", "redrive", "drop"};
      else if (cmd == "help")
        for (auto& c : admin_commands())
          completion_words.push_back(c.name);
      else if (cmd == "log-level")
        completion_words = {"trace", "debug",    "info", "warn",
                            "error", "critical", "off"};
    } else if (cmd == "dlq" && before.size() >= 2 && before[1] == "list") {
      completion_words = {"--stage", "--key", "--grep"};
      if (before.back() == "--stage")
        completion_words = stage_names;
    }
  }
  return ::rl_completion_matches(text, next_candidate);
}

/// Fetches the stage and node names for completion.
void learn_names(admin_client& c) {
  stage_names.clear();
  node_names.clear();
  // (The parsed answer is kept in a variable: a range-for over a member of
  // a temporary would dangle.)
  if (auto a = c.call("stages", {}); a.code == admin_code::ok) {
    auto j = json::parse(a.json);
    for (auto& s : j["stages"])
      stage_names.push_back(s["name"]);
  }
  if (auto a = c.call("nodes", {}); a.code == admin_code::ok) {
    auto j = json::parse(a.json);
    for (auto& n : j["nodes"])
      node_names.push_back(n["name"]);
  }
}

std::string history_path(const console_args& a) {
  if (!a.history_file.empty())
    return a.history_file;
  if (const char* h = std::getenv("SLUICE_HISTORY"); h && *h)
    return h;
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.sluice_history";
  return ".sluice_history";
}

int shell(const console_args& a, std::unique_ptr<admin_client> client,
          const std::string& token) {
  learn_names(*client);
  auto hist = history_path(a);
  ::using_history();
  ::stifle_history(1000);
  ::read_history(hist.c_str());
  ::rl_attempted_completion_function = complete;
  std::cout << "Sluice console on " << a.address
            << ". help lists the commands; tab completes.\n";
  auto prompt = "sluice " + a.address + "> ";
  while (char* raw = ::readline(prompt.c_str())) {
    std::string line{raw};
    std::free(raw);
    auto w = words(line);
    if (w.empty())
      continue;
    ::add_history(line.c_str());
    ::write_history(hist.c_str());
    auto cmd = w[0];
    std::vector<std::string> args(w.begin() + 1, w.end());
    if (cmd == "quit" || cmd == "exit")
      break;
    if (cmd == "help") {
      print_help(args, std::cout);
      continue;
    }
    if (!find_admin_command(cmd)) {
      std::cout << "error: unknown command '" << cmd << "' (try help)\n";
      continue;
    }
    if (!client) { // lost earlier: try again
      auto c = admin_client::connect(a.address, token, a.tls);
      if (!c) {
        std::cout << "error: " << c.error().message << '\n';
        continue;
      }
      client = std::move(*c);
      learn_names(*client);
    }
    auto ans = client->call(cmd, args);
    if (ans.code == admin_code::ok) {
      try {
        render(cmd, args, json::parse(ans.json), std::cout);
      } catch (const std::exception& e) {
        std::cout << "error: unreadable answer: " << e.what() << '\n';
      }
      if (cmd == "pause" || cmd == "resume" || cmd == "dlq")
        learn_names(*client);
    } else {
      std::cout << "error: " << ans.error << '\n';
      if (ans.code == admin_code::unreachable)
        client.reset();
    }
  }
  std::cout << '\n';
  return ok;
}

/// -c: one command, its JSON on stdout, the answer's code as exit code.
int one_shot(const console_args& a, admin_client* client) {
  auto w = words(a.command);
  if (w.empty()) {
    std::cout << json{{"error", "-c needs a command"}}.dump() << '\n';
    return static_cast<int>(admin_code::bad_usage);
  }
  std::vector<std::string> args(w.begin() + 1, w.end());
  if (w[0] == "help") {
    std::cout << help_json(args).dump() << '\n';
    return ok;
  }
  if (!find_admin_command(w[0])) {
    std::cout << json{{"error", "unknown command '" + w[0] + "'"}}.dump()
              << '\n';
    print_error("unknown command '" + w[0] + "' (try -c help)");
    return static_cast<int>(admin_code::bad_usage);
  }
  auto ans = client->call(w[0], args);
  if (ans.code == admin_code::ok) {
    std::cout << ans.json << '\n';
    return ok;
  }
  std::cout
      << json{{"error", ans.error}, {"code", static_cast<int>(ans.code)}}.dump()
      << '\n';
  print_error(ans.error);
  return static_cast<int>(ans.code);
}

int run_console(console_args& a) {
  auto token = read_admin_token(a.token_file);
  if (!token) {
    print_error(token.error().message);
    return usage;
  }
  auto tls = load_tls_option(client_tls_dir(a.tls_dir));
  if (!tls) {
    print_error(tls.error().message);
    return usage;
  }
  a.tls = *tls;
  auto client = admin_client::connect(a.address, *token, a.tls);
  if (!client) {
    print_error(client.error().message);
    if (!a.command.empty())
      std::cout << json{{"error", client.error().message},
                        {"code", static_cast<int>(admin_code::unreachable)}}
                       .dump()
                << '\n';
    return client.error().code == errc::invalid_argument
               ? usage
               : static_cast<int>(admin_code::unreachable);
  }
  if (!a.command.empty())
    return one_shot(a, client->get());
  // A refused token is told at once, not at the first command.
  if (auto probe = (*client)->call("nodes", {});
      probe.code == admin_code::refused) {
    print_error(probe.error);
    return static_cast<int>(admin_code::refused);
  }
  return shell(a, std::move(*client), *token);
}

} // namespace

action add_console_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<console_args>();
  auto* cmd = app.add_subcommand(
      "console", "Inspect a running node: stages, actors, keys, dead letters");
  cmd->add_option("address", a->address,
                  "The node's console address (its --listen HOST:PORT)")
      ->required();
  cmd->add_option("-c,--command", a->command,
                  "Run one command, print its JSON answer and exit (0 ok, "
                  "1 failed, 2 bad usage, 3 unreachable, 4 refused)");
  cmd->add_option("--token-file", a->token_file,
                  "File holding the node's admin token (default: "
                  "$SLUICE_TOKEN)");
  cmd->add_option("--history", a->history_file,
                  "History file (default $SLUICE_HISTORY or "
                  "~/.sluice_history)");
  cmd->add_option("--tls-dir", a->tls_dir,
                  "TLS directory (ca.pem, node.pem, node.key) for a node "
                  "with TLS on: mutual TLS with its CA (default: "
                  "$SLUICE_TLS_DIR)")
      ->type_name("DIR");
  return [a] { return run_console(*a); };
}

} // namespace sluice::cli
