// Private files and directories: what Sluice writes that others must not
// read (data directories, backups, keys) is created 0700/0600, never over
// something that is there, and fsynced before it counts as written.
#pragma once

#include <string>
#include <string_view>

#include "sluice/result.hpp"

namespace sluice {

/// Creates `dir` 0700 (its missing parents as the umask says); an existing
/// directory is fine, anything else there is an error naming it.
result<void> make_private_dir(const std::string& dir);

/// Writes all of `data` to `fd`, retrying short writes; the error names
/// `what` (a path) and the cause.
result<void> write_all(int fd, std::string_view data, const std::string& what);

/// A new file being written: created with exactly `mode`, refused when the
/// path exists (errc::invalid_argument, "already exists (not overwritten)").
/// Until `finish` succeeds, the file is removed when this goes away, so a
/// failed write never leaves half a file behind.
class private_file {
public:
  static result<private_file> create(const std::string& path,
                                     unsigned mode = 0600);
  private_file(private_file&& other) noexcept;
  private_file& operator=(private_file&&) = delete;
  private_file(const private_file&) = delete;
  private_file& operator=(const private_file&) = delete;
  ~private_file();

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }
  result<void> write(std::string_view data) {
    return write_all(fd_, data, path_);
  }
  /// fsyncs and closes; on failure the file is removed.
  result<void> finish();

private:
  private_file(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

/// Writes a new file holding `data` (see private_file), fsynced.
result<void> write_new_file(const std::string& path, std::string_view data,
                            unsigned mode = 0600);

} // namespace sluice
