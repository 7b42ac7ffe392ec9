// Turns feed files (TSV with a header row, Debian RFC 822 stanzas, JSON
// lines) into events, one record at a time, with byte offsets that allow an
// exact resume. Bad records come back as error values; reading goes on
// after them.
#include "sluice/feed_reader.hpp"

#include "sluice/event_json.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <system_error>

namespace sluice {
namespace {

/// "a, b, c": column names for an error message. (Its own, not
/// topology_yaml's: the fuzz test builds this file without the topology.)
std::string column_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A record (a TSV line or a whole stanza) longer than this is an error.
constexpr std::size_t max_record_bytes = std::size_t{1} << 20;

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// "npm.tsv" -> "npm", "debian.Packages" -> "debian".
std::string file_stem(const std::string& path) {
  const std::string base = base_name(path);
  return base.substr(0, base.find('.'));
}

std::string where(const std::string& name, std::uint64_t line) {
  return name + ":" + std::to_string(line) + ": ";
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size()
         && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<std::string> split_tabs(std::string_view line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      cells.emplace_back(line.substr(start));
      return cells;
    }
    cells.emplace_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  const std::size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return {};
  const std::size_t last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// A compact JSON object; invalid UTF-8 is replaced rather than rejected, so a
// record with odd bytes still goes through.
std::string to_json(const std::map<std::string, std::string>& fields) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [name, value] : fields)
    obj[name] = value;
  return obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

feed_record failed(std::uint64_t line, std::string message) {
  feed_record rec;
  rec.line = line;
  rec.ok = false;
  rec.error = std::move(message);
  return rec;
}

} // namespace

result<std::unique_ptr<feed_reader>> feed_reader::open(const std::string& path,
                                                       std::string topic) {
  return open(path, options{std::move(topic), {}, {}, {}, {}});
}

std::optional<feed_reader::format>
feed_reader::format_named(std::string_view name) {
  if (name == "tsv")
    return format::tsv;
  if (name == "debian")
    return format::debian;
  if (name == "jsonl")
    return format::jsonl;
  if (name == "lines")
    return format::lines;
  return std::nullopt;
}

result<std::unique_ptr<feed_reader>> feed_reader::open(const std::string& path,
                                                       options opts) {
  std::optional<format> forced;
  if (!opts.format.empty()) {
    forced = format_named(opts.format);
    if (!forced)
      return fail(errc::invalid_argument,
                  "feed format '" + opts.format
                      + "': expected tsv, debian, jsonl or lines");
  }
  if (forced == format::lines && !opts.priority.empty())
    return fail(errc::config, "feed " + path + ": the feed's priority column '"
                                  + opts.priority
                                  + "': raw lines have no columns or fields");
  const bool stdin_ = path == standard_input;
  // /dev/stdin opens the same file (seekable) or pipe as descriptor 0.
  const std::string file = stdin_ ? "/dev/stdin" : path;
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status)) {
    return fail(errc::not_found, "feed file not found: " + path);
  }
  if (std::filesystem::is_directory(status)) {
    return fail(errc::io, "feed path is a directory: " + path);
  }
  std::unique_ptr<feed_reader> r(new feed_reader());
  r->path_ = path;
  r->name_ = stdin_ ? "stdin" : base_name(path);
  r->topic_ = std::move(opts.topic);
  r->key_ = std::move(opts.key);
  r->attributes_ = std::move(opts.attributes);
  r->priority_ = std::move(opts.priority);
  r->seekable_ = std::filesystem::is_regular_file(status);
  r->in_.open(file, std::ios::binary);
  if (!r->in_)
    return fail(errc::io, "cannot open feed file: " + path);
  if (r->seekable_) {
    r->size_ = std::filesystem::file_size(file, ec);
    if (ec)
      return fail(errc::io, "cannot stat " + path + ": " + ec.message());
  }

  // Sniff on the first non-blank line.
  std::string first;
  bool found = false;
  std::uint64_t before = 0;
  for (before = r->offset_; r->next_line(first); before = r->offset_) {
    if (!is_blank(first)) {
      found = true;
      break;
    }
  }
  const bool json_name =
      ends_with(r->name_, ".jsonl") || ends_with(r->name_, ".ndjson");
  if (!found) { // empty or blank: no records
    r->kind_ = forced ? *forced : json_name ? format::jsonl : format::tsv;
    r->header_end_ = r->offset_;
    return r;
  }
  // Debian, JSON lines and raw lines: the first line is a record's; read
  // it again.
  const bool debian = first.rfind("Package:", 0) == 0 && !json_name;
  if (forced ? *forced != format::tsv
             : debian || json_name || first.front() == '{') {
    r->kind_ = forced ? *forced : debian ? format::debian : format::jsonl;
    r->unread(std::move(first), r->offset_ - before);
    r->header_end_ = r->offset_;
    return r;
  }
  const std::string at = where(r->name_, r->line_);
  if (first.size() > max_record_bytes) {
    return fail(errc::parse, at + "header longer than "
                                 + std::to_string(max_record_bytes) + " bytes");
  }
  if (first.find('\t') == std::string::npos) {
    return fail(errc::parse,
                at
                    + "not a feed: the first line is neither a tab-separated "
                      "header nor a Debian 'Package:' field");
  }
  r->kind_ = format::tsv;
  r->columns_ = split_tabs(first);
  std::vector<std::string> seen;
  for (auto& c : r->columns_) {
    c = std::string(trim(c));
    if (c.empty())
      return fail(errc::parse, at + "empty column name in header");
    if (std::find(seen.begin(), seen.end(), c) != seen.end()) {
      return fail(errc::parse, at + "duplicate column '" + c + "' in header");
    }
    seen.push_back(c);
  }
  auto need = [&](const std::string& column,
                  const std::string& why) -> std::optional<error> {
    if (std::find(seen.begin(), seen.end(), column) != seen.end())
      return std::nullopt;
    return error{errc::parse, at + "header has no '" + column + "' column" + why
                                  + " (columns: " + column_list(seen) + ")"};
  };
  if (auto e = need(r->key_.empty() ? "name" : r->key_,
                    r->key_.empty() ? "" : ", the feed's key"))
    return *e;
  for (auto& a : r->attributes_)
    if (auto e = need(a, ", a feed attribute"))
      return *e;
  if (!r->priority_.empty())
    if (auto e = need(r->priority_, ", the feed's priority"))
      return *e;
  r->header_end_ = r->offset_;
  return r;
}

