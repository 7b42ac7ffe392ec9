// libFuzzer target: arbitrary bytes as a feed file (TSV, Debian index or
// JSON lines).
// Nothing may crash; every record is either an event or an error naming
// file and line; offsets only grow and stay within the file; and resuming
// at a record's end offset yields the same next record.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "sluice/feed_reader.hpp"

namespace {

std::string temp_path() {
  static const std::string path =
      "/tmp/sluice_fuzz_feed_" + std::to_string(::getpid()) + ".tsv";
  return path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto path = temp_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data),
              static_cast<std::streamsize>(size));
  }
  auto reader = sluice::feed_reader::open(path, "registry");
  if (!reader)
    return 0;
  std::vector<sluice::feed_record> all;
  for (int rounds = 0; rounds < 10000; ++rounds) {
    auto batch = (*reader)->next(7);
    if (batch.empty())
      break;
    for (auto& r : batch) {
      if (!all.empty() && r.end_offset < all.back().end_offset)
        __builtin_trap();
      if (r.end_offset > size)
        __builtin_trap();
      if (!r.ok && r.error.find(".tsv:") == std::string::npos)
        __builtin_trap(); // an error names file and line
      all.push_back(std::move(r));
    }
  }
  if (all.size() >= 2) {
    auto again = sluice::feed_reader::open(path, "registry");
    if (!again || !(*again)->seek(all[0].end_offset))
      __builtin_trap();
    auto next = (*again)->next(1);
    if (next.empty() || next[0].line != all[1].line
        || next[0].end_offset != all[1].end_offset)
      __builtin_trap();
  }
  return 0;
}
