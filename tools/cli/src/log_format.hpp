// Private: `--log-format human|json` for every logger of the process, and
// the JSON string escaping the json format and the HTTP endpoint share.
#pragma once

#include <string>
#include <string_view>

namespace sluice::cli {

/// How log lines (and `print_error`'s lines) look on stderr.
enum class log_format { human, json };

/// Sets the process's default logger: a stderr sink in `format` at `level`
/// (an spdlog level name). Loggers made later (node_env::logger) copy its
/// sinks, so they keep the format.
void setup_logging(log_format format, const std::string& level);

/// The format `setup_logging` set; human before it ran.
log_format current_log_format() noexcept;

/// One JSON log line (with its '\n'), as the json format writes it, for
/// lines written outside spdlog such as `print_error`'s.
std::string json_log_line(std::string_view level, std::string_view logger,
                          std::string_view msg);

/// `s` as a JSON string literal, quotes included. Invalid UTF-8 becomes
/// U+FFFD, so the result is always valid JSON.
std::string json_string(std::string_view s);

} // namespace sluice::cli
