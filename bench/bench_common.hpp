// Shared by the macro benchmarks: the package_trust workload (real registry
// records expanded to K keys and N events), command-line flags, process
// memory figures and small formatting helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/result.hpp"

#ifndef SLUICE_EXAMPLE_DIR
#define SLUICE_EXAMPLE_DIR "examples/package_trust"
#endif

namespace sluice::bench {

/// The benchmark's name, set first thing in main(); prefixes fatal errors.
inline const char* program = "bench";

/// Prints "<program>: <what>" and exits 1.
[[noreturn]] void die(const std::string& what);

/// The value of `r`, or die naming `what` and the error.
template <class T>
T check(result<T> r, const std::string& what) {
  if (!r)
    die(what + ": " + r.error().describe());
  return std::move(*r);
}

/// Dies naming `what` when `r` failed.
void check(result<void> r, const std::string& what);

/// One real registry record, split around its name and version so that
/// renamed, re-versioned copies are built by concatenation. `segments` are
/// the compact JSON payload with the two values cut out: segments[0],
/// value, segments[1], value, segments[2], where `name_first` says which
/// value comes first (the feed reader writes fields in sorted order).
struct base_record {
  std::string id;        ///< feed reader id, e.g. "npm.tsv:17"
  std::string ecosystem; ///< npm, pypi or debian
  std::string format;    ///< tsv or debian
  std::string raw_name;  ///< as in the key
  std::string name;      ///< JSON-escaped, without quotes
  std::string version;   ///< JSON-escaped, without quotes; may be empty
  std::string segments[3];
  bool name_first = true;
};

/// The real records of examples/package_trust/data, expanded on demand.
/// Event i of a stream over K keys belongs to key i % K and is that key's
/// version i / K; key j is base record j % R renamed "name~c" for its copy
/// c = j / R (c = 0 keeps the name). Version 0 is the record's own version;
/// version v > 0 appends "+b<v>" (empty versions become "0.<v>"), so every
/// event of a key has a different payload and content hash. The bases
/// interleave npm, PyPI and Debian, so any prefix mixes the three.
class workload {
public:
  /// Reads npm.tsv, pypi.tsv and debian.Packages from `data_dir` with
  /// sluice::feed_reader.
  static result<workload> load(const std::string& data_dir);

  std::size_t base_count() const noexcept { return bases_.size(); }
  const base_record& base(std::size_t i) const { return bases_[i]; }

  /// Event `i` of the stream over `keys` keys, as the feed reader would
  /// make it (topic "registry", attributes ecosystem and format).
  event make(std::uint64_t i, std::uint64_t keys) const;

  /// The key of event `i` of that stream, without building the event.
  std::string key(std::uint64_t i, std::uint64_t keys) const;
  /// The base record of event `i` of that stream.
  std::size_t base_of(std::uint64_t i, std::uint64_t keys) const {
    return (i % keys) % bases_.size();
  }

  /// An event for base record `base`, its name suffixed with
  /// `name_suffix`, at version round `version`, with id `id`.
  event make_event(std::size_t base, std::string_view name_suffix,
                   std::uint64_t version, std::string id) const;

private:
  std::vector<base_record> bases_;
};

// -- command line -------------------------------------------------------------

/// "--name value" and "--flag" arguments. Unknown names are an error, so a
/// typo does not silently run the default.
class flags {
public:
  /// `known` maps each accepted name (without "--") to true when it takes a
  /// value. Throws std::invalid_argument on errors.
  flags(int argc, char** argv, const std::map<std::string, bool>& known);

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string str(const std::string& name, const std::string& def) const;
  std::uint64_t num(const std::string& name, std::uint64_t def) const;

private:
  std::map<std::string, std::string> values_;
};

// -- measuring ----------------------------------------------------------------

/// Memory figures of this process from /proc/self/status, in KiB.
struct memory_kib {
  std::uint64_t hwm = 0;      ///< VmHWM: peak resident set
  std::uint64_t rss = 0;      ///< VmRSS
  std::uint64_t rss_anon = 0; ///< RssAnon: heap, stacks
  std::uint64_t rss_file = 0; ///< RssFile: mapped files (LMDB, libraries)
};
memory_kib read_memory();

/// CPU time and context switches of this process so far (getrusage).
struct cpu_usage {
  double user_s = 0, sys_s = 0;
  std::uint64_t voluntary_switches = 0, involuntary_switches = 0;
  cpu_usage operator-(const cpu_usage& o) const {
    return {user_s - o.user_s, sys_s - o.sys_s,
            voluntary_switches - o.voluntary_switches,
            involuntary_switches - o.involuntary_switches};
  }
};
cpu_usage read_cpu();

/// Seconds since `t0` on the steady clock.
double seconds_since(std::chrono::steady_clock::time_point t0);

/// Nanoseconds since the epoch on the system clock: the clock the runtime
/// stamps events and states with.
std::int64_t wall_ns();

/// 1234567 -> "1,234,567".
std::string grouped(double v);
/// KiB -> "123.4 MiB".
std::string mib(std::uint64_t kib);

/// Nearest-rank quantile of sorted values, q in [0, 1].
double quantile(const std::vector<double>& sorted, double q);

/// Removes `dir` and creates it empty. Throws on failure.
void fresh_dir(const std::string& dir);

/// Bytes of all files under `dir`.
std::uint64_t dir_bytes(const std::string& dir);

} // namespace sluice::bench
