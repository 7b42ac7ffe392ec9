// Component rules of the trust score. Each returns a score and the reason
// that is shown to people; the weights live in scoring.hpp.
#include "scoring.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "text.hpp"

namespace sluice::examples::package_trust {
namespace {

static_assert(score_weights::maturity + score_weights::popularity
                  + score_weights::maintenance + score_weights::repository
                  + score_weights::dependency_surface
                  + score_weights::typosquatting
              == 100);

struct component {
  int score;
  std::string reason;
};

int clamp100(int v) {
  return std::clamp(v, 0, 100);
}

component maturity(const EnrichedPackage& e) {
  const Version& v = e.package().version();
  const VersionHistory& h = e.history();
  if (!e.maturity().has_version())
    return {20, "no version"};
  if (!v.parsed())
    return {40, "version '" + v.raw() + "' has no number"};
  int s = v.major() >= 1 ? 80 : (v.minor() == 0 ? 35 : 55);
  std::string why =
      "version " + v.raw()
      + (v.major() >= 1 ? " is 1.0 or later"
                        : (v.minor() == 0 ? " is 0.0.x" : " is pre-1.0"));
  if (v.prerelease()) {
    s -= 25;
    why += ", prerelease";
  }
  if (h.versions_seen() > 1) {
    s += 10;
    why += ", " + std::to_string(h.versions_seen()) + " versions seen";
  }
  if (h.went_backwards()) {
    s -= 20;
    why += ", version went backwards";
  }
  return {clamp100(s), why};
}

component popularity(const ParsedPackage& p) {
  if (p.ecosystem() == "debian") {
    const std::string& prio = p.priority();
    if (p.essential())
      return {100, "Essential package"};
    if (prio == "required")
      return {100, "priority required"};
    if (prio == "important")
      return {95, "priority important"};
    if (prio == "standard")
      return {85, "priority standard"};
    if (prio == "optional")
      return {50, "priority optional"};
    return {30, "priority " + (prio.empty() ? std::string("unset") : prio)};
  }
  if (p.rank() > 0) {
    // Rank 1 -> 100, rank 15000 -> 50, on a log scale.
    const double s = 100.0
                     - 50.0 * std::log10(static_cast<double>(p.rank()))
                           / std::log10(15000.0);
    return {clamp100(static_cast<int>(std::lround(s))),
            "rank " + std::to_string(p.rank()) + " among the most downloaded"};
  }
  if (p.downloads_a_month() > 0) {
    // 12.5 points per decade: 10^4 -> 50, 10^8 -> 100.
    const double s =
        12.5 * std::log10(static_cast<double>(p.downloads_a_month()));
    return {clamp100(static_cast<int>(std::lround(s))),
            std::to_string(p.downloads_a_month()) + " downloads a month"};
  }
  if (p.ecosystem() == "pypi")
    return {15, "not among the most downloaded"};
  return {10, "no download figures"};
}

int months_since(const std::string& yyyy_mm) {
  if (yyyy_mm.size() != 7 || yyyy_mm[4] != '-')
    return -1;
  for (std::size_t i : {0, 1, 2, 3, 5, 6}) {
    if (!is_digit(yyyy_mm[i]))
      return -1;
  }
  const int year = std::stoi(yyyy_mm.substr(0, 4));
  const int month = std::stoi(yyyy_mm.substr(5, 2));
  return std::max(0, (reference_year * 12 + reference_month)
                         - (year * 12 + month));
}

bool is_nmu_revision(const std::string& revision) {
  // "3.1": a non-maintainer upload. "3+b1" is a binary rebuild, not an NMU.
  const auto dot = revision.find('.');
  return dot != std::string::npos && dot > 0 && dot + 1 < revision.size()
         && is_digit(revision[dot - 1]) && is_digit(revision[dot + 1])
         && revision.find_first_not_of("0123456789.") == std::string::npos;
}

component maintenance(const EnrichedPackage& e) {
  const ParsedPackage& p = e.package();
  int s = 50;
  std::string why;
  if (p.ecosystem() == "debian") {
    const std::string m = to_lower(p.maintainer());
    if (contains(m, "debian qa group")) {
      s = 15;
      why = "orphaned (Debian QA Group)";
    } else if (contains(m, "team") || contains(m, "maintainers")
               || contains(m, "lists.")) {
      s = 90;
      why = "team-maintained";
    } else if (!m.empty()) {
      s = 80;
      why = "has a maintainer";
    } else {
      s = 30;
      why = "no maintainer";
    }
    if (is_nmu_revision(p.version().revision())) {
      s -= 15;
      why += ", non-maintainer upload";
    }
  } else if (!p.release_month().empty()) {
    const int age = months_since(p.release_month());
    s = age < 0 ? 40 : age <= 12 ? 95 : age <= 24 ? 80 : age <= 48 ? 60 : 35;
    why = "last release " + p.release_month();
  } else if (p.version().parsed()) {
    const Version& v = p.version();
    s = v.major() >= 1 ? (v.minor() > 0 || v.patch() > 0 ? 75 : 65)
                       : (v.minor() > 0 ? 55 : 35);
    why = v.major() == 0 && v.minor() == 0 ? "still at 0.0.x"
                                           : "released past its first version";
  } else {
    s = 40;
    why = "no release information";
  }
  const SummaryQuality& q = e.summary();
  if (q.missing()) {
    s -= 20;
    why += ", no summary";
  } else if (q.placeholder()) {
    s -= 25;
    why += ", template summary";
  } else if (q.same_as_name()) {
    s -= 10;
    why += ", summary repeats the name";
  }
  return {clamp100(s), why};
}

component repository(const EnrichedPackage& e) {
  const Repository& r = e.repository();
  const bool has_repo = !r.owner().empty() && !r.repo().empty();
  switch (r.host()) {
  case GITHUB:
  case GITLAB:
  case SALSA:
  case BITBUCKET:
    return has_repo ? component{100, "source at " + r.url()}
                    : component{60, "forge account " + r.url()};
  case SOURCEFORGE:
    return {70, "SourceForge project " + r.url()};
  case OTHER:
    return {50, "homepage on " + r.host_name()};
  default:
    break;
  }
  if (!e.package().urls_known())
    return {50, "the feed carries no URLs"};
  return {10, "no homepage or repository"};
}

component dependency_surface(const EnrichedPackage& e) {
  if (!e.package().depends_known()) {
    return {70, "the feed carries no dependencies"};
  }
  const std::uint32_t n = e.dependencies().direct();
  const int s = n == 0    ? 100
                : n <= 5  ? 95
                : n <= 15 ? 80
                : n <= 30 ? 65
                : n <= 60 ? 45
                          : 30;
  return {s, std::to_string(n) + " direct dependencies"};
}

std::string verdict(int score, bool typosquat) {
  if (typosquat || score < 40)
    return "risky";
  if (score < 60)
    return "caution";
  return score < 80 ? "ok" : "trusted";
}

} // namespace

PackageScore score_package(const EnrichedPackage& e,
                           const popular_names& popular) {
  const ParsedPackage& p = e.package();
  PackageScore out;
  out.set_ecosystem(p.ecosystem());
  out.set_name(p.name());
  out.set_version(p.version().raw());

  const component mat = maturity(e);
  const component pop = popularity(p);
  const component mnt = maintenance(e);
  const component rep = repository(e);
  const component dep = dependency_surface(e);
  const auto squat = find_typosquat(popular, p.ecosystem(), p.name());
  const bool suspect = squat && pop.score < established_popularity;
  component typ{100, "resembles no popular name"};
  if (squat) {
    const std::string like =
        "popular '" + squat->target + "' (" + squat->how + ")";
    typ =
        suspect
            ? component{0, "looks like " + like}
            : component{70, "resembles " + like + " but is itself widely used"};
  }

  out.set_maturity(static_cast<std::uint32_t>(mat.score));
  out.set_popularity(static_cast<std::uint32_t>(pop.score));
  out.set_maintenance(static_cast<std::uint32_t>(mnt.score));
  out.set_repository(static_cast<std::uint32_t>(rep.score));
  out.set_dependency_surface(static_cast<std::uint32_t>(dep.score));
  out.set_typosquatting(static_cast<std::uint32_t>(typ.score));
  if (squat)
    out.set_typosquat_target(squat->target);

  using w = score_weights;
  const int weighted = mat.score * w::maturity + pop.score * w::popularity
                       + mnt.score * w::maintenance + rep.score * w::repository
                       + dep.score * w::dependency_surface
                       + typ.score * w::typosquatting;
  int total = (weighted + 50) / 100;
  if (suspect)
    total = std::min(total, typosquat_cap);
  out.set_score(static_cast<std::uint32_t>(total));
  out.set_verdict(verdict(total, suspect));

  using labelled = std::pair<const char*, const component*>;
  for (const auto& [label, c] :
       {labelled{"maturity", &mat}, labelled{"popularity", &pop},
        labelled{"maintenance", &mnt}, labelled{"repository", &rep},
        labelled{"dependency_surface", &dep},
        labelled{"typosquatting", &typ}}) {
    out.add_reasons(std::string(label) + " " + std::to_string(c->score) + ": "
                    + c->reason);
  }
  return out;
}

} // namespace sluice::examples::package_trust
