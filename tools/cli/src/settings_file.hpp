// Private: `sluice node --settings FILE`, a member's settings in one YAML
// file: a mapping of the command's long option names (without the
// dashes) to a value, a list of values (repeatable options), or true or
// false (flags). Turned into command-line arguments before the command
// line is parsed, for the options the command line does not give: the
// command line wins.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::cli {

/// The arguments `file` stands for, for the options of `cmd` that `given`
/// (the command line after the subcommand's name) does not give. An
/// unknown name (with the nearest known one), a mapping as a value, a flag
/// given anything but true or false, an unreadable file or bad YAML is an
/// error naming the file and line.
result<std::vector<std::string>>
settings_as_arguments(const CLI::App& cmd, const std::string& file,
                      const std::vector<std::string>& given);

/// `args` (argv without the program, in order) with the settings file of
/// the `node` subcommand's `--settings FILE`, if one is given, appended.
result<std::vector<std::string>>
with_settings_file(const CLI::App& app, std::vector<std::string> args);

} // namespace sluice::cli
