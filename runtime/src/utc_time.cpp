// ISO-8601 UTC rendering.
#include "sluice/utc_time.hpp"

#include <cstdio>
#include <ctime>

namespace sluice {

std::string utc_time(std::int64_t ns) {
  if (ns <= 0)
    return "";
  auto secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char day[32];
  std::strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", day,
                static_cast<int>((ns / 1000000) % 1000));
  return out;
}

} // namespace sluice
