// Private: checks that the data directory and the secret files (keys,
// tokens, the cluster secret) are not readable by other local users. Pure
// functions over stat(2); safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::cli {

/// What a secret or a data directory is, for messages ("--hmac-key-file").
struct private_path {
  std::string path;
  std::string what;
};

/// A warning when `dir` exists and others may read or enter it (any of
/// the mode's "other" bits), naming it, its mode and the fix; nothing
/// when it is private or does not exist yet (the store creates it 0700).
std::optional<std::string> data_dir_exposure(const private_path& dir);

/// A warning when the file can be read by its group or by others, naming
/// it, its mode and the fix; nothing when it is private or unreadable
/// (reading it reports that).
std::optional<std::string> secret_file_exposure(const private_path& file);

/// Logs each exposure as a warning; with `strict`, a data directory
/// readable by others is an `invalid_argument` error instead (secret files
/// stay warnings: the operator may share them with a service group).
result<void> check_private_files(const std::optional<private_path>& data_dir,
                                 const std::vector<private_path>& secrets,
                                 bool strict);

} // namespace sluice::cli
