// URL normalisation for package.enrich: strips schemes, user info, ports,
// branches and ".git", then classifies the host and picks owner/repo.
#include "repository.hpp"

#include <string>
#include <vector>

#include "text.hpp"

namespace sluice::examples::package_trust {
namespace {

struct split_url {
  std::string host; // lower case, without "www."
  std::vector<std::string> path;
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size()
         && s.substr(s.size() - suffix.size()) == suffix;
}

std::string strip_git(std::string_view s) {
  if (ends_with(s, ".git"))
    s.remove_suffix(4);
  return std::string(s);
}

std::string join(const std::vector<std::string>& parts, std::size_t from,
                 std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to && i < parts.size(); ++i) {
    if (!out.empty())
      out += '/';
    out += parts[i];
  }
  return out;
}

split_url split(std::string_view s) {
  split_url out;
  std::string_view rest;
  if (const auto scheme = s.find("://"); scheme != std::string_view::npos) {
    s.remove_prefix(scheme + 3);
    const auto slash = s.find('/');
    std::string_view authority = s.substr(0, slash);
    rest =
        slash == std::string_view::npos ? std::string_view() : s.substr(slash);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    authority = authority.substr(0, authority.find(':')); // port
    out.host = to_lower(authority);
  } else {
    // "git@host:owner/repo", "host:owner/repo" or "host/owner/repo".
    const auto colon = s.find(':');
    const auto slash = s.find('/');
    if (colon != std::string_view::npos
        && (slash == std::string_view::npos || colon < slash)) {
      std::string_view authority = s.substr(0, colon);
      if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
      }
      out.host = to_lower(authority);
      rest = s.substr(colon + 1);
    } else {
      out.host = to_lower(s.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view()
                                             : s.substr(slash);
    }
  }
  if (starts_with(out.host, "www."))
    out.host.erase(0, 4);
  rest = rest.substr(0, rest.find_first_of("?#"));
  for (std::string_view seg : package_trust::split(rest, '/')) {
    if (!seg.empty())
      out.path.emplace_back(seg);
  }
  return out;
}

// GitLab-style paths: groups may nest, "/-/" starts the UI part.
void set_nested(Repository& r, const std::vector<std::string>& path) {
  std::size_t end = 0;
  while (end < path.size() && path[end] != "-")
    ++end;
  if (end >= 2) {
    r.set_owner(join(path, 0, end - 1));
    r.set_repo(strip_git(path[end - 1]));
  } else if (end == 1) {
    r.set_owner(path[0]);
  }
}

void set_flat(Repository& r, const std::vector<std::string>& path) {
  if (!path.empty())
    r.set_owner(path[0]);
  if (path.size() > 1)
    r.set_repo(strip_git(path[1]));
}

} // namespace

Repository parse_repository_url(std::string_view url) {
  Repository r;
  std::string_view s = trim(url);
  s = s.substr(0, s.find_first_of(" \t\n")); // "URL -b branch", "URL [dir]"
  if (starts_with(s, "git+"))
    s.remove_prefix(4);
  for (auto [prefix, host] :
       {std::pair{"github:", "github.com"}, std::pair{"gitlab:", "gitlab.com"},
        std::pair{"bitbucket:", "bitbucket.org"}}) {
    if (starts_with(s, prefix)) {
      r = parse_repository_url(
          std::string("https://") + host + "/"
          + std::string(s.substr(std::string_view(prefix).size())));
      return r;
    }
  }
  const split_url u = split(s);
  if (u.host.empty() || !contains(u.host, "."))
    return r; // HOST_NONE
  r.set_host_name(u.host);
  const std::string& h = u.host;
  if (h == "github.com") {
    r.set_host(GITHUB);
    set_flat(r, u.path);
  } else if (ends_with(h, ".github.io") || ends_with(h, ".github.com")) {
    r.set_host(GITHUB);
    r.set_host_name("github.com");
    r.set_owner(h.substr(0, h.find('.')));
    r.set_repo(u.path.empty() ? h : strip_git(u.path[0]));
  } else if (h == "gitlab.com") {
    r.set_host(GITLAB);
    set_nested(r, u.path);
  } else if (h == "salsa.debian.org") {
    r.set_host(SALSA);
    set_nested(r, u.path);
  } else if (h == "bitbucket.org") {
    r.set_host(BITBUCKET);
    set_flat(r, u.path);
  } else if (h == "sourceforge.net" || h == "sf.net"
             || ends_with(h, ".sourceforge.net")
             || ends_with(h, ".sourceforge.io") || ends_with(h, ".sf.net")) {
    r.set_host(SOURCEFORGE);
    if (h != "sourceforge.net" && h != "sf.net") {
      r.set_repo(h.substr(0, h.find('.'))); // foo.sourceforge.net
    } else if (u.path.size() > 1
               && (u.path[0] == "projects" || u.path[0] == "p")) {
      r.set_repo(u.path[1]);
    }
  } else {
    r.set_host(OTHER);
  }
  if (r.host() == SOURCEFORGE && !r.repo().empty()) {
    r.set_url("https://sourceforge.net/projects/" + r.repo());
  } else if (r.host() != OTHER && !r.owner().empty()) {
    r.set_url("https://" + r.host_name() + "/" + r.owner()
              + (r.repo().empty() ? "" : "/" + r.repo()));
  } else {
    r.set_url("https://" + u.host
              + (u.path.empty() ? "" : "/" + join(u.path, 0, u.path.size())));
  }
  return r;
}

} // namespace sluice::examples::package_trust
