// The package_trust workload generator and the small measuring helpers the
// benchmarks share.
#include "bench_common.hpp"
#include <iostream>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "sluice/feed_reader.hpp"

namespace sluice::bench {

namespace {

/// A JSON string value as it appears inside quotes in a compact dump.
std::string escaped(const std::string& raw) {
  auto quoted = nlohmann::json(raw).dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

/// Splits a feed reader event into a base record. Throws on a payload that
/// is not a JSON object with the name field.
base_record split_record(const event& ev) {
  base_record b;
  b.id = ev.id;
  b.ecosystem = ev.attributes.at("ecosystem");
  b.format = ev.attributes.at("format");
  auto obj = nlohmann::json::parse(ev.payload);
  const bool deb = b.format == "debian";
  const std::string name_field = deb ? "Package" : "name";
  const std::string version_field = deb ? "Version" : "version";
  b.raw_name = obj.at(name_field).get<std::string>();
  b.name = escaped(b.raw_name);
  b.version = obj.contains(version_field)
                  ? escaped(obj.at(version_field).get<std::string>())
                  : std::string();
  obj[name_field] = "";
  obj[version_field] = "";
  auto text =
      obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Both values are now "": find them by their field names.
  auto name_at = text.find("\"" + name_field + "\":\"\"");
  auto version_at = text.find("\"" + version_field + "\":\"\"");
  if (name_at == std::string::npos || version_at == std::string::npos)
    throw std::runtime_error("cannot split record " + ev.id);
  name_at += name_field.size() + 4; // just inside the value's quotes
  version_at += version_field.size() + 4;
  b.name_first = name_at < version_at;
  auto first = std::min(name_at, version_at);
  auto second = std::max(name_at, version_at);
  b.segments[0] = text.substr(0, first);
  b.segments[1] = text.substr(first, second - first);
  b.segments[2] = text.substr(second);
  return b;
}

} // namespace

result<workload> workload::load(const std::string& data_dir) {
  std::vector<std::vector<base_record>> files;
  for (const char* file : {"npm.tsv", "pypi.tsv", "debian.Packages"}) {
    auto reader = feed_reader::open(data_dir + "/" + file, "registry");
    if (!reader)
      return reader.error();
    auto& out = files.emplace_back();
    for (;;) {
      auto batch = (*reader)->next(1024);
      if (batch.empty())
        break;
      for (auto& rec : batch) {
        if (!rec.ok)
          return fail(errc::parse, rec.error);
        try {
          out.push_back(split_record(rec.ev));
        } catch (const std::exception& e) {
          return fail(errc::parse, data_dir + "/" + file + ": " + e.what());
        }
      }
    }
  }
  workload w;
  for (std::size_t i = 0;; ++i) {
    bool any = false;
    for (auto& f : files)
      if (i < f.size()) {
        w.bases_.push_back(std::move(f[i]));
        any = true;
      }
    if (!any)
      break;
  }
  if (w.bases_.empty())
    return fail(errc::not_found, "no records in " + data_dir);
  return w;
}

event workload::make_event(std::size_t base, std::string_view name_suffix,
                           std::uint64_t version, std::string id) const {
  const auto& b = bases_[base];
  std::string name = b.name;
  name += name_suffix;
  std::string ver = b.version;
  if (version > 0)
    ver = ver.empty() ? "0." + std::to_string(version)
                      : ver + "+b" + std::to_string(version);
  event ev;
  ev.id = std::move(id);
  ev.topic = "registry";
  ev.key.reserve(b.ecosystem.size() + 1 + name.size());
  ev.key = b.ecosystem;
  ev.key += '/';
  ev.key += b.raw_name;
  ev.key += name_suffix;
  ev.attributes.emplace("ecosystem", b.ecosystem);
  ev.attributes.emplace("format", b.format);
  const auto& v1 = b.name_first ? name : ver;
  const auto& v2 = b.name_first ? ver : name;
  ev.payload.reserve(b.segments[0].size() + b.segments[1].size()
                     + b.segments[2].size() + v1.size() + v2.size());
  ev.payload = b.segments[0];
  ev.payload += v1;
  ev.payload += b.segments[1];
  ev.payload += v2;
  ev.payload += b.segments[2];
  return ev;
}

event workload::make(std::uint64_t i, std::uint64_t keys) const {
  const std::uint64_t key = i % keys, version = i / keys;
  const std::uint64_t base = key % bases_.size(), copy = key / bases_.size();
  std::string suffix = copy == 0 ? std::string() : "~" + std::to_string(copy);
  std::string id = bases_[base].id;
  id += suffix;
  id += '#';
  id += std::to_string(version);
  return make_event(base, suffix, version, std::move(id));
}

std::string workload::key(std::uint64_t i, std::uint64_t keys) const {
  const std::uint64_t key = i % keys;
  const auto& b = bases_[key % bases_.size()];
  const std::uint64_t copy = key / bases_.size();
  std::string out = b.ecosystem;
  out += '/';
  out += b.raw_name;
  if (copy > 0) {
    out += '~';
    out += std::to_string(copy);
  }
  return out;
}

// -- flags --------------------------------------------------------------------

flags::flags(int argc, char** argv, const std::map<std::string, bool>& known) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!a.starts_with("--"))
      throw std::invalid_argument("unexpected argument '" + a + "'");
    auto name = a.substr(2);
    std::string value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto k = known.find(name);
    if (k == known.end())
      throw std::invalid_argument("unknown flag --" + name);
    if (k->second && value.empty()) {
      if (i + 1 >= argc)
        throw std::invalid_argument("--" + name + " needs a value");
      value = argv[++i];
    }
    values_[name] = value;
  }
}

