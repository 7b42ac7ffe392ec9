// Finds where a package's source lives from a homepage or VCS URL: the forge
// (GitHub, GitLab, Salsa, Bitbucket, SourceForge) and its owner/repo.
#pragma once

#include <string_view>

#include "package_trust.pb.h"

namespace sluice::examples::package_trust {

/// Parses `url` in any of the usual shapes: https, git://, git+https://,
/// ssh://git@host/..., scp-like git@host:owner/repo, npm's "github:o/r",
/// Debian's "URL -b branch", with or without a trailing ".git". Never
/// throws; an empty or hostless URL gives HOST_NONE.
Repository parse_repository_url(std::string_view url);

} // namespace sluice::examples::package_trust
