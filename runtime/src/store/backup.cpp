// `store::backup`: LMDB's own copy with compaction, taken in one read
// transaction: a consistent snapshot of every database (states, queues,
// feed offsets, dead letters, cluster records) as of one commit, written
// beside a running writer without blocking it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "lmdb_env.hpp"

namespace sluice {

result<std::uint64_t> store::backup(const std::string& out_dir) const {
  namespace fs = std::filesystem;
  auto& p = *impl_;
  std::error_code ec;
  if (fs::exists(fs::path(out_dir) / "data.mdb", ec))
    return fail(errc::invalid_argument,
                out_dir
                    + " already holds a data.mdb (not overwritten; "
                      "choose a new directory)");
  auto parent = fs::path(out_dir).lexically_normal().parent_path();
  if (!parent.empty())
    fs::create_directories(parent, ec);
  if (!ec && ::mkdir(out_dir.c_str(), 0700) != 0 && errno != EEXIST)
    ec = std::error_code(errno, std::generic_category());
  if (ec)
    return fail(errc::io, "cannot create " + out_dir + ": " + ec.message());
  // The copy is written through a file descriptor of ours: mode 0600 (the
  // data is as private as the data directory's), fsynced by LMDB.
  auto file = (fs::path(out_dir) / "data.mdb").string();
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(errc::io, "cannot create " + file + ": "
                              + std::generic_category().message(errno));
  int rc = mdb_env_copyfd2(p.env, fd, MDB_CP_COMPACT);
  bool synced = rc == 0 && ::fsync(fd) == 0;
  struct stat st {};
  auto bytes = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size)
                                     : std::uint64_t{0};
  ::close(fd);
  if (rc != 0 || !synced) {
    ::unlink(file.c_str());
    return rc != 0 ? lmdb_error(rc, p.opts.dir + ": copy to " + out_dir)
                   : fail(errc::io, "cannot sync " + file);
  }
  return bytes;
}

} // namespace sluice
