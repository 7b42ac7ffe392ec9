// `sluice backup --data DIR --out PATH`: a consistent, compacted copy of a
// data directory, taken beside a running node (LMDB's copy in one read
// transaction). `sluice restore --from PATH --data DIR`: puts a backup in
// place as a new data directory (never over one); a node started on it
// resumes from the backup's point, its feeds from their recorded offsets.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <vector>

#include "commands.hpp"
#include "isolated.hpp"
#include "sluice/private_files.hpp"
#include "sluice/store/store.hpp"

namespace sluice::cli {

namespace {

namespace fs = std::filesystem;

struct backup_args {
  std::string data_dir;
  std::string out;  ///< backup: where
  std::string from; ///< restore: the backup
};

std::string mib(std::uint64_t bytes) {
  return std::to_string((bytes + (1 << 19)) >> 20) + " MiB";
}

int run_backup(const backup_args& a) {
  auto st = store::open(store_options::read_only_at(a.data_dir));
  if (!st) {
    print_error(st.error().describe());
    return usage;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto bytes = (*st)->backup(a.out);
  if (!bytes) {
    print_error(bytes.error().describe());
    return bytes.error().code == errc::invalid_argument ? usage : failed;
  }
  auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
               .count();
  char took[32];
  std::snprintf(took, sizeof took, "%.2f", s);
  std::cout << "sluice: backed up " << a.data_dir << " to " << a.out << " ("
            << mib(*bytes) << ", compacted, in " << took
            << " s); restore with: sluice restore --from " << a.out
            << " --data NEW_DIR\n";
  return ok;
}

/// Copies `from` to `to` (created 0600, never over a file), fsynced.
result<std::uint64_t> copy_private(const std::string& from,
                                   const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return fail(errc::io, "cannot read " + from + ": "
                              + std::generic_category().message(errno));
  auto out = private_file::create(to);
  if (!out) {
    ::close(in);
    return out.error();
  }
  std::uint64_t total = 0;
  std::vector<char> buf(1 << 16);
  while (true) {
    auto n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      auto why = std::generic_category().message(errno);
      ::close(in);
      return fail(errc::io, "cannot read " + from + ": " + why);
    }
    if (n == 0)
      break;
    if (auto w = out->write({buf.data(), static_cast<std::size_t>(n)}); !w) {
      ::close(in);
      return w.error();
    }
    total += static_cast<std::uint64_t>(n);
  }
  ::close(in);
  if (auto done = out->finish(); !done)
    return done.error();
  return total;
}

int run_restore(const backup_args& a) {
  std::error_code ec;
  if (fs::exists(fs::path(a.data_dir) / "data.mdb", ec)) {
    print_error("--data " + a.data_dir
                + " already holds a data directory; restore never "
                  "overwrites one: move it away or choose a new directory");
    return usage;
  }
  {
    // A backup this Sluice can open (and reads the format of).
    auto st = store::open(store_options::read_only_at(a.from));
    if (!st) {
      print_error(st.error().message);
      return usage;
    }
  }
  auto dir = fs::path(a.data_dir);
  if (auto made = make_private_dir(a.data_dir); !made) {
    print_error("--data: " + made.error().message);
    return failed;
  }
  // Copied under a temporary name and renamed: a node never finds half a
  // restore in place.
  auto part = (dir / "data.mdb.restoring").string();
  ::unlink(part.c_str());
  auto bytes = copy_private((fs::path(a.from) / "data.mdb").string(), part);
  if (!bytes) {
    print_error(bytes.error().message);
    return failed;
  }
  fs::rename(part, dir / "data.mdb", ec);
  int dfd = ::open(a.data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  if (ec) {
    print_error("cannot put the restore in place in " + a.data_dir + ": "
                + ec.message());
    return failed;
  }
  std::cout << "sluice: restored " << a.from << " into " << a.data_dir << " ("
            << mib(*bytes) << "); a node started with --data " << a.data_dir
            << " resumes from the backup's point (feeds from their "
               "recorded offsets)\n";
  return ok;
}

} // namespace

action add_backup_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<backup_args>();
  auto* cmd = app.add_subcommand(
      "backup", "Copy a data directory consistently (compacted), also beside "
                "a running node");
  cmd->add_option("--data", a->data_dir, "The data directory")->required();
  cmd->add_option("--out", a->out,
                  "Where the copy goes (a new directory, created 0700)")
      ->required();
  return [a] {
    return isolated(a->data_dir, [&](crash_note& note) {
      note.set("the copy to " + a->out);
      return run_backup(*a);
    });
  };
}

action add_restore_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<backup_args>();
  auto* cmd = app.add_subcommand(
      "restore", "Put a backup in place as a new data directory");
  cmd->add_option("--from", a->from, "The backup (sluice backup --out)")
      ->required();
  cmd->add_option("--data", a->data_dir,
                  "The data directory to make (never over one)")
      ->required();
  return [a] { return run_restore(*a); };
}

} // namespace sluice::cli
