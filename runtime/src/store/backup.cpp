// `store::backup`: LMDB's own copy with compaction, taken in one read
// transaction: a consistent snapshot of every database (states, queues,
// feed offsets, dead letters, cluster records) as of one commit, written
// beside a running writer without blocking it.
#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "lmdb_env.hpp"
#include "sluice/private_files.hpp"

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
  if (auto made = make_private_dir(out_dir); !made)
    return made.error();
  // The copy is written through a file descriptor of ours: mode 0600 (the
  // data is as private as the data directory's), fsynced.
  auto file = private_file::create((fs::path(out_dir) / "data.mdb").string());
  if (!file)
    return file.error();
  if (int rc = mdb_env_copyfd2(p.env, file->fd(), MDB_CP_COMPACT); rc != 0)
    return lmdb_error(rc, p.opts.dir + ": copy to " + out_dir);
  struct stat st {};
  auto bytes = ::fstat(file->fd(), &st) == 0
                   ? static_cast<std::uint64_t>(st.st_size)
                   : std::uint64_t{0};
  if (auto done = file->finish(); !done)
    return done.error();
  return bytes;
}

} // namespace sluice