void feed_reader::unread(std::string line, std::uint64_t bytes) {
  unread_ = std::move(line);
  unread_bytes_ = bytes;
  offset_ -= bytes;
  --line_;
}

result<void> feed_reader::seek(std::uint64_t offset) {
  if (offset < header_end_ && offset == 0)
    offset = header_end_;
  if (offset == offset_)
    return {}; // already there (a pipe can go nowhere else)
  if (!seekable_)
    return fail(errc::invalid_argument,
                name_ + " is a pipe: it cannot go to byte "
                    + std::to_string(offset) + " (it is at byte "
                    + std::to_string(offset_) + ")");
  unread_.reset();
  if (offset > size_) {
    return fail(errc::invalid_argument,
                "offset " + std::to_string(offset) + " is past the end of "
                    + path_ + " (" + std::to_string(size_) + " bytes)");
  }
  if (offset < header_end_) {
    if (offset != 0) {
      return fail(errc::invalid_argument, "offset " + std::to_string(offset)
                                              + " is inside the header of "
                                              + path_);
    }
    offset = header_end_;
  }
  // Count the lines before `offset` so that record lines and ids stay the
  // same after a resume, and check that it falls on a line start.
  in_.clear();
  in_.seekg(0);
  std::uint64_t lines = 0;
  std::uint64_t pos = 0;
  char last = '\n';
  std::array<char, 65536> buf{};
  while (pos < offset) {
    const auto want = static_cast<std::streamsize>(
        std::min<std::uint64_t>(buf.size(), offset - pos));
    in_.read(buf.data(), want);
    const std::streamsize got = in_.gcount();
    if (got <= 0) {
      return fail(errc::io, "cannot read " + path_ + " while seeking to "
                                + std::to_string(offset));
    }
    lines += static_cast<std::uint64_t>(
        std::count(buf.data(), buf.data() + got, '\n'));
    last = buf[static_cast<std::size_t>(got - 1)];
    pos += static_cast<std::uint64_t>(got);
  }
  if (last != '\n' && offset != size_) {
    return fail(errc::invalid_argument, "offset " + std::to_string(offset)
                                            + " in " + path_
                                            + " is not at the start of a line");
  }
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(offset));
  offset_ = offset;
  line_ = lines;
  return {};
}

// Reads one line without its terminator ("\n" or "\r\n"). A line longer than
// the record cap is cut to cap + 1 bytes so that callers can tell.
bool feed_reader::next_line(std::string& line) {
  if (unread_) {
    line = std::move(*unread_);
    unread_.reset();
    offset_ += unread_bytes_;
    ++line_;
    return true;
  }
  line.clear();
  std::streambuf* buf = in_.rdbuf();
  bool any = false;
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof())
      break;
    any = true;
    ++offset_;
    if (c == '\n')
      break;
    if (line.size() <= max_record_bytes)
      line.push_back(static_cast<char>(c));
  }
  if (!any)
    return false;
  if (!line.empty() && line.back() == '\r' && line.size() <= max_record_bytes) {
    line.pop_back();
  }
  ++line_;
  if (line_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0)
    line.erase(0, 3); // BOM
  return true;
}

