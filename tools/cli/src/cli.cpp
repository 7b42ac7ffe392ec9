// Dispatch of the `sluice` subcommands and the mapping of CLI errors to
// exit codes.
#include "sluice/cli.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <vector>

#include "commands.hpp"
#include "log_format.hpp"
#include "settings_file.hpp"
#include "sluice/plugin.hpp"
#include "sluice/slice_controller.hpp"
#include "sluice/table_mirror.hpp"

namespace sluice {

namespace cli {

result<std::string> read_admin_token(const std::string& token_file) {
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::string t;
    if (!in || !std::getline(in, t))
      return fail(errc::io, "cannot read --token-file " + token_file);
    while (!t.empty() && (t.back() == '\r' || t.back() == ' '))
      t.pop_back();
    if (t.empty())
      return fail(errc::invalid_argument,
                  "--token-file " + token_file + " holds no token");
    return t;
  }
  if (const char* env = std::getenv("SLUICE_TOKEN"); env && *env)
    return std::string(env);
  return fail(errc::invalid_argument,
              "no token: set SLUICE_TOKEN or give --token-file FILE");
}

void print_error(const std::string& message) {
  if (current_log_format() == log_format::json) {
    auto line = json_log_line("error", "sluice", message);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  } else {
    std::cerr << "sluice: " << message << std::endl;
  }
}

} // namespace cli

int main(int argc, char** argv, const registry& linked) {
  CLI::App app{"Sluice: an actor runtime for event-driven data pipelines"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  // The linked behaviours, plus those of --plugin libraries (loaded once
  // the command line has parsed; the commands read this registry).
  registry reg = linked;
  // The runtime's own behaviours, for any pipeline (unless a team's own
  // behaviour has the name).
  if (!reg.contains(std::string(slices::controller_name)))
    (void)slices::add_slice_controller(reg);
  if (!reg.contains(std::string(table_mirror_name)))
    (void)add_table_mirror(reg);
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins,
                 "a shared library of behaviours (SLUICE_PLUGIN); repeatable")
      ->type_name("LIB.so");
  std::string log_level = "warn";
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember(
          {"trace", "debug", "info", "warn", "error", "critical", "off"}));
  std::string log_format_name = "human";
  app.add_option("--log-format", log_format_name,
                 "human, or json: one JSON object per line on stderr, "
                 "{\"ts\",\"level\",\"logger\",\"msg\"}")
      ->check(CLI::IsMember({"human", "json"}));
  std::vector<std::pair<CLI::App*, cli::action>> actions;
  auto add = [&](auto adder) {
    auto before = app.get_subcommands({}).size();
    auto act = adder(app, reg);
    actions.emplace_back(app.get_subcommands({})[before], std::move(act));
  };
  add(cli::add_run_command);
  add(cli::add_node_command);
  add(cli::add_export_command);
  add(cli::add_dlq_command);
  add(cli::add_console_command);
  add(cli::add_topology_command);
  add(cli::add_subscribe_command);
  add(cli::add_certs_command);
  add(cli::add_backup_command);
  add(cli::add_restore_command);
  add(cli::add_check_command);
  // `sluice node --settings FILE`: the file's settings become arguments
  // for the options the command line does not give.
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  auto with_settings = cli::with_settings_file(app, std::move(args));
  if (!with_settings) {
    cli::print_error(with_settings.error().message);
    return cli::usage;
  }
  args = std::move(*with_settings);
  std::reverse(args.begin(), args.end()); // CLI11 takes them last first
  if (argc > 0)
    app.name(argv[0]); // as parse(argc, argv) would, for the usage line
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return cli::usage;
  }
  // Logs go to stderr: stdout is for data (`export` prints states there).
  cli::setup_logging(log_format_name == "json" ? cli::log_format::json
                                               : cli::log_format::human,
                     log_level);
  for (auto& p : plugins)
    if (auto r = load_plugin(p, reg); !r) {
      cli::print_error(r.error().message);
      return cli::usage;
    }
  for (auto& [sub, act] : actions)
    if (sub->parsed())
      return act();
  return cli::usage;
}

} // namespace sluice
