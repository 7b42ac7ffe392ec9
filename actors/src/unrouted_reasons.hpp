// Private: why input was taken by no stage, per source (a feed, the
// publish path), each reason counted. The first record of each reason is
// logged with where it came from; a feed logs its sums when it ends; the
// console's `stages` lists them. Thread-safe: feeds run on their own
// threads, publishes on the caller pool.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace sluice {

class unrouted_reasons {
public:
  /// Distinct reasons kept per source (values of a filtered attribute may
  /// be many); more are counted together as "other reasons".
  static constexpr std::size_t max_reasons = 16;

  explicit unrouted_reasons(std::shared_ptr<spdlog::logger> log);

  /// One record of `source` ("feed npm.tsv", "publish") no stage took, for
  /// `why` (`topology::why_unrouted`); `where` names it (file and line, an
  /// event id); `counted_in` is the metric that counts it.
  void note(const std::string& source, const std::string& why,
            const std::string& where, const std::string& counted_in);

  /// Logs the sums of `source` (a feed that ended).
  void log_totals(const std::string& source) const;

  struct entry {
    std::string source;
    std::string why;
    std::uint64_t records = 0;
  };
  /// Every reason of every source, by source, the most frequent first.
  std::vector<entry> snapshot() const;

private:
  struct per_source {
    std::map<std::string, std::uint64_t> why;
    std::uint64_t other = 0;
  };
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mtx_;
  std::map<std::string, per_source> sources_;
};

} // namespace sluice
