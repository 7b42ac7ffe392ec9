// The derivations behind package.enrich. Everything here is a function of the
// parsed record and the previous state only.
#include "enrichment.hpp"

#include <string>
#include <string_view>

#include "repository.hpp"
#include "text.hpp"
#include "version.hpp"

namespace sluice::examples::package_trust {
namespace {

// Template text that project generators leave in place.
constexpr std::string_view placeholders[] = {
    "my short description",
    "a short description",
    "add a short description",
    "short description of the project",
    "your description here",
    "description here",
    "lorem ipsum",
    "unknown",
    "package description",
    "todo",
};

Repository find_repository(const ParsedPackage& pkg) {
  if (!pkg.vcs_url().empty()) {
    Repository r = parse_repository_url(pkg.vcs_url());
    if (r.host() != HOST_NONE) {
      r.set_source_field("vcs_url");
      return r;
    }
  }
  Repository r = parse_repository_url(pkg.homepage());
  if (r.host() != HOST_NONE)
    r.set_source_field("homepage");
  return r;
}

DependencySurface dependency_surface(const ParsedPackage& pkg) {
  DependencySurface d;
  for (const Dependency& dep : pkg.depends()) {
    d.set_direct(d.direct() + 1);
    if (dep.pre_depends())
      d.set_pre_depends(d.pre_depends() + 1);
    if (dep.alternatives_size() > 1) {
      d.set_with_alternatives(d.with_alternatives() + 1);
      d.set_alternatives(
          d.alternatives()
          + static_cast<std::uint32_t>(dep.alternatives_size() - 1));
    }
  }
  return d;
}

VersionMaturity maturity(const ParsedPackage& pkg) {
  const Version& v = pkg.version();
  VersionMaturity m;
  m.set_has_version(!v.raw().empty());
  m.set_pre_1_0(v.parsed() && v.major() == 0);
  m.set_prerelease(v.prerelease());
  m.set_components(v.components());
  return m;
}

VersionHistory history(const ParsedPackage& pkg,
                       const EnrichedPackage* previous) {
  const std::string& version = pkg.version().raw();
  VersionHistory h;
  if (previous == nullptr || previous->history().events_seen() == 0) {
    h.set_events_seen(1);
    h.set_versions_seen(1);
    h.set_first_version(version);
    h.set_last_version(version);
    return h;
  }
  h = previous->history();
  h.set_events_seen(h.events_seen() + 1);
  if (version != h.last_version()) {
    h.set_versions_seen(h.versions_seen() + 1);
    if (compare_versions(pkg.ecosystem(), version, h.last_version()) < 0) {
      h.set_went_backwards(true);
      h.set_backward_steps(h.backward_steps() + 1);
    }
    h.set_last_version(version);
  }
  return h;
}

} // namespace

SummaryQuality summary_quality(const ParsedPackage& pkg) {
  const std::string_view text = trim(pkg.summary());
  SummaryQuality q;
  q.set_length(static_cast<std::uint32_t>(text.size()));
  q.set_missing(text.empty());
  std::uint32_t words = 0;
  bool in_word = false;
  for (char c : text) {
    if (!is_space(c) && !in_word)
      ++words;
    in_word = !is_space(c);
  }
  q.set_words(words);
  const std::string lower = to_lower(text);
  q.set_same_as_name(!text.empty() && lower == to_lower(pkg.name()));
  for (std::string_view p : placeholders) {
    // Short phrases must be the whole summary; longer ones may be part of it.
    if (p.size() <= 12 ? lower == p || lower == std::string(p) + "."
                       : contains(lower, p)) {
      q.set_placeholder(true);
    }
  }
  return q;
}

EnrichedPackage enrich(const ParsedPackage& pkg,
                       const EnrichedPackage* previous) {
  EnrichedPackage e;
  *e.mutable_package() = pkg;
  *e.mutable_repository() = find_repository(pkg);
  *e.mutable_dependencies() = dependency_surface(pkg);
  *e.mutable_maturity() = maturity(pkg);
  *e.mutable_summary() = summary_quality(pkg);
  *e.mutable_history() = history(pkg, previous);
  return e;
}

} // namespace sluice::examples::package_trust
