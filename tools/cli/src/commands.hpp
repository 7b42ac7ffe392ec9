// Private: each subcommand registers its CLI11 options and its action.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice::cli {

/// Exit codes shared by all commands.
enum exit_code : int { ok = 0, failed = 1, usage = 2 };

/// Adds a subcommand to `app`; the returned action runs it when chosen.
using action = std::function<int()>;

action add_run_command(CLI::App& app, const registry& reg);
action add_node_command(CLI::App& app, const registry& reg);
action add_export_command(CLI::App& app, const registry& reg);
action add_dlq_command(CLI::App& app, const registry& reg);
action add_console_command(CLI::App& app, const registry& reg);
action add_topology_command(CLI::App& app, const registry& reg);
action add_subscribe_command(CLI::App& app, const registry& reg);
action add_certs_command(CLI::App& app, const registry& reg);
action add_backup_command(CLI::App& app, const registry& reg);
action add_restore_command(CLI::App& app, const registry& reg);
action add_check_command(CLI::App& app, const registry& reg);

/// The admin token from `token_file` (first line), else $SLUICE_TOKEN;
/// an error says how to give one.
result<std::string> read_admin_token(const std::string& token_file);

/// Prints "sluice: <message>" to stderr.
void print_error(const std::string& message);

/// `--feed`'s check: an existing file, or "-" for standard input.
inline const CLI::Validator feed_path(
    [](std::string& path) -> std::string {
      return path == "-" ? std::string() : CLI::ExistingFile(path);
    },
    "FILE|-");

/// `--format`: the feeds' format when their names and first lines do not
/// tell it (standard input, a log of raw lines); over the topology's
/// `feed.format`.
inline void add_format_option(CLI::App& cmd, std::string& format) {
  cmd.add_option("--format", format,
                 "The feeds' format: tsv, debian, jsonl, or lines (each "
                 "line an event, key FILE-STEM/LINE); default: told by the "
                 "file's name and first line, or the topology's "
                 "feed.format")
      ->check(CLI::IsMember({"tsv", "debian", "jsonl", "lines"}));
}

/// `--source URL` on `run` and `node`, repeatable: a PostgreSQL source
/// beside the topology's `sources:`.
inline void add_source_option(CLI::App& cmd,
                              std::vector<std::string>& sources) {
  cmd.add_option("--source", sources,
                 "Capture a PostgreSQL database's changes: "
                 "postgresql://USER@HOST:PORT/DB?slot=SLOT&tables=T1,T2 "
                 "[&topic=T&create_slot=true&snapshot=true&name=N&poll=100ms"
                 "&batch=1000&attr.NAME=VALUE]; repeatable")
      ->type_name("URL");
}

} // namespace sluice::cli
