// A feed of two million events runs with a capped number of events in
// flight: the backlog waits in LMDB, and the heap stays flat.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "sluice/node.hpp"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

/// Keeps a count of events per key.
class tally : public behaviour {
public:
  void on_event(context& ctx, const event&) override {
    auto n = ctx.has_state() ? std::stoull(ctx.state()) : 0;
    ctx.set_state(std::to_string(n + 1));
  }
};

/// A field of /proc/self/status in kB, e.g. "RssAnon".
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0)
      return std::stol(line.substr(field.size() + 1));
  return -1;
}

} // namespace

TEST(BoundedMemory, TwoMillionFeedEventsRunWithACappedNumberInFlight) {
  constexpr std::uint64_t events = 2'000'000;
  constexpr std::uint32_t cap = 1024;
  constexpr std::uint32_t live = 2048;
  auto dir = fs::temp_directory_path()
             / ("sluice_bounded_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto feed = (dir / "big.tsv").string();
  {
    std::ofstream out(feed);
    out << "name\tversion\tdownloads_a_month\tsummary\n";
    for (std::uint64_t i = 0; i < events; ++i)
      out << "pkg" << i % 200'000 << '\t' << i / 200'000 << ".0.0\t" << i
          << "\tsynthetic\n";
  }
  auto topo = parse_topology(R"(
pipeline: bounded
topics: [registry]
stages:
  - name: tally
    behaviour: test.tally
    subscribe: [{ topic: registry }]
    max_in_flight: )" + std::to_string(cap)
                                 + R"(
    max_live_keys: )" + std::to_string(live)
                                 + "\n",
                             "bounded.yaml");
  ASSERT_TRUE(topo) << topo.error().describe();
  registry reg;
  ASSERT_TRUE(reg.add<tally>("test.tally"));
  node_options opts;
  opts.data_dir = (dir / "data").string();
  opts.feeds = {feed};
  opts.sync = false; // the bound is about memory, not fsync
  auto n = node::start(*topo, reg, opts);
  ASSERT_TRUE(n) << n.error().describe();
  long anon_start = status_kb("RssAnon");
  long anon_peak = anon_start;
  node_stats s;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto st = (*n)->stats();
    ASSERT_TRUE(st) << st.error().describe();
    s = std::move(*st);
    anon_peak = std::max(anon_peak, status_kb("RssAnon"));
    ASSERT_FALSE(s.failed) << s.failure;
    if (s.drained)
      break;
  }
  auto& t = s.stages.at(0);
  EXPECT_EQ(t.done, events);
  EXPECT_EQ(s.feeds.at(0).records, events);
  // The cap holds: never more than `cap` events out of LMDB at once.
  EXPECT_LE(t.in_flight_peak, static_cast<std::int64_t>(cap));
  EXPECT_GT(t.in_flight_peak, 0);
  // Idle key actors are passivated: 200,000 keys, at most `live` (plus the
  // keys with events in flight) alive.
  EXPECT_LE(t.live_keys_peak, static_cast<std::int64_t>(live + cap));
  // The heap does not grow with a two-million-event feed.
  std::cout << "RssAnon: start " << anon_start / 1024 << " MB, peak "
            << anon_peak / 1024 << " MB; in-flight peak " << t.in_flight_peak
            << "\n";
  EXPECT_LT(anon_peak - anon_start, 200 * 1024)
      << "heap grew by " << (anon_peak - anon_start) / 1024 << " MB";
  (*n)->stop();
  fs::remove_all(dir);
}
