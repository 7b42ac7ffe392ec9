// Strict, located YAML readers for the topology loader (type checks, unknown
// and duplicate keys, integers, booleans, durations) and the schema's leaf
// values built on them; each failure reads "file:line: field.path: what".
#include "topology_yaml.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <set>

namespace sluice::topology_yaml {

namespace {

constexpr std::size_t max_stage_name_length = 64;
constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// How a node looks, for "expected X, got Y" messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Scalar:
    return "'" + node.Scalar() + "'";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Map:
    return "a map";
  default:
    return "an empty value";
  }
}

std::string range_text(std::uint64_t min, std::uint64_t max) {
  const bool unbounded =
      max == std::numeric_limits<std::uint64_t>::max() || max == u32_max;
  if (unbounded)
    return ">= " + std::to_string(min);
  return "in " + std::to_string(min) + ".." + std::to_string(max);
}

bool is_stage_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

std::string unknown_field_message(std::string_view key,
                                  const std::vector<std::string_view>& known) {
  std::string message = "unknown field '" + std::string(key) + "'";
  if (auto near = closest_match(key, known)) {
    return message + " (did you mean '" + std::string(*near) + "'?)";
  }
  std::vector<std::string> names(known.begin(), known.end());
  return message + " (known: " + join(names, ", ") + ")";
}

} // namespace

void raise(errc code, std::string message) {
  throw config_failure{fail(code, std::move(message))};
}

std::string location(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0)
    return file;
  return file + ":" + std::to_string(mark.line + 1);
}

std::optional<std::string_view>
closest_match(std::string_view word,
              const std::vector<std::string_view>& candidates) {
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const char* first = text.data();
  const char* last = first + text.size();
  std::uint32_t count = 0;
  const auto [end, ec] = std::from_chars(first, last, count);
  if (ec != std::errc{} || end == first)
    return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(last - end));
  std::int64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  if (unit == "s")
    scale = 1000;
  if (unit == "m")
    scale = 60 * 1000;
  if (scale == 0)
    return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(count) * scale};
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty())
      out += sep;
    out += item;
  }
  return out;
}

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::string text{std::istreambuf_iterator<char>(in),
                   std::istreambuf_iterator<char>()};
  if (in.bad())
    return std::nullopt;
  return text;
}

YAML::Node parse_document(const std::string& text, const std::string& file) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    raise(errc::config,
          location(file, e.mark) + ": YAML syntax error: " + e.msg);
  }
  if (documents.empty()) {
    raise(errc::config, file + ": the file is empty; expected a map of fields");
  }
  if (documents.size() > 1) {
    raise(errc::config, location(file, documents[1].Mark())
                            + ": a second YAML document; expected exactly one");
  }
  return documents.front();
}

// ---- field ----------------------------------------------------------------

field::field(YAML::Node node, std::string file, std::string path)
    : node_(std::move(node)), mark_(node_.Mark()), file_(std::move(file)),
      path_(std::move(path)) {}

int field::line() const {
  return mark_.is_null() || mark_.line < 0 ? 0 : mark_.line + 1;
}

void field::fail(const std::string& what, errc code) const {
  std::string message = where() + ": ";
  if (!path_.empty())
    message += path_ + ": ";
  raise(code, message + what);
}

field field::member(const YAML::Node& node, std::string_view key) const {
  std::string path =
      path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  return field(node, file_, std::move(path));
}

field field::element(const YAML::Node& node, std::size_t index) const {
  return field(node, file_, path_ + "[" + std::to_string(index) + "]");
}

std::string field::text() const {
  if (!node_.IsScalar())
    fail("expected a string, got " + describe(node_));
  if (node_.Scalar().empty())
    fail("must not be empty");
  return node_.Scalar();
}

std::uint64_t field::integer(std::uint64_t min, std::uint64_t max) const {
  const std::string expected = "expected an integer " + range_text(min, max);
  if (!node_.IsScalar())
    fail(expected + ", got " + describe(node_));
  const std::string& text = node_.Scalar();
  std::uint64_t value = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  const bool whole = ec == std::errc{} && end == text.data() + text.size();
  if (!whole || value < min || value > max)
    fail(expected + ", got " + describe(node_));
  return value;
}

bool field::boolean() const {
  if (node_.IsScalar()) {
    const std::string& text = node_.Scalar();
    if (text == "true" || text == "True" || text == "TRUE")
      return true;
    if (text == "false" || text == "False" || text == "FALSE")
      return false;
  }
  fail("expected true or false, got " + describe(node_));
}

std::vector<field> field::items() const {
  if (!node_.IsSequence())
    fail("expected a list, got " + describe(node_));
  std::vector<field> out;
  out.reserve(node_.size());
  for (std::size_t i = 0; i < node_.size(); ++i)
    out.push_back(element(node_[i], i));
  return out;
}

std::vector<field> field::items_or_scalar() const {
  if (node_.IsScalar())
    return {*this};
  if (!node_.IsSequence()) {
    fail("expected a list or a single value, got " + describe(node_));
  }
  return items();
}

