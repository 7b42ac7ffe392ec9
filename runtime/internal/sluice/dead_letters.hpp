// Inspecting the dead letters of a data directory: list with filters, show
// one, render as JSON. The library behind `sluice dlq` and the console.
// Redrive and drop are `store::redrive_dead_letters` / `drop_dead_letters`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/result.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

/// One dead letter, decoded.
struct dead_letter_view {
  store::dead_letter_ref ref; ///< (stage id, seq): redrive and drop take it
  std::string id;             ///< "stage_id:seq", what the commands take
  std::string stage;    ///< "(ingest)" for input that never became an event
  std::string key;      ///< the event's key; empty for raw input
  std::string event_id; ///< the event's id; empty for raw input
  std::string topic;    ///< the event's topic; empty for raw input
  std::string source;   ///< for raw input: file and line
  std::uint32_t attempts = 0;  ///< tries it had (1 for raw input)
  std::string last_error;      ///< the error of the last try
  std::int64_t last_at_ns = 0; ///< when the last try failed, ns since epoch
  bool redrivable = false;     ///< holds an event (raw input does not)
  std::string payload;         ///< event payload, or the raw input
  std::vector<std::pair<std::int64_t, std::string>> errors; ///< every attempt
};

/// Which dead letters to list; empty fields match everything.
struct dead_letter_filter {
  std::string stage;          ///< this stage only ("(ingest)": raw input)
  std::string key;            ///< this key only
  std::string error_contains; ///< the last error contains this text

  /// True when `v` passes every non-empty field.
  bool matches(const dead_letter_view& v) const;
};

/// "3:1042" -> {3, 1042}; errc::invalid_argument naming the text otherwise.
result<store::dead_letter_ref> parse_dead_letter_id(const std::string& text);

/// Every dead letter that matches, in (stage id, seq) order.
result<std::vector<dead_letter_view>>
list_dead_letters(const store& st, const dead_letter_filter& filter = {});

/// One dead letter, or errc::not_found naming the id.
result<dead_letter_view> show_dead_letter(const store& st,
                                          store::dead_letter_ref ref);

/// One JSON object on one line; the payload only when `with_payload`.
std::string to_json(const dead_letter_view& v, bool with_payload);

} // namespace sluice
