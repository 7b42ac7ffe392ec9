// `sluice check --data DIR`: walks every database and record of a data
// directory (LMDB's structure and every value's checksum) and reports what
// is damaged, by database and key. Exit 0 clean, 1 damaged, 2 unreadable.
// Works beside a running node (one read transaction). The walk runs
// isolated (isolated.hpp): a page LMDB crashes on is reported, with the
// database it was in.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "isolated.hpp"
#include "sluice/store/check.hpp"
#include "sluice/store/store.hpp"

namespace sluice::cli {

namespace {

struct check_args {
  std::string data_dir;
};

std::string thousands(std::uint64_t n) {
  auto s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

const char* const damaged_advice =
    " is damaged: damaged values are never served or processed; restore a "
    "backup (sluice restore), or on a cluster rebuild this member from its "
    "replicas";

/// The walk, in the child: findings as they come, then the summary.
int walk(const check_args& a, crash_note& note) {
  auto t0 = std::chrono::steady_clock::now();
  auto st = store::open(store_options::read_only_at(a.data_dir));
  if (!st) {
    print_error("cannot check: " + st.error().describe());
    return usage;
  }
  check_callbacks cb;
  cb.on_database = [&](const std::string& name) {
    note.set("database '" + name + "'");
  };
  cb.on_finding = [](const check_finding& f) {
    std::cout << "damaged: database '" << f.database << "'"
              << (f.key.empty() ? "" : " key " + f.key) << ": " << f.problem
              << std::endl;
  };
  auto r = (*st)->check(cb);
  if (!r) {
    print_error("cannot check: " + r.error().describe());
    return usage;
  }
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  char took[32];
  std::snprintf(took, sizeof took, "%.2f", s);
  auto summary = thousands(r->records) + " records in "
                 + std::to_string(r->databases) + " databases (format "
                 + std::to_string(r->format)
                 + (r->checksums ? ", every value checksummed"
                                 : ", from before checksums: structure only")
                 + ") in " + took + " s";
  if (r->damaged == 0) {
    std::cout << "sluice: " << a.data_dir << " is clean: " << summary << "\n";
    return ok;
  }
  std::cout << "sluice: " << a.data_dir << " is damaged: " << r->damaged
            << (r->damaged == 1 ? " finding" : " findings") << " above; "
            << summary << "\n";
  print_error(a.data_dir + damaged_advice);
  return failed;
}

int run_check(const check_args& a) {
  return isolated(a.data_dir, [&](crash_note& note) { return walk(a, note); });
}

} // namespace

action add_check_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<check_args>();
  auto* cmd = app.add_subcommand(
      "check",
      "Walk every database and record of a data directory (LMDB's structure "
      "and every checksum); exit 0 clean, 1 damaged, 2 unreadable");
  cmd->add_option("--data", a->data_dir,
                  "The data directory (a running node's is fine)")
      ->required();
  return [a] { return run_check(*a); };
}

} // namespace sluice::cli