std::vector<feed_record> feed_reader::next(std::size_t max) {
  std::vector<feed_record> out;
  std::string line;
  if (kind_ != format::debian) { // a record per line
    if (kind_ == format::tsv && columns_.empty())
      return out; // empty file
    while (out.size() < max && next_line(line)) {
      if (is_blank(line))
        continue;
      out.push_back(kind_ == format::jsonl   ? from_json_line(line, line_)
                    : kind_ == format::lines ? from_raw_line(line, line_)
                                             : from_tsv(line, line_));
      out.back().end_offset = offset_;
      if (!out.back().ok && line.size() <= max_record_bytes)
        out.back().raw = line;
    }
    return out;
  }
  std::vector<std::string> lines;
  while (out.size() < max) {
    lines.clear();
    std::uint64_t first_line = 0;
    std::size_t bytes = 0;
    bool too_long = false;
    while (next_line(line)) {
      if (is_blank(line)) {
        if (lines.empty() && !too_long)
          continue; // between stanzas
        break;
      }
      if (first_line == 0)
        first_line = line_;
      bytes += line.size() + 1;
      if (bytes > max_record_bytes) {
        too_long = true;
        lines.clear();
      }
      if (!too_long)
        lines.push_back(line);
    }
    if (first_line == 0)
      break; // end of file
    if (too_long) {
      out.push_back(failed(first_line,
                           where(name_, first_line) + "stanza longer than "
                               + std::to_string(max_record_bytes) + " bytes"));
    } else {
      out.push_back(from_stanza(lines, first_line));
      if (!out.back().ok)
        for (const auto& l : lines)
          out.back().raw += l + "\n";
    }
    out.back().end_offset = offset_;
  }
  return out;
}

feed_record feed_reader::from_tsv(const std::string& line,
                                  std::uint64_t lineno) {
  const std::string at = where(name_, lineno);
  if (line.size() > max_record_bytes) {
    return failed(lineno, at + "line longer than "
                              + std::to_string(max_record_bytes) + " bytes");
  }
  const std::vector<std::string> cells = split_tabs(line);
  if (cells.size() != columns_.size()) {
    return failed(lineno, at + "expected " + std::to_string(columns_.size())
                              + " tab-separated fields ("
                              + column_list(columns_) + "), got "
                              + std::to_string(cells.size()));
  }
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i < cells.size(); ++i)
    fields[columns_[i]] = cells[i];
  std::string key;
  if (!key_.empty()) {
    key = std::string(trim(fields[key_]));
    if (key.empty())
      return failed(lineno, at + "empty " + key_ + " (the feed's key)");
  } else if (trim(fields["name"]).empty()) {
    return failed(lineno, at + "empty name");
  }

  std::string ecosystem = file_stem(name_);
  if (auto it = fields.find("ecosystem");
      it != fields.end() && !trim(it->second).empty()) {
    ecosystem = std::string(trim(it->second));
  }
  feed_record rec;
  rec.line = lineno;
  event& ev = rec.ev;
  ev.id = name_ + ":" + std::to_string(lineno);
  ev.topic = topic_;
  ev.key = key.empty() ? ecosystem + "/" + fields["name"] : key;
  ev.attributes["ecosystem"] = ecosystem;
  ev.attributes["format"] = "tsv";
  for (auto& a : attributes_)
    ev.attributes[a] = fields[a];
  ev.payload = to_json(fields);
  ev.content_hash = content_hash(ev.payload);
  if (!priority_.empty())
    set_priority(rec, fields[priority_]);
  return rec;
}

feed_record feed_reader::from_raw_line(const std::string& line,
                                       std::uint64_t lineno) {
  const std::string at = where(name_, lineno);
  if (line.size() > max_record_bytes) {
    return failed(lineno, at + "line longer than "
                              + std::to_string(max_record_bytes) + " bytes");
  }
  feed_record rec;
  rec.line = lineno;
  event& ev = rec.ev;
  ev.id = name_ + ":" + std::to_string(lineno);
  ev.topic = topic_;
  ev.key = file_stem(name_) + "/" + std::to_string(lineno);
  ev.attributes["format"] = "lines";
  ev.payload = line;
  ev.content_hash = content_hash(ev.payload);
  return rec;
}

