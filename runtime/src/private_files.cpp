// Private files and directories (private_files.hpp).
#include "sluice/private_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace sluice {

namespace {

std::string errno_text() {
  return std::generic_category().message(errno);
}

} // namespace

result<void> make_private_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto parent = fs::path(dir).lexically_normal().parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)
      && !fs::create_directories(parent, ec) && ec)
    return fail(errc::io,
                "cannot create " + parent.string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(errc::io, "cannot create " + dir + ": " + errno_text());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(errc::invalid_argument, dir + " is not a directory");
  return {};
}

result<void> write_all(int fd, std::string_view data, const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail(errc::io, "cannot write " + what + ": "
                                + (n == 0 ? std::string("nothing written")
                                          : errno_text()));
    done += static_cast<std::size_t>(n);
  }
  return {};
}

result<private_file> private_file::create(const std::string& path,
                                          unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  static_cast<mode_t>(mode));
  if (fd < 0)
    return errno == EEXIST
               ? fail(errc::invalid_argument,
                      path + ": already exists (not overwritten)")
               : fail(errc::io, "cannot create " + path + ": " + errno_text());
  // The umask may have taken bits away; never added any.
  ::fchmod(fd, static_cast<mode_t>(mode));
  return private_file(path, fd);
}

private_file::private_file(private_file&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

private_file::~private_file() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

result<void> private_file::finish() {
  bool synced = ::fsync(fd_) == 0;
  auto why = synced ? std::string() : errno_text();
  if (!synced) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
    return fail(errc::io, "cannot sync " + path_ + ": " + why);
  }
  ::close(fd_);
  fd_ = -1;
  return {};
}

result<void> write_new_file(const std::string& path, std::string_view data,
                            unsigned mode) {
  auto f = private_file::create(path, mode);
  if (!f)
    return f.error();
  if (auto w = f->write(data); !w)
    return w.error();
  return f->finish();
}

} // namespace sluice