std::vector<std::pair<field, field>> field::entries() const {
  if (!node_.IsMap())
    fail("expected a map, got " + describe(node_));
  std::vector<std::pair<field, field>> out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const field key(it->first, file_, path_);
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      key.fail("field names must be non-empty strings, got "
               + describe(it->first));
    }
    const std::string& name = it->first.Scalar();
    for (const auto& [earlier, value] : out) {
      if (earlier.node().Scalar() == name) {
        member(it->first, name)
            .fail("duplicate field (first at " + earlier.where() + ")");
      }
    }
    field value = member(it->second, name);
    // `key:` with no value: yaml-cpp marks the empty value on the next line.
    if (it->second.IsNull())
      value.mark_ = it->first.Mark();
    out.emplace_back(member(it->first, name), std::move(value));
  }
  return out;
}

strict_map field::fields(std::vector<std::string_view> known) const {
  return strict_map(*this, std::move(known));
}

// ---- strict_map -------------------------------------------------------------

strict_map::strict_map(const field& self, std::vector<std::string_view> known)
    : self_(self) {
  for (auto& [key, value] : self.entries()) {
    const std::string& name = key.node().Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      key.fail(unknown_field_message(name, known));
    }
    values_.emplace_back(name, std::move(value));
  }
}

std::optional<field> strict_map::get(std::string_view key) const {
  for (const auto& [name, value] : values_) {
    if (name == key)
      return value;
  }
  return std::nullopt;
}

field strict_map::require(std::string_view key) const {
  if (auto value = get(key))
    return *value;
  self_.member(self_.node(), key).fail("required field is missing");
}

// ---- leaf values of the topology schema
// --------------------------------------

namespace {

std::set<std::string> parse_value_set(const field& f) {
  std::set<std::string> values;
  for (const field& item : f.items_or_scalar())
    values.insert(item.text());
  if (values.empty())
    f.fail("an empty list accepts nothing; list at least one value");
  return values;
}

void parse_backoff(const field& f, retry_policy& retry) {
  const std::string text = f.text();
  const std::string usage =
      " (expected MIN..MAX with ms, s or m units, e.g. 200ms..30s)";
  const std::size_t dots = text.find("..");
  if (dots == std::string::npos)
    f.fail("bad backoff '" + text + "'" + usage);
  const auto low = parse_duration(std::string_view(text).substr(0, dots));
  const auto high = parse_duration(std::string_view(text).substr(dots + 2));
  if (!low || !high)
    f.fail("bad duration in backoff '" + text + "'" + usage);
  if (*low > *high)
    f.fail("backoff minimum exceeds its maximum in '" + text + "'");
  retry.backoff_min = *low;
  retry.backoff_max = *high;
}

} // namespace

std::string check_stage_name(const field& f) {
  std::string name = f.text();
  if (!std::all_of(name.begin(), name.end(), is_stage_name_char)) {
    f.fail("bad stage name '" + name + "' (use only a-z, 0-9 and _)");
  }
  if (name.size() > max_stage_name_length) {
    f.fail("stage name is " + std::to_string(name.size())
           + " characters long (at most "
           + std::to_string(max_stage_name_length) + ")");
  }
  return name;
}

std::string check_topic_name(const field& f) {
  std::string name = f.text();
  const auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  if (std::any_of(name.begin(), name.end(), blank)) {
    f.fail("bad topic name '" + name + "' (no whitespace allowed)");
  }
  return name;
}

priority parse_priority(const field& f) {
  const std::string text = f.text();
  if (text == "urgent")
    return priority::urgent;
  if (text == "normal")
    return priority::normal;
  f.fail("bad priority '" + text + "' (expected urgent or normal)");
}

filter_policy parse_filter(const field& f) {
  filter_policy policy;
  for (const auto& [key, value] : f.entries()) {
    policy.accept.emplace(key.node().Scalar(), parse_value_set(value));
  }
  return policy;
}

void parse_priority_from(const field& f, priority_rule& rule) {
  const strict_map m = f.fields({"attribute", "urgent"});
  rule.attribute = m.require("attribute").text();
  rule.urgent_values = parse_value_set(m.require("urgent"));
}

std::chrono::milliseconds parse_duration_field(const field& f) {
  auto d = parse_duration(f.text());
  if (!d || d->count() == 0)
    f.fail("bad duration '" + f.text()
           + "' (expected a positive number with ms, s or m, e.g. 30s)");
  return *d;
}

supervision_policy parse_supervision(const field& f, supervision_policy base) {
  const strict_map m = f.fields({"strategy", "max_restarts", "within"});
  if (auto v = m.get("strategy")) {
    auto s = parse_restart_strategy(v->text());
    if (!s)
      v->fail("unknown strategy '" + v->text()
              + "' (expected one_for_one, one_for_all or rest_for_one)");
    base.strategy = *s;
  }
  if (auto v = m.get("max_restarts"))
    base.max_restarts = static_cast<std::uint32_t>(v->integer(0, u32_max));
  if (auto v = m.get("within"))
    base.within = parse_duration_field(*v);
  return base;
}

retry_policy parse_retry(const field& f) {
  retry_policy retry;
  const strict_map m = f.fields({"max_attempts", "backoff"});
  if (auto v = m.get("max_attempts")) {
    retry.max_attempts = static_cast<std::uint32_t>(v->integer(1, u32_max));
  }
  if (auto v = m.get("backoff"))
    parse_backoff(*v, retry);
  return retry;
}

} // namespace sluice::topology_yaml
