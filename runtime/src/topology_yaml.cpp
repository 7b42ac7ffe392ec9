// Strict, located YAML readers for the topology loader (type checks, unknown
// and duplicate keys, integers, booleans, durations); each failure is an
// error value reading "file:line: field.path: what". Pure functions.
#include "topology_yaml.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>

namespace sluice::topology_yaml {

namespace {

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
    scale = std::int64_t{60} * 1000;
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

result<YAML::Node> parse_document(const std::string& text,
                                  const std::string& file) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) { // yaml-cpp reports syntax by throwing
    return sluice::fail(errc::config, location(file, e.mark)
                                          + ": YAML syntax error: " + e.msg);
  }
  if (documents.empty()) {
    return sluice::fail(errc::config,
                        file + ": the file is empty; expected a map of fields");
  }
  if (documents.size() > 1) {
    return sluice::fail(errc::config,
                        location(file, documents[1].Mark())
                            + ": a second YAML document; expected exactly one");
  }
  return documents.front();
}

// ---- field ----------------------------------------------------------------

field::field(YAML::Node node, std::string file, std::string path)
    : node_(node), mark_(node_.Mark()), file_(std::move(file)),
      path_(std::move(path)) {}

int field::line() const {
  return mark_.is_null() || mark_.line < 0 ? 0 : mark_.line + 1;
}

error field::fail(const std::string& what, errc code) const {
  std::string message = where() + ": ";
  if (!path_.empty())
    message += path_ + ": ";
  return sluice::fail(code, message + what);
}

field field::member(const YAML::Node& node, std::string_view key) const {
  std::string path =
      path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  return field(node, file_, std::move(path));
}

field field::element(const YAML::Node& node, std::size_t index) const {
  return field(node, file_, path_ + "[" + std::to_string(index) + "]");
}

result<std::string> field::text() const {
  if (!node_.IsScalar())
    return fail("expected a string, got " + describe(node_));
  if (node_.Scalar().empty())
    return fail("must not be empty");
  return node_.Scalar();
}

result<std::uint64_t> field::integer(std::uint64_t min,
                                     std::uint64_t max) const {
  const std::string expected = "expected an integer " + range_text(min, max);
  if (!node_.IsScalar())
    return fail(expected + ", got " + describe(node_));
  const std::string& text = node_.Scalar();
  std::uint64_t value = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  const bool whole = ec == std::errc{} && end == text.data() + text.size();
  if (!whole || value < min || value > max)
    return fail(expected + ", got " + describe(node_));
  return value;
}

result<bool> field::boolean() const {
  if (node_.IsScalar()) {
    const std::string& text = node_.Scalar();
    if (text == "true" || text == "True" || text == "TRUE")
      return true;
    if (text == "false" || text == "False" || text == "FALSE")
      return false;
  }
  return fail("expected true or false, got " + describe(node_));
}

result<std::vector<field>> field::items() const {
  if (!node_.IsSequence())
    return fail("expected a list, got " + describe(node_));
  std::vector<field> out;
  out.reserve(node_.size());
  for (std::size_t i = 0; i < node_.size(); ++i)
    out.push_back(element(node_[i], i));
  return out;
}

result<std::vector<field>> field::items_or_scalar() const {
  if (node_.IsScalar())
    return std::vector<field>{*this};
  if (!node_.IsSequence()) {
    return fail("expected a list or a single value, got " + describe(node_));
  }
  return items();
}

result<std::vector<std::pair<field, field>>> field::entries() const {
  if (!node_.IsMap())
    return fail("expected a map, got " + describe(node_));
  std::vector<std::pair<field, field>> out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const field key(it->first, file_, path_);
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      return key.fail("field names must be non-empty strings, got "
                      + describe(it->first));
    }
    const std::string& name = it->first.Scalar();
    for (const auto& [earlier, value] : out) {
      if (earlier.node().Scalar() == name) {
        return member(it->first, name)
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

result<strict_map> field::fields(std::vector<std::string_view> known) const {
  return strict_map::read(*this, std::move(known));
}

// ---- strict_map -------------------------------------------------------------

result<strict_map> strict_map::read(const field& self,
                                    std::vector<std::string_view> known) {
  auto entries = self.entries();
  if (!entries)
    return entries.error();
  strict_map m(self);
  for (auto& [key, value] : *entries) {
    const std::string& name = key.node().Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return key.fail(unknown_field_message(name, known));
    }
    m.values_.emplace_back(name, std::move(value));
  }
  return m;
}

std::optional<field> strict_map::get(std::string_view key) const {
  for (const auto& [name, value] : values_) {
    if (name == key)
      return value;
  }
  return std::nullopt;
}

result<field> strict_map::require(std::string_view key) const {
  if (auto value = get(key))
    return *value;
  return self_.member(self_.node(), key).fail("required field is missing");
}

} // namespace sluice::topology_yaml
