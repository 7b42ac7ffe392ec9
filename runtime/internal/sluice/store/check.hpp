// `sluice check`: every database and record of a data directory walked in
// one read transaction (beside a running writer): LMDB's structure (every
// page a cursor reaches, each database's record count, the free-page list)
// and every value's checksum (format 4 on).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace sluice {

/// One thing found wrong.
struct check_finding {
  std::string database; ///< "state", "queue.parse", "(free pages)"
  std::string key;      ///< printable; empty when about no one record
  std::string problem;
};

/// What a walk covered.
struct check_report {
  std::uint32_t format = 0; ///< the data format version
  bool checksums = false;   ///< whether this format has them
  std::uint64_t databases = 0;
  std::uint64_t records = 0;
  std::uint64_t damaged = 0; ///< findings
};

/// Called as the walk goes: `on_database(name)` before each database (a
/// crash of LMDB on a page it cannot read is then known to be there), and
/// `on_finding` for each thing wrong.
struct check_callbacks {
  std::function<void(const std::string&)> on_database;
  std::function<void(const check_finding&)> on_finding;
};

} // namespace sluice
