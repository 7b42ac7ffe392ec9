// Tests for repository host extraction from the URL shapes seen in npm
// metadata and Debian's Homepage / Vcs-Git / Vcs-Browser fields.
#include "repository.hpp"

#include <gtest/gtest.h>

namespace sluice::examples::package_trust {
namespace {

struct url_case {
  const char* url;
  RepositoryHost host;
  const char* host_name;
  const char* owner;
  const char* repo;
  const char* normalised;
};

TEST(PackageRepository, RecognisesForgesAndOwnersInManyUrlShapes) {
  const url_case cases[] = {
      {"https://github.com/lodash/lodash", GITHUB, "github.com", "lodash",
       "lodash", "https://github.com/lodash/lodash"},
      {"git+https://github.com/lodash/lodash.git", GITHUB, "github.com",
       "lodash", "lodash", "https://github.com/lodash/lodash"},
      {"git://github.com/pali/0xFFFF.git", GITHUB, "github.com", "pali",
       "0xFFFF", "https://github.com/pali/0xFFFF"},
      {"git@github.com:npm/cli.git", GITHUB, "github.com", "npm", "cli",
       "https://github.com/npm/cli"},
      {"ssh://git@github.com:22/owner/repo.git", GITHUB, "github.com", "owner",
       "repo", "https://github.com/owner/repo"},
      {"HTTPS://WWW.GitHub.com/Owner/Repo/tree/main#readme", GITHUB,
       "github.com", "Owner", "Repo", "https://github.com/Owner/Repo"},
      {"github:sindresorhus/chalk", GITHUB, "github.com", "sindresorhus",
       "chalk", "https://github.com/sindresorhus/chalk"},
      {"https://distcc.github.io/", GITHUB, "github.com", "distcc",
       "distcc.github.io", "https://github.com/distcc/distcc.github.io"},
      {"git+ssh://git@gitlab.com/group/sub/project.git", GITLAB, "gitlab.com",
       "group/sub", "project", "https://gitlab.com/group/sub/project"},
      {"https://salsa.debian.org/debian/bash.git -b debian/master", SALSA,
       "salsa.debian.org", "debian", "bash",
       "https://salsa.debian.org/debian/bash"},
      {"https://salsa.debian.org/python-team/packages/foo/-/tree/main", SALSA,
       "salsa.debian.org", "python-team/packages", "foo",
       "https://salsa.debian.org/python-team/packages/foo"},
      {"https://bitbucket.org/owner/repo/src/master/", BITBUCKET,
       "bitbucket.org", "owner", "repo", "https://bitbucket.org/owner/repo"},
      {"https://sourceforge.net/projects/zsh/", SOURCEFORGE, "sourceforge.net",
       "", "zsh", "https://sourceforge.net/projects/zsh"},
      {"http://netpbm.sourceforge.net", SOURCEFORGE, "netpbm.sourceforge.net",
       "", "netpbm", "https://sourceforge.net/projects/netpbm"},
      {"https://www.gnu.org/software/bash/", OTHER, "gnu.org", "", "",
       "https://gnu.org/software/bash"},
      {"", HOST_NONE, "", "", "", ""},
      {"not a url", HOST_NONE, "", "", "", ""},
  };
  for (const url_case& c : cases) {
    const Repository r = parse_repository_url(c.url);
    EXPECT_EQ(r.host(), c.host) << c.url;
    EXPECT_EQ(r.host_name(), c.host_name) << c.url;
    EXPECT_EQ(r.owner(), c.owner) << c.url;
    EXPECT_EQ(r.repo(), c.repo) << c.url;
    EXPECT_EQ(r.url(), c.normalised) << c.url;
  }
}

} // namespace
} // namespace sluice::examples::package_trust
