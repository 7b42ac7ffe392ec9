// Field mapping for package.parse: npm and PyPI TSV columns, Debian stanza
// fields, and generic TSV columns for any other ecosystem.
#include "record_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "dependencies.hpp"
#include "sluice/behaviour.hpp"
#include "text.hpp"
#include "version.hpp"

namespace sluice::examples::package_trust {
namespace {

class fields {
public:
  fields(std::string_view payload, std::string_view origin) : origin_(origin) {
    json_ = nlohmann::json::parse(payload, nullptr, false);
    if (json_.is_discarded() || !json_.is_object()) {
      fail("payload is not a JSON object");
    }
  }

  bool has(const char* name) const { return json_.contains(name); }

  std::string get(const char* name) const {
    const auto it = json_.find(name);
    if (it == json_.end() || it->is_null())
      return {};
    if (!it->is_string())
      fail(std::string("field '") + name + "' is not a string");
    return std::string(trim(it->get_ref<const std::string&>()));
  }

  std::string required(const char* name) const {
    std::string v = get(name);
    if (v.empty())
      fail(std::string("missing required field '") + name + "'");
    return v;
  }

  std::uint64_t number(const char* name) const {
    const std::string v = get(name);
    std::uint64_t n = 0;
    if (v.empty())
      return 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size()) {
      fail(std::string("field '") + name + "' is not a number: '" + v + "'");
    }
    return n;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw sluice::permanent_error("package.parse: " + std::string(origin_)
                                  + ": " + what);
  }

private:
  nlohmann::json json_;
  std::string_view origin_;
};

void parse_debian(const fields& f, ParsedPackage& p) {
  p.set_name(f.required("Package"));
  *p.mutable_version() = parse_version("debian", f.required("Version"));
  const std::string description = f.get("Description");
  const auto nl = description.find('\n');
  p.set_summary(description.substr(0, nl));
  if (nl != std::string::npos)
    p.set_description(description.substr(nl + 1));
  p.set_homepage(f.get("Homepage"));
  p.set_vcs_url(f.has("Vcs-Git") ? f.get("Vcs-Git") : f.get("Vcs-Browser"));
  p.set_maintainer(f.get("Maintainer"));
  for (auto& d : parse_dependencies(f.get("Depends"), false)) {
    *p.add_depends() = std::move(d);
  }
  for (auto& d : parse_dependencies(f.get("Pre-Depends"), true)) {
    *p.add_depends() = std::move(d);
  }
  p.set_installed_size_kib(f.number("Installed-Size"));
  p.set_section(f.get("Section"));
  p.set_priority(f.get("Priority"));
  p.set_essential(f.get("Essential") == "yes");
  p.set_urls_known(true);
  p.set_depends_known(true);
}

// npm, PyPI and any other TSV feed: the same column names where they exist.
void parse_tsv(std::string_view ecosystem, const fields& f, ParsedPackage& p) {
  p.set_name(f.required("name"));
  const std::string version =
      ecosystem == "npm" ? f.required("version") : f.get("version");
  *p.mutable_version() = parse_version(ecosystem, version);
  p.set_summary(f.get("summary"));
  p.set_description(f.get("description"));
  p.set_homepage(f.get("homepage"));
  p.set_vcs_url(f.get("repository"));
  p.set_maintainer(f.get("maintainer"));
  p.set_downloads_a_month(f.number("downloads_a_month"));
  p.set_rank(static_cast<std::uint32_t>(std::min<std::uint64_t>(
      f.number("rank_among_15000_most_downloaded"), UINT32_MAX)));
  p.set_release_month(f.get("month"));
  p.set_urls_known(f.has("homepage") || f.has("repository"));
  if (f.has("dependencies")) {
    p.set_depends_known(true);
    for (auto& d : parse_dependencies(f.get("dependencies"), false)) {
      *p.add_depends() = std::move(d);
    }
  }
}

} // namespace

ParsedPackage parse_record(std::string_view ecosystem, std::string_view payload,
                           std::string_view origin) {
  const fields f(payload, origin);
  if (ecosystem.empty())
    f.fail("the record has no ecosystem");
  ParsedPackage p;
  p.set_ecosystem(std::string(ecosystem));
  if (ecosystem == "debian") {
    parse_debian(f, p);
  } else {
    parse_tsv(ecosystem, f, p);
  }
  return p;
}

} // namespace sluice::examples::package_trust
