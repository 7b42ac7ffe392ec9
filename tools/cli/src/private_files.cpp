// Modes of the data directory and the secret files, checked at start:
// warnings (or, with --strict-permissions, an error) naming the path, its
// mode and the chmod that fixes it.
#include "private_files.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <vector>

namespace sluice::cli {

namespace {

std::string octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777u);
  return buf;
}

std::optional<unsigned> mode_of(const std::string& path) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0)
    return std::nullopt;
  return static_cast<unsigned>(sb.st_mode);
}

} // namespace

std::optional<std::string> data_dir_exposure(const private_path& dir) {
  auto mode = mode_of(dir.path);
  if (!mode || !S_ISDIR(*mode) || (*mode & S_IRWXO) == 0)
    return std::nullopt;
  return dir.what + " " + dir.path + " is open to other users (mode "
         + octal(*mode)
         + "): every local user can read its state and queued events; "
           "chmod 700 "
         + dir.path;
}

std::optional<std::string> secret_file_exposure(const private_path& file) {
  auto mode = mode_of(file.path);
  if (!mode || (*mode & (S_IRWXG | S_IRWXO)) == 0)
    return std::nullopt;
  return file.what + " " + file.path + " can be read by other users (mode "
         + octal(*mode) + "); chmod 600 " + file.path;
}

result<void> check_private_files(const std::optional<private_path>& data_dir,
                                 const std::vector<private_path>& secrets,
                                 bool strict) {
  for (auto& s : secrets)
    if (auto w = secret_file_exposure(s))
      spdlog::warn("{}", *w);
  if (data_dir)
    if (auto w = data_dir_exposure(*data_dir)) {
      if (strict)
        return fail(errc::invalid_argument,
                    *w + " (refused: --strict-permissions)");
      spdlog::warn("{}", *w);
    }
  return {};
}

} // namespace sluice::cli