std::string flags::str(const std::string& name, const std::string& def) const {
  auto i = values_.find(name);
  return i == values_.end() ? def : i->second;
}

std::uint64_t flags::num(const std::string& name, std::uint64_t def) const {
  auto i = values_.find(name);
  if (i == values_.end())
    return def;
  // Accept 1000000, 1_000_000 and 1,000,000.
  std::string digits;
  for (char c : i->second)
    if (c != '_' && c != ',')
      digits += c;
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (digits.empty() || used != digits.size())
    throw std::invalid_argument("--" + name + " wants a number, not '"
                                + i->second + "'");
  return v;
}

// -- measuring ----------------------------------------------------------------

memory_kib read_memory() {
  memory_kib m;
  std::ifstream in("/proc/self/status");
  std::string line;
  auto field = [&](const char* name, std::uint64_t& out) {
    std::string_view l = line;
    if (!l.starts_with(name))
      return;
    l.remove_prefix(std::char_traits<char>::length(name));
    out = std::strtoull(std::string(l).c_str(), nullptr, 10);
  };
  while (std::getline(in, line)) {
    field("VmHWM:", m.hwm);
    field("VmRSS:", m.rss);
    field("RssAnon:", m.rss_anon);
    field("RssFile:", m.rss_file);
  }
  return m;
}

cpu_usage read_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec)
           + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return {secs(ru.ru_utime), secs(ru.ru_stime),
          static_cast<std::uint64_t>(ru.ru_nvcsw),
          static_cast<std::uint64_t>(ru.ru_nivcsw)};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string grouped(double v) {
  auto n = static_cast<long long>(std::llround(v));
  bool neg = n < 0;
  auto digits = std::to_string(neg ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return neg ? "-" + out : out;
}

std::string mib(std::uint64_t kib) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(kib) / 1024.0);
  return buf;
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<std::size_t>(
      std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0)
    rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

void fresh_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec)
    throw std::runtime_error("cannot remove " + dir + ": " + ec.message());
  fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("cannot create " + dir + ": " + ec.message());
}

std::uint64_t dir_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec))
      total += e.file_size(ec);
  return total;
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << program << ": " << what << "\n";
  std::exit(1);
}

void check(result<void> r, const std::string& what) {
  if (!r)
    die(what + ": " + r.error().describe());
}

} // namespace sluice::bench
