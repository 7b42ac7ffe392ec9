// `--log-format json`: an spdlog formatter that writes one JSON object per
// line, {"ts","level","logger","msg"}, set on the default logger's sink.
#include "log_format.hpp"

#include <fmt/format.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <memory>

namespace sluice::cli {

namespace {

std::atomic<log_format> current{log_format::human};

/// The length of the valid UTF-8 sequence at the start of `s`, or 0.
std::size_t utf8_length(std::string_view s) {
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](std::size_t i, unsigned char lo = 0x80,
                  unsigned char hi = 0xBF) {
    return i < s.size() && at(i) >= lo && at(i) <= hi;
  };
  unsigned char c = at(0);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    bool second = c == 0xE0   ? cont(1, 0xA0)
                  : c == 0xED ? cont(1, 0x80, 0x9F)
                              : cont(1);
    return second && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    bool second = c == 0xF0   ? cont(1, 0x90)
                  : c == 0xF4 ? cont(1, 0x80, 0x8F)
                              : cont(1);
    return second && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/// Appends `s` as a JSON string literal to `out` (std::string or an fmt
/// memory buffer).
template <class Out>
void append_json_string(Out& out, std::string_view s) {
  auto put = [&](std::string_view piece) {
    out.append(piece.data(), piece.data() + piece.size());
  };
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (auto n = utf8_length(s.substr(i)); n > 0) {
        put(s.substr(i, n));
        i += n;
      } else {
        put("\\ufffd");
        ++i;
      }
      continue;
    }
    switch (c) {
    case '"':
      put("\\\"");
      break;
    case '\\':
      put("\\\\");
      break;
    case '\n':
      put("\\n");
      break;
    case '\r':
      put("\\r");
      break;
    case '\t':
      put("\\t");
      break;
    case '\b':
      put("\\b");
      break;
    case '\f':
      put("\\f");
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        put(buf);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    ++i;
  }
  out.push_back('"');
}

/// The level names of `--log-level`.
std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
  case spdlog::level::trace:
    return "trace";
  case spdlog::level::debug:
    return "debug";
  case spdlog::level::info:
    return "info";
  case spdlog::level::warn:
    return "warn";
  case spdlog::level::err:
    return "error";
  case spdlog::level::critical:
    return "critical";
  default:
    return "off";
  }
}

template <class Out>
void append_line(Out& out, std::chrono::system_clock::time_point t,
                 std::string_view level, std::string_view logger,
                 std::string_view msg) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  fmt::format_to(std::back_inserter(out),
                 "{{\"ts\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\","
                 "\"level\":",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ms);
  append_json_string(out, level);
  std::string_view logger_key = ",\"logger\":", msg_key = ",\"msg\":";
  out.append(logger_key.data(), logger_key.data() + logger_key.size());
  append_json_string(out, logger);
  out.append(msg_key.data(), msg_key.data() + msg_key.size());
  append_json_string(out, msg);
  out.push_back('}');
  out.push_back('\n');
}

class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    append_line(dest, msg.time, level_name(msg.level),
                {msg.logger_name.data(), msg.logger_name.size()},
                {msg.payload.data(), msg.payload.size()});
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

/// Where protobuf's own complaints go with json logs (else they would be
/// plain "[libprotobuf ERROR ...]" lines among the JSON ones).
std::shared_ptr<spdlog::logger> protobuf_logger;

void protobuf_log(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  auto l = level == google::protobuf::LOGLEVEL_INFO      ? spdlog::level::info
           : level == google::protobuf::LOGLEVEL_WARNING ? spdlog::level::warn
           : level == google::protobuf::LOGLEVEL_ERROR
               ? spdlog::level::err
               : spdlog::level::critical;
  protobuf_logger->log(l, "{} ({}:{})", message, file, line);
}

} // namespace

void setup_logging(log_format format, const std::string& level) {
  spdlog::sink_ptr sink;
  if (format == log_format::json) {
    // No colours: a plain sink, and the formatter sets no colour range.
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<json_formatter>());
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  }
  current = format;
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("sluice", sink));
  spdlog::set_level(spdlog::level::from_str(level));
  if (format == log_format::json) {
    protobuf_logger = std::make_shared<spdlog::logger>("protobuf", sink);
    protobuf_logger->set_level(spdlog::level::from_str(level));
    google::protobuf::SetLogHandler(&protobuf_log);
  }
}

log_format current_log_format() noexcept {
  return current;
}

std::string json_log_line(std::string_view level, std::string_view logger,
                          std::string_view msg) {
  std::string out;
  append_line(out, std::chrono::system_clock::now(), level, logger, msg);
  return out;
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

} // namespace sluice::cli