void feed_reader::set_priority(feed_record& rec,
                               const std::optional<std::string>& value) const {
  if (!value)
    return;
  auto v = std::string(trim(*value));
  if (v.empty() || v == "normal")
    rec.ev.priority = priority::normal;
  else if (v == "urgent")
    rec.ev.priority = priority::urgent;
  else
    rec = failed(rec.line, where(name_, rec.line) + priority_ + " '" + v
                               + "' is not a priority (urgent or normal; the "
                                 "feed's priority)");
}

feed_record feed_reader::from_json_line(const std::string& line,
                                        std::uint64_t lineno) {
  const std::string at = name_ + ":" + std::to_string(lineno);
  if (line.size() > max_record_bytes) {
    return failed(lineno, at + ": line longer than "
                              + std::to_string(max_record_bytes) + " bytes");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return failed(lineno, at + ": not JSON: " + e.what());
  }
  // The feed's key and attributes from the payload's fields, where the
  // line does not give them itself.
  const nlohmann::json* payload = nullptr;
  if (j.is_object())
    if (auto p = j.find("payload"); p != j.end() && p->is_object())
      payload = &*p;
  auto field_text = [&](const std::string& name) -> std::optional<std::string> {
    if (!payload)
      return std::nullopt;
    auto f = payload->find(name);
    if (f == payload->end() || f->is_null() || f->is_structured())
      return std::nullopt;
    return f->is_string() ? f->get<std::string>() : f->dump();
  };
  if (!key_.empty() && j.is_object() && !j.contains("key")) {
    auto k = field_text(key_);
    if (!k || k->empty())
      return failed(lineno, at + ": no \"key\" and no payload field '" + key_
                                + "' (the feed's key)");
    j["key"] = *k;
  }
  auto ev = event_from_json(j, at, topic_);
  if (!ev)
    return failed(lineno, ev.error().message);
  for (auto& a : attributes_)
    if (auto v = field_text(a))
      ev->attributes.try_emplace(a, std::move(*v));
  feed_record rec;
  rec.line = lineno;
  rec.ev = std::move(*ev);
  if (rec.ev.id.empty())
    rec.ev.id = at;
  rec.ev.attributes.try_emplace("format", "jsonl");
  rec.ev.content_hash = content_hash(rec.ev.payload);
  // A line's own "priority" wins over the payload field.
  if (!priority_.empty() && !(j.is_object() && j.contains("priority")))
    set_priority(rec, field_text(priority_));
  return rec;
}

feed_record feed_reader::from_stanza(const std::vector<std::string>& lines,
                                     std::uint64_t first_line) {
  std::map<std::string, std::string> fields;
  std::string current; // the field that continuation lines extend
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const std::uint64_t lineno = first_line + i;
    if (l.front() == ' ' || l.front() == '\t') {
      if (current.empty()) {
        return failed(first_line, where(name_, lineno)
                                      + "continuation line without a field");
      }
      // Drop the one marker character; deeper indentation is content.
      fields[current] += "\n" + l.substr(1);
      continue;
    }
    const std::size_t colon = l.find(':');
    const std::string name =
        colon == std::string::npos ? "" : l.substr(0, colon);
    if (name.empty() || name.find_first_of(" \t") != std::string::npos) {
      return failed(first_line,
                    where(name_, lineno)
                        + "expected 'Field: value' or a continuation line");
    }
    if (fields.count(name) != 0) {
      return failed(first_line,
                    where(name_, lineno) + "duplicate field '" + name + "'");
    }
    fields[name] = std::string(trim(std::string_view(l).substr(colon + 1)));
    current = name;
  }
  auto pkg = fields.find("Package");
  if (pkg == fields.end() || trim(pkg->second).empty()) {
    return failed(first_line,
                  where(name_, first_line) + "stanza has no Package field");
  }
  std::string key = "debian/" + pkg->second;
  if (!key_.empty()) {
    auto k = fields.find(key_);
    if (k == fields.end() || trim(k->second).empty())
      return failed(first_line, where(name_, first_line) + "stanza has no "
                                    + key_ + " field (the feed's key)");
    key = std::string(trim(k->second));
  }
  feed_record rec;
  rec.line = first_line;
  event& ev = rec.ev;
  ev.id = name_ + ":" + std::to_string(first_line);
  ev.topic = topic_;
  ev.key = std::move(key);
  ev.attributes["ecosystem"] = "debian";
  ev.attributes["format"] = "debian";
  for (auto& a : attributes_)
    if (auto f = fields.find(a); f != fields.end())
      ev.attributes[a] = f->second;
  ev.payload = to_json(fields);
  ev.content_hash = content_hash(ev.payload);
  if (!priority_.empty())
    if (auto f = fields.find(priority_); f != fields.end())
      set_priority(rec, f->second);
  return rec;
}

} // namespace sluice
