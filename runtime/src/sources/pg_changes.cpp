// wal2json rows -> changes; LSNs; a row's key and JSON payload.
#include "sluice/sources/pg_changes.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace sluice::pg {

using json = nlohmann::json;

std::optional<std::uint64_t> parse_lsn(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size())
    return std::nullopt;
  std::uint32_t hi = 0, lo = 0;
  auto a = std::from_chars(text.data(), text.data() + slash, hi, 16);
  auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(),
                           lo, 16);
  if (a.ec != std::errc{} || a.ptr != text.data() + slash || b.ec != std::errc{}
      || b.ptr != text.data() + text.size())
    return std::nullopt;
  return (std::uint64_t{hi} << 32) | lo;
}

std::string format_lsn(std::uint64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

std::string row_key(const std::string& table,
                    const std::vector<std::string>& key_values) {
  std::string key = table.rfind("public.", 0) == 0 ? table.substr(7) : table;
  for (auto& v : key_values)
    key += "/" + v;
  return key;
}

namespace {

bool integer_type(const std::string& t) {
  return t == "smallint" || t == "integer" || t == "bigint";
}

json column_value(const column& c) {
  if (c.null)
    return nullptr;
  if (integer_type(c.type)) {
    std::int64_t v = 0;
    auto r = std::from_chars(c.text.data(), c.text.data() + c.text.size(), v);
    if (r.ec == std::errc{} && r.ptr == c.text.data() + c.text.size())
      return v;
  } else if (c.type == "boolean") {
    if (c.text == "t" || c.text == "true")
      return true;
    if (c.text == "f" || c.text == "false")
      return false;
  } else if (c.type == "json" || c.type == "jsonb") {
    auto v = json::parse(c.text, nullptr, false);
    if (!v.is_discarded())
      return v;
  }
  return c.text;
}

/// The literal text of a number wal2json wrote for column `name` in `data`
/// (a numeric's digits as PostgreSQL wrote them, none lost to a double);
/// empty when it is not found as written.
std::string raw_number(std::string_view data, const std::string& name) {
  auto needle = "\"name\":" + json(name).dump() + ",";
  auto at = data.find(needle);
  if (at == std::string_view::npos)
    return {};
  auto value = data.find("\"value\":", at + needle.size());
  if (value == std::string_view::npos)
    return {};
  auto start = value + 8;
  auto end = start;
  while (end < data.size()
         && (std::isdigit(static_cast<unsigned char>(data[end]))
             || data[end] == '-' || data[end] == '+' || data[end] == '.'
             || data[end] == 'e' || data[end] == 'E'))
    ++end;
  return std::string(data.substr(start, end - start));
}

/// A wal2json value (string, number, boolean or null) as a column's text.
column to_column(const json& j, std::string_view data) {
  column c;
  c.name = j.value("name", "");
  c.type = j.value("type", "");
  const auto& v = j.contains("value") ? j["value"] : json(nullptr);
  if (v.is_null())
    c.null = true;
  else if (v.is_string())
    c.text = v.get<std::string>();
  else if (v.is_boolean())
    c.text = v.get<bool>() ? "true" : "false";
  else if (v.is_number_float())
    c.text = raw_number(data, c.name);
  if (!c.null && c.text.empty() && !v.is_string())
    c.text = v.dump();
  return c;
}

std::string operation_of(std::string_view action) {
  if (action == "I")
    return "insert";
  if (action == "U")
    return "update";
  if (action == "D")
    return "delete";
  return {};
}

} // namespace

std::string row_json(const std::vector<column>& cols) {
  json o = json::object();
  for (auto& c : cols)
    o[c.name] = column_value(c);
  return o.dump();
}

std::int64_t parse_timestamp(std::string_view text) {
  // YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM]
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() < 19
      || std::sscanf(std::string(text.substr(0, 19)).c_str(),
                     "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s)
             != 6)
    return 0;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::int64_t secs = timegm(&tm);
  std::size_t i = 19;
  std::int64_t frac_ns = 0;
  if (i < text.size() && text[i] == '.') {
    std::int64_t scale = 100000000;
    for (++i;
         i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
         ++i, scale /= 10)
      frac_ns += (text[i] - '0') * scale;
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int sign = text[i] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    auto rest = std::string(text.substr(i + 1));
    if (std::sscanf(rest.c_str(), "%2d:%2d", &oh, &om) < 1)
      return 0;
    secs -= static_cast<std::int64_t>(sign) * (oh * 3600 + om * 60);
  }
  return secs * 1000000000 + frac_ns;
}

result<void> wal2json_decoder::add(std::string_view lsn_text,
                                   std::string_view data) {
  auto lsn = parse_lsn(lsn_text);
  if (!lsn)
    return fail(errc::corrupt, "wal2json: a row's LSN '" + std::string(lsn_text)
                                   + "' does not parse");
  auto j = json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("action")
      || !j["action"].is_string())
    return fail(errc::corrupt,
                "wal2json: the row at " + std::string(lsn_text)
                    + " is not a format-version 2 object with an action: "
                    + std::string(data.substr(0, 200)));
  auto action = j["action"].get<std::string>();
  if (action == "B") {
    open_.clear();
    open_ts_ns_ = parse_timestamp(j.value("timestamp", ""));
    return {};
  }
  if (action == "C") {
    std::uint32_t index = 0;
    auto ts = parse_timestamp(j.value("timestamp", ""));
    for (auto& c : open_) {
      c.commit_lsn = *lsn;
      c.index = index++;
      c.commit_ts_ns = ts ? ts : open_ts_ns_;
      done_.push_back(std::move(c));
    }
    open_.clear();
    last_commit_ = std::max(last_commit_, *lsn);
    return {};
  }
  if (action == "M" || action == "T")
    return {}; // logical messages and truncates are not row changes
  auto op = operation_of(action);
  if (op.empty())
    return fail(errc::corrupt, "wal2json: unknown action '" + action + "' at "
                                   + std::string(lsn_text));
  change c;
  c.table = j.value("schema", "") + "." + j.value("table", "");
  c.operation = op;
  std::vector<column> cols;
  const char* row_field = op == "delete" ? "identity" : "columns";
  if (j.contains(row_field) && j[row_field].is_array())
    for (auto& col : j[row_field])
      cols.push_back(to_column(col, data));
  std::vector<std::string> key_values;
  if (j.contains("pk") && j["pk"].is_array())
    for (auto& pk : j["pk"]) {
      auto name = pk.value("name", "");
      auto it = std::find_if(cols.begin(), cols.end(),
                             [&](const column& k) { return k.name == name; });
      if (it == cols.end() || it->null) {
        key_values.clear();
        break;
      }
      key_values.push_back(it->text);
    }
  if (key_values.empty()) {
    c.error = "table " + c.table + " has no primary key in the change at "
              + std::string(lsn_text)
              + " (was it dropped? every source table needs one)";
    c.key = row_key(c.table, {});
    c.payload = std::string(data);
  } else {
    c.key = row_key(c.table, key_values);
    c.payload = row_json(cols);
  }
  open_.push_back(std::move(c));
  return {};
}

std::vector<change> wal2json_decoder::take() {
  std::vector<change> out;
  out.swap(done_);
  return out;
}

} // namespace sluice::pg
